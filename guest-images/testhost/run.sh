#!/bin/sh
# Run a script inside the nested test host (QEMU TCG, -cpu max carries AMD
# SVM, so kvm-amd gives a real /dev/kvm inside).
#
# usage: run.sh [--shell|--interactive] [--timeout SEC] PAYLOAD_DIR [SCRIPT]
#   PAYLOAD_DIR becomes a read-only ext4 disk mounted at /payload;
#   SCRIPT (relative to it) runs and its exit status becomes ours.
#   --interactive: SCRIPT runs on this terminal (Ctrl-A x quits QEMU).
#   --shell: a shell in the test host instead of a script.
#   Exit status: SCRIPT's, or 125 if the test host gave none (it died).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
th=${TESTHOST_DIR:-$here/../../build/testhost}
shell=0
interactive=0
timeout=0
while [ $# -gt 0 ]; do
	case "$1" in
	--shell) shell=1; shift ;;
	--interactive) interactive=1; shift ;;
	--timeout) timeout=$2; shift 2 ;;
	*) break ;;
	esac
done
payload=$1
script=${2:-}

for f in "$th/vmlinuz" "$th/initramfs.cpio"; do
	[ -f "$f" ] || { echo "testhost: $f missing; run 'make testhost'" >&2; exit 1; }
done
img=$(mktemp "${TMPDIR:-/tmp}/vireo-payload.XXXXXX")
trap 'rm -f "$img" "$img.log"' EXIT INT TERM
kb=$(du -sk "$payload" | cut -f1)
mkfs.ext4 -q -F -L payload -d "$payload" "$img" $((kb * 5 / 4 + 16384))k

append="console=ttyS0 panic=-1 quiet"
if [ "$shell" = 1 ]; then
	append="$append testhost.shell"
	serial="-nographic"
elif [ "$interactive" = 1 ]; then
	append="$append testhost.run=$script"
	serial="-nographic"
else
	append="$append testhost.run=$script"
	serial="-display none -monitor none -serial stdio"
fi

# TESTHOST_MONITOR=SOCKET: QEMU's monitor on a unix socket, to look at
# a test host that stopped answering ("info registers -a").
if [ -n "${TESTHOST_MONITOR:-}" ] && [ "$shell" = 0 ] && [ "$interactive" = 0 ]; then
	serial="-display none -monitor unix:$TESTHOST_MONITOR,server=on,wait=off -serial stdio"
fi
# TESTHOST_CPU=MODEL: the test host's CPU (default -cpu max). The test
# host's kernel has been caught taking an interrupt right after VMRUN,
# where GIF should hold interrupts off (TCG's SVM emulation), and dying
# of recursive page faults on the guest's GS base in a vCPU thread. It
# died the same way with max,-vgif too, so that is no cure and the
# default stays.
# TESTHOST_QEMU="CMD ARGS": the QEMU to run the test host with
# (default qemu-system-x86_64 from PATH). Measured 2026-12-06, the blk
# and net groups once each, interleaved: Debian's QEMU 7.2 ran both with
# no test host death and no guest SVM shutdown; bookworm-backports'
# QEMU 10.0.2 (with -L for its firmware, QEMU_MODULE_DIR for its
# modules) had 4 test host deaths and 9 guest retries, so 7.2 stays.
# shellcheck disable=SC2086
set -- ${TESTHOST_QEMU:-qemu-system-x86_64} -accel tcg,thread=multi -smp 2 \
	-cpu "${TESTHOST_CPU:-max}" -m 3072 \
	-no-reboot -kernel "$th/vmlinuz" -initrd "$th/initramfs.cpio" \
	-append "$append" \
	-drive "file=$img,if=virtio,format=raw,readonly=on" \
	-nic none $serial
# TESTHOST_QEMU_LOG=FILE: QEMU logs CPU resets (a triple fault) there.
if [ -n "${TESTHOST_QEMU_LOG:-}" ]; then
	set -- "$@" -d cpu_reset -D "$TESTHOST_QEMU_LOG"
fi

if [ "$shell" = 1 ] || [ "$interactive" = 1 ]; then
	"$@"
	exit $?
fi
# A test host that has not started its script within TESTHOST_START_S
# seconds (it boots in a few) hung while booting (seen: no output at all
# for the whole group time limit); one that then prints nothing for
# TESTHOST_SILENT_S seconds has stopped: its init prints TESTHOST-ALIVE
# every 30 s while its kernel lives, so silence means a wedged test host,
# not a slow test (a hung test is the tests' own watchdog's: linux.sh,
# VIREO_STALL_S). Either is stopped, and so counted as died. (CI on
# 2026-12-07: a test host spun silently for the whole ten minutes the
# old silence limit allowed, with no heartbeat to tell it from a test.)
start_s=${TESTHOST_START_S:-120}
silent_s=${TESTHOST_SILENT_S:-600}
watch() {
	_i=0
	until grep -q TESTHOST-UP "$img.log" 2>/dev/null; do
		sleep 1
		_i=$((_i + 1))
		if [ $_i -ge "$start_s" ]; then
			echo "testhost: it did not start its script within $start_s s (hung while booting); stopping it" >&2
			pkill -f -- "file=$img," 2>/dev/null
			return
		fi
	done
	_size=-1
	_quiet=0
	while sleep 10; do
		_now=$(stat -c %s "$img.log" 2>/dev/null || echo 0)
		if [ "$_now" != "$_size" ]; then
			_size=$_now
			_quiet=0
			continue
		fi
		_quiet=$((_quiet + 10))
		if [ $_quiet -ge "$silent_s" ]; then
			echo "testhost: it printed nothing for $silent_s s (hung); stopping it" >&2
			pkill -f -- "file=$img," 2>/dev/null
			return
		fi
	done
}
: > "$img.log"
watch &
watcher=$!
# Keep QEMU's stdin away from ours so callers can pipe into this script.
if [ "$timeout" -gt 0 ]; then
	timeout -k 10 "$timeout" "$@" < /dev/null | tee "$img.log" || true
else
	"$@" < /dev/null | tee "$img.log" || true
fi
kill "$watcher" 2>/dev/null || true
rc=$(tr -d '\r' < "$img.log" | sed -n 's/^TESTHOST-EXIT=\([0-9]*\)$/\1/p' | tail -n 1)
if [ -z "$rc" ]; then
	echo "testhost: no exit status from the test host (timeout or crash)" >&2
	exit 125
fi
exit "$rc"
