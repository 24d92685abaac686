#!/bin/sh
# Integration tests on this machine's own /dev/kvm, with the tiny
# freestanding guest (tests/tiny): whatever KVM backs /dev/kvm can run it.
# usage: host.sh BUILD_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
build=$(cd "$1" && pwd)
vireo=$build/vireo
tiny=$build/tiny.elf
work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-host.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	for t in exit_statuses fault_dump cmos_date serial_input escape_quit \
		 sigterm restart_on_reboot mmio_cmdline file_errors \
		 bzimage_extraction; do
		skip "$t" "no usable /dev/kvm on this machine"
	done
	exit 0
fi

# run NAME CMDLINE [vireo args...]: output in $work/NAME.out, status in $rc
run() {
	_name=$1
	_cmd=$2
	shift 2
	timeout 30 "$vireo" run --kernel "$tiny" --memory 64M --cmdline "$_cmd" \
		"$@" < /dev/null > "$work/$_name.out" 2>&1
	rc=$?
}

t=exit_statuses
bad=
for c in poweroff:0 reset:0 kbdreset:0 panic:3 triple:4; do
	run "$t-${c%:*}" "${c%:*}"
	[ "$rc" = "${c#*:}" ] || bad="$bad ${c%:*}=$rc"
	grep -q "tiny guest: hello" "$work/$t-${c%:*}.out" || bad="$bad ${c%:*}:no-output"
done
grep -q "the guest kernel panicked" "$work/$t-panic.out" || bad="$bad panic:message"
[ -z "$bad" ] && pass $t || fail $t "unexpected:$bad"

t=fault_dump
run $t triple
if [ "$rc" = 4 ] && grep -q "vCPU 0: triple fault" "$work/$t.out" &&
   grep -q "rip 0000000000200" "$work/$t.out" && grep -q "cr3 0000000000009000" "$work/$t.out"; then
	pass $t
else
	fail $t "rc=$rc, no one-line reason or registers: $(head -c 300 "$work/$t.out")"
fi

t=cmos_date
before=$(date -u +%s)
run $t cmos
after=$(date -u +%s)
line=$(grep '^cmos ' "$work/$t.out" | tr -d '\r')
guest=$(date -u -d "20${line#cmos }" +%s 2>/dev/null || echo 0)
if [ "$rc" = 0 ] && [ "$guest" -ge $((before - 1)) ] && [ "$guest" -le $((after + 1)) ]; then
	pass $t
else
	fail $t "guest read '$line' ($guest), host $before..$after"
fi

t=serial_input
printf 'hello vireo\rq' > "$work/in"
timeout 30 "$vireo" run --kernel "$tiny" --memory 64M --cmdline echo \
	< "$work/in" > "$work/$t.out" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -q "hello vireo" "$work/$t.out"; then
	pass $t
else
	fail $t "rc=$rc, echo guest printed: $(head -c 200 "$work/$t.out")"
fi

t=escape_quit
# The echo guest never powers off by itself; Ctrl-A x must end vireo.
printf 'abc\001x' > "$work/in"
timeout 30 "$vireo" run --kernel "$tiny" --memory 64M --cmdline echo \
	< "$work/in" > "$work/$t.out" 2>&1
rc=$?
if [ "$rc" = 0 ] && ! grep -q "stopped by" "$work/$t.out"; then
	pass $t
else
	fail $t "rc=$rc (124 means Ctrl-A x did not quit)"
fi

t=sigterm
mkfifo "$work/fifo"
timeout 30 "$vireo" run --kernel "$tiny" --memory 64M --cmdline echo \
	< "$work/fifo" > "$work/$t.out" 2>&1 &
pid=$!
exec 3> "$work/fifo"
wait_for "$work/$t.out" "tiny guest: hello" 20
kill -TERM $pid
wait $pid
rc=$?
exec 3>&-
if [ "$rc" = 143 ] && grep -q "stopped by" "$work/$t.out" && grep -q "vCPU 0 at rip" "$work/$t.out"; then
	pass $t
else
	fail $t "rc=$rc (want 143 and a vCPU position): $(tail -c 300 "$work/$t.out")"
fi

t=restart_on_reboot
timeout 30 "$vireo" run --kernel "$tiny" --memory 64M --cmdline reset \
	--on-reboot restart < /dev/null > "$work/$t.out" 2>&1 &
