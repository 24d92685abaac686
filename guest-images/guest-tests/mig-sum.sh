#!/bin/sh
# Live migration: rewrite a 64 MiB buffer in guest RAM (tmpfs) in a loop.
# Pass K fills it with one of two patterns and checks the buffer against
# that pattern's checksum, taken once at the start: "MIG pass=K ok" per
# pass, "MIG pass=K BAD" if RAM lost a write. "quit" on the console stops
# it: "RESULT mig passes=K bad=N".
# With a NIC, the guest answers ping at 192.0.2.2 (the host pings it
# across the move).
[ -e /sys/class/net/eth0 ] && ip addr add 192.0.2.2/24 dev eth0 2>/dev/null &&
	ip link set eth0 up
mkdir -p /dev/shm
mount -t tmpfs -o size=80m tmpfs /dev/shm 2>/dev/null
pat() { yes "vireo migration pattern $1" | head -c 67108864; }
sum_a=$(pat a | md5sum | cut -d' ' -f1)
sum_b=$(pat b | md5sum | cut -d' ' -f1)
(
	k=0
	bad=0
	while [ ! -e /tmp/stop ]; do
		k=$((k + 1))
		p=a want=$sum_a
		[ $((k % 2)) = 0 ] && p=b want=$sum_b
		pat $p > /dev/shm/buf
		if [ "$(md5sum < /dev/shm/buf | cut -d' ' -f1)" = "$want" ]; then
			echo "MIG pass=$k ok"
		else
			bad=$((bad + 1))
			echo "MIG pass=$k BAD"
		fi
		echo "$k $bad" > /tmp/state.new && mv /tmp/state.new /tmp/state
	done
) &
loop=$!
# vireo.ticks=1 (the migration benchmark): "TICK" every 20 ms as well,
# so that the host sees how long the guest printed nothing across a move.
if grep -q 'vireo\.ticks=1' /proc/cmdline; then
	(while [ ! -e /tmp/stop ]; do echo TICK; sleep 0.02; done) &
fi
echo MIG-READY
while read -r cmd; do
	[ "$cmd" = quit ] && break
done
touch /tmp/stop
wait $loop
read -r k bad < /tmp/state
echo "RESULT mig passes=$k bad=$bad"
# The TSC and kvm-clock must keep in step across the moves: the kernel's
# clocksource watchdog marks the TSC unstable when they drift apart.
echo "RESULT clock source=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource) tsc_unstable=$(dmesg | grep -c "Marking clocksource 'tsc' as unstable")"
dmesg | grep -i -A3 'clocksource.*unstable' | head -n 8
exit 0
