# Sourced by the in-host benchmark scripts (run from the payload dir):
# the two VMMs on the same guest, 1 vCPU, the guest's tools disk on
# virtio-mmio. $append is the kernel command line.
export VIREO_CACHE_DIR=/tmp/bench-cache
# A guest the nested test host has hung is given up after this long (the
# run then reports no results for it) rather than stalling the benchmark.
vm_timeout=300

# report KIND LABEL < LOG: the guest's "RESULT bench ..." lines as
# "KIND vmm=LABEL ..."; a run without any says so, with its last words
# (the nested test host now and then shuts a guest down).
report() {
	tr -d '\r' > /tmp/bench-report.txt
	if grep -q '^RESULT bench ' /tmp/bench-report.txt; then
		sed -n "s/^RESULT bench /$1 vmm=$2 /p" /tmp/bench-report.txt
		# vireo's device counters (kicks, interrupts) on exit.
		grep -E '^vireo: (blk|net) ' /tmp/bench-report.txt |
			grep -v 'tools.img' | sed "s/^vireo: /BENCH-STAT $1 vmm=$2 /"
	else
		echo "BENCH-NOTE $1 vmm=$2: no results; last lines: $(tail -n 4 /tmp/bench-report.txt | tr '\n' '|')"
	fi
}

# interleave RUNS: the functions vireo and qemu, in turn, RUNS times each
# (and vireo as vireo-base with the baseline binary, if there is one).
interleave() {
	_i=0
	while [ $_i -lt "$1" ]; do
		vireo vireo
		qemu
		if [ -x ./vireo-base ]; then
			vireo_bin=./vireo-base
			vireo vireo-base
			vireo_bin=./vireo
		fi
		_i=$((_i + 1))
	done
}

# vireo_vm MEMORY ARGS...: vireo with the tools disk, plus ARGS ($vireo_bin
# picks the binary).
vireo_bin=./vireo
vireo_vm() {
	_mem=$1
	shift
	timeout "$vm_timeout" "$vireo_bin" run --kernel guest/vmlinuz --initrd guest/initramfs.cpio \
		--memory "$_mem" --cpus 1 --cmdline "$append" \
		--disk path=guest/tools.img,readonly=on,serial=vireo-tools,transport=mmio \
		"$@"
}

# qemu_vm MEMORY ARGS...: QEMU -M microvm (the anchor), the same.
qemu_vm() {
	_mem=$1
	shift
	timeout "$vm_timeout" qemu/bin/qemu-system-x86_64.sh -L qemu/share/qemu \
		-M microvm -enable-kvm -cpu host -m "$_mem" -smp 1 -nodefaults \
		-no-user-config -display none -serial stdio -no-reboot \
		-kernel guest/vmlinuz -initrd guest/initramfs.cpio \
		-append "$append" \
		-drive file=guest/tools.img,format=raw,if=none,id=t,readonly=on \
		-device virtio-blk-device,drive=t,serial=vireo-tools "$@"
}
