#!/bin/sh
# make run: boot the default guest to a shell on this terminal. On a host
# whose /dev/kvm cannot run Linux guests (kvm_pvm and other software
# backends, see TEST-HOST.md), vireo runs inside the nested test host.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
args="--kernel guest/vmlinuz --initrd guest/initramfs.cpio --memory 512M --cpus 2"
kind=$(sh "$top/tests/integration/kvm-kind.sh")
if [ "$kind" = hardware ]; then
	cd "$build"
	echo "make run: booting the default guest with vireo (Ctrl-A x quits)"
	exec ./vireo run $args
fi
echo "make run: /dev/kvm here is '$kind' and cannot run Linux guests;" \
	"running vireo inside the nested test host (QEMU TCG + kvm-amd)." \
	"Ctrl-A x quits."
make -s -C "$top" testhost
payload=$build/payload-run
rm -rf "$payload"
mkdir -p "$payload/guest"
cp "$build/vireo" "$payload/"
cp "$build/guest/vmlinuz" "$build/guest/initramfs.cpio" "$payload/guest/"
cat > "$payload/run.sh" <<RUN
cd /payload
VIREO_CACHE_DIR=/tmp/vireo-cache ./vireo run $args
RUN
exec "$top/guest-images/testhost/run.sh" --interactive "$payload" run.sh
