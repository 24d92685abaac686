#!/bin/sh
# Snapshot tests: count in a loop, appending each number to a file on the
# test disk (fsync'ed), on the network as vireo.ip= (default 192.0.2.2);
# answer the host on the console: "ping" -> "PONG count=N ok", "quit" -> the
# file is checked (every number once, in order) and the guest powers off.
. /tests/lib.sh
dev=$(test_disk) && mount_tools || exit 1
ip=$(cmdline_arg ip)
ip addr add "${ip:-192.0.2.2}/24" dev eth0 2>/dev/null && ip link set eth0 up
/opt/bin/mke2fs -q -F -t ext4 "$dev" || exit 1
mount -t ext4 "$dev" /mnt || exit 1
: > /mnt/count
(
	n=0
	while [ ! -e /tmp/stop ]; do
		n=$((n + 1))
		echo "$n" >> /mnt/count
		sync /mnt/count 2>/dev/null || sync
		echo "$n" > /tmp/n.new && mv /tmp/n.new /tmp/n
		sleep 0.2
	done
) &
counter=$!
# Ready once the first number is out (a ping before it would find no count).
while [ ! -e /tmp/n ]; do
	sleep 0.05
done
echo COUNT-READY
while read -r cmd; do
	case "$cmd" in
	ping) echo "PONG count=$(cat /tmp/n) ok" ;;
	quit) break ;;
	esac
done
touch /tmp/stop
wait $counter
last=$(cat /tmp/n)
if [ "$(cat /mnt/count | tr '\n' ' ')" = "$(seq 1 "$last" | tr '\n' ' ')" ]; then
	echo "RESULT count ok last=$last"
else
	echo "RESULT count broken last=$last lines=$(wc -l < /mnt/count)"
fi
umount /mnt
exit 0
