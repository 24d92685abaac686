#!/bin/sh
# Boot benchmark: vireo vs QEMU -M microvm, same kernel, initrd, 256 MiB,
# 1 vCPU, same run of the nested test host (or directly on hardware KVM),
# interleaved. Prints medians, the ratio, and vireo's resident memory
# beyond the guest RAM it touched (VmRSS - RssShmem at the init marker).
# usage: run.sh [RUNS]   (default 7)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
runs=${1:-7}
b=$build/bench
rm -rf "$b"
mkdir -p "$b/guest"
cp "$build/vireo" "$b/"
cc -O2 -static -o "$b/stamp" "$top/tests/bench/stamp.c"
cp "$build/guest/vmlinuz" "$build/guest/initramfs.cpio" "$b/guest/"
"$top/guest-images/testhost/add-binary.sh" qemu-system-x86_64 "$b/qemu"
mkdir -p "$b/qemu/share/qemu"
cp /usr/share/qemu/qboot.rom /usr/share/qemu/bios-microvm.bin \
	/usr/share/qemu/linuxboot_dma.bin "$b/qemu/share/qemu/" 2>/dev/null || true
cp "$top/tests/bench/boot.sh" "$b/"
echo "cd /payload && sh boot.sh /payload $runs" > "$b/go.sh"

kind=$(sh "$top/tests/integration/kvm-kind.sh")
if [ "$kind" = hardware ]; then
	echo "bench: hardware KVM, running directly"
	(cd "$b" && sh boot.sh "$b" "$runs") > "$b/out.txt"
else
	echo "bench: /dev/kvm is '$kind'; running inside the nested test host"
	"$top/guest-images/testhost/run.sh" --timeout 3000 "$b" go.sh > "$b/out.txt"
fi
grep '^BOOT' "$b/out.txt" | tr -d '\r'
grep '^BOOT' "$b/out.txt" | tr -d '\r' | awk '
function median(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
		if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
	for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	if (f["status"] != 0 || f["ms"] < 0) { bad++; next }
	if (f["vmm"] == "vireo") { v[++nv] = f["ms"]; over[++no] = f["rss_kb"] - f["shmem_kb"]; anon[no] = f["anon_kb"]; file[no] = f["file_kb"] }
	if (f["vmm"] == "qemu") q[++nq] = f["ms"]
	if (f["vmm"] == "vireo-cold") cold = f["ms"]
}
END {
	if (nv == 0 || nq == 0) { print "bench: no successful runs"; exit 1 }
	mv = median(v, nv); mq = median(q, nq)
	printf "boot to init marker, median of %d: vireo %.0f ms, qemu microvm %.0f ms, ratio vireo/qemu %.2f\n", nv, mv, mq, mv / mq
	printf "vireo first boot (kernel extracted, not cached): %.0f ms\n", cold
	printf "vireo memory beyond guest RAM at the marker, median: %.0f KiB (RssAnon %.0f + RssFile %.0f)\n", median(over, no), median(anon, no), median(file, no)
	if (bad) printf "failed runs: %d\n", bad
}'
