#!/bin/sh
# Read what the host wrote: the checksum of the test disk's first 4 MiB,
# its size, and the features the driver negotiated.
. /tests/lib.sh
dev=$(test_disk) || exit 1
b=/sys/block/${dev#/dev/}
echo "RESULT disk sectors=$(cat "$b/size") queues=$(ls "$b/mq" | wc -l) features=$(cat "$b/device/features" 2>/dev/null)"
echo "RESULT read sha=$(dd if="$dev" bs=1M count=4 2>/dev/null | sha256sum | cut -d' ' -f1)"
