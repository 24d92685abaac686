#!/bin/sh
# Runs inside the nested test host (or on hardware KVM): fio in the same
# guest on the same raw image, vireo and QEMU -M microvm (virtio-blk over
# virtio-mmio on both, split rings, 1 vCPU, 384 MiB), interleaved. Prints
# one BLK line per fio job per run.
# usage: blk.sh DIR RUNS RUNTIME_S   (DIR holds vireo, guest/, qemu/)
set -u
d=$1
runs=$2
rt=$3
cd "$d"
export VIREO_CACHE_DIR=/tmp/bench-cache
img=/tmp/bench-blk.img
# Real data everywhere, so neither VMM reads holes.
head -c 128M /dev/urandom > "$img"
append="console=ttyS0 panic=-1 vireo.test=blk-bench vireo.bench_runtime=$rt"
report() {
	tr -d '\r' | sed -n "s/^RESULT bench /BLK vmm=$1 /p"
}
. ./common.sh
vireo() {
	vireo_vm 384M --disk "path=$img,serial=vireo-bench,transport=mmio" \
		< /dev/null 2>&1 | report vireo
}
qemu() {
	qemu_vm 384M \
		-drive "file=$img,format=raw,if=none,id=b,cache=writeback" \
		-device virtio-blk-device,drive=b,serial=vireo-bench \
		< /dev/null 2>&1 | report qemu
}
i=0
while [ $i -lt "$runs" ]; do
	vireo
	qemu
	i=$((i + 1))
done
