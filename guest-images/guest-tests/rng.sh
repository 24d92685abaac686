#!/bin/sh
# virtio-rng as the guest sees it: for each device, which transport found
# it, its MSI-X vectors and the features the driver negotiated; then entropy read through
# /dev/hwrng from each virtio hwrng in turn. The last line sums them up
# (the fewest bytes and distinct values any device gave).
found=0
for d in /sys/bus/virtio/devices/*; do
	[ "$(cat "$d/device" 2>/dev/null)" = 0x0004 ] || continue
	found=$((found + 1))
	drv=$(basename "$(readlink "$d/driver" 2>/dev/null)")
	parent=$(basename "$(readlink -f "$d/..")")
	feat=$(cat "$d/features")
	# Its MSI-X vectors (virtioN-config, virtioN-input) in /proc/interrupts.
	msix=$(grep -c "PCI-MSI.* $(basename "$d")-" /proc/interrupts)
	echo "RESULT rng dev=$(basename "$d") driver=$drv parent=$parent msix=$msix features=$feat"
done
[ $found -gt 0 ] || { echo "RESULT rng none"; exit 1; }
hw=/sys/class/misc/hw_random
echo "RESULT hwrng current=$(cat $hw/rng_current 2>/dev/null) available=$(cat $hw/rng_available 2>/dev/null | tr ' ' ',')"
min_size=
min_distinct=
n=0
for name in $(cat $hw/rng_available); do
	case "$name" in virtio_rng*) ;; *) continue ;; esac
	n=$((n + 1))
	echo "$name" > $hw/rng_current
	dd if=/dev/hwrng of=/tmp/r bs=1024 count=4 2>/dev/null
	size=$(wc -c < /tmp/r)
	distinct=$(od -An -v -tx1 /tmp/r | tr -s ' ' '\n' | grep . | sort -u | wc -l)
	echo "RESULT hwrng name=$name bytes=$size distinct=$distinct"
	[ -n "$min_size" ] && [ "$min_size" -le "$size" ] || min_size=$size
	[ -n "$min_distinct" ] && [ "$min_distinct" -le "$distinct" ] || min_distinct=$distinct
done
msix=$(grep -c 'PCI-MSI.*virtio' /proc/interrupts)
echo "RESULT hwrng bytes=${min_size:-0} distinct=${min_distinct:-0} msix_lines=$msix hwrngs=$n"
grep virtio /proc/interrupts | tr -s ' ' | head -8
grep -q virtio /proc/interrupts || echo "no virtio line in /proc/interrupts"
[ "$n" = "$found" ] && [ "${min_size:-0}" = 4096 ] && [ "${min_distinct:-0}" -gt 200 ]
