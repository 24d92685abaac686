#!/bin/sh
# Benchmarks against QEMU from Debian, same guest, same run of the nested
# test host (or directly on hardware KVM), interleaved:
#  boot  vireo vs QEMU -M microvm, same kernel, initrd, 256 MiB, 1 vCPU:
#        medians, the ratio, and vireo's resident memory beyond the guest
#        RAM it touched (VmRSS - RssShmem at the init marker).
#  blk   fio in the guest on one raw image (virtio-blk, virtio-mmio on
#        both): 4k randread/randwrite at iodepth 32, 128k sequential read.
#  net   iperf3 guest<->host over a tap (virtio-net, virtio-mmio on both,
#        QEMU without vhost), 1 and 4 streams each way.
#  snap  snapshot create time and size, restore latency to the guest's
#        first output: vireo ctl snapshot / vireo restore vs QEMU migrate
#        to a file / -incoming (256 MiB guest, 64 MiB of it filled).
#  mig   live migration total time and downtime (as each VMM reports it,
#        and the gap in the guest's 20 ms ticks, the same for both), 512 MiB
#        guest idle and rewriting 64 MiB: vireo tcp and local=on vs QEMU
#        migrate over tcp.
#  mix   2 vCPUs, two disks and a NIC busy at once (fio 4k randread and
#        randwrite, numjobs=2 iodepth 32, iperf3 -P 2): vireo defaults,
#        vireo with iothread=on everywhere, QEMU with num-queues=2 and an
#        iothread per disk; CPU time per VMM thread (virtio-pci).
# usage: run.sh [boot|blk|net|snap|mig|mix|all] [RUNS]   (default: all
#        but mix; 7 boot runs, 3 blk, 3 net, 5 snap, 3 mig and 3 mix
#        runs; RUNS overrides all)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
what=${1:-all}
case "$what" in
boot|blk|net|snap|mig|mix|all) ;;
*) echo "usage: run.sh [boot|blk|net|snap|mig|mix|all] [RUNS]" >&2; exit 2 ;;
esac
boot_runs=${2:-7}
blk_runs=${2:-3}
net_runs=${2:-3}
snap_runs=${2:-5}
mig_runs=${2:-3}
mix_runs=${2:-3}
mix_runtime=${MIX_RUNTIME:-10}
blk_runtime=${BLK_RUNTIME:-10}
net_runtime=${NET_RUNTIME:-10}
b=$build/bench
rm -rf "$b"
mkdir -p "$b/guest"
cp "$build/vireo" "$b/"
# MIG_LOADS="busy" (or "idle"): mig runs only that load (the test host
# often dies partway through a mig run; this gets the other half).
# BENCH_BASELINE=PATH: another vireo binary (say, the last commit's) runs
# interleaved too, reported as vireo-base, to measure a change.
if [ -n "${BENCH_BASELINE:-}" ]; then
	cp "$BENCH_BASELINE" "$b/vireo-base"
fi
cc -O2 -static -o "$b/stamp" "$top/tests/bench/stamp.c"
cc -O2 -static -o "$b/qmp" "$top/tests/bench/qmp.c"
cc -O2 -static -o "$b/tsline" "$top/tests/bench/tsline.c"
cp "$build/guest/vmlinuz" "$build/guest/initramfs.cpio" "$b/guest/"
"$top/guest-images/testhost/add-binary.sh" qemu-system-x86_64 "$b/qemu"
mkdir -p "$b/qemu/share/qemu"
cp /usr/share/qemu/qboot.rom /usr/share/qemu/bios-microvm.bin \
	/usr/share/qemu/linuxboot_dma.bin "$b/qemu/share/qemu/" 2>/dev/null || true
cp "$top/tests/bench/boot.sh" "$top/tests/bench/blk.sh" \
	"$top/tests/bench/net.sh" "$top/tests/bench/snap.sh" "$top/tests/bench/mig.sh" \
	"$top/tests/bench/mix.sh" \
	"$top/tests/bench/common.sh" "$b/"
kind=$(sh "$top/tests/integration/kvm-kind.sh")
: > "$b/go.sh"
if [ "$kind" != hardware ]; then
	# The test host runs nothing else: its KVM's exit counts are ours.
	echo "mount -t debugfs none /sys/kernel/debug 2>/dev/null; export BENCH_KVM_STATS=1" >> "$b/go.sh"
