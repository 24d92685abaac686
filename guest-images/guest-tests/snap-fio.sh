#!/bin/sh
# fio with crc32c verification on the test disk, long enough for the host
# to snapshot the guest in the middle, kill it and restore it elsewhere
# (or migrate it: vireo.fio_loops=N makes it longer, 4 by default).
. /tests/lib.sh
dev=$(test_disk) && mount_tools || exit 1
# Where the modules are (a vCPU's rip in a hang report maps to one).
awk '{ print "MODULE", $1, $2, $6 }' /proc/modules
echo FIO-START
/opt/bin/fio --name=verify --filename="$dev" --rw=randwrite --bs=4k \
	--size=8M --iodepth=8 --ioengine=libaio --direct=1 --verify=crc32c \
	--do_verify=1 --verify_fatal=1 --loops="$(cmdline_arg fio_loops | grep . || echo 4)" > /tmp/fio.out 2>&1
rc=$?
echo "RESULT fio rc=$rc"
[ $rc = 0 ] || tail -n 20 /tmp/fio.out
exit $rc
