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
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
# A vireo that died early must fail its test, not kill this script with
# SIGPIPE at the next write to its stdin's fifo.
trap '' PIPE

if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	for t in exit_statuses fault_dump cmos_date serial_input escape_quit \
		 sigterm restart_on_reboot mmio_cmdline file_errors \
		 bzimage_extraction api_http snapshot_restore \
		 snapshot_refused mig_tiny seccomp_kinds user_drop caps_dropped \
		 jail_snapshot; do
		skip "$t" "no usable /dev/kvm on this machine"
	done
	echo END-OF-TESTS
	exit 0
fi

# svm_shutdown FILE...: a vCPU in these outputs was ended by the nested
# test host's SVM shutdown: KVM reports a triple fault with the vCPU
# already in its reset state (see fault_dump).
svm_shutdown() {
	[ "${VIREO_KVM_KIND:-}" = nested ] && [ -d /sys/module/kvm_amd ] &&
		cat "$@" 2>/dev/null | grep -q "cs f000/00000000ffff0000"
}

# run NAME CMDLINE [vireo args...]: output in $work/NAME.out, status in
# $rc. A guest that was not asked to triple-fault and was ended by an
# SVM shutdown gets one more try, printed as a RETRY line.
run() {
	_name=$1
	_cmd=$2
	shift 2
	for _try in 1 2; do
		timeout 30 "$vireo" run --kernel "$tiny" --memory 64M \
			--cmdline "$_cmd" "$@" < /dev/null > "$work/$_name.out" 2>&1
		rc=$?
		[ $_try = 1 ] && [ "$rc" = 4 ] && [ "$_cmd" != triple ] &&
			svm_shutdown "$work/$_name.out" || break
		echo "RETRY $_name: SVM shutdown in the nested test host"
	done
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
# The registers where it faulted; in the nested test host (AMD SVM under
# QEMU TCG) KVM has put the vCPU in its reset state by the time it
# reports the shutdown.
if [ "$rc" = 4 ] && grep -q "vCPU 0: triple fault" "$work/$t.out" &&
   { { grep -q "rip 0000000000200" "$work/$t.out" &&
       grep -q "cr3 0000000000009000" "$work/$t.out"; } ||
     svm_shutdown "$work/$t.out"; }; then
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
# Where the vCPU was: rip, interrupts, run state, APIC timer, code bytes.
if [ "$rc" = 143 ] && grep -q "stopped by" "$work/$t.out" &&
	grep -q -E 'vCPU 0 at rip 0x[0-9a-f]+ \(interrupts (on|off), (runnable|halted), timer.*APIC in service -?[0-9]+, pending -?[0-9]+, PPR (0x[0-9a-f]+|0), code \(rip-4\)( [0-9a-f]{2}){4} \[[0-9a-f]{2}' "$work/$t.out"; then
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
	# (head stops reading at the payload's end: tail's broken pipe is
	# no error; a wrong cut fails the cmp below)
	tail -c +$((start + 1)) "$bz" 2>/dev/null | head -c $((len - 4)) > "$work/payload"
	lz4 -dc "$work/payload" > "$work/ref" 2>/dev/null
	if [ "$rc" = 1 ] && grep -q "does not fit in guest RAM" "$work/$t.out" &&
	   [ -n "$cached" ] && cmp -s "$cached" "$work/ref"; then
		pass $t
	else
		fail $t "rc=$rc, cache '$cached' differs from lz4 -dc ($(wc -c < "$work/ref") bytes): $(cat "$work/$t.out")"
	fi
fi

# ---- the control API and snapshots, with the echo guest ----------------

# api NAME METHOD PATH [BODY]: curl on the socket; the body in $work/NAME,
# the HTTP status in $code.
api() {
	code=$(curl -s -o "$work/$1" -w '%{http_code}' --unix-socket "$sock" \
		-X "$2" "http://localhost$3" ${4:+-H 'Content-Type: application/json' -d "$4"})
}

# The API as Firecracker's getting-started guide drives it: configure,
# InstanceStart, pause; and what it refuses, with reasons (BAD-INPUTS 26).
t=api_http
sock=$work/api.sock
if ! command -v curl > /dev/null; then
	skip $t "curl is not installed (run 'make deps')"
else
	rm -f "$work/fifo"
	mkfifo "$work/fifo"
	timeout 30 "$vireo" run --api-sock "$sock" < "$work/fifo" \
		> "$work/$t.out" 2>&1 &
	pid=$!
	exec 3> "$work/fifo"
	bad=
	n=0
	while [ ! -S "$sock" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
	api info GET /
	grep -q '"state":"Not started"' "$work/info" || bad="$bad; GET / before start: $(cat "$work/info")"
	api m PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
	[ "$code" = 204 ] || bad="$bad; machine-config $code"
	api b PUT /boot-source "{\"kernel_image_path\": \"$tiny\", \"boot_args\": \"echo\"}"
	[ "$code" = 204 ] || bad="$bad; boot-source $code"
	# Refused, the VM unaffected: unknown field, malformed JSON, wrong
	# state, unknown path, a body too big.
	api e1 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "frob": 1}'
	[ "$code" = 400 ] && grep -q "unknown field 'frob'" "$work/e1" || bad="$bad; unknown field: $code $(cat "$work/e1")"
	api e2 PUT /boot-source '{"kernel_image_path": '
	[ "$code" = 400 ] && grep -q "not a JSON object" "$work/e2" || bad="$bad; bad JSON: $code"
	api e3 PATCH /vm '{"state": "Paused"}'
	[ "$code" = 400 ] && grep -q "not started" "$work/e3" || bad="$bad; pause before start: $code"
	api e4 GET /nowhere
	[ "$code" = 404 ] || bad="$bad; unknown path: $code"
	head -c 70000 /dev/zero | tr '\0' x > "$work/big"
	api e5 PUT /boot-source "@$work/big"
	[ "$code" = 413 ] || bad="$bad; big body: $code"
	api s PUT /actions '{"action_type": "InstanceStart"}'
	[ "$code" = 204 ] || bad="$bad; InstanceStart $code $(cat "$work/s")"
	wait_for "$work/$t.out" "tiny guest: hello" 10 || bad="$bad; no boot"
	api e6 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64}'
	[ "$code" = 400 ] && grep -q "running" "$work/e6" || bad="$bad; config after start: $code"
	api p PATCH /vm '{"state": "Paused"}'
	api i2 GET /
	grep -q '"state":"Paused"' "$work/i2" || bad="$bad; not paused: $(cat "$work/i2")"
	api r PATCH /vm '{"state": "Resumed"}'
	api c GET /vm/config
	grep -q '"vcpu_count":1' "$work/c" || bad="$bad; vm/config: $(cat "$work/c")"
	to_fifo 3 'api-ok q'
	wait $pid
	rc=$?
	exec 3>&-
	if [ "$rc" = 0 ] && [ -z "$bad" ] && grep -q "api-ok" "$work/$t.out"; then
		pass $t
	else
		fail $t "rc=$rc$bad"
	fi