pid=$!
wait_for "$work/$t.out" "hello" 20
sleep 1
kill -TERM $pid
wait $pid
rc=$?
boots=$(count_of "$work/$t.out" "tiny guest: hello")
if [ "$rc" = 143 ] && [ "$boots" -ge 3 ]; then
	pass $t
else
	fail $t "rc=$rc, $boots boots (want >= 3 restarts before SIGTERM)"
fi

t=mmio_cmdline
run $t cmdline --device rng,transport=mmio --device rng,transport=pci \
	--device rng,transport=mmio-legacy --virtio-mmio-cmdline
if [ "$rc" = 0 ] &&
   grep -q "^cmdline virtio_mmio.device=0x200@0xd0000000:20 virtio_mmio.device=0x200@0xd0001000:21" "$work/$t.out"; then
	pass $t
else
	fail $t "rc=$rc: $(grep -a '^cmdline' "$work/$t.out")"
fi

t=file_errors
bad=
expect() { # expect STATUS PATTERN vireo-args...
	_want=$1
	_pat=$2
	shift 2
	timeout 30 "$vireo" "$@" < /dev/null > "$work/err.out" 2>&1
	_rc=$?
	if [ "$_rc" != "$_want" ] || ! grep -q -- "$_pat" "$work/err.out" ||
	   [ "$(wc -l < "$work/err.out")" != 1 ]; then
		bad="$bad [$* -> $_rc: $(cat "$work/err.out")]"
	fi
}
head -c 300 "$tiny" > "$work/truncated.elf"
head -c 100 /dev/zero > "$work/zeros"
head -c $((40 << 20)) /dev/zero > "$work/big.img"
expect 1 "No such file" run --kernel "$work/none"
expect 1 "is in no loadable segment\|outside the file" run --kernel "$work/truncated.elf"
expect 1 "neither a bzImage nor an ELF" run --kernel "$work/zeros"
expect 1 "'$work': Is a directory" run --kernel "$work"
expect 1 "--initrd '$work/none': No such file" run --kernel "$tiny" --initrd "$work/none"
expect 1 "does not fit" run --kernel "$tiny" --initrd "$work/big.img" --memory 32M
expect 1 "accepts at most 2047" run --kernel "$tiny" --cmdline "$(head -c 3000 /dev/zero | tr '\0' x)"
expect 2 "not a size" run --kernel "$tiny" --memory 12Q
expect 2 "unknown option '--frobnicate'" run --kernel "$tiny" --frobnicate
[ -z "$bad" ] && pass $t || fail $t "$bad"

t=bzimage_extraction
# vireo's host-side extraction of the real Debian kernel, compared with
# the reference lz4 tool. A 16M guest cannot hold the kernel, so vireo
# stops (clear error) right after extracting and caching it.
bz=$build/guest/vmlinuz
if [ ! -f "$bz" ]; then
	skip $t "no $bz (run 'make guest')"
elif ! command -v lz4 > /dev/null; then
	skip $t "the lz4 tool is not installed (run 'make deps')"
else
	VIREO_CACHE_DIR=$work/cache timeout 120 "$vireo" run --kernel "$bz" \
		--memory 16M < /dev/null > "$work/$t.out" 2>&1
	rc=$?
	cached=$(ls "$work"/cache/vmlinux-* 2>/dev/null | head -n 1)
	setup=$(od -An -tu1 -j 497 -N1 "$bz" | tr -d ' ')
	off=$(od -An -tu4 -j 584 -N4 "$bz" | tr -d ' ')
	len=$(od -An -tu4 -j 588 -N4 "$bz" | tr -d ' ')
	start=$(( (setup + 1) * 512 + off ))
	tail -c +$((start + 1)) "$bz" | head -c $((len - 4)) > "$work/payload"
	lz4 -dc "$work/payload" > "$work/ref" 2>/dev/null
	if [ "$rc" = 1 ] && grep -q "does not fit in guest RAM" "$work/$t.out" &&
	   [ -n "$cached" ] && cmp -s "$cached" "$work/ref"; then
		pass $t
	else
		fail $t "rc=$rc, cache '$cached' differs from lz4 -dc ($(wc -c < "$work/ref") bytes): $(cat "$work/$t.out")"
	fi
fi
