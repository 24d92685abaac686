#!/bin/sh
# virtio-balloon, driven by the host through vireo's control API: touch
# 400 MiB and free it (BALLOON-READY); the host inflates by 256 MiB
# (MemTotal drops: BALLOON-INFLATED) and deflates again; the memory is
# then usable (350 MiB filled: BALLOON-FILLED, held 4 s for the stats).
mkdir -p /mnt/fill
mount -t tmpfs -o size=460m tmpfs /mnt/fill || exit 1
memtotal() { awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo; }
# wait_mem CMP MIB: wait (up to 120 s) until the MemTotal drop CMP MIB.
wait_mem() {
	_n=0
	while ! [ $((t0 - $(memtotal))) "$1" "$2" ] && [ $_n -lt 1200 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	[ $((t0 - $(memtotal))) "$1" "$2" ]
}
t0=$(memtotal)
dd if=/dev/zero of=/mnt/fill/a bs=1M count=400 2> /dev/null || exit 1
rm /mnt/fill/a
echo "RESULT balloon memtotal=$t0"
echo BALLOON-READY
wait_mem -ge 200 || { echo "RESULT not inflated: $(memtotal)"; exit 1; }
echo "RESULT inflated memtotal=$(memtotal)"
echo BALLOON-INFLATED
wait_mem -le 8 || { echo "RESULT not deflated: $(memtotal)"; exit 1; }
echo "RESULT deflated memtotal=$(memtotal)"
dd if=/dev/zero of=/mnt/fill/b bs=1M count=350 2> /dev/null ||
	{ echo "RESULT refill failed"; exit 1; }
echo BALLOON-FILLED
sleep 4
rm /mnt/fill/b
exit 0
