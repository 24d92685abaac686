#!/bin/sh
# Runs inside the nested test host (or on hardware KVM, as root): the
# combined load of issue 18 on one guest with 2 vCPUs, two data disks and
# a NIC, all busy at once (guest test mix-bench.sh: fio 4k randread on
# one disk, randwrite on the other, numjobs=2 and iodepth 32 each, while
# iperf3 -P 2 sends to this host), interleaved:
#   vireo      defaults: each disk one queue per vCPU (2), all on the
#              event loop; the NIC on vireo's data path (vhost=off)
#   vireo-iot  the same with iothread=on on both disks and the NIC
#   vireo-niot (MIX_EXTRA="vireo_niot") iothread=on on the NIC only
#   vireo-thp  (MIX_EXTRA="vireo_thp") defaults, with the test host's
#              shmem_enabled at advise for its run: vireo's memfd RAM in
#              huge pages, as QEMU's anonymous RAM is here
#   qemu       QEMU -M microvm: virtio-blk num-queues=2 with an iothread
#              per disk (aio=threads), virtio-net without vhost
# Every VMM on the same transport (BENCH_TRANSPORT, default pci here).
# One MIX line per figure per run (and mix-guest-busy: how much of the
# guest's CPU time the load used; mix-guest-irq and -steal, where it
# went; mix-irqs-*, the guest's interrupts per second by source);
# BENCH-CPU lines give each VMM's CPU time per thread. MIX_FIO_RATE=N
# caps each fio job at N IOPS: the same disk work for every VMM, so that
# the network figure compares what the NIC costs the guest. MIX_EXTRA
# (default vireo_iot) names the vireo variants run beside vireo and QEMU
# (run.sh passes both on).
# usage: mix.sh DIR RUNS RUNTIME_S   (DIR holds vireo, guest/, qemu/, hosttools/)
set -u
cd "$1"
export BENCH_TRANSPORT=${BENCH_TRANSPORT:-pci}
# The 6.1 test host's kernel overflowed a vCPU thread's stack (in its
# nested SVM) twice in a row when the KVM debugfs counters were read
# each second beside this 2-vCPU guest: only the CPU times are sampled.
export BENCH_KVM_STATS=0 BENCH_CPU_STATS=1
# MIX_KVM_STATS=1: the KVM counters after all, every 5 s (BENCH-KVM
# lines: which exits the host's KVM worked on), at that risk.
if [ "${MIX_KVM_STATS:-0}" = 1 ]; then
	export BENCH_KVM_STATS=1 BENCH_KVM_EVERY=5
fi
. ./common.sh
runs=$2
rt=$3
vm_cpus=2
img1=/tmp/bench-mix1.img
img2=/tmp/bench-mix2.img
dd if=/dev/urandom of="$img1" bs=1M count=128 2>/dev/null
dd if=/dev/urandom of="$img2" bs=1M count=128 2>/dev/null
append="console=ttyS0 panic=-1 vireo.test=mix-bench vireo.bench_runtime=$rt${MIX_FIO_RATE:+ vireo.bench_fio_rate=$MIX_FIO_RATE}"
iot= niot=
mix_vireo() {
	vireo_vm 512M \
		--disk "path=$img1,serial=vireo-b1,transport=$transport$iot" \
		--disk "path=$img2,serial=vireo-b2,transport=$transport$iot" \
		--net "tap=vt0,vhost=off,transport=$transport$iot$niot"
}
mix_qemu() {
	qemu_vm 512M -object iothread,id=io1 -object iothread,id=io2 \
		-drive "file=$img1,format=raw,if=none,id=b1,cache=writeback,aio=threads" \
		-device "virtio-blk-$qemu_virtio,drive=b1,serial=vireo-b1,num-queues=2,iothread=io1" \
		-drive "file=$img2,format=raw,if=none,id=b2,cache=writeback,aio=threads" \
		-device "virtio-blk-$qemu_virtio,drive=b2,serial=vireo-b2,num-queues=2,iothread=io2" \
		-netdev tap,id=n0,ifname=vt0,script=no,downscript=no,vhost=off \
		-device "virtio-net-$qemu_virtio,netdev=n0$qemu_nic"
}
run_vm() {
	net_run_vm MIX "$@"
}
vireo() {
	iot= niot=
	run_vm mix_vireo "$1"
}
vireo_iot() {
	iot=,iothread=on niot=
	run_vm mix_vireo "$1"
}
vireo_niot() {
	iot= niot=,iothread=on
	run_vm mix_vireo "$1"
}
vireo_thp() {
	_thp=/sys/kernel/mm/transparent_hugepage/shmem_enabled
	_was=$(sed 's/.*\[\(.*\)\].*/\1/' "$_thp")
	echo advise > "$_thp"
	iot= niot=
	run_vm mix_vireo "$1"
	echo "$_was" > "$_thp"
}
qemu() {
	run_vm mix_qemu qemu
}
extra=${MIX_EXTRA-vireo_iot}
interleave "$runs"
rm -f "$img1" "$img2"
