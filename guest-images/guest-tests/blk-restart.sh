#!/bin/sh
# A disk whose vhost-user backend is killed and restarted while the guest
# writes to it: data written and flushed before must survive, I/O must go
# on afterwards, and what was in flight either completed or failed
# visibly (an I/O error), never hung.
. /tests/lib.sh
dev=$(test_disk) && mount_tools || exit 1
# Phase 1: 8 MiB at 0, flushed.
dd if=/dev/urandom of=/tmp/p1 bs=1M count=8 2>/dev/null
dd if=/tmp/p1 of="$dev" bs=1M conv=fsync oflag=direct 2>/dev/null || exit 1
sum1=$(md5sum < /tmp/p1 | cut -d' ' -f1)
echo "RESULT phase1 md5=$sum1"
# Phase 2: random writes with verification at 16..48 MiB while the host
# kills and restarts the backend (once fio is surely writing).
/opt/bin/fio --name=during --filename="$dev" --rw=randwrite --bs=4k \
	--offset=16M --size=32M --iodepth=8 --ioengine=libaio --direct=1 \
	--time_based --runtime=15 --verify=crc32c --do_verify=1 \
	> /tmp/fio.out 2>&1 &
fio=$!
# (a write job: its requests are writes)
echo "RESTART-NOW writes=$(wait_disk_ios "$dev" 200 30)"
wait $fio
rc=$?
errs=$(grep -c -i -E 'error|Input/output' /tmp/fio.out)
echo "RESULT fio rc=$rc errors=$errs"
grep -i -m 3 -E 'error|Input/output' /tmp/fio.out
# Phase 3: phase 1 intact; new I/O works.
sum=$(dd if="$dev" bs=1M count=8 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
[ "$sum" = "$sum1" ] && echo "RESULT phase1 intact" || echo "RESULT phase1 changed $sum"
dd if=/dev/urandom of=/tmp/p3 bs=1M count=4 2>/dev/null
if dd if=/tmp/p3 of="$dev" bs=1M seek=56 conv=fsync oflag=direct 2>/dev/null &&
   [ "$(dd if="$dev" bs=1M skip=56 count=4 iflag=direct 2>/dev/null | md5sum)" = "$(md5sum < /tmp/p3)" ]; then
	echo "RESULT after ok"
else
	echo "RESULT after failed"
fi
exit 0
