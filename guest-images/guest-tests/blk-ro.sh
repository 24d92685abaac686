#!/bin/sh
# A read-only disk: the kernel sees it read-only; forcing a write gets EIO
# from the device, and reads still work.
. /tests/lib.sh
dev=$(disk_by_serial vireo-test) || exit 1
echo "RESULT ro flag=$(cat "/sys/block/${dev#/dev/}/ro")"
blockdev --setrw "$dev"
if dd if=/dev/zero of="$dev" bs=4096 count=1 conv=fsync 2>/tmp/err; then
	echo "RESULT write rc=0"
else
	echo "RESULT write rc=1 err=$(head -n 1 /tmp/err | tr ' ' _)"
fi
dd if="$dev" of=/dev/null bs=4096 count=16 2>/dev/null && echo "RESULT read ok"
