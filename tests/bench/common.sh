# Sourced by the in-host benchmark scripts (run from the payload dir):
# the two VMMs on the same guest, 1 vCPU, the guest's tools disk on
# virtio-mmio. $append is the kernel command line.

# vireo_vm MEMORY ARGS...: vireo with the tools disk, plus ARGS.
vireo_vm() {
	_mem=$1
	shift
	./vireo run --kernel guest/vmlinuz --initrd guest/initramfs.cpio \
		--memory "$_mem" --cpus 1 --cmdline "$append" \
		--disk path=guest/tools.img,readonly=on,serial=vireo-tools,transport=mmio \
		"$@"
}

# qemu_vm MEMORY ARGS...: QEMU -M microvm (the anchor), the same.
qemu_vm() {
	_mem=$1
	shift
	qemu/bin/qemu-system-x86_64.sh -L qemu/share/qemu \
		-M microvm -enable-kvm -cpu host -m "$_mem" -smp 1 -nodefaults \
		-no-user-config -display none -serial stdio -no-reboot \
		-kernel guest/vmlinuz -initrd guest/initramfs.cpio \
		-append "$append" \
		-drive file=guest/tools.img,format=raw,if=none,id=t,readonly=on \
		-device virtio-blk-device,drive=t,serial=vireo-tools "$@"
}
