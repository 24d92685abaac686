#!/bin/sh
# Faults the host switches on through PUT /faults while the guest runs.
# At FAULT-UNSUPP it answers the next request UNSUPP (unsupp@1): the read
# fails with "not supported". At FAULT-RESET the next request sets
# DEVICE_NEEDS_RESET (reset@1): the driver sees the bit in the device's
# status and the request never completes (Linux's virtio_blk has no
# reset path of its own; the poweroff resets the device).
. /tests/lib.sh
dev=$(test_disk) || exit 1
name=${dev#/dev/}
st=/sys/bus/virtio/devices/$(basename "$(readlink -f /sys/block/$name/device)")/status
echo "RESULT before status=$(cat "$st")"
echo FAULT-UNSUPP
sleep 3
if dd if="$dev" of=/dev/null bs=4096 count=1 iflag=direct 2>/tmp/err; then
	echo "RESULT unsupp read=ok"
else
	echo "RESULT unsupp read=failed $(tail -n 1 /tmp/err | tr ' ' _)"
fi
dmesg | grep -m 1 'not supported error, dev' || true
echo FAULT-RESET
sleep 3
dd if="$dev" of=/dev/null bs=4096 count=1 skip=8 iflag=direct 2>/dev/null &
pid=$!
sleep 3
s=$(cat "$st")
if kill -0 $pid 2>/dev/null; then hung=yes; else hung=no; fi
echo "RESULT reset status=$s needs_reset=$(( (s & 0x40) != 0 )) hung=$hung"
[ "$hung" = yes ] && [ $(( s & 0x40 )) != 0 ]
