#!/bin/sh
# Live migration: rewrite a 64 MiB buffer in guest RAM (tmpfs) in a loop.
# Pass K fills it with one of two patterns and checks the buffer against
# that pattern's checksum (taken when the guest image was built): "MIG
# pass=K ok" per pass, "MIG pass=K BAD" if RAM lost a write, each
# followed by the guest's uptime in seconds. "quit" on the console stops
# it (the pass under way is left unfinished): "RESULT mig passes=K
# bad=N".
# With a NIC, the guest answers ping at 192.0.2.2 (the host pings it
# across the move).
pat() { yes "vireo migration pattern $1" | head -c 67108864; }
# "mig-sum.sh sums" (build-guest.sh, on the build machine): the two
# patterns' checksums, which the guest reads from /tests/mig-sums (taken
# in the guest, they cost two passes' time: 20 s under nested KVM).
if [ "${1:-}" = sums ]; then
	echo "$(pat a | md5sum | cut -d' ' -f1) $(pat b | md5sum | cut -d' ' -f1)"
	exit 0
fi
[ -e /sys/class/net/eth0 ] && ip addr add 192.0.2.2/24 dev eth0 2>/dev/null &&
	ip link set eth0 up
mkdir -p /dev/shm
mount -t tmpfs -o size=80m tmpfs /dev/shm 2>/dev/null
read -r sum_a sum_b < /tests/mig-sums
(
	k=0
	bad=0
	while [ ! -e /tmp/stop ]; do
		k=$((k + 1))
		p=a want=$sum_a
		[ $((k % 2)) = 0 ] && p=b want=$sum_b
		pat $p > /dev/shm/buf
		if [ "$(md5sum < /dev/shm/buf | cut -d' ' -f1)" = "$want" ]; then
			echo "MIG pass=$k ok $(cut -d' ' -f1 /proc/uptime)"
		else
			bad=$((bad + 1))
			echo "MIG pass=$k BAD $(cut -d' ' -f1 /proc/uptime)"
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
# (a pass takes seconds under nested KVM: the tests need not wait it out)
kill $loop
wait $loop
k=0 bad=0
[ -e /tmp/state ] && read -r k bad < /tmp/state
echo "RESULT mig passes=$k bad=$bad"
# The TSC and kvm-clock must keep in step across the moves: the kernel's
# clocksource watchdog marks the TSC unstable when they drift apart.
echo "RESULT clock source=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource) tsc_unstable=$(dmesg | grep -c "Marking clocksource 'tsc' as unstable")"
dmesg | grep -i -A3 'clocksource.*unstable' | head -n 8
exit 0
