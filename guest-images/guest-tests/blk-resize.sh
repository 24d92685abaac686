#!/bin/sh
# The host grows the test disk: the guest sees the new size through a
# config change interrupt, nothing done inside it.
. /tests/lib.sh
dev=$(test_disk) || exit 1
size=/sys/block/${dev#/dev/}/size
s0=$(cat "$size")
echo "RESULT size0 sectors=$s0"
echo RESIZE-NOW
wait_size_change "$size"
echo "RESULT resized sectors=$(cat "$size")"
dmesg | grep -m 1 -i 'capacity change' || true
