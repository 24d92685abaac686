#!/bin/sh
# Build the nested test host: Debian's cloud kernel and an initramfs with
# busybox and the kvm, kvm-amd, vhost, tap and virtio modules.
# usage: build.sh DEBS OUT   (DEBS from fetch-debs.sh kernel busybox-static)
set -eu
debs=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
kdir=$debs/kernel
kver=$(ls "$kdir/lib/modules")
mods=$kdir/lib/modules/$kver/kernel
mkdir -p "$out"
spec=$out/initramfs.spec
modlist=$out/modules

# Load order matters: busybox insmod does not resolve dependencies.
cat > "$modlist" <<MODS
irqbypass
kvm
kvm-amd
virtio_ring
virtio
virtio_pci_modern_dev
virtio_pci_legacy_dev
virtio_pci
virtio_blk
tun
tap
vhost_iotlb
vhost
vhost_net
veth
llc
stp
bridge
MODS

{
	echo "dir /bin 0755"
	echo "dir /sbin 0755"
	echo "dir /dev 0755"
	echo "nod /dev/console 0600 c 5 1"
	echo "dir /etc 0755"
	echo "dir /lib 0755"
	echo "dir /lib/modules 0755"
	for d in proc sys tmp run payload root; do echo "dir /$d 0755"; done
	echo "file /init $here/init 0755"
	echo "file /etc/modules $modlist 0644"
	echo "file /bin/busybox $debs/busybox-static/bin/busybox 0755"
	for a in $("$debs/busybox-static/bin/busybox" --list); do
		[ "$a" = busybox ] || echo "slink /bin/$a busybox"
	done
	while read -r m; do
		f=$(find "$mods" -name "$m.ko" | head -n 1)
		[ -n "$f" ] || { echo "build.sh: module $m not in $kdir" >&2; exit 1; }
		echo "file /lib/modules/$m.ko $f 0644"
	done < "$modlist"
} > "$spec"
"$out/../tools/mkcpio" "$spec" > "$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
cp "$kdir/boot/vmlinuz-$kver" "$out/vmlinuz"
