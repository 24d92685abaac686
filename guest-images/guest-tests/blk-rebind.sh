#!/bin/sh
# fio verify, then the disk's driver unbound and bound again (the device
# is reset, then set up anew), then fio verify again on the new binding.
. /tests/lib.sh
dev=$(test_disk) && mount_tools || exit 1
# Where the modules are (a vCPU's rip in a hang report maps to one).
awk '{ print "MODULE", $1, $2, $6 }' /proc/modules
fio_verify() {
	/opt/bin/fio --name=verify --filename="$1" --rw=randwrite --bs=4k \
		--size=8M --iodepth=16 --ioengine=libaio --direct=1 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 > /tmp/fio.out 2>&1
}
fio_verify "$dev"
rc1=$?
serial=$(cat /sys/block/${dev#/dev/}/serial)
vdev=$(basename "$(readlink -f /sys/block/${dev#/dev/}/device)")
echo "$vdev" > /sys/bus/virtio/drivers/virtio_blk/unbind
echo "$vdev" > /sys/bus/virtio/drivers/virtio_blk/bind
sleep 1
dev2=$(disk_by_serial "$serial")
fio_verify "$dev2"
rc2=$?
echo "RESULT rebind dev=$vdev before=$rc1 after=$rc2"
[ $rc1 = 0 ] && [ $rc2 = 0 ]
