#!/bin/sh
# Runs inside the nested test host (or on hardware KVM, as root): iperf3
# between the same guest and this host over a tap, vireo and QEMU
# -M microvm (virtio-net over virtio-mmio on both, or virtio-pci with
# BENCH_TRANSPORT=pci; split rings, in-process data path: QEMU without
# vhost), 1 vCPU, 384 MiB, interleaved. Prints one NET line per iperf3
# run. With BENCH_VHOST=1 the data path moves into the kernel's vhost-net
# for both (vireo vhost=on, QEMU vhost=on), beside vireo serving it
# itself: labels vireo (in vireo), vireo-vhost and qemu-vhost.
# usage: net.sh DIR RUNS RUNTIME_S   (DIR holds vireo, guest/, qemu/, hosttools/)
set -u
cd "$1"
. ./common.sh
runs=$2
rt=$3
append="console=ttyS0 panic=-1 vireo.test=net-bench vireo.bench_runtime=$rt"
run_vm() {
	net_run_vm NET "$@"
}
vhost=off
vireo_net() {
	# The baseline binary may predate vhost=: it serves the queues itself.
	_vh=,vhost=$vhost
	[ "$vireo_bin" = ./vireo-base ] && _vh=
	vireo_vm 384M --net tap=vt0,transport=$transport$_vh
}
qemu_net() {
	qemu_vm 384M \
		-netdev tap,id=n0,ifname=vt0,script=no,downscript=no,vhost=$vhost \
		-device "virtio-net-$qemu_virtio,netdev=n0$qemu_nic"
}
vireo() {
	vhost=off
	run_vm vireo_net "$1"
}
qemu() {
	vhost=off
	run_vm qemu_net qemu
}
vireo_vhost() {
	vhost=on
	run_vm vireo_net "$1"
}
qemu_vhost() {
	vhost=on
	run_vm qemu_net "$1"
}
if [ "${BENCH_VHOST:-0}" = 1 ]; then
	extra="vireo_vhost qemu_vhost"
	echo "BENCH-NOTE net: vhost-net for vireo-vhost and qemu-vhost"
fi
interleave "$runs"
