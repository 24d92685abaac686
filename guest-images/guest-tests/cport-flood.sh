#!/bin/sh
# Write far more to a port than the host reads: the writer must block
# (throttled), not make vireo buffer it.
for p in /sys/class/virtio-ports/*; do
	[ "$(cat "$p/name" 2>/dev/null)" = agent ] && agent=/dev/${p##*/}
done
[ -n "$agent" ] || exit 1
sleep 2		# the host client connects
echo "FLOOD-START"
timeout 6 dd if=/dev/zero of="$agent" bs=65536 count=1024 2> /tmp/dd.err
echo "RESULT flood rc=$? $(tail -n 1 /tmp/dd.err | tr ' ' _)"
