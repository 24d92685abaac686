#!/bin/sh
# Free page reporting: fill 350 MiB (BALLOON-FILLED), free it
# (BALLOON-FREED) and give the driver time to report it (BALLOON-DONE);
# stay up 3 s more for the host to read vireo's counters.
mkdir -p /mnt/fill
mount -t tmpfs -o size=400m tmpfs /mnt/fill || exit 1
dd if=/dev/zero of=/mnt/fill/a bs=1M count=350 2> /dev/null || exit 1
echo BALLOON-FILLED
sleep 3
rm /mnt/fill/a
echo BALLOON-FREED
sleep 10
echo BALLOON-DONE
sleep 3	# the host reads the balloon statistics now
exit 0
