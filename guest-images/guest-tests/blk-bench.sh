#!/bin/sh
# fio on the disk with serial vireo-bench: 4k random read and write at
# iodepth 32, 128k sequential read at iodepth 8; one RESULT line per job.
. /tests/lib.sh
s=$(cmdline_arg serial)
dev=$(disk_by_serial "${s:-vireo-bench}") && mount_tools || exit 1
# The device's interrupts, to compare how the VMMs batch completions.
vdev=$(basename "$(readlink -f "/sys/block/${dev#/dev/}/device")")
irqs() {
	# One line on virtio-mmio (virtioN), one per vector on MSI-X
	# (virtioN-config, virtioN-requests).
	awk -v d="$vdev" '$NF == d || index($NF, d "-") == 1 {
		for (i = 2; i < NF; i++) if ($i ~ /^[0-9]+$/) n += $i
	} END { print n + 0 }' /proc/interrupts
}
rt=$(sed -n 's/.*vireo.bench_runtime=\([0-9]*\).*/\1/p' /proc/cmdline)
for job in randread:4k:32 randwrite:4k:32 read:128k:8; do
	set -- $(echo "$job" | tr : ' ')
	rw=$1 bs=$2 qd=$3
	i0=$(irqs)
	/opt/bin/fio --name=bench --filename="$dev" --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --ioengine=libaio --direct=1 \
		--runtime="${rt:-10}" --ramp_time=2 --time_based \
		--output-format=terse > /tmp/fio.out 2>&1 || { cat /tmp/fio.out; exit 1; }
	i1=$(irqs)
	# fio's terse v3: read KiB/s $7 and IOPS $8, write $48 and $49.
	# Interrupts per I/O, over the ramp and the run.
	awk -F';' -v rw="$rw" -v bs="$bs" -v t=$((${rt:-10} + 2)) \
	    -v irq=$((${i1:-0} - ${i0:-0})) '$1 == 3 {
		if (rw == "randwrite") { kb = $48; io = $49 } else { kb = $7; io = $8 }
		printf "RESULT bench job=%s-%s iops=%s kbs=%s irq_per_io=%.2f\n", rw, bs, io, kb, io ? irq / (io * t) : 0
	}' /tmp/fio.out
done
