#!/bin/sh
# The host delays the test disk's completions, gives them back in
# reverse order in groups, holds back its interrupts and sends spurious
# ones (inject=delay@MS+reorder@N+irqcoalesce@N+irqspurious@MS). The
# driver must cope: fio's crc32c verify passes, no request completes
# sooner than the delay, and the disk's interrupt count rises while it
# is idle. Then the host shrinks the disk and makes its interrupts late
# (capacity@S+irqlate@MS through the API, once it sees RESIZE-NOW): the
# guest sees the new size, and reads on.
. /tests/lib.sh
dev=$(test_disk) && mount_tools || exit 1
name=${dev#/dev/}
vdev=$(basename "$(readlink -f /sys/block/$name/device)")
# The interrupts of the disk's virtio device, all vectors and CPUs.
irqs() {
	awk -v v="$vdev" '{ for (i = NF; i > 1; i--) if ($i ~ "^" v "(-|$)") break
		if (i == 1) next
		for (j = 2; j <= NF && $j ~ /^[0-9]+$/; j++) s += $j }
		END { print s + 0 }' /proc/interrupts
}
i0=$(irqs)
sleep 2
i1=$(irqs)
echo "RESULT idle irqs=$((i1 - i0))"
/opt/bin/fio --name=verify --filename="$dev" --rw=randwrite --bs=4k \
	--size=4M --iodepth=16 --ioengine=libaio --direct=1 --verify=crc32c \
	--do_verify=1 --verify_fatal=1 > /tmp/fio.out 2>&1
rc=$?
i2=$(irqs)
# The smallest completion latency fio saw, in microseconds.
minus=$(awk '/ clat \(/ { u = $0; sub(/.*clat \(/, "", u); sub(/\).*/, "", u)
	m = $0; sub(/.*min= */, "", m); sub(/,.*/, "", m)
	if (m ~ /k$/) { sub(/k$/, "", m); m *= 1000 }
	f = u == "nsec" ? 0.001 : u == "msec" ? 1000 : 1
	v = m * f; if (!n++ || v < best) best = v }
	END { printf "%d\n", best }' /tmp/fio.out)
ios=$(sed -n 's/.*issued rwts: total=\([0-9]*\),\([0-9]*\).*/\1 \2/p' /tmp/fio.out | awk '{ s += $1 + $2 } END { print s + 0 }')
echo "RESULT fio rc=$rc min_clat_us=$minus ios=$ios irqs=$((i2 - i1))"
[ $rc = 0 ] || tail -n 20 /tmp/fio.out
size=/sys/block/$name/size
s0=$(cat "$size")
echo RESIZE-NOW
wait_size_change "$size"
echo "RESULT resized from=$s0 sectors=$(cat "$size")"
dmesg | grep -m 1 -i 'new size\|capacity change' || true
dd if="$dev" of=/dev/null bs=4096 count=64 iflag=direct 2>/dev/null ||
	rc=1
echo "RESULT late reads rc=$rc"
exit $rc