fi

# Pause, snapshot, the process killed, restore in a new one: the guest
# goes on where it was (the echo guest echoes what comes after), twice;
# dtc reads the state file. No vCPU runs the guest before vireo is locked
# down (VIREO_SECCOMP_SELFTEST=early: status 158 if one does), booted or
# restored; mig_tiny checks the same of a migration's target.
t=snapshot_restore
snap=$work/snap
rm -f "$work/fifo"
mkfifo "$work/fifo"
VIREO_SECCOMP_SELFTEST=early timeout 30 "$vireo" run --kernel "$tiny" \
	--memory 64M --cmdline echo --api-sock "$sock" < "$work/fifo" \
	> "$work/$t.0" 2>&1 &
pid=$!
exec 3> "$work/fifo"
wait_for "$work/$t.0" "tiny guest: hello" 10
to_fifo 3 'one-'
sleep 0.3
"$vireo" ctl --api-sock "$sock" snapshot "$snap" > "$work/$t.ctl" 2>&1
# vireo itself (kill_vmm): a vireo left behind would run its polling
# guest for good.
kill_vmm $pid
wait $pid 2>/dev/null
exec 3>&-
bad=
for round in 1 2; do
	rm -f "$work/fifo"
	mkfifo "$work/fifo"
	VIREO_SECCOMP_SELFTEST=early timeout 30 "$vireo" restore \
		--snapshot "$snap" --api-sock "$sock" < "$work/fifo" \
		> "$work/$t.$round" 2>&1 &
	pid=$!
	exec 3> "$work/fifo"
	sleep 0.5
	to_fifo 3 'two%s-' $round
	sleep 0.3
	[ $round = 1 ] && "$vireo" ctl --api-sock "$sock" snapshot "$snap" \
		>> "$work/$t.ctl" 2>&1
	to_fifo 3 'q'
	wait $pid
	rc=$?
	exec 3>&-
	grep -q "two$round-" "$work/$t.$round" && [ "$rc" = 0 ] ||
		bad="$bad; round $round: rc=$rc $(head -c 200 "$work/$t.$round")"
