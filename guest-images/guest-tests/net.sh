#!/bin/sh
# virtio-net over a tap: the guest is 10.77.0.2, the host 10.77.0.1 (the
# host sets its side up when it sees NET-UP). Pings the host (with
# vireo.ping_size=N, one big ping that must leave as single frames), then
# iperf3 against the host's server in both directions.
. /tests/lib.sh
mount_tools || exit 1
dev=eth0
ip addr add 10.77.0.2/24 dev $dev && ip link set $dev up || exit 1
rxq=$(ls -d /sys/class/net/$dev/queues/rx-* | wc -l)
echo "RESULT net mtu=$(cat /sys/class/net/$dev/mtu) rxq=$rxq"
echo NET-UP
n=0
until ping -c 1 -W 1 10.77.0.1 > /dev/null 2>&1; do
	n=$((n + 1))
	[ $n -lt 90 ] || { echo "RESULT ping failed"; exit 1; }
done
size=$(sed -n 's/.*vireo.ping_size=\([0-9]*\).*/\1/p' /proc/cmdline)
tx0=$(cat /sys/class/net/$dev/statistics/tx_packets)
ping -c 3 -s "${size:-56}" 10.77.0.1 || { echo "RESULT ping failed"; exit 1; }
tx1=$(cat /sys/class/net/$dev/statistics/tx_packets)
echo "RESULT ping ok size=${size:-56} frames=$((tx1 - tx0))"
dirs=$(sed -n 's/.*vireo.iperf=\([a-z,]*\).*/\1/p' /proc/cmdline | tr , ' ')
for dir in ${dirs:-tx rx}; do
	[ $dir = rx ] && r=-R || r=
	/opt/bin/iperf3 -c 10.77.0.1 -t 3 -f m $r > /tmp/iperf.out 2>&1 ||
		{ cat /tmp/iperf.out; exit 1; }
	mbit=$(awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") print $i }' /tmp/iperf.out)
	echo "RESULT iperf $dir mbit=$mbit"
	[ -n "$mbit" ] || { cat /tmp/iperf.out; exit 1; }
done
# Stay up until the host has pinged us (ICMP echo requests received).
echoes() {
	awk '/^Icmp:/ { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 }
		else print $c["InEchos"] }' /proc/net/snmp
}
n=0
while [ "$(echoes)" -lt 3 ] && [ $n -lt 600 ]; do
	sleep 0.1
	n=$((n + 1))
done
echo "RESULT echoes=$(echoes)"
# Received TCP segments with a bad checksum (inject=badcsum on the host).
echo "RESULT csum_errors=$(awk '/^Tcp:/ { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 }
	else print $c["InCsumErrors"] }' /proc/net/snmp)"
[ "$(echoes)" -ge 3 ]
