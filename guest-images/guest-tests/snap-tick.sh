#!/bin/sh
# The snapshot benchmark's guest: 64 MiB of memory filled (so that a
# snapshot carries data), then "TICK-READY", then "TICK" every 20 ms until
# the host stops it: a restored guest's first words come within 20 ms of
# it running again.
dd if=/dev/urandom of=/dev/shm/fill bs=1M count=64 2>/dev/null
echo TICK-READY
while :; do
	echo TICK
	sleep 0.02
done
