#!/bin/sh
# Build vireo's default guest from Debian packages only: the cloud kernel
# (bzImage) and an initramfs with busybox-static, the kernel's virtio
# modules, an init and the in-guest tests.
# usage: build-guest.sh DEBS OUT   (DEBS from fetch-debs.sh kernel busybox-static)
set -eu
debs=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
kdir=$debs/kernel
kver=$(ls "$kdir/lib/modules")
mods=$kdir/lib/modules/$kver/kernel
mkdir -p "$out"
spec=$out/initramfs.spec
{
	for d in bin sbin usr usr/bin usr/sbin dev etc lib lib/modules proc sys tmp run root tests mnt opt; do
		echo "dir /$d 0755"
	done
	echo "nod /dev/console 0600 c 5 1"
	echo "file /init $here/guest/init 0755"
	echo "file /etc/inittab $here/guest/inittab 0644"
	echo "file /etc/profile $here/guest/profile 0644"
	echo "file /etc/modules $here/guest/modules 0644"
	echo "file /bin/busybox $debs/busybox-static/bin/busybox 0755"
	for a in $("$debs/busybox-static/bin/busybox" --list-full); do
		[ "$a" = bin/busybox ] || echo "slink /$a /bin/busybox"
	done
	while read -r m; do
		f=$(find "$mods" -name "$m.ko" | head -n 1)
		[ -n "$f" ] || { echo "build-guest: module $m not in $kdir" >&2; exit 1; }
		echo "file /lib/modules/$m.ko $f 0644"
	done < "$here/guest/modules"
	for t in "$here"/guest-tests/*.sh; do
		[ -f "$t" ] && echo "file /tests/$(basename "$t") $t 0755"
	done
	sh "$here/guest-tests/mig-sum.sh" sums > "$out/mig-sums"
	echo "file /tests/mig-sums $out/mig-sums 0644"
} > "$spec"
"$out/../tools/mkcpio" "$spec" > "$out/initramfs.cpio.tmp"
mv "$out/initramfs.cpio.tmp" "$out/initramfs.cpio"
cp "$kdir/boot/vmlinuz-$kver" "$out/vmlinuz"
echo "$kver" > "$out/kernel-version"
