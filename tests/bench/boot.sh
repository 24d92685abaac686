#!/bin/sh
# Runs inside the nested test host (or on hardware KVM): boot the same
# kernel + initrd to the init marker with vireo and with QEMU -M microvm,
# interleaved, and print one BOOT line per run.
# usage: boot.sh DIR RUNS   (DIR holds vireo, stamp, guest/, qemu/)
set -u
d=$1
runs=$2
cd "$d"
export VIREO_CACHE_DIR=/tmp/bench-cache
append="console=ttyS0 panic=-1 vireo.test=up"
# A boot that hangs (it happens in the nested host) must not stall the
# rest: each gets 120 s, then counts as failed (ms=-1 status=137).
export STAMP_TIMEOUT=120
vireo() {
	./stamp VIREO-GUEST-UP ./vireo run --kernel guest/vmlinuz \
		--initrd guest/initramfs.cpio --memory 256M --cpus 1 \
		--cmdline "$append" "$@" < /dev/null 2>/dev/null
}
qemu() {
	./stamp VIREO-GUEST-UP qemu/bin/qemu-system-x86_64.sh -L qemu/share/qemu \
		-M microvm -enable-kvm -cpu host -m 256M -smp 1 -nodefaults \
		-no-user-config -display none -serial stdio -no-reboot \
		-kernel guest/vmlinuz -initrd guest/initramfs.cpio \
		-append "$append" < /dev/null 2>/dev/null
}
# The first vireo boot extracts the kernel into the cache: report it apart.
echo "BOOT vmm=vireo-cold $(vireo --no-kernel-cache)"
echo "BOOT vmm=warmup $(vireo)"
echo "BOOT vmm=warmup $(qemu)"
i=0
while [ $i -lt "$runs" ]; do
	echo "BOOT vmm=vireo $(vireo)"
	echo "BOOT vmm=qemu $(qemu)"
	i=$((i + 1))
done
