#!/bin/sh
# Two guests joined by a vhost-user switch (DPDK's testpmd forwarding
# between two ports): this one is vireo.ip=A, its peer vireo.peer=B.
#   vireo.role=client: ping the peer, then iperf3 to its server both ways
#   vireo.role=server: answer pings, serve two iperf3 runs
#   vireo.role=flap:   ping the peer, say FLAP-READY, see the link go down
#                      and come back (the host restarts the switch), ping
#                      the peer again
#   vireo.role=move:   ping the peer five times a second while the host
#                      moves this guest to another vireo, until "quit"
#                      on the console; then the counts, and a ping again
#   vireo.role=stay:   answer pings until the host stops the VM
. /tests/lib.sh
mount_tools || exit 1
dev=eth0
ip=$(cmdline_arg ip)
peer=$(cmdline_arg peer)
role=$(cmdline_arg role)
ip addr add "$ip/24" dev $dev && ip link set $dev up || exit 1
echo "RESULT net carrier=$(cat /sys/class/net/$dev/carrier)"
echo NET-UP
ping_peer() { # ping_peer TRIES
	n=0
	until ping -c 1 -W 1 "$peer" > /dev/null 2>&1; do
		n=$((n + 1))
		[ $n -lt "$1" ] || return 1
	done
}
carrier_is() { # carrier_is VALUE SECONDS
	n=0
	while [ "$(cat /sys/class/net/$dev/carrier 2>/dev/null)" != "$1" ]; do
		n=$((n + 1))
		[ $n -lt $(($2 * 10)) ] || return 1
		sleep 0.1
	done
}
ping_peer 120 || { echo "RESULT ping failed"; exit 1; }
echo "RESULT ping ok"
case "$role" in
server)
	for i in 1 2; do
		/opt/bin/iperf3 -s -1 > /tmp/iperf.out 2>&1 || { cat /tmp/iperf.out; exit 1; }
	done
	echo "RESULT served"
	;;
client)
	sleep 2
	for dir in tx rx; do
		[ $dir = rx ] && r=-R || r=
		n=0
		until /opt/bin/iperf3 -c "$peer" -t 3 -f m $r > /tmp/iperf.out 2>&1; do
			n=$((n + 1))
			[ $n -lt 10 ] || { cat /tmp/iperf.out; exit 1; }
			sleep 1
		done
		mbit=$(awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") print $i }' /tmp/iperf.out)
		echo "RESULT iperf $dir mbit=$mbit"
	done
	;;
flap)
	echo FLAP-READY
	carrier_is 0 60 || { echo "RESULT link never went down"; exit 1; }
	echo "RESULT link-down"
	carrier_is 1 90 || { echo "RESULT link never came back"; exit 1; }
	echo "RESULT link-up"
	ping_peer 120 || { echo "RESULT ping after failed"; exit 1; }
	echo "RESULT ping-after ok"
	# Let the peer finish its own pings before going away.
	sleep 5
	;;
move)
	(
		n=0
		ok=0
		while [ ! -e /tmp/stop ]; do
			n=$((n + 1))
			ping -c 1 -W 1 "$peer" > /dev/null 2>&1 && ok=$((ok + 1))
			echo "$n $ok" > /tmp/state.new && mv /tmp/state.new /tmp/state
			sleep 0.2
		done
	) &
	loop=$!
	echo MOVE-READY
	while read -r cmd; do
		[ "$cmd" = quit ] && break
	done
	touch /tmp/stop
	wait $loop
	read -r n ok < /tmp/state
	echo "RESULT pings sent=$n answered=$ok"
	ping_peer 30 || { echo "RESULT ping after failed"; exit 1; }
	echo "RESULT ping-after ok"
	;;
stay)
	sleep 3600
	;;
esac
exit 0
