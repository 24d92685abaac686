#!/bin/sh
# The host injects I/O errors at sectors 2048-2055 of the test disk: reads
# there fail with EIO (and the kernel logs the sector), reads elsewhere
# work.
. /tests/lib.sh
dev=$(test_disk) || exit 1
dd if="$dev" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null &&
	echo "RESULT good read ok" || echo "RESULT good read failed"
if dd if="$dev" of=/dev/null bs=4096 count=1 skip=256 iflag=direct 2>/tmp/err; then
	echo "RESULT bad read ok"
else
	echo "RESULT bad read failed $(head -n 1 /tmp/err | tr ' ' _)"
fi
dmesg | grep -m 1 'I/O error, dev' || true
