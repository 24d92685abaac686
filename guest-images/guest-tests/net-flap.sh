#!/bin/sh
# The host flaps the link (inject=linkflap@MS, set through the API once
# it sees FLAP-WATCH): count the carrier changes the driver saw over 4 s.
dev=eth0
ip link set $dev up || exit 1
c0=$(cat /sys/class/net/$dev/carrier_changes)
echo FLAP-WATCH
sleep 4
c1=$(cat /sys/class/net/$dev/carrier_changes)
echo "RESULT flap changes=$((c1 - c0)) downs=$(cat /sys/class/net/$dev/carrier_down_count)"
[ $((c1 - c0)) -ge 2 ]