done
dts=$(dtc -I dtb -O dts "$snap/state" 2>/dev/null | grep -c 'vireo-snapshot')
if [ -z "$bad" ] && grep -q "one-" "$work/$t.0" && [ "$dts" = 1 ]; then
	pass $t
else
	fail $t "$bad; dtc found the marker $dts times; ctl: $(cat "$work/$t.ctl")"
fi

# A state file that is corrupt, truncated, of another version, or names
# a ring outside RAM: refused with a clear line, exit 1, nothing run.
t=snapshot_refused
bad=
try_state() { # try_state WHAT EXPECTED-MESSAGE
	mkdir -p "$work/bad"
	cp "$snap/mem" "$work/bad/mem" 2>/dev/null
	timeout 30 "$vireo" restore --snapshot "$work/bad" < /dev/null \
		> "$work/$t.out" 2>&1
	rc=$?
	if [ "$rc" != 1 ] || ! grep -q -- "$2" "$work/$t.out"; then
		bad="$bad; $1: rc=$rc $(head -c 300 "$work/$t.out")"
	fi
}
size=$(wc -c < "$snap/state")
mkdir -p "$work/bad"
head -c $((size / 2)) "$snap/state" > "$work/bad/state"
try_state truncated "truncated or corrupt"
cp "$snap/state" "$work/bad/state"
printf '\377' | dd of="$work/bad/state" bs=1 seek=$((size - 40)) conv=notrunc 2>/dev/null
try_state "one byte flipped" "CRC mismatch"
dtc -I dtb -O dts "$snap/state" 2>/dev/null | sed 's/vireo-snapshot = <0x01>/vireo-snapshot = <0x09>/' |
	dtc -I dts -O dtb -o "$work/bad/state" 2>/dev/null
try_state "version 9" "format version 9"
printf 'not a snapshot' > "$work/bad/state"
try_state garbage "not a vireo state file"
head -c 1000 "$snap/mem" > "$work/bad/mem.short"
cp "$snap/state" "$work/bad/state"
mv "$work/bad/mem.short" "$work/bad/mem" 2>/dev/null
timeout 30 "$vireo" restore --snapshot "$work/bad" < /dev/null > "$work/$t.out" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q "memory file.*not that size" "$work/$t.out" ||
	bad="$bad; short memory file: rc=$rc $(head -c 300 "$work/$t.out")"
[ -z "$bad" ] && pass $t || fail $t "$bad"

# Live migration of the echo guest to a second vireo (this machine's KVM
# runs it): over tcp and with local=on, what was typed before the move
# and after it reaches the guest; the source exits 0. Then a migration
# to nobody: refused, and the source goes on running.
t=mig_tiny
bad=
# mig_tiny_to URI: one move of the tiny guest; what went wrong in $_bad.
mig_tiny_to() {
	uri=$1
	_bad=
	rm -f "$work/f1" "$work/f2"
	mkfifo "$work/f1" "$work/f2"
	VIREO_SECCOMP_SELFTEST=early timeout 30 "$vireo" run --kernel "$tiny" \
		--memory 64M --cmdline echo --api-sock "$sock" < "$work/f1" \
		> "$work/$t.src" 2>&1 &
	sp=$!
	exec 3> "$work/f1"
	VIREO_SECCOMP_SELFTEST=early timeout 30 "$vireo" run \
		--incoming "${uri%,local=on}" < "$work/f2" \
		> "$work/$t.tgt" 2>&1 &
	tp=$!
	exec 4> "$work/f2"
	wait_for "$work/$t.src" "tiny guest: hello" 10
	wait_for "$work/$t.tgt" "waiting for a migration" 10
	to_fifo 3 'before-'
	sleep 0.3
	"$vireo" ctl --api-sock "$sock" migrate --to "$uri" > "$work/$t.ctl" 2>&1 ||
		_bad="$_bad; $uri: ctl: $(cat "$work/$t.ctl")"
	wait $sp
	src_rc=$?
	sleep 0.3
	to_fifo 4 'after-q'
	wait $tp
	tgt_rc=$?
	exec 3>&- 4>&-
	{ [ $src_rc = 0 ] && [ $tgt_rc = 0 ] && grep -q 'before-' "$work/$t.src" &&
	  grep -q 'after-' "$work/$t.tgt" && grep -q 'moved to' "$work/$t.src" &&
	  grep -q '"state":"completed"' "$work/$t.ctl"; } ||
		_bad="$_bad; $uri: source rc=$src_rc '$(tr '\n' '|' < "$work/$t.src")', target rc=$tgt_rc '$(tr '\n' '|' < "$work/$t.tgt")', ctl '$(cat "$work/$t.ctl")'"
}
for uri in tcp:127.0.0.1:47410 "unix:$work/mig.sock,local=on"; do
	mig_tiny_to "$uri"
	# The nested test host's SVM shutdown (a vCPU put in its reset
	# state, as fault_dump's note says) gets one more try, counted.
	if [ -n "$_bad" ] && svm_shutdown "$work/$t.src" "$work/$t.tgt"; then
		echo "RETRY $t: SVM shutdown in the nested test host ($uri)"
		mig_tiny_to "$uri"
	fi
	bad="$bad$_bad"
