#!/bin/sh
# Build the nested test host: Debian's cloud kernel and an initramfs with
# busybox and the kvm, kvm-amd, vhost, tap and virtio modules.
# usage: build.sh DEBS OUT [KERNEL]
#   DEBS from fetch-debs.sh kernel busybox-static; KERNEL is the name of
#   the kernel's directory there: "kernel" (default, the cloud kernel) or
#   "kernel-vdpa" (the 6.12 generic kernel, with the vDPA modules too).
set -eu
debs=$1
out=$2
kname=${3:-kernel}
here=$(cd "$(dirname "$0")" && pwd)
kdir=$debs/$kname
kver=$(ls "$kdir/lib/modules")
mods=$kdir/lib/modules/$kver/kernel
builtin=$kdir/lib/modules/$kver/modules.builtin
mkdir -p "$out"
spec=$out/initramfs.spec
modlist=$out/modules

# Load order matters: busybox insmod does not resolve dependencies.
# Modules the kernel has built in are left out; ccp (kvm-amd needs it
# from 6.12 on), ext4's (the payload disk; built into the cloud kernel)
# and the vDPA ones only where the kernel has them.
{
	for m in irqbypass ccp kvm kvm-amd virtio_ring virtio \
		virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
		virtio_blk tun tap vhost_iotlb vhost vhost_net veth llc stp \
		bridge crc16 mbcache jbd2 crc32c_generic ext4 \
		vdpa vduse vhost_vdpa; do
		f=$(find "$mods" -name "$m.ko" -o -name "$m.ko.xz" | head -n 1)
		if [ -n "$f" ]; then
			echo "$m"
		elif ! grep -q "/$m.ko\$" "$builtin" 2>/dev/null; then
			case $m in
			ccp|vdpa|vduse|vhost_vdpa|crc16|mbcache|jbd2|crc32c_generic) ;;
			*) echo "build.sh: module $m not in $kdir" >&2; exit 1 ;;
			esac
		fi
	done
} > "$modlist"

cc -O2 -Wall -static -o "$out/kvmhold" "$here/kvmhold.c"
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
	echo "file /bin/kvmhold $out/kvmhold 0755"
	echo "file /etc/modules $modlist 0644"
	echo "file /bin/busybox $debs/busybox-static/bin/busybox 0755"
	for a in $("$debs/busybox-static/bin/busybox" --list); do
		[ "$a" = busybox ] || echo "slink /bin/$a busybox"
	done
	mkdir -p "$out/ko"
	while read -r m; do
		f=$(find "$mods" -name "$m.ko" -o -name "$m.ko.xz" | head -n 1)
		# busybox insmod takes no compressed modules.
		case $f in
		*.xz) xz -dc "$f" > "$out/ko/$m.ko"; f=$out/ko/$m.ko ;;
		esac
		echo "file /lib/modules/$m.ko $f 0644"
	done < "$modlist"
} > "$spec"
"$out/../tools/mkcpio" "$spec" > "$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
cp "$kdir/boot/vmlinuz-$kver" "$out/vmlinuz"
