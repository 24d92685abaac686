#!/bin/sh
# Random writes with crc32c verification through the whole stack: on the
# disk under test, or on each disk of vireo.serials=A,B,... in turn (one
# RESULT line each, saying where the disk is).
. /tests/lib.sh
mount_tools || exit 1
serials=$(cmdline_arg serials | tr ',' ' ')
[ -n "$serials" ] || serials=$(cmdline_arg serial)
status=0
for s in ${serials:-vireo-test}; do
	if ! dev=$(disk_by_serial "$s"); then
		echo "RESULT fio rc=none serial=$s"
		status=1
		continue
	fi
	/opt/bin/fio --name=verify --filename="$dev" --rw=randwrite --bs=4k \
		--size=8M --iodepth=16 --ioengine=libaio --direct=1 --verify=crc32c \
		--do_verify=1 --verify_fatal=1 > /tmp/fio.out 2>&1
	rc=$?
	# Where the disk is: its virtio device's parent (PCI or the
	# virtio-mmio platform device) and whether its ring is packed.
	vdev=$(readlink -f "/sys/block/${dev#/dev/}/device")
	parent=$(basename "$(readlink -f "$vdev/..")")
	packed=$(cut -c35 "$vdev/features")
	echo "RESULT fio rc=$rc serial=$s parent=$parent packed=$packed"
	[ $rc = 0 ] || { tail -n 20 /tmp/fio.out; status=1; }
done
exit $status