done
rm -f "$work/f1"
mkfifo "$work/f1"
timeout 30 "$vireo" run --kernel "$tiny" --memory 64M --cmdline echo \
	--api-sock "$sock" < "$work/f1" > "$work/$t.src" 2>&1 &
sp=$!
exec 3> "$work/f1"
wait_for "$work/$t.src" "tiny guest: hello" 10
"$vireo" ctl --api-sock "$sock" migrate --to "unix:$work/nobody.sock" \
	> "$work/$t.ctl" 2>&1 && bad="$bad; a migration to nobody worked"
grep -q "is 'vireo run --incoming' waiting there" "$work/$t.ctl" "$work/$t.src" ||
	bad="$bad; no reason given: $(cat "$work/$t.ctl")"
to_fifo 3 'still-q'
wait $sp
rc=$?
exec 3>&-
[ $rc = 0 ] && grep -q 'still-' "$work/$t.src" ||
	bad="$bad; the source did not go on: rc=$rc $(tr '\n' '|' < "$work/$t.src")"
# The source dies mid-way (its target stopped, so it waits): ctl cannot
# know where the guest runs, and says so (status 3), not "moved".
rm -f "$work/f1"
mkfifo "$work/f1"
"$vireo" run --kernel "$tiny" --memory 64M --cmdline echo \
	--api-sock "$sock" < "$work/f1" > "$work/$t.src" 2>&1 &
sp=$!
exec 3> "$work/f1"
"$vireo" run --incoming tcp:127.0.0.1:47411 < /dev/null \
	> "$work/$t.tgt" 2>&1 &
tp=$!
wait_for "$work/$t.src" "tiny guest: hello" 10
wait_for "$work/$t.tgt" "waiting for a migration" 10
kill -STOP $tp
"$vireo" ctl --api-sock "$sock" migrate --to tcp:127.0.0.1:47411 \
	> "$work/$t.ctl" 2>&1 &
cp=$!
sleep 1
kill -9 $sp
wait $cp
crc=$?
wait $sp 2>/dev/null
exec 3>&-
kill -9 $tp
kill -CONT $tp
wait $tp 2>/dev/null
[ $crc = 3 ] && grep -q "whether the guest runs on the target is unknown" "$work/$t.ctl" ||
	bad="$bad; source killed mid-way: ctl status $crc '$(tr '\n' '|' < "$work/$t.ctl")'"
[ -z "$bad" ] && pass $t || fail $t "$bad"

# Each kind of thread, made to call something no filter allows, stops
# vireo with status 159 and a line naming the call and the thread. A
# vCPU takes its filter at its first exit after the filters are armed:
# its guest keeps exiting (echo polls the UART), or it could be done
# before that.
t=seccomp_kinds
bad=
for kind in vcpu event-loop worker; do
	cmd=poweroff
	[ $kind = vcpu ] && cmd=echo
	VIREO_SECCOMP_SELFTEST=$kind run $t-$kind $cmd
	[ "$rc" = 159 ] && grep -q "the $kind thread made the system call syslog" \
		"$work/$t-$kind.out" ||
		bad="$bad; $kind: rc=$rc $(tr '\n' '|' < "$work/$t-$kind.out" | head -c 300)"
