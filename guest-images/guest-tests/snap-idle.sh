#!/bin/sh
# A guest to snapshot and clone: on the network as vireo.ip= (default
# 192.0.2.2), it answers "ping" on the console with "PONG <uptime>" and
# stops at "quit".
. /tests/lib.sh
ip=$(cmdline_arg ip)
ip addr add "${ip:-192.0.2.2}/24" dev eth0 2>/dev/null && ip link set eth0 up
# Touch some memory, so that clones have pages to share.
dd if=/dev/urandom of=/dev/shm/fill bs=1M count=48 2>/dev/null
echo IDLE-READY
while read -r cmd; do
	case "$cmd" in
	ping) echo "PONG up=$(cut -d' ' -f1 /proc/uptime)" ;;
	quit) break ;;
	esac
done
exit 0
