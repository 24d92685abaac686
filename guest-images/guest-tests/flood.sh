#!/bin/sh
# Flood every device at once and never stop: random I/O on the test disk,
# two readers of /dev/hwrng, a writer to the file-backed port "log" and
# to the serial console. The host checks that vireo still answers its
# API, Ctrl-A x and SIGTERM meanwhile.
. /tests/lib.sh
dev=$(test_disk) && mount_tools || exit 1
for p in /sys/class/virtio-ports/*; do
	[ "$(cat "$p/name" 2>/dev/null)" = log ] && log=/dev/${p##*/}
done
[ -n "$log" ] || { echo "no port named log"; exit 1; }
/opt/bin/fio --name=flood --filename="$dev" --rw=randrw --bs=64k \
	--size=16M --iodepth=32 --ioengine=libaio --direct=1 --time_based \
	--runtime=600 > /dev/null 2>&1 &
for i in 1 2; do
	while :; do dd if=/dev/hwrng of=/dev/null bs=65536 count=64 2>/dev/null; done &
done
while :; do dd if=/dev/zero of="$log" bs=65536 count=256 2>/dev/null; done &
( while :; do echo "flood line flood line flood line flood line"; done ) &
# fio takes seconds to start under the nested test host: FLOOD-UP only
# once the disk has done 200 requests (up to 60 s), or the host's checks
# would run before any disk I/O.
echo "RESULT flood disk_ios=$(wait_disk_ios "$dev" 200 60)"
sleep 1
echo "FLOOD-UP"
while :; do sleep 1; done
