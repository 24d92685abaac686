#!/bin/sh
# All integration tests: the tiny guest on this machine's own KVM, then the
# real Linux guest where a KVM can run it: directly on hardware KVM, else
# inside the nested test host.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
sh "$top/tests/integration/host.sh" "$build"

kind=$(sh "$top/tests/integration/kvm-kind.sh")
if [ "$kind" = hardware ]; then
	echo "integration: /dev/kvm is hardware-backed; booting Linux guests directly"
	sh "$top/tests/integration/linux.sh" "$build/vireo" \
		"$build/guest/vmlinuz" "$build/guest/initramfs.cpio"
	exit 0
fi
echo "integration: /dev/kvm here is $kind ($(ls /sys/module | grep -m1 '^kvm_' || echo absent)); booting Linux guests inside the nested test host"
payload=$build/payload
rm -rf "$payload"
mkdir -p "$payload/tests" "$payload/guest"
cp "$build/vireo" "$payload/"
cp "$build/guest/vmlinuz" "$build/guest/initramfs.cpio" "$payload/guest/"
cp "$top/tests/integration/lib.sh" "$top/tests/integration/linux.sh" "$payload/tests/"
cat > "$payload/run-linux.sh" <<'RUN'
cd /payload
TMPDIR=/tmp sh tests/linux.sh /payload/vireo guest/vmlinuz guest/initramfs.cpio
RUN
"$top/guest-images/testhost/run.sh" --timeout 2400 "$payload" run-linux.sh |
	grep -E '^(PASS|FAIL|SKIP) '
status=$?
[ $status = 0 ] || echo "FAIL testhost: the nested test host did not report results"
