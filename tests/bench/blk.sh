#!/bin/sh
# Runs inside the nested test host (or on hardware KVM): fio in the same
# guest on the same raw image, vireo and QEMU -M microvm (virtio-blk over
# virtio-mmio on both, or virtio-pci with BENCH_TRANSPORT=pci; split
# rings, 1 vCPU, 384 MiB), interleaved. Prints one BLK line per fio job
# per run.
# usage: blk.sh DIR RUNS RUNTIME_S   (DIR holds vireo, guest/, qemu/)
set -u
cd "$1"
. ./common.sh
runs=$2
rt=$3
img=/tmp/bench-blk.img
# Real data everywhere, so neither VMM reads holes.
dd if=/dev/urandom of="$img" bs=1M count=128 2>/dev/null
append="console=ttyS0 panic=-1 vireo.test=blk-bench vireo.bench_runtime=$rt"
vireo() {
	vireo_vm 384M --disk "path=$img,serial=vireo-bench,transport=$transport" \
		< /dev/null 2>&1 | report BLK "$1"
}
qemu() {
	qemu_vm 384M \
		-drive "file=$img,format=raw,if=none,id=b,cache=writeback,aio=${QEMU_AIO:-threads}" \
		-device "virtio-blk-$qemu_virtio,drive=b,serial=vireo-bench" \
		< /dev/null 2>&1 | report BLK qemu
}
interleave "$runs"
