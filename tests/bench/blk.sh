#!/bin/sh
# Runs inside the nested test host (or on hardware KVM): fio in the same
# guest on the same raw image, vireo and QEMU -M microvm (virtio-blk over
# virtio-mmio on both, or virtio-pci with BENCH_TRANSPORT=pci; split
# rings, 1 vCPU, 384 MiB), interleaved. Prints one BLK line per fio job
# per run. With BENCH_VHOST_USER=1, also both on one qemu-storage-daemon
# serving the same image as vhost-user-blk: labels vireo-vu, qemu-vu.
# With BENCH_VDPA=1 (the 6.12 test host: vduse, vhost_vdpa), the same
# daemon also exports the image as a VDUSE disk, a vDPA device bound to
# vhost_vdpa: label vireo-vdpa (Debian's QEMU has no vhost-vdpa disk).
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
		-drive "file=$img,format=raw,if=none,id=b,cache=writeback,aio=${QEMU_AIO:-threads}$qemu_lock" \
		-device "virtio-blk-$qemu_virtio,drive=b,serial=vireo-bench" \
		< /dev/null 2>&1 | report BLK qemu
}
# With the daemon holding the image too, QEMU's own image lock would
# refuse it (vireo's flock does not meet the daemon's OFD locks).
qemu_lock=
[ "${BENCH_VHOST_USER:-0}" = 1 ] || [ "${BENCH_VDPA:-0}" = 1 ] && qemu_lock=,file.locking=off
qsd_sock=/tmp/bench-qsd.sock
# The daemon's vhost-user-blk answers GET_ID with this serial.
vu_append="$append vireo.serial=vhost_user_blk"
vireo_vu() {
	_a=$append
	append=$vu_append
	vireo_vm 384M --disk "vhost-user=$qsd_sock,transport=$transport" \
		< /dev/null 2>&1 | report BLK "$1"
	append=$_a
}
qemu_vu() {
	_a=$append
	append=$vu_append
	qemu_vm 384M \
		-object memory-backend-memfd,id=mem,size=384M,share=on \
		-machine memory-backend=mem \
		-chardev "socket,id=vu,path=$qsd_sock" \
		-device "vhost-user-blk-$qemu_virtio,chardev=vu,num-queues=1" \
		< /dev/null 2>&1 | report BLK "$1"
	append=$_a
}
vireo_vdpa() {
	_a=$append
	append="$append vireo.serial=none"
	vireo_vm 384M --disk "vhost-vdpa=$vdpa_dev,transport=$transport" \
		< /dev/null 2>&1 | report BLK "$1"
	append=$_a
}
if [ "${BENCH_VHOST_USER:-0}" = 1 ] || [ "${BENCH_VDPA:-0}" = 1 ]; then
	rm -f "$qsd_sock"
	vduse=
	[ "${BENCH_VDPA:-0}" = 1 ] &&
		vduse="--export type=vduse-blk,id=vduse0,name=vduse0,node-name=f0,writable=on"
	hosttools/bin/qemu-storage-daemon.sh \
		--blockdev "driver=file,node-name=f0,filename=$img" \
		--export "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=$qsd_sock,writable=on" \
		$vduse > /tmp/bench-qsd.log 2>&1 &
	qsd=$!
	n=0
	while [ ! -S "$qsd_sock" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
	extra="vireo_vu qemu_vu"
	echo "BENCH-NOTE blk: qemu-storage-daemon serves vireo-vu and qemu-vu"
	if [ -n "$vduse" ]; then
		n=0
		while [ ! -e /dev/vduse/vduse0 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
		hosttools/bin/vdpa.sh dev add name vduse0 mgmtdev vduse
		sleep 1
		vdpa_dev=/dev/$(ls /sys/bus/vdpa/devices/vduse0 | grep -m1 '^vhost-vdpa-')
		if [ -c "$vdpa_dev" ]; then
			extra="$extra vireo_vdpa"
			echo "BENCH-NOTE blk: the same daemon's VDUSE disk through $vdpa_dev is vireo-vdpa"
		else
			echo "BENCH-NOTE blk: no vDPA device: $(tail -n 3 /tmp/bench-qsd.log | tr '\n' '|')"
		fi
	fi
fi
interleave "$runs"
[ -n "${vduse:-}" ] && hosttools/bin/vdpa.sh dev del vduse0
[ -n "${qsd:-}" ] && kill "$qsd"