done
rm -f "$work/f1"
mkfifo "$work/f1"
VIREO_SECCOMP_SELFTEST=migration timeout 30 "$vireo" run --kernel "$tiny" \
	--memory 64M --cmdline echo --api-sock "$sock" < "$work/f1" \
	> "$work/$t-mig.out" 2>&1 &
sp=$!
exec 3> "$work/f1"
wait_for "$work/$t-mig.out" "tiny guest: hello" 10
"$vireo" ctl --api-sock "$sock" migrate --to "unix:$work/nobody.sock" \
	> "$work/$t.ctl" 2>&1
wait $sp
rc=$?
exec 3>&-
[ "$rc" = 159 ] && grep -q "the migration thread made the system call syslog" \
	"$work/$t-mig.out" || bad="$bad; migration: rc=$rc $(tr '\n' '|' < "$work/$t-mig.out")"
# Off: the same run goes on, and vireo says it runs unfiltered.
VIREO_SECCOMP_SELFTEST=vcpu run $t-off poweroff --seccomp off
[ "$rc" = 0 ] && grep -q "warning: --seccomp=off" "$work/$t-off.out" ||
	bad="$bad; off: rc=$rc $(tr '\n' '|' < "$work/$t-off.out")"
[ -z "$bad" ] && pass $t || fail $t "$bad"

# vireo_pids PATTERN: the vireo processes whose command line holds
# PATTERN (not a timeout watching one: GNU timeout runs vireo as its
# child, busybox's as itself with a watcher child; no pgrep in the test
# host).
vireo_pids() {
	for _d in /proc/[0-9]*; do
		# (stderr first: a process gone meanwhile fails the '<')
		_c=$(tr '\0' ' ' 2>/dev/null < "$_d/cmdline") || continue
		case "$_c" in "$vireo "*"$1"*) echo "${_d#/proc/}" ;; esac
	done
}

# status_of PID FIELD: a line of /proc/PID/status, without its name.
status_of() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null | tr -s '\t ' ' '
}

# --user: once the machine is built, vireo runs as that user with no
# capabilities, no new privileges and a filter; the guest still runs.
t=user_drop
if [ "$(id -u)" != 0 ]; then
	skip $t "needs root to switch users"
else
	rm -f "$work/f1"
	mkfifo "$work/f1"
	timeout 30 "$vireo" run --kernel "$tiny" --memory 64M --cmdline echo \
		--user 65534:65534 < "$work/f1" > "$work/$t.out" 2>&1 &
	sp=$!
	exec 3> "$work/f1"
	wait_for "$work/$t.out" "tiny guest: hello" 10
	vp=$(vireo_pids "cmdline echo --user 65534" | tail -n 1)
	uid=$(status_of "$vp" Uid) caps=$(status_of "$vp" CapEff)
	nnp=$(status_of "$vp" NoNewPrivs) sc=$(status_of "$vp" Seccomp)
	to_fifo 3 'abc-q'
	wait $sp
	rc=$?
	exec 3>&-
	if [ "$rc" = 0 ] && [ "$uid" = "65534 65534 65534 65534" ] &&
	   [ "$caps" = 0000000000000000 ] && [ "$nnp" = 1 ] && [ "$sc" = 2 ] &&
	   grep -q 'abc-' "$work/$t.out"; then
		pass $t
	else
		fail $t "rc=$rc uid='$uid' caps=$caps nnp=$nnp seccomp=$sc: $(tr '\n' '|' < "$work/$t.out")"
	fi
fi

