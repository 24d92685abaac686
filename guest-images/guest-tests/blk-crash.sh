#!/bin/sh
# Write and fsync a marker, say so, then wait to be killed by the host.
. /tests/lib.sh
dev=$(disk_by_serial vireo-test) || exit 1
printf 'VIREO-DURABLE-%s' 4242 > /tmp/m
dd if=/tmp/m of="$dev" bs=512 seek=2048 conv=sync,fsync 2>/dev/null || exit 1
echo "CRASH-READY"
sleep 600
