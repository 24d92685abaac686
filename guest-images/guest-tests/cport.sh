#!/bin/sh
# Named virtio-console ports: "agent" answers each line it reads with
# "pong <line>" across host reconnects (4 lines in all); "log" gets a line.
for p in /sys/class/virtio-ports/*; do
	echo "RESULT port dev=${p##*/} name=$(cat "$p/name" 2>/dev/null)"
done
agent=
for p in /sys/class/virtio-ports/*; do
	[ "$(cat "$p/name" 2>/dev/null)" = agent ] && agent=/dev/${p##*/}
	[ "$(cat "$p/name" 2>/dev/null)" = log ] && echo hello-file > "/dev/${p##*/}"
done
[ -n "$agent" ] || exit 1
# Keep the port open throughout: Linux drops data that arrives on a port
# the guest has closed. read sees EOF while no host client is connected.
exec 3<> "$agent"
n=0
tries=0
while [ $n -lt 4 ] && [ $tries -lt 1200 ]; do
	if read -r line <&3; then
		echo "pong $line" >&3
		n=$((n + 1))
	else
		tries=$((tries + 1))
		sleep 0.1
	fi
done
exec 3>&-
echo "RESULT agent lines=$n"
[ $n = 4 ]
