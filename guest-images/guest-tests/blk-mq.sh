#!/bin/sh
# A multiqueue disk: the hardware queues blk-mq made, then fio with a job
# per vCPU (each pinned to its own, so each uses its own queue) writing
# and verifying crc32c on its own part of the disk.
. /tests/lib.sh
dev=$(test_disk) && mount_tools || exit 1
n=$(ls -d /sys/block/${dev#/dev/}/mq/[0-9]* 2>/dev/null | wc -l)
cpus=$(grep -c ^processor /proc/cpuinfo)
echo "RESULT mq hw_queues=$n cpus=$cpus"
/opt/bin/fio --name=mq --filename="$dev" --rw=randwrite --bs=4k \
	--size=8M --offset_increment=8M --numjobs="$cpus" \
	--cpus_allowed=0-$((cpus - 1)) --cpus_allowed_policy=split \
	--iodepth=16 --ioengine=libaio --direct=1 --verify=crc32c \
	--do_verify=1 --verify_fatal=1 --group_reporting > /tmp/fio.out 2>&1
rc=$?
echo "RESULT fio rc=$rc"
[ $rc = 0 ] || tail -n 20 /tmp/fio.out
exit $rc
