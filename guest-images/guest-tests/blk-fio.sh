#!/bin/sh
# Random writes with crc32c verification through the whole stack.
. /tests/lib.sh
dev=$(test_disk) && mount_tools || exit 1
/opt/bin/fio --name=verify --filename="$dev" --rw=randwrite --bs=4k \
	--size=8M --iodepth=16 --ioengine=libaio --direct=1 --verify=crc32c \
	--do_verify=1 --verify_fatal=1 > /tmp/fio.out 2>&1
rc=$?
echo "RESULT fio rc=$rc"
[ $rc = 0 ] || tail -n 20 /tmp/fio.out
exit $rc
