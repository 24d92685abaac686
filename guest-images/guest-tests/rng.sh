#!/bin/sh
# virtio-rng as the guest sees it: which transport found it, the features
# the driver negotiated, and entropy read through /dev/hwrng.
found=0
for d in /sys/bus/virtio/devices/*; do
	[ "$(cat "$d/device" 2>/dev/null)" = 0x0004 ] || continue
	found=1
	drv=$(basename "$(readlink "$d/driver" 2>/dev/null)")
	parent=$(basename "$(readlink -f "$d/..")")
	feat=$(cat "$d/features")
	echo "RESULT rng dev=$(basename "$d") driver=$drv parent=$parent features=$feat"
done
[ $found = 1 ] || { echo "RESULT rng none"; exit 1; }
echo "RESULT hwrng current=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
dd if=/dev/hwrng of=/tmp/r bs=1024 count=4 2>/dev/null
size=$(wc -c < /tmp/r)
distinct=$(od -An -v -tx1 /tmp/r | tr -s ' ' '\n' | grep . | sort -u | wc -l)
msix=$(grep -c 'PCI-MSI.*virtio' /proc/interrupts)
echo "RESULT hwrng bytes=$size distinct=$distinct msix_lines=$msix"
grep virtio /proc/interrupts | tr -s ' ' | head -4
grep -q virtio /proc/interrupts || echo "no virtio line in /proc/interrupts"
[ "$size" = 4096 ] && [ "$distinct" -gt 200 ]