# Root without --user: once the machine is built every thread of vireo's
# keeps only the rights to reach files and sockets (DAC_OVERRIDE,
# DAC_READ_SEARCH, FOWNER) and to pin memory for vDPA (IPC_LOCK): 0x400e,
# in its effective, permitted and bounding sets; with --on-reboot restart (which opens taps and /dev/kvm again)
# they stay.
t=caps_dropped
# caps_run MODE: one guest in MODE (drop, restart); what was wrong with
# it appended to $bad_one.
caps_run() {
	bad_one=
	rm -f "$work/f1"
	mkfifo "$work/f1"
	extra=
	[ $1 = restart ] && extra="--on-reboot restart"
	timeout 30 "$vireo" run --kernel "$tiny" --memory 64M \
		--cmdline echo $extra < "$work/f1" > "$work/$t.$1" 2>&1 &
	sp=$!
	exec 3> "$work/f1"
	wait_for "$work/$t.$1" "tiny guest: hello" 10
	to_fifo 3 'abc-'
	wait_for "$work/$t.$1" "abc-" 10
	vp=$(vireo_pids "cmdline echo $extra" | tail -n 1)
	tasks=
	for s in /proc/$vp/task/*; do
		# KVM's own kernel threads (kvm-nx-lpage-recovery)
		# show up among vireo's: not vireo's to drop.
		case $(cat "$s/comm") in kvm-*) continue ;; esac
		tasks="$tasks $(sed -n 's/^CapEff:[[:space:]]*//p' "$s/status")"
	done
	bnd=$(status_of "$vp" CapBnd) prm=$(status_of "$vp" CapPrm)
	to_fifo 3 'q'
	wait $sp
	rc=$?
	exec 3>&-
	want=000000000000400e
	if [ $1 = restart ]; then
		want=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)
		bnd=$want prm=$want
	fi
	for c in $tasks; do
		[ "$c" = "$want" ] || bad_one="$bad_one $1:task=$c"
	done
	[ "$rc" = 0 ] && [ -n "$tasks" ] && [ "$bnd" = "$want" ] &&
		[ "$prm" = "$want" ] ||
		bad_one="$bad_one $1: rc=$rc tasks=$tasks bnd=$bnd prm=$prm: $(tr '\n' '|' < "$work/$t.$1" | tail -c 600)"
}
if [ "$(id -u)" != 0 ]; then
	skip $t "needs root"
else
	bad=
	for mode in drop restart; do
		caps_run $mode
		# The nested test host's SVM shutdown (fault_dump's note)
		# gets one more try, counted.
		if [ -n "$bad_one" ] && svm_shutdown "$work/$t.$mode"; then
			echo "RETRY $t: SVM shutdown in the nested test host ($mode)"
			caps_run $mode
		fi
		bad="$bad$bad_one"
	done
	[ -z "$bad" ] && pass $t || fail $t "$bad"
fi

# --jail: vireo runs as PID 1 of its own namespace with DIR as its root;
# a snapshot asked for at /s lands in DIR/s, written as the --user user.
t=jail_snapshot
if [ "$(id -u)" != 0 ]; then
	skip $t "needs root for namespaces"
else
	jail=$work/jail
	mkdir -p "$jail"
	chmod 777 "$jail"
	rm -f "$work/f1"
	mkfifo "$work/f1"
	timeout 30 "$vireo" run --kernel "$tiny" --memory 64M --cmdline echo \
		--api-sock "$sock" --jail "$jail" --user 65534:65534 \
		< "$work/f1" > "$work/$t.out" 2>&1 &
	sp=$!
	exec 3> "$work/f1"
	wait_for "$work/$t.out" "tiny guest: hello" 10
	inner= nspid=
	for p in $(vireo_pids "--jail $jail"); do
		ns=$(status_of "$p" NSpid)
		[ "${ns##* }" = 1 ] && inner=$p nspid=$ns
	done
	# Its root holds what the jail holds, and nothing of the host's.
	touch "$jail/marker"
	root=outside
	[ -n "$inner" ] && [ -e "/proc/$inner/root/marker" ] &&
		[ ! -e "/proc/$inner/root/etc" ] && root=$jail
	mkdir -m 777 "$jail/s"
	crc=0
	api $t-pause PATCH /vm '{"state":"Paused"}' && [ "$code" = 204 ] || crc=1
	api $t-snap PUT /snapshot/create \
		'{"snapshot_path":"/s/state","mem_file_path":"/s/mem"}' &&
		[ "$code" = 204 ] || crc="$crc+2 $(cat "$work/$t-snap")"
	api $t-resume PATCH /vm '{"state":"Resumed"}'
	to_fifo 3 'abc-q'
	wait $sp
	rc=$?
	exec 3>&-
	owner=$(stat -c %u "$jail/s/state" 2>/dev/null)
	if [ "$rc" = 0 ] && [ "$crc" = 0 ] && [ "$owner" = 65534 ] &&
	   [ "$root" = "$jail" ] && [ "${nspid##* }" = 1 ]; then
		pass $t
	else
		fail $t "rc=$rc api=$crc owner=$owner root=$root nspid='$nspid': $(tr '\n' '|' < "$work/$t.out")"
	fi
fi
# (run.sh: a run without this line stopped early)
echo END-OF-TESTS
