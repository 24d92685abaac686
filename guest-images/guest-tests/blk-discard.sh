#!/bin/sh
# Zero the first MiB (WRITE_ZEROES), discard the rest (DISCARD).
. /tests/lib.sh
dev=$(disk_by_serial vireo-test) && mount_tools || exit 1
/opt/bin/blkdiscard -z -o 0 -l 1048576 "$dev" && echo "RESULT zeroout ok"
size=$(blockdev --getsize64 "$dev")
/opt/bin/blkdiscard -o 1048576 -l $((size - 1048576)) "$dev" && echo "RESULT discard ok"