fi
# BENCH_SHMEM_THP=advise: the test host lets shared memory (vireo's memfd
# RAM) have huge pages where asked, as QEMU's anonymous RAM has (any
# benchmark).
[ -z "${BENCH_SHMEM_THP:-}" ] ||
	echo "echo ${BENCH_SHMEM_THP} > /sys/kernel/mm/transparent_hugepage/shmem_enabled" >> "$b/go.sh"
if [ "$what" = boot ] || [ "$what" = all ]; then
	echo "cd /payload && sh boot.sh /payload $boot_runs" >> "$b/go.sh"
fi
if [ "$what" = mix ]; then
	cp "$build/guest/tools.img" "$b/guest/"
	"$top/guest-images/testhost/add-binary.sh" iperf3 "$b/hosttools"
	echo "cd /payload && MIX_FIO_RATE=${MIX_FIO_RATE:-} MIX_EXTRA='${MIX_EXTRA-vireo_iot}' MIX_KVM_STATS=${MIX_KVM_STATS:-0} sh mix.sh /payload $mix_runs $mix_runtime" >> "$b/go.sh"
elif [ "$what" != boot ] && [ "$what" != snap ] && [ "$what" != mig ]; then
	cp "$build/guest/tools.img" "$b/guest/"
fi
if [ "$what" = blk ] || [ "$what" = all ]; then
	# BENCH_QEMU_AIO=io_uring: QEMU's disk on io_uring, as vireo's is.
	# BENCH_VHOST_USER=1: also both VMMs on qemu-storage-daemon.
	# BENCH_VDPA=1: and vireo on the same daemon's VDUSE disk through
	# vhost-vdpa (the whole run then uses the 6.12 test host).
	if [ "${BENCH_VHOST_USER:-0}" = 1 ] || [ "${BENCH_VDPA:-0}" = 1 ]; then
		"$top/guest-images/testhost/add-binary.sh" qemu-storage-daemon "$b/hosttools"
	fi
	if [ "${BENCH_VDPA:-0}" = 1 ]; then
		"$top/guest-images/testhost/add-binary.sh" vdpa "$b/hosttools"
	fi
	echo "cd /payload && QEMU_AIO=${BENCH_QEMU_AIO:-threads} BENCH_TRANSPORT=${BENCH_TRANSPORT:-mmio} BENCH_VHOST_USER=${BENCH_VHOST_USER:-0} BENCH_VDPA=${BENCH_VDPA:-0} sh blk.sh /payload $blk_runs $blk_runtime" >> "$b/go.sh"
fi
if [ "$what" = net ] || [ "$what" = all ]; then
	"$top/guest-images/testhost/add-binary.sh" iperf3 "$b/hosttools"
	# BENCH_VHOST=1: also both VMMs with the kernel's vhost-net.
	echo "cd /payload && BENCH_TRANSPORT=${BENCH_TRANSPORT:-mmio} BENCH_VHOST=${BENCH_VHOST:-0} sh net.sh /payload $net_runs $net_runtime" >> "$b/go.sh"
fi
if [ "$what" = snap ] || [ "$what" = all ]; then
	echo "cd /payload && sh snap.sh /payload $snap_runs" >> "$b/go.sh"
fi
if [ "$what" = mig ] || [ "$what" = all ]; then
	echo "cd /payload && MIG_LOADS='${MIG_LOADS:-}' MIG_VMMS='${MIG_VMMS:-}' sh mig.sh /payload $mig_runs" >> "$b/go.sh"
fi

if [ "$kind" = hardware ]; then
	echo "bench: hardware KVM, running directly"
	(cd "$b" && sh go.sh) > "$b/out.txt"
else
	echo "bench: /dev/kvm is '$kind'; running inside the nested test host"
	[ "${BENCH_VDPA:-0}" = 1 ] && export TESTHOST_DIR=$build/testhost-vdpa
	"$top/guest-images/testhost/run.sh" --timeout 4000 "$b" go.sh > "$b/out.txt"
fi
grep -E '^(BOOT|BLK|NET|SNAP|MIG|MIX|BENCH-NOTE|BENCH-STAT|BENCH-KVM|BENCH-CPU)' "$b/out.txt" | tr -d '\r'
grep -E '^(BOOT|BLK|NET|SNAP|MIG|MIX|BENCH-CPU)' "$b/out.txt" | tr -d '\r' |
	awk -v want="$what" -v net_rt="$net_runtime" -f "$top/tests/bench/summary.awk"
