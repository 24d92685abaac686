#!/bin/sh
# Integration tests that boot the real Debian guest. They need a KVM that
# runs stock Linux: run.sh calls this inside the nested test host, or
# directly on a host with hardware KVM.
# usage: linux.sh VIREO KERNEL INITRD TOOLS_IMG [HOST_TOOLS_BIN_DIR [UNIXCAT]]
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
vireo=$1
kernel=$2
initrd=$3
tools=$4
hostbin=${5:-}
unixcat=${6:-unixcat}
# (built beside unixcat: make integration)
pagecmp=$(dirname "$unixcat")/pagecmp
# Where this runs: "nested" inside the QEMU-TCG test host, else "hardware".
kind=${VIREO_KVM_KIND:-hardware}
work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-linux.XXXXXX")
export VIREO_CACHE_DIR=$work/cache
# No test may take the group's whole time: VIREO_STALL_S seconds without a
# report (ten minutes more under make check-full) and the watchdog says
# what hung and stops this script's vireos (lib.sh: stall_watchdog).
progress_file=$work/progress
stall_s=${VIREO_STALL_S:-}
[ -n "$stall_s" ] || stall_s=420
[ -z "${VIREO_FULL:-}" ] || stall_s=$((stall_s + 600))
stall_watchdog "$stall_s" "$work" $$ &
watchdog=$!
trap 'kill $watchdog 2>/dev/null; rm -rf "$work"' EXIT
# Stopped by a signal: the EXIT trap still runs (dash skips it otherwise).
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The guests' kernels print errors and worse on their consoles
# (loglevel=4, as quiet does), not their whole boot: each byte on the
# serial console is two exits to vireo, and the 20 KB a boot prints at
# the default level cost 5 s of a 12 s boot in the nested test host
# (2026-12-07: 11.1-12.7 s against 6.1-7.8 s with quiet, four boots
# each). Warnings stay off too: in the test host each boot warns of an
# XSAVE size mismatch in the CPUID its KVM offers (QEMU's guests there as
# well) and dumps 29 CPUID leaves and a stack, 5 KB. What the tests look
# for in the kernel's output (panics, reboots, I/O errors, stalls) is an
# error or worse; a test that wants more says so after it (snap_api_curl:
# loglevel=5, the TSC watchdog's warning). VIREO_KLOG=loglevel=7 gives
# every guest its whole boot log.
klog=${VIREO_KLOG:-loglevel=4}

# boot NAME TEST [vireo args]: run guest test TEST; output in $work/NAME.out,
# vireo's status in $rc, the RESULT line in $result. The guest's console is
# $con (ttyS0 unless a test sets it). A guest lost to the nested test
# host (nested_flake) boots again, up to three times in all, five for
# SVM shutdowns (may_retry): CI's run of 2026-12-06 lost blk_mq_mmio's
# guest to SVM shutdowns twice in a row (vCPU 1 each time, during fio),
# as multi_test's several guests were.
con=ttyS0
boot() {
	_name=$1
	_test=$2
	shift 2
	if already "$_name"; then
		: > "$work/$_name.out"
		rc=0
		result=
		return 0
	fi
	_try=1
	while :; do
		boot_t0=$(date +%s)
		timeout 180 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
			--cmdline "console=$con panic=-1 $klog vireo.test=$_test${bootargs:+ $bootargs}" "$@" \
			< /dev/null > "$work/$_name.out" 2>&1
		rc=$?
		nested_flake "$_name" timed || break
		may_retry $_try || break
		_try=$((_try + 1))
	done
	result=$(grep '^RESULT' "$work/$_name.out" | tr -d '\r' | tail -n 1)
	stuck_said "$_name" "$work/$_name.out"
}

# lost_state FILE...: what vireo said where it stopped a guest whose
# vCPU state the host's KVM lost (the nested test host's emulated SVM
# cleared GIF in a guest without SVM, which vireo set again, and the
# vCPU still took no interrupt: 2026-12-07, mig_vu_fio_tcp's target, its
# CR3 then at a page of zeros). The rip such a vCPU shows is the test
# host's own: in the logs of 2026-12-07 (seven tests, both test-host
# kernels) every one was a module address at the instruction after VMRUN
# in __svm_vcpu_run of the test host's kvm-amd.ko, page offset 0xdcc on
# 6.1 (.noinstr.text at 0xecd0, VMRUN at +0xf9) and 0xc60 on 6.12: the
# emulated #VMEXIT left the test host's state in the guest's.
lost_state() {
	_x=$(grep -a -h -m1 "the host's KVM lost its state" "$@" 2>/dev/null |
		tr -d '\r' | sed 's/^vireo: //')
	[ -n "$_x" ] && echo "$_x"
}

# stuck_said NAME FILE...: a NOTE line with what vireo's stuck-interrupt
# check said in these outputs (a vector pending with interrupts on that
# KVM did not deliver: vm.c, vcpu_look()), if it said anything.
stuck_said() {
	_n=$1
	shift
	_k=$(grep -a -h -E 'not delivered yet|taken at last|still pending with interrupts|page tables map nothing|GIF was clear' "$@" 2>/dev/null |
		tr -d '\r' | tr '\n' '|' | cut -c1-2000)
	[ -z "$_k" ] || note "$_n" "vireo's stuck-interrupt check: $_k"
}

# long NAME: true where the long tests run (make check-full: VIREO_FULL=1);
# under make check the test is skipped, saying so.
long() {
	[ -n "${VIREO_FULL:-}" ] && return 0
	skip "$1" "a long test; make check-full runs it"
	return 1
}

# twin NAME: true where a test's twin on the other transport runs: always
# under make check-full; under make check only the pci one, saying so of
# the other. Each guest boot in the nested test host risks a retry, and
# make check must stay inside CI's time with the host dying as it does
# (TEST-HOST.md): the device code is the same over both transports, and
# the mmio transport keeps tests of its own in make check (virtio's
# rng and blk_fio matrices, net_mmio-packed, net_vhost_mmio,
# vu_blk_fio_mmio, vdpa_fio_mmio, the console ports).
twin() {
	case $1 in *mmio*) ;; *) return 0 ;; esac
	[ -n "${VIREO_FULL:-}" ] && return 0
	skip "$1" "the pci twin runs under make check; make check-full runs this one too"
	return 1
}

# nested_flake NAME [timed]: inside the nested test host (QEMU TCG emulating SVM),
# a guest now and then dies of an SVM shutdown at a random point (the
# vCPU dump shows the reset state) or stops making progress; QEMU as the
# VMM sees the same (TEST-HOST.md). Such a run is repeated once, and says
# so; on hardware KVM it is a failure like any other.
nested_flake() {
	[ "$kind" = nested ] || return 1
	flake=other
	if [ "$rc" = 4 ] && grep -q "cs f000/00000000ffff0000" "$work/$1.out"; then
		flake=svm
		echo "RETRY $1: SVM shutdown in the nested test host"
		retry_log "$1"
		return 0
	fi
	# vireo stopped the guest: the host's KVM lost a vCPU's state (its
	# GIF cleared in a guest without SVM; vm.c, vcpu_gif_restore()).
	if [ "$rc" = 4 ] && _l=$(lost_state "$work/$1.out"); then
		flake=svm	# (the same emulated SVM: as many retries)
		echo "RETRY $1: $_l"
		retry_log "$1"
		return 0
	fi
	# Stopped by the time limit: 124 from GNU timeout; busybox timeout
	# (the test host's) runs vireo in its own process, which then exits
	# 128+SIGTERM.
	if { [ "$rc" = 124 ] || [ "$rc" = 143 ]; } &&
	   ! grep -q "VIREO-GUEST-UP" "$work/$1.out"; then
		echo "RETRY $1: the guest stalled while booting in the nested test host"
		retry_log "$1"
		return 0
	fi
	# Up, then stopped by the time limit (TIMED: only boot()'s, where
	# nothing else stops vireo) while vireo owed it nothing
	# (blk_iothread_mmio's guest, twice on 2026-12-06, once with its
	# kernel reporting a stalled CPU; ten runs of it alone passed).
	# vireo's own account goes into the RETRY line.
	if [ "${2:-}" = timed ] && { [ "$rc" = 124 ] || [ "$rc" = 143 ]; } &&
	   vireo_owed_nothing "$1"; then
		echo "RETRY $1: the guest stopped making progress in the nested test host, with every ring's work done and no vCPU in vireo; vireo: $(tr -d '\r' < "$work/$1.out" | grep -E 'stopped by|at rip|rings:' | tr '\n' '|' | cut -c1-1500) $(rip_modules "$1")$(tr -d '\r' < "$work/$1.out" | grep -m1 -E 'rcu: INFO|soft lockup|NMI backtrace|Sending NMI')"
		retry_log "$1"
		return 0
	fi
	# Up, then stopped by the time limit while the guest's kernel said
	# one of its CPUs stalled and vireo saw that vCPU run in KVM for a
	# minute or more with no exit to vireo: it was not waiting on vireo
	# (blk_iothread_mmio's guest on 2026-12-06, its stalled CPU deaf
	# even to the guest's NMI).
	if [ "${2:-}" = timed ] && { [ "$rc" = 124 ] || [ "$rc" = 143 ]; } &&
	   _w=$(vcpu_wedged "$1"); then
		echo "RETRY $1: $_w, in the nested test host; vireo: $(tr -d '\r' < "$work/$1.out" | grep -E 'stopped by|at rip|rings:' | tr '\n' '|' | cut -c1-1500) $(rip_modules "$1")"
		retry_log "$1"
		return 0
	fi
	return 1
}

# may_retry TRY: after TRY runs of a test lost to the nested test host
# (the last, nested_flake's $flake), is there another? Three runs in all,
# five when the last was an SVM shutdown: those come at once (vireo
# exits on the triple fault) and cost a boot, where a stall costs its
# time limit. On 2026-12-07 boot_4cpu's guest met three in a row in one
# run and two in a row in two more, and the CI before lost
# net_iothread_pci to three in a row in each of two test hosts.
may_retry() {
	[ "$1" -lt 3 ] || { [ "$flake" = svm ] && [ "$1" -lt 5 ]; }
}

# vcpu_deaf NAME: vireo's report on being stopped (in $work/NAME.out)
# shows a vCPU inside KVM_RUN with no exit to vireo for a minute or more
# (or none at all), interrupts on, and a vector pending in its in-kernel
# APIC above the priority it lets through: KVM had an interrupt to give
# it and never did, for all that time. Delivery is the kernel's (and, in
# the nested test host, QEMU's SVM emulation's), not vireo's. Prints
# what it found. (mig_vu_fio_tcp's target in two CI runs, 2026-12-07:
# vCPU 0 runnable in a guest module, vector 38 pending, PPR 0, no exit in
# 300 s; blk_iothread_pci's stalled boot on 2026-12-06: vCPU 1 the same,
# vector 253.)
vcpu_deaf() {
	_f=$work/$1.out
	_stop=$(tr -d '\r' < "$_f" | grep -a 'stopped by .* (vCPU') || return 1
	for _c in $(echo "$_stop" | grep -o 'vCPU [0-9]* in KVM_RUN' | cut -d' ' -f2); do
		_ms=$(echo "$_stop" | sed -n "s/.*vCPU $_c in KVM_RUN, its last exit ([^)]*) \([0-9]*\) ms ago.*/\1/p")
		if [ -n "$_ms" ]; then
			[ "$_ms" -ge 60000 ] || continue
			_since="its last exit to vireo $((_ms / 1000)) s before"
		elif echo "$_stop" | grep -q "vCPU $_c in KVM_RUN, no exit served yet"; then
			_since="no exit to vireo since it started"
		else
			continue
		fi
		_l=$(tr -d '\r' < "$_f" | grep -a "vCPU $_c at rip" | tail -n 1)
		case "$_l" in *"(interrupts on,"*) ;; *) continue ;; esac
		set -- $(echo "$_l" | sed -n 's/.*, pending \(-*[0-9]*\), PPR \(0x[0-9a-f]*\|0\).*/\1 \2/p')
		[ $# = 2 ] && [ "$1" -ge 16 ] && [ $(($1 >> 4)) -gt $(($2 >> 4)) ] || continue
		echo "vCPU $_c stayed in KVM_RUN ($_since) with interrupts on and vector $1 pending in its APIC above PPR $2"
		return 0
	done
	return 1
}

# vcpu_wedged NAME: the guest's kernel (in $work/NAME.out) reported CPU N
# stalled (an RCU stall's NMI to it, or a soft lockup), and vireo's report
# on being stopped shows vCPU N in KVM_RUN with its last exit 60 s or more
# before: prints what it found. A vCPU inside KVM_RUN runs guest code (or
# halts) without vireo; it cannot be waiting on vireo there.
vcpu_wedged() {
	_f=$work/$1.out
	_stop=$(tr -d '\r' < "$_f" | grep 'stopped by .* (vCPU') || return 1
	for _c in $(tr -d '\r' < "$_f" | sed -n \
		-e 's/.*Sending NMI from CPU [0-9]* to CPUs \([0-9,]*\):.*/\1/p' \
		-e 's/.*soft lockup - CPU#\([0-9]*\) stuck.*/\1/p' | tr ',' ' '); do
		_ms=$(echo "$_stop" | sed -n "s/.*vCPU $_c in KVM_RUN, its last exit ([^)]*) \([0-9]*\) ms ago.*/\1/p")
		[ -n "$_ms" ] && [ "$_ms" -ge 60000 ] || continue
		echo "the guest's CPU $_c stalled (its kernel says) while vCPU $_c ran $((_ms / 1000)) s in KVM without an exit to vireo"
		return 0
	done
	return 1
}

# vireo_owed_nothing NAME: vireo's report on being stopped by a signal
# (in $work/NAME.out) shows no vCPU thread serving an exit for a second or
# more (nor a pause left hanging), every device's rings read, and every
# split ring's work done: avail, taken and used equal, none in flight, and
# either the driver's used_event at used (it has seen every completion)
# or the device's interrupt line held high (raised, the guest not taking
# it). A packed ring's report cannot show a missed kick, and a VM without
# rings shows nothing: both count as owed. A guest that hung then was not
# waiting on vireo.
vireo_owed_nothing() {
	_f=$work/$1.out
	_stop=$(tr -d '\r' < "$_f" | grep 'stopped by .* (vCPU') || return 1
	echo "$_stop" | grep -q -E 'serving an exit \([^)]*\) for [0-9]{4,} ms|paused' &&
		return 1
	# Devices with rings, all read, none packed.
	tr -d '\r' < "$_f" | grep ' rings: ' > "$work/$1.rings" || return 1
	grep -q -E ' rings: not read|packed' "$work/$1.rings" && return 1
	_left=$(while read -r _line; do
		_high=no
		case "$_line" in *"line high"*) _high=yes ;; esac
		echo "$_line" | tr ';' '\n' | sed -n \
			-e 's/.*avail \([0-9]*\), taken \([0-9]*\), used \([0-9]*\), \([0-9]*\) in flight, used_event \([0-9]*\).*/\1 \2 \3 \4 \5/p' \
			-e 's/.*avail \([0-9]*\), taken \([0-9]*\), used \([0-9]*\), \([0-9]*\) in flight, avail flags.*/\1 \2 \3 \4 \3/p' |
		while read -r _a _t _u _n _ev; do
			[ "$_a" = "$_t" ] && [ "$_t" = "$_u" ] && [ "$_n" = 0 ] &&
				{ [ "$_ev" = "$_u" ] || [ $_high = yes ]; } || echo left
		done
	done < "$work/$1.rings")
	[ -z "$_left" ]
}

# retry_log NAME: the end of the attempt that is about to be repeated,
# into the test host's console log (build/nested/GROUP.log*), which
# outlives this test host.
retry_log() {
	progressed "retry $1"
	tail -n 12 "$work/$1.out" | tr -d '\r' | sed "s/^/RETRY-LOG $1: /"
}

# retry_flaky NAME FUNCTION: run FUNCTION, which leaves vireo's status in
# $rc and its output in $work/NAME.out; again after a nested flake, as
# often as boot() (may_retry) (CI on 2026-12-06: blk_crash_writethrough's
# guest stalled while booting, then died of an SVM shutdown).
retry_flaky() {
	if already "$1"; then
		: > "$work/$1.out"
		rc=0
		return 0
	fi
	_try=1
	while :; do
		"$2"
		nested_flake "$1" || break
		may_retry $_try || break
		_try=$((_try + 1))
	done
}

# multi_test NAME FUNCTION: run the test FUNCTION, which boots several
# guests (their output in $work/NAME_*.out) and sets $bad; again if one
# of them died of the nested test host's SVM shutdown (TEST-HOST.md), up
# to five runs in all (may_retry; several guests at once, beside a
# busy-polling peer, meet it more often than one); or if one was stopped
# by its time limit with a vCPU KVM never gave its pending interrupt
# (vcpu_deaf), up to three; then PASS or FAIL.
multi_test() {
	t=$1
	already "$t" && return 0
	for _try in 1 2 3 4 5; do
		rm -f "$work/${t}"_*.out
		bad=
		clock_bad=
		"$2"
		[ -n "$bad" ] && [ "$kind" = nested ] || break
		if [ "$bad" = "$clock_bad" ] && [ $_try = 1 ]; then
			echo "RETRY $t: the guest's TSC was marked unstable, and nothing else went wrong; the nested test host's KVM keeps no master clock (clock_ok): $bad"
			continue
		fi
		if _l=$(lost_state "$work/${t}"_*.out); then
			flake=svm	# (the same emulated SVM: as many retries)
			may_retry $_try || break
			echo "RETRY $t: $_l"
			stuck_said $t "$work/${t}"_*.out
			continue
		fi
		if grep -q 'cs f000/00000000ffff0000' "$work/${t}"_*.out 2>/dev/null; then
			flake=svm
			may_retry $_try || break
			echo "RETRY $t: SVM shutdown in the nested test host"
			for _f in $(grep -l 'cs f000/00000000ffff0000' "$work/${t}"_*.out); do
				_f=${_f##*/}
				retry_log "${_f%.out}"
			done
			continue
		fi
		# A guest (a migration target, say) stopped by its time limit
		# with a vCPU KVM never gave its pending interrupt.
		flake=other
		_deaf=
		for _f in "$work/${t}"_*.out; do
			_f=${_f##*/}
			_w=$(vcpu_deaf "${_f%.out}") || continue
			_deaf="${_f%.out}: $_w"
			break
		done
		[ -n "$_deaf" ] && may_retry $_try || break
		stuck_said $t "$work/${t}"_*.out
		_f=${_deaf%%:*}
		_m=${_f%_tgt}_src
		[ -e "$work/$_m.out" ] || _m=$_f
		echo "RETRY $t: a guest's vCPU went deaf in the nested test host ($_deaf; $(rip_modules "$_f" "$_m")); it said: $bad"
		retry_log "$_f"
	done
	stuck_said $t "$work/${t}"_*.out
	[ -z "$bad" ] && pass $t || fail $t "$bad"
}

# guest_ok NAME: the guest test exited 0 and vireo exited 0, and Linux's
# drivers broke no rule of the virtio spec (the driver-violation log's
# exit line: every guest test is also a test of vireo's transports).
guest_ok() {
	[ "$rc" = 0 ] && grep -q "VIREO-TEST-EXIT=0" "$work/$1.out" &&
		! grep -q "the guest's driver broke the virtio spec" "$work/$1.out"
}

# put_faults DEVICE RULES: PUT /faults/DEVICE {"inject": RULES} on test
# $t's API socket; prints the HTTP code, the reply body in $work/$t.api.
put_faults() {
	curl -s -o "$work/$t.api" -w '%{http_code}' \
		--unix-socket "$work/$t.sock" -X PUT \
		-H 'Content-Type: application/json' \
		-d "{\"inject\": \"$2\"}" "http://localhost/faults/$1"
}

# injected NAME: how many faults vireo injected (its exit line) in NAME.
injected() {
	sed -n 's/.*: \([0-9]*\) faults injected.*/\1/p' "$work/$1.out" | tail -n 1
}

# rip_modules NAME [FROM]: for each vCPU position in vireo's stop report,
# the guest module it lies in (from the MODULE lines the guest test
# printed: name, size, address; in $work/FROM.out if given: a migration's
# source printed them). Modules live above 0xffffffffc0000000: the low
# 32 bits are compared, as shell arithmetic cannot hold the whole address.
rip_modules() {
	tr -d '\r' < "$work/$1.out" | grep -o 'vCPU [0-9]* at rip 0xffffffff[0-9a-f]*' |
	while read -r _ _v _ _ _rip; do
		_r=$((0x${_rip#0xffffffff}))
		# The module holding rip, else the nearest one below it.
		tr -d '\r' < "$work/${2:-$1}.out" | grep '^MODULE ' | {
			_near= _nb=0 _in=
			while read -r _ _m _sz _base; do
				case "$_base" in 0xffffffff*) ;; *) continue ;; esac
				_b=$((0x${_base#0xffffffff}))
				[ "$_r" -ge "$_b" ] || continue
				if [ "$_r" -lt $((_b + _sz)) ]; then
					_in=$(printf '%s+%#x' "$_m" $((_r - _b)))
				elif [ "$_b" -ge "$_nb" ]; then
					_nb=$_b
					_near=$(printf '%s+%#x (%s bytes long)' "$_m" $((_r - _b)) "$_sz")
				fi
			done
			if [ -n "$_in" ]; then
				printf 'vCPU %s in %s; ' "$_v" "$_in"
			elif [ -n "$_near" ]; then
				printf 'vCPU %s in no module: past %s; ' "$_v" "$_near"
			fi
		}
	done
}

why() {
	echo "rc=${rc:-none}; $(oops_said "$1")$(grep -v -E 'evm:|Key type|ima:|CPUID\[' "$work/$1.out" | tail -n 6 | tr '\n' '|')"
}
# oops_said NAME: the head of a guest kernel's oops or panic in
# $work/NAME.out, if it printed one (its last lines, which why() shows,
# are the module list: a CI rehearsal on 2026-12-07 lost net_vhost_pci's
# guest to a panic during iperf3 and kept nothing of what it was). The
# test host's XSAVE warning at every boot (see klog) is left out: shown
# at loglevel=5 and up, it would fill the six lines.
oops_said() {
	_o=$(tr -d '\r' < "$work/$1.out" 2>/dev/null |
		grep -a -E 'BUG:|Oops:|general protection|Kernel panic|RIP: |WARNING: CPU' |
		grep -v -E 'xstate|XSAVE' | head -n 6 | tr '\n' '|' | cut -c1-900)
	[ -z "$_o" ] || echo "the guest's kernel said: $_o; "
}

# The guest should see the host's processor name (as info.sh prints it).
host_model=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1 | tr ' ' '_')
check_info() { # check_info NAME CPUS MIN_KB MAX_KB
	_cpus=$(field cpus "$result")
	_mem=$(field mem_kb "$result")
	_rtc=$(field rtc "$result")
	_now=$(date +%s)
	if ! guest_ok "$1"; then
		fail "$1" "$(why "$1")"
	elif [ "$_cpus" != "$2" ] || [ "$_mem" -lt "$3" ] || [ "$_mem" -gt "$4" ]; then
		fail "$1" "guest saw cpus=$_cpus mem_kb=$_mem (want $2, $3..$4 KiB)"
	# Between the host's clock at vireo's start and now: the nested test
	# host's own clock has been seen to jump minutes ahead during a run.
	elif [ "$_rtc" -lt $((boot_t0 - 2)) ] || [ "$_rtc" -gt "$_now" ]; then
		fail "$1" "guest RTC $_rtc, host clock $boot_t0 at vireo's start, $_now after"
	elif [ "$(field model "$result")" != "$host_model" ]; then
		fail "$1" "guest CPU model '$(field model "$result")', host's '$host_model'"
	else
		pass "$1"
	fi
}

# hosttool PROGRAM ARGS: a tool carried in the payload (the test host has
# only busybox), or the host's own.
hosttool() {
	_p=$1
	shift
	if [ -n "$hostbin" ]; then "$hostbin/$_p.sh" "$@"; else "$_p" "$@"; fi
}
toolsdisk="--disk path=$tools,readonly=on,serial=vireo-tools"
# curl for the API: carried into the test host, or the host's own.
curl() {
	if [ -n "$hostbin" ]; then "$hostbin/curl.sh" "$@"; else command curl "$@"; fi
}

# ext4_checked: the image $img that blk-ext4 wrote in guest $t passes
# e2fsck and holds the files the guest summed (adds to $bad).
ext4_checked() {
	hosttool e2fsck -fn "$img" > "$work/$t.fsck" 2>&1 || bad="$bad e2fsck: $(tail -n 3 "$work/$t.fsck" | tr '\n' '|')"
	for f in f1 f2 dir/small; do
		want=$(grep "^RESULT sum file=$f " "$work/$t.out" | tr -d '\r' | sed 's/.*sha=//')
		got=$(hosttool debugfs -R "cat /$f" "$img" 2>/dev/null | sha256sum | cut -d' ' -f1)
		[ -n "$want" ] && [ "$want" = "$got" ] || bad="$bad $f: guest $want host $got"
	done
}

# SECTIONS="boot virtio console net balloon" (or "all", the default):
# which groups of tests run; run.sh gives each group its own test host.
section() {
	case " ${SECTIONS:-all} " in
	*" all "* | *" $1 "*) return 0 ;;
	esac
	return 1
}

# shell_round_trip NAME COMMAND VIREO-ARGS...: boot with stdin on a fifo,
# wait for the guest's prompt, type COMMAND (which should print sum=42),
# then poweroff; rc is vireo's exit status, the output in $work/NAME.out.
shell_round_trip() {
	_t=$1
	_cmd=$2
	shift 2
	rm -f "$work/$_t.in"
	mkfifo "$work/$_t.in"
	timeout 180 "$vireo" run --kernel "$kernel" --initrd "$initrd" "$@" \
		< "$work/$_t.in" > "$work/$_t.out" 2>&1 &
	_pid=$!
	exec 3> "$work/$_t.in"
	if wait_for "$work/$_t.out" "vireo-guest:/# " 150; then
		tell 3 "$_cmd"
		wait_for "$work/$_t.out" "sum=42" 30
		tell 3 poweroff
	fi
	wait $_pid
	rc=$?
	exec 3>&-
}

if section boot; then
boot boot_1cpu info --cpus 1 --memory 256M
check_info boot_1cpu 1 200000 262144

boot boot_2cpu info --cpus 2 --memory 256M
check_info boot_2cpu 2 200000 262144
already boot_2cpu || [ "$(field online "$result")" = 0-1 ] || fail boot_2cpu_online "online CPUs: $(field online "$result")"

boot boot_4cpu info --cpus 4 --memory 384M
check_info boot_4cpu 4 300000 393216

# More RAM than fits below the 3 GiB hole: the rest lands above 4 GiB.
# (loglevel=7: the kernel's e820 lines are informational)
bootargs=loglevel=7 boot memory_above_4g info --memory 3584M
check_info memory_above_4g 1 3300000 3670016
already memory_above_4g ||
	grep -q "BIOS-e820: \[mem 0x0000000100000000-0x000000011fffffff\] usable" \
	"$work/memory_above_4g.out" || fail memory_above_4g_e820 "no RAM above 4 GiB in the e820 map"

# The ELF vmlinux vireo extracted (and cached), booted both ways. (A run
# that goes on after a test host died has booted nothing yet: one boot
# fills the cache.)
[ -n "$(ls "$VIREO_CACHE_DIR" 2>/dev/null)" ] || boot cache_fill info
elf=$(ls "$VIREO_CACHE_DIR"/vmlinux-* 2>/dev/null | head -n 1)
if [ -z "$elf" ]; then
	fail elf_pvh "no extracted vmlinux in the kernel cache"
	fail elf_linux64 "no extracted vmlinux in the kernel cache"
else
	ino=$(ls -i "$elf" | cut -d' ' -f1)
	boot cache_reused info
	if guest_ok cache_reused && [ "$(ls -i "$elf" | cut -d' ' -f1)" = "$ino" ] &&
	   [ "$(ls "$VIREO_CACHE_DIR" | wc -l)" = 1 ]; then
		pass cache_reused
	else
		fail cache_reused "the cache entry was rewritten: $(ls -i "$VIREO_CACHE_DIR")"
	fi
	kernel_save=$kernel
	kernel=$elf
	boot elf_pvh info --boot pvh --cpus 2
	check_info elf_pvh 2 200000 262144
	boot elf_linux64 info --boot linux
	check_info elf_linux64 1 200000 262144
	kernel=$kernel_save
fi

# Driver test mode on, strict: Linux's drivers (a disk on pci, a packed
# one on mmio, rng) break no rule; the log stays empty.
: > "$work/poweroff.drv"
boot poweroff up --driver-log "$work/poweroff.drv" --strict \
	--disk "path=$tools,readonly=on,serial=vt-pci,transport=pci" \
	--disk "path=$tools,readonly=on,serial=vt-mmio,transport=mmio,ring=packed" \
	--device rng
guest_ok poweroff && grep -q "Power down" "$work/poweroff.out" &&
	[ ! -s "$work/poweroff.drv" ] &&
	pass poweroff || fail poweroff "$(why poweroff); log: $(head -c 600 "$work/poweroff.drv")"

boot reboot_exits reboot
if [ "$rc" = 0 ] && grep -q "reboot: Restarting system" "$work/reboot_exits.out"; then
	pass reboot_exits
else
	fail reboot_exits "$(why reboot_exits)"
fi

# SendCtrlAltDel (Firecracker's action): the guest's keyboard driver sees
# the i8042 keyboard, and the key press restarts the guest.
t=ctrl_alt_del
run_cad() {
	rm -f "$work/cad.sock"
	timeout 180 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--api-sock "$work/cad.sock" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=cad" < /dev/null \
		> "$work/$t.out" 2>&1 &
	pid=$!
	code=
	if wait_for "$work/$t.out" CAD-READY 150; then
		code=$(curl -s -o "$work/$t.api" -w '%{http_code}' --unix-socket "$work/cad.sock" \
			-X PUT http://localhost/actions -d '{"action_type": "SendCtrlAltDel"}')
	fi
	wait $pid
	rc=$?
}
code=
retry_flaky $t run_cad
kbd=$(grep '^RESULT kbd' "$work/$t.out" | tr -d '\r')
if [ "$rc" = 0 ] && [ "$code" = 204 ] && [ "$(field lines "$kbd")" -gt 0 ] 2>/dev/null &&
   grep -q "reboot: Restarting system" "$work/$t.out"; then
	pass $t
else
	fail $t "http ${code:-none} $(cat "$work/$t.api" 2>/dev/null); $kbd; $(why $t)"
fi

# --on-reboot restart: the guest boots again; then SIGTERM ends vireo.
t=reboot_restarts
run_restarts() {
	timeout 300 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--on-reboot restart \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=reboot" < /dev/null \
		> "$work/$t.out" 2>&1 &
	pid=$!
	n=0
	while [ "$(count_of "$work/$t.out" VIREO-GUEST-UP)" -lt 2 ] &&
	      [ $n -lt 1800 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	kill -TERM $pid 2>/dev/null
	wait $pid
	rc=$?
}
retry_flaky $t run_restarts
boots=$(count_of "$work/$t.out" VIREO-GUEST-UP)
[ "$rc" = 143 ] && [ "$boots" -ge 2 ] && pass $t ||
	fail $t "rc=$rc after $boots boots"

boot panic panic
if [ "$rc" = 3 ] && grep -q "panicked (reported through pvpanic)" "$work/panic.out"; then
	pass panic
else
	fail panic "$(why panic)"
fi

# An interactive shell on the serial console (RX interrupts), then poweroff.
t=shell
run_shell() {
	shell_round_trip $t 'echo "sum=$((6 * 7))"' --cmdline "console=ttyS0 panic=-1 $klog"
}
retry_flaky $t run_shell
if [ "$rc" = 0 ] && grep -q "sum=42" "$work/$t.out"; then
	pass $t
else
	fail $t "$(why $t)"
fi

fi

if section virtio; then
# virtio-rng on every transport x ring, all six in one guest: the guest
# binds each, reads /dev/hwrng from each, and each device's negotiated
# features say what was agreed (one PASS or FAIL per combination).
feature() { # feature BITSTRING N: bit N of the sysfs features string
	echo "$1" | cut -c$(($2 + 1))
}
combos="pci:split pci:packed mmio:split mmio:packed mmio-legacy:split
	pci:split:-event_idx,-indirect_desc"
# split_combo TRANSPORT:RING[:FEATURES]: sets $tr, $ring and $feat.
split_combo() {
	tr=${1%%:*}
	rest=${1#*:}
	ring=${rest%%:*}
	feat=${rest#"$ring"}
	feat=${feat#:}
}
devs=
for combo in $combos; do
	split_combo "$combo"
	devs="$devs --device rng,transport=$tr,ring=$ring${feat:+,features=$feat}"
done
boot rng_all rng $devs
hw=$(grep '^RESULT hwrng bytes' "$work/rng_all.out" | tr -d '\r')
common=
guest_ok rng_all || common="$(why rng_all)"
[ "$(field bytes "$hw")" = 4096 ] && [ "$(field distinct "$hw")" -gt 200 ] &&
	[ "$(field hwrngs "$hw")" = 6 ] || common="$common hwrng: $hw"
for combo in $combos; do
	split_combo "$combo"
	t=rng_$(echo "$tr-$ring${feat:+-plain}" | tr -d ',')
	want_packed=0
	[ "$ring" = packed ] && want_packed=1
	want_v1=1
	[ "$tr" = mmio-legacy ] && want_v1=0
	want_ev=1
	[ -n "$feat" ] && want_ev=0
	# The device of this combination: its transport (the parent) and
	# the features only it negotiates.
	found=
	seen=
	for line in $(grep '^RESULT rng dev' "$work/rng_all.out" | tr -d '\r' | tr ' ' '#'); do
		line=$(echo "$line" | tr '#' ' ')
		f=$(field features "$line")
		parent=$(field parent "$line")
		seen="$seen|$(field dev "$line") $parent $(feature "$f" 34)$(feature "$f" 32)$(feature "$f" 29)$(feature "$f" 28)"
		case "$tr:$parent" in
		pci:0000:00:*) ;;
		mmio*:LNRO0005*) ;;
		*) continue ;;
		esac
		[ "$(feature "$f" 34)" = $want_packed ] && [ "$(feature "$f" 32)" = $want_v1 ] &&
			[ "$(feature "$f" 29)" = $want_ev ] && [ "$(feature "$f" 28)" = $want_ev ] &&
			found=$(field dev "$line") && msix=$(field msix "$line")
	done
	bad=$common
	[ -n "$found" ] || bad="$bad no device with parent $tr, RING_PACKED=$want_packed VERSION_1=$want_v1 EVENT_IDX=INDIRECT=$want_ev (seen: dev parent packed,v1,event_idx,indirect$seen)"
	[ -z "$found" ] || [ "$tr" != pci ] || [ "${msix:-0}" -ge 1 ] ||
		bad="$bad $found has no MSI-X vector"
	[ -z "$bad" ] && pass "$t" || fail "$t" "$bad"
done

# INTx: with MSI off in the guest, virtio-pci falls back to its level-
# triggered INTx line (irqfd with resample).
t=rng_pci_intx
bootargs="pci=nomsi" boot $t rng --device rng,transport=pci
hw=$(grep '^RESULT hwrng bytes' "$work/$t.out" | tr -d '\r')
if guest_ok $t && [ "$(field bytes "$hw")" = 4096 ] &&
   [ "$(field msix_lines "$hw")" = 0 ] &&
   grep -q 'IO-APIC.*fasteoi.*virtio' "$work/$t.out"; then
	pass $t
else
	fail $t "$(why $t) $hw"
fi

# ---- virtio-blk ----------------------------------------------------------


t=blk_ext4
img=$work/ext4.img
truncate -s 64M "$img"
boot $t blk-ext4 --memory 384M $toolsdisk --disk "path=$img,serial=vireo-test"
bad=
guest_ok $t || bad="$(why $t)"
ext4_checked
[ -z "$bad" ] && pass $t || fail $t "$bad"
rm -f "$img"

# fio --verify on a disk of each transport x ring, the four in one guest
# (one after another; one PASS or FAIL each).
disks=
serials=
for combo in pci:split pci:packed mmio:split mmio:packed; do
	truncate -s 32M "$work/fio-${combo%:*}-${combo#*:}.img"
	disks="$disks --disk path=$work/fio-${combo%:*}-${combo#*:}.img,serial=fio-${combo%:*}-${combo#*:},transport=${combo%:*},ring=${combo#*:}"
	serials="$serials${serials:+,}fio-${combo%:*}-${combo#*:}"
done
bootargs="vireo.serials=$serials" boot blk_fio_all blk-fio --memory 384M $toolsdisk $disks
for combo in pci:split pci:packed mmio:split mmio:packed; do
	t=blk_fio_${combo%:*}-${combo#*:}
	line=$(grep "^RESULT fio rc=[0-9a-z]* serial=fio-${combo%:*}-${combo#*:} " "$work/blk_fio_all.out" | tr -d '\r')
	want_packed=0
	[ "${combo#*:}" = packed ] && want_packed=1
	case "${combo%:*}:$(field parent "$line")" in
	pci:0000:00:* | mmio:LNRO0005*) where=ok ;;
	*) where="on $(field parent "$line")" ;;
	esac
	# vireo itself exited 0 and saw no spec violation; this disk's fio
	# verified, on the transport and ring asked for.
	if [ "$rc" = 0 ] && [ "$(field rc "$line")" = 0 ] && [ "$where" = ok ] &&
	   [ "$(field packed "$line")" = $want_packed ] &&
	   ! grep -q "the guest's driver broke the virtio spec" "$work/blk_fio_all.out"; then
		pass "$t"
	else
		fail "$t" "'$line' (want ${combo%:*}, packed=$want_packed) $(why blk_fio_all)"
	fi
	rm -f "$work/fio-${combo%:*}-${combo#*:}.img"
done

# Multiqueue: two vCPUs, queues=2 on pci and mmio; the guest sees two
# hardware queues, a fio job per vCPU verifies its writes, and vireo's
# exit line shows both queues took requests.
for tr in pci mmio; do
	t=blk_mq_$tr
	twin $t || continue
	img=$work/mq.img
	truncate -s 32M "$img"
	boot "$t" blk-mq --memory 384M --cpus 2 $toolsdisk \
		--disk "path=$img,serial=vireo-test,transport=$tr,queues=2"
	byq=$(grep "vireo: blk $img" "$work/$t.out" | tr -d '\r' |
		sed -n 's/.*by queue (requests\/wakeups): \([0-9]*\)\/[0-9]* \([0-9]*\)\/[0-9]*.*/\1 \2/p')
	if guest_ok "$t" && grep -q "RESULT mq hw_queues=2 cpus=2" "$work/$t.out" &&
	   grep -q "RESULT fio rc=0" "$work/$t.out" &&
	   [ "${byq% *}" -gt 0 ] 2>/dev/null && [ "${byq#* }" -gt 0 ] 2>/dev/null; then
		pass "$t"
	else
		fail "$t" "by queue '$byq'; $(grep RESULT "$work/$t.out" | tr '\n' ' ') $(why "$t")"
	fi
	note $t "requests by queue: $byq"
	rm -f "$img"
done

# iothread=on: the disk's queues are served by its own I/O thread. fio
# verify (with two queues on two vCPUs) across a driver unbind and bind
# (the device reset and set up again), and the exit line shows the I/O
# thread took the kicks.
for tr in pci mmio; do
	t=blk_iothread_$tr
	twin $t || continue
	img=$work/iot.img
	truncate -s 32M "$img"
	boot "$t" blk-rebind --memory 384M --cpus 2 $toolsdisk \
		--disk "path=$img,serial=vireo-test,transport=$tr,iothread=on"
	iokicks=$(grep "vireo: blk $img" "$work/$t.out" | tr -d '\r' |
		sed -n 's/.*I\/O thread: \([0-9]*\) kicks.*/\1/p')
	if guest_ok "$t" && grep -q "RESULT rebind .* before=0 after=0" "$work/$t.out" &&
	   [ "${iokicks:-0}" -gt 0 ]; then
		pass "$t"
	else
		fail "$t" "I/O thread kicks '${iokicks}'; $(grep RESULT "$work/$t.out" | tr '\n' ' ') $(rip_modules "$t") $(why "$t")"
	fi
	rm -f "$img"
done

t=blk_readonly
img=$work/ro.img
head -c 4194304 /dev/urandom > "$img"
before=$(sha256sum "$img" | cut -d' ' -f1)
boot $t blk-ro --disk "path=$img,serial=vireo-test,readonly=on"
after=$(sha256sum "$img" | cut -d' ' -f1)
if guest_ok $t && grep -q "RESULT ro flag=1" "$work/$t.out" &&
   grep -q -E "RESULT write rc=1 err=.*(I/O_error|Operation_not_permitted)" "$work/$t.out" &&
   grep -q "RESULT read ok" "$work/$t.out" && [ "$before" = "$after" ]; then
	pass $t
else
	fail $t "$(why $t) image changed: $([ "$before" = "$after" ] && echo no || echo yes)"
fi
rm -f "$img"

# Fault injection (driver test mode): errors at chosen sectors reach the
# guest as EIO there only; vireo counts and logs what it injected.
t=blk_inject
img=$work/inject.img
truncate -s 4M "$img"
: > "$work/$t.drv"
boot $t blk-inject --disk "path=$img,serial=vireo-test,inject=ioerr:2048-2055" \
	--driver-log "$work/$t.drv"
if guest_ok $t && grep -q "RESULT good read ok" "$work/$t.out" &&
   grep -q "RESULT bad read failed" "$work/$t.out" &&
   grep -q "I/O error, dev vd.*sector 2048" "$work/$t.out" &&
   grep -q "faults injected" "$work/$t.out" &&
   [ "$(grep -c '"kind": "injected"' "$work/$t.drv")" -ge 1 ]; then
	pass $t
else
	fail $t "$(grep RESULT "$work/$t.out" | tr -d '\r' | tr '\n' '|') log: $(head -c 300 "$work/$t.drv"); $(why $t)"
fi
rm -f "$img"
fi

# The rest of virtio-blk: a group of its own (its own test host: a test
# host lost costs less of the run).
if section blk; then

# Timing faults (driver test mode): completions at least 5 ms late and
# given back four at a time, last first; one interrupt per four; a
# spurious one every 100 ms. fio verifies its data, its fastest request
# took 5 ms or more, the idle disk's interrupt count rises; then, through
# PUT /faults, the disk shrinks and its interrupts come 3 ms late
# (capacity@4096+irqlate@3): the guest sees the new size and reads on.
# Linux's driver breaks no rule meanwhile (guest_ok).
t=blk_faults_timing
img=$work/timing.img
truncate -s 16M "$img"
: > "$work/$t.drv"
timing_run() {
	timeout 240 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=blk-timing" \
		--memory 384M --api-sock "$work/$t.sock" \
		--driver-log "$work/$t.drv" \
		--disk "path=$img,serial=vireo-test,inject=delay@5+reorder@4+irqcoalesce@4+irqspurious@100,seed=3" \
		$toolsdisk < /dev/null > "$work/$t.out" 2>&1 &
	pid=$!
	code=
	wait_for "$work/$t.out" RESIZE-NOW 220 &&
		code=$(put_faults blk0 capacity@4096+irqlate@3)
	wait $pid
	rc=$?
}
retry_flaky $t timing_run
r=$(grep '^RESULT fio' "$work/$t.out" | tr -d '\r' | tail -n 1)
idle=$(grep '^RESULT idle' "$work/$t.out" | tr -d '\r' | tail -n 1)
rs=$(grep '^RESULT resized' "$work/$t.out" | tr -d '\r' | tail -n 1)
kinds=$(for k in delayed 'given back' coalesced 'held for' spurious capacity; do
	printf '%s=%s ' "$k" "$(grep -c "\"kind\": \"injected\".*$k" "$work/$t.drv")"; done)
note $t "$idle; $r; $rs; injected: $kinds"
if guest_ok $t && [ "$(field rc "$r")" = 0 ] &&
   [ "$(field min_clat_us "$r")" -ge 5000 ] &&
   [ "$(field irqs "$idle")" -ge 5 ] && [ "$code" = 204 ] &&
   [ "$(field sectors "$rs")" = 4096 ] &&
   grep -q "RESULT late reads rc=0" "$work/$t.out" &&
   ! echo "$kinds" | grep -q '=0 '; then
	pass $t
else
	fail $t "PUT /faults: ${code:-none} $(cat "$work/$t.api" 2>/dev/null); $idle; $r; $rs; $kinds $(why $t)"
fi
rm -f "$img"

# Faults switched on through the API while the guest runs: UNSUPP for
# the next request (the guest's read fails, "not supported"), then
# DEVICE_NEEDS_RESET at the next one (the guest reads the bit in the
# device's status; the request stays unanswered).
t=blk_faults_api
img=$work/fapi.img
truncate -s 4M "$img"
fapi_run() {
	timeout 180 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=blk-faults-api" \
		--api-sock "$work/$t.sock" \
		--disk "path=$img,serial=vireo-test" < /dev/null > "$work/$t.out" 2>&1 &
	pid=$!
	codes=
	wait_for "$work/$t.out" FAULT-UNSUPP 150 && codes=$(put_faults blk0 unsupp@1)
	wait_for "$work/$t.out" FAULT-RESET 60 && codes="$codes $(put_faults blk0 reset@1)"
	wait $pid
	rc=$?
}
retry_flaky $t fapi_run
r=$(grep '^RESULT reset' "$work/$t.out" | tr -d '\r' | tail -n 1)
note $t "$(grep '^RESULT unsupp' "$work/$t.out" | tr -d '\r'); $r"
if guest_ok $t && [ "$codes" = "204 204" ] &&
   grep -q "RESULT unsupp read=failed" "$work/$t.out" &&
   grep -q "not supported error, dev vd" "$work/$t.out" &&
   [ "$(field needs_reset "$r")" = 1 ] && [ "$(field hung "$r")" = yes ] &&
   [ "$(injected $t)" = 2 ]; then
	pass $t
else
	fail $t "PUT: ${codes:-none}; $(grep RESULT "$work/$t.out" | tr -d '\r' | tr '\n' '|') injected $(injected $t); $(why $t)"
fi
rm -f "$img"

# Crash safety: once the guest's fsync returned, SIGKILL cannot lose it.
for variant in writeback writethrough writeback-iothread; do
	cache=${variant%-iothread}
	iot=
	[ "$variant" = "$cache" ] || iot=,iothread=on
	t=blk_crash_$variant
	img=$work/crash.img
	truncate -s 8M "$img"
	run_crash() {
		timeout 180 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
			--cmdline "console=ttyS0 panic=-1 $klog vireo.test=blk-crash" \
			--disk "path=$img,serial=vireo-test,cache=$cache$iot" \
			< /dev/null > "$work/$t.out" 2>&1 &
		pid=$!
		ready=0
		wait_for "$work/$t.out" CRASH-READY 150 && ready=1
		kill -KILL $pid 2>/dev/null
		wait $pid
		rc=$?
		# Never ready: stopped by the time limit (a stalled boot is
		# then a nested flake, repeated once).
		[ $ready = 1 ] || rc=124
	}
	ready=0
	retry_flaky $t run_crash
	if [ $ready = 1 ]; then
		if dd if="$img" bs=512 skip=2048 count=1 2>/dev/null | grep -q VIREO-DURABLE-4242; then
			pass $t
		else
			fail $t "the fsynced marker is not in the image"
		fi
	else
		fail $t "$(why $t)"
	fi
	rm -f "$img"
done

t=blk_discard
img=$work/discard.img
head -c 33554432 /dev/urandom > "$img"
blocks_before=$(stat -c %b "$img")
boot $t blk-discard --memory 384M $toolsdisk --disk "path=$img,serial=vireo-test"
blocks_after=$(stat -c %b "$img")
zeros=$(head -c 1048576 "$img" | tr -d '\000' | wc -c)
if guest_ok $t && grep -q "RESULT zeroout ok" "$work/$t.out" &&
   grep -q "RESULT discard ok" "$work/$t.out" && [ "$zeros" = 0 ] &&
   [ "$blocks_after" -lt $((blocks_before / 8)) ]; then
	pass $t
else
	fail $t "$(why $t) blocks $blocks_before -> $blocks_after, nonzero bytes in the first MiB: $zeros"
fi
rm -f "$img"


# A guest flooding every device at once (flood.sh: random I/O on the
# disk, two /dev/hwrng readers, a file-backed port and the serial
# console) holds up nothing: the API answers, and Ctrl-A x (one run) or
# SIGTERM (the other) ends vireo within a second.
now_ms() {
	awk '{ printf "%d", $1 * 1000 }' /proc/uptime
}
flood_run() { # flood_run NAME ctrl-a|sigterm
	img=$work/flood.img
	truncate -s 32M "$img"
	rm -f "$work/$1.fifo" "$work/$1.log"
	mkfifo "$work/$1.fifo"
	timeout 180 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--memory 384M $toolsdisk --device rng \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=flood" \
		--disk "path=$img,serial=vireo-test" \
		--console-port "name=log,file=$work/$1.log" \
		--api-sock "$work/$1.sock" < "$work/$1.fifo" > "$work/$1.out" 2>&1 &
	pid=$!
	exec 3> "$work/$1.fifo"
	vpid=$(vmm_pid $pid)
	api_ms= stop_ms= idle_ms= api_all=
	# What a request costs here without the flood (curl itself is slow
	# under TCG): the guest is still booting.
	wait_for "$work/$1.out" VIREO-GUEST-UP 150
	t0=$(now_ms)
	curl -s -m 5 --unix-socket "$work/$1.sock" \
		http://localhost/machine-config > /dev/null &&
		idle_ms=$(($(now_ms) - t0))
	if wait_for "$work/$1.out" FLOOD-UP 150; then
		sleep 2
		# The median of three requests: a loop that stalls delays
		# them all; the test host's scheduler (curl competes with
		# the flooding guest for its two CPUs) delayed one by 1.5 s
		# once.
		_all=
		for _i in 1 2 3; do
			t0=$(now_ms)
			curl -s -m 5 --unix-socket "$work/$1.sock" \
				http://localhost/machine-config > "$work/$1.api" &&
				_all="$_all $(($(now_ms) - t0))"
			sleep 0.3
		done
		api_all=$_all
		api_ms=$(echo $_all | tr ' ' '\n' | sort -n | sed -n 2p)
		t0=$(now_ms)
		if [ "$2" = ctrl-a ]; then
			to_fifo 3 '\001x'
		else
			kill -TERM "$vpid"
		fi
		wait $pid
		rc=$?
		stop_ms=$(($(now_ms) - t0))
	else
		kill -TERM "$vpid" 2>/dev/null
		wait $pid
		rc=$?
	fi
	exec 3>&-
	rm -f "$img"
}
flood_one() {
	flood_run $t $how
}
for how in ctrl-a sigterm; do
	t=flood_$how
	api_ms= stop_ms= idle_ms= api_all=
	retry_flaky $t flood_one
	want_rc=0
	[ $how = sigterm ] && want_rc=143
	# The disk was busy before the checks (flood.sh waits for it).
	dios=$(grep -a 'RESULT flood disk_ios=' "$work/$t.out" | tr -d '\r' |
		sed 's/.*disk_ios=//' | tail -n 1)
	note $t "API answered in ${api_ms:-?} ms, the median of${api_all:- none} (${idle_ms:-?} ms before the flood), vireo ended ${stop_ms:-?} ms after the $how; ${dios:-?} disk requests before the checks"
	if [ "$rc" = $want_rc ] && [ -n "$api_ms" ] && [ -n "$idle_ms" ] &&
	   [ "${dios:-0}" -ge 200 ] &&
	   [ "$api_ms" -le $((idle_ms + 1000)) ] &&
	   [ -n "$stop_ms" ] && [ "$stop_ms" -le 1000 ] &&
	   grep -q '"vcpu_count"' "$work/$t.api" && [ -s "$work/$t.log" ]; then
		pass $t
	else
		fail $t "rc=$rc api ${api_ms:-none} ms, stop ${stop_ms:-none} ms, disk requests ${dios:-none}, log $(wc -c < "$work/$t.log" 2>/dev/null) bytes: $(why $t)"
	fi
done

fi

if section console; then
# ---- virtio-console ------------------------------------------------------

# hvc0 on vireo's stdio: the shell works through virtio-console.
t=console_hvc0
run_hvc0() {
	shell_round_trip $t 'echo "sum=$((6 * 7)) tty=$(tty)"' --console virtio
}
retry_flaky $t run_hvc0
if [ "$rc" = 0 ] && grep -q "sum=42 tty=/dev/hvc0" "$work/$t.out"; then
	pass $t
else
	fail $t "$(why $t)"
fi

# Named ports: a unix-socket port across two client connections, and a
# file port.
for tr in pci mmio; do
	t=console_ports_$tr
	already $t && continue
	sock=$work/agent-$tr.sock
	log=$work/log-$tr.txt
	rm -f "$log"
	con=hvc0
	boot $t cport --console virtio,transport=$tr \
		--console-port "name=agent,socket=$sock" \
		--console-port "name=log,file=$log" &
	bpid=$!
	con=ttyS0
	"$unixcat" "$sock" one two > "$work/$t.c1" 2>&1
	r1=$?
	"$unixcat" "$sock" three four > "$work/$t.c2" 2>&1
	r2=$?
	wait $bpid
	# boot ran in a subshell: look at its output directly
	if grep -q "VIREO-TEST-EXIT=0" "$work/$t.out" && [ $r1 = 0 ] && [ $r2 = 0 ] &&
	   [ "$(cat "$work/$t.c1" "$work/$t.c2" | tr '\n' ' ')" = "pong one pong two pong three pong four " ] &&
	   grep -q "RESULT port dev=vport.* name=agent" "$work/$t.out" &&
	   grep -q hello-file "$log"; then
		pass $t
	else
		fail $t "clients $r1/$r2: $(cat "$work/$t.c1" "$work/$t.c2" | tr '\n' ' ') $(grep RESULT "$work/$t.out" | tr '\n' ' ') $(tail -n 3 "$work/$t.out" | tr '\n' '|')"
	fi
done

# A guest writing 64 MiB to a port nobody reads: it is throttled, and
# vireo's memory does not grow with it.
t=console_throttle
sock=$work/flood.sock
run_throttle() {
	timeout 180 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=cport-flood" \
		--console-port "name=agent,socket=$sock" < /dev/null \
		> "$work/$t.out" 2>&1 &
	pid=$!
	vpid=$(vmm_pid $pid)
	"$unixcat" "$sock" --hold 12 &
	hold=$!
	wait_for "$work/$t.out" FLOOD-START 150
	rss0=$(rss_kb "$vpid")
	sleep 5
	rss1=$(rss_kb "$vpid")
	wait $hold
	wait $pid
	rc=$?
}
rss0= rss1=
retry_flaky $t run_throttle
res=$(grep "RESULT flood" "$work/$t.out" | tr -d '\r')
if [ "$rc" = 0 ] && echo "$res" | grep -q "rc=143" &&
   [ -n "$rss0" ] && [ -n "$rss1" ] && [ $((rss1 - rss0)) -lt 8192 ]; then
	pass $t
else
	fail $t "rc=$rc $res, VmRSS $rss0 -> $rss1 KiB"
fi

fi

if section net; then
# ---- virtio-net ----------------------------------------------------------

# net_boot NAME TAP_MTU PING_SIZE [vireo --net options]: boot the net guest
# test on tap vt0 (vireo creates it), give the host 10.77.0.1, ping the
# guest; leaves the output in $work/NAME.out, vireo's status in $rc, the
# host ping's in $hping, the host-side bad ping's (if TAP_MTU) in $bigping.
# The iperf3 server in this process (exec: killing it kills iperf3).
iperf_server() {
	if [ -n "$hostbin" ]; then
		exec "$hostbin/iperf3.sh" -s
	fi
	exec iperf3 -s
}

# jailed_state PID: for the vireo under PID (a --jail run forks once into
# its PID namespace): "pid1 uid=U caps=C seccomp=S root=empty|host", or
# nothing when no vireo there is PID 1 of its own namespace.
jailed_state() {
	for _p in $1 $(cat /proc/$1/task/*/children 2>/dev/null); do
		_ns=$(sed -n 's/^NSpid:[[:space:]]*//p' /proc/$_p/status 2>/dev/null)
		[ "${_ns##*[[:space:]]}" = 1 ] || continue
		_root=host
		[ -e /proc/$_p/root/proc ] || _root=empty
		echo "pid1 uid=$(awk '/^Uid:/ { print $3 }' /proc/$_p/status)" \
			"caps=$(awk '/^CapEff:/ { print $2 }' /proc/$_p/status)" \
			"seccomp=$(awk '/^Seccomp:/ { print $2 }' /proc/$_p/status)" \
			"root=$_root"
		return
	done
}

net_boot() {
	if already "$1"; then
		: > "$work/$1.out"
		rc=0
		ticks=
		jailed=
		hping=1
		return 0
	fi
	_try=1
	while :; do
		net_run "$@"
		nested_flake "$1" || break
		may_retry $_try || break
		_try=$((_try + 1))
	done
}

net_run() {
	_name=$1
	_mtu=$2
	_size=$3
	shift 3
	timeout 240 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--memory 384M $toolsdisk \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=net vireo.ping_size=$_size vireo.iperf=$iperf_dirs" \
		"$@" < /dev/null > "$work/$_name.out" 2>&1 &
	_pid=$!
	_vpid=$(vmm_pid $_pid)
	_n=0
	while [ ! -e /sys/class/net/vt0 ] && [ $_n -lt 100 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	ip addr add 10.77.0.1/24 dev vt0
	[ "$_mtu" = 0 ] || ip link set vt0 mtu "$_mtu"
	ip link set vt0 up
	# A fresh iperf3 server each time: one left busy by a failed run
	# would refuse the next client.
	iperf_server > "$work/$_name.iperf" 2>&1 &
	_iperf=$!
	bigping=
	hping=1
	ticks=
	rm -f "$work/$_name.ping"
	if wait_for "$work/$_name.out" NET-UP 150; then
		# A jailed vireo: who it runs as and what its / holds.
		jailed=$(jailed_state "$_vpid")
		# vireo's loop's CPU while the guest runs iperf3.
		_t0=$(loop_ticks "$_vpid")
		wait_for "$work/$_name.out" "RESULT iperf ${iperf_dirs##*,}" 120 &&
			ticks=$(($(loop_ticks "$_vpid") - _t0))
	fi
	# The host pings the guest, unless it never came up or died (it
	# answers nothing then).
	if grep -q NET-UP "$work/$_name.out" && ! guest_died "$work/$_name.out"; then
		if [ "$_mtu" != 0 ]; then
			# Frames bigger than the guest's buffers: dropped, counted.
			# One small ping first, so that address resolution is done
			# and all three big ones reach the tap (once only two did).
			ping -c 1 -W 10 10.77.0.2 > /dev/null 2>&1
			ping -c 3 -W 2 -s 4000 10.77.0.2 > /dev/null 2>&1
			bigping=$?
		fi
		# Some requests may be lost while iperf3 fills the link. Count
		# the replies, not ping's summary: the guest powers off once it
		# has seen three requests, the tap goes away and ping stops
		# with "Network is unreachable" before printing one.
		ping -c 6 -w 60 10.77.0.2 > "$work/$_name.ping" 2>&1
		[ "$(grep -c 'bytes from 10.77.0.2' "$work/$_name.ping")" -ge 1 ] && hping=0
	fi
	wait $_pid
	rc=$?
	kill $_iperf 2>/dev/null
	wait $_iperf 2>/dev/null
}

if [ -e /dev/net/tun ] && hosttool iperf3 --version > /dev/null 2>&1; then
	net_ok=1
else
	net_ok=0
fi

# net_check NAME: the guest pinged and ran iperf3 in each direction of
# $iperf_dirs, the host pinged the guest, vireo exited 0.
iperf_dirs=tx,rx
net_check() {
	guest_ok "$1" && [ "$hping" = 0 ] &&
		grep -q "RESULT ping ok" "$work/$1.out" &&
		[ "$(grep -c 'RESULT iperf' "$work/$1.out")" = "$(echo "$iperf_dirs" | tr , '\n' | wc -l)" ]
}

# netstat NAME WHAT: from vireo's exit line "net vt0: rx ... (N too big);
# tx ..., G gso, largest L": WHAT is "too big", "gso" or "largest".
netstat() {
	case "$2" in
	largest) _re='.*largest \([0-9]*\).*' ;;
	*) _re=".*[ (]\\([0-9]*\\) $2[,)].*" ;;
	esac
	grep "vireo: net " "$work/$1.out" | tr -d '\r' | sed -n "s/$_re/\\1/p" | tail -n 1
}

# The data path in vireo (vhost=off). pci-packed keeps the default
# (vhost=auto): vhost-net has no packed rings, so vireo serves it, saying so.
# pci-split's numbers are kept for net_tso and net_vhost_cpu.
inproc_ticks=
tso_gso=
tso_largest=
for combo in pci-split mmio-packed pci-packed mmio-split; do
	t=net_$combo
	[ $net_ok = 1 ] || { skip $t "no tun or iperf3 here"; continue; }
	[ $combo = mmio-packed ] || twin $t || continue
	vh=,vhost=off
	[ $combo = pci-packed ] && vh=
	net_boot $t 0 56 --net "tap=vt0$vh,transport=${combo%-*},ring=${combo#*-}"
	if [ $combo = pci-split ]; then
		carry inproc_ticks "$ticks"
		carry tso_gso "$(netstat $t gso)"
		carry tso_largest "$(netstat $t largest)"
	fi
	if net_check $t && { [ -n "$vh" ] ||
	   grep -q "has no packed rings.*serving its queues in vireo" "$work/$t.out"; }; then
		pass $t
	else
		fail $t "host ping: $(tail -n 2 "$work/$t.ping" | tr '\n' ' '); $(grep -E 'RESULT|vireo: net' "$work/$t.out" | tr '\n' ' ') $(why $t)"
	fi
done

# iothread=on: the NIC's queues (two pairs, two vCPUs) and its taps are
# served by a thread of their own; the same ping and iperf3 both ways,
# and the exit line shows the thread took the kicks.
for tr in pci mmio; do
	t=net_iothread_$tr
	[ $net_ok = 1 ] || { skip $t "no tun or iperf3 here"; continue; }
	twin $t || continue
	net_boot $t 0 56 --cpus 2 \
		--net "tap=vt0,vhost=off,queues=2,iothread=on,transport=$tr"
	iot=$(sed -n 's/.*; I\/O thread: \([0-9]*\) kicks.*/\1/p' "$work/$t.out" | tail -n 1)
	note $t "I/O thread kicks ${iot:-?}"
	if net_check $t && [ "${iot:-0}" -gt 0 ]; then
		pass $t
	else
		fail $t "thread kicks ${iot:-?}; host ping: $(tail -n 2 "$work/$t.ping" | tr '\n' ' '); $(grep -E 'RESULT|vireo: net' "$work/$t.out" | tr '\n' ' ') $(why $t)"
	fi
done

# --jail and --user: vireo opens the disk, creates the tap and opens
# /dev/kvm as root, then runs as PID 1 of new namespaces with an empty
# directory as /, as nobody, with no capabilities and its seccomp filters;
# the guest still reads its disk (iperf3 comes from it) and uses the tap.
t=net_jailed
if [ $net_ok = 1 ]; then
	mkdir -p "$work/jail"
	net_boot $t 0 56 --net "tap=vt0,vhost=off" --jail "$work/jail" \
		--user 65534:65534
	if net_check $t &&
	   [ "$jailed" = "pid1 uid=65534 caps=0000000000000000 seccomp=2 root=empty" ]; then
		pass $t
	else
		fail $t "jailed: '$jailed'; host ping: $(tail -n 2 "$work/$t.ping" | tr '\n' ' '); $(why $t)"
	fi
fi

# Kernel vhost-net on the tap: the same traffic, the data path in the
# test host's kernel; the guest's kicks and (MSI-X) interrupts bypass
# vireo, whose loop does next to nothing meanwhile.
vhost_ticks=
if [ $net_ok = 1 ] && [ ! -c /dev/vhost-net ]; then
	skip net_vhost "no /dev/vhost-net here (modprobe vhost_net)"
elif [ $net_ok = 1 ]; then
	for tr in pci mmio; do
		t=net_vhost_$tr
		net_boot $t 0 56 --net "tap=vt0,vhost=on,transport=$tr"
		[ $tr = pci ] && carry vhost_ticks "$ticks"
		if net_check $t && grep -q "vireo: net vt0: vhost-net" "$work/$t.out"; then
			pass $t
		else
			fail $t "host ping: $(tail -n 2 "$work/$t.ping" | tr '\n' ' '); $(grep -E 'RESULT|vireo: net' "$work/$t.out" | tr '\n' ' ') $(why $t)"
		fi
	done
	# vireo's loop during iperf3 (both directions, 3 s each): with
	# vhost-net on MSI-X, well under a quarter of what serving the
	# queues itself took in the same test host.
	t=net_vhost_cpu
	if [ -n "$inproc_ticks" ] && [ -n "$vhost_ticks" ] &&
	   [ $((vhost_ticks * 4)) -le "$inproc_ticks" ]; then
		pass $t
	else
		fail $t "event-loop CPU ticks during iperf3: vhost-net ${vhost_ticks:-?}, in vireo ${inproc_ticks:-?}"
	fi
	note net_vhost_cpu "loop ticks during iperf3: vhost-net ${vhost_ticks:-?}, in vireo ${inproc_ticks:-?}"
	t=net_vhost_multiqueue
	net_boot $t 0 56 --cpus 2 --net "tap=vt0,queues=2,vhost=on"
	if net_check $t && grep -q "RESULT net mtu=1500 rxq=2" "$work/$t.out" &&
	   grep -q "vireo: net vt0: vhost-net" "$work/$t.out"; then
		pass $t
	else
		fail $t "host ping: $(tail -n 2 "$work/$t.ping" | tr '\n' ' '); $(grep -E 'RESULT|vireo: net' "$work/$t.out" | tr '\n' ' ') $(why $t)"
	fi
fi
# vhost=on where the device cannot be opened: one line naming it.
t=net_vhost_missing
if [ $net_ok = 1 ]; then
	timeout 30 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--net "tap=vt9,vhost=on,vhost-dev=/dev/no-vhost-net" \
		< /dev/null > "$work/$t.out" 2>&1
	rc=$?
	if [ $rc = 1 ] && grep -q "vhost=on: /dev/no-vhost-net: No such file or directory (load the vhost_net module" "$work/$t.out" &&
	   [ "$(wc -l < "$work/$t.out")" = 1 ]; then
		pass $t
	else
		fail $t "rc=$rc: $(cat "$work/$t.out")"
	fi
fi


# Multiqueue: two vCPUs, a two-queue tap; the driver turns both pairs on
# (VQ_PAIRS_SET) and traffic flows.
t=net_multiqueue
if [ $net_ok = 1 ]; then
	net_boot $t 0 56 --cpus 2 --net "tap=vt0,queues=2,vhost=off"
	if net_check $t && grep -q "RESULT net mtu=1500 rxq=2" "$work/$t.out"; then
		pass $t
	else
		fail $t "host ping: $(tail -n 2 "$work/$t.ping" | tr '\n' ' '); $(grep -E 'RESULT|vireo: net' "$work/$t.out" | tr '\n' ' ') $(why $t)"
	fi
fi

# TSO: the guest's iperf3 sent GSO frames of near 64 KiB through the tap.
t=net_tso
if [ $net_ok = 1 ]; then
	if [ "${tso_gso:-0}" -gt 0 ] && [ "${tso_largest:-0}" -ge 60000 ]; then
		pass $t
	else
		fail $t "gso frames ${tso_gso:-?}, largest ${tso_largest:-?}: $(grep 'vireo: net' "$work/net_pci-split.out")"
	fi
fi

# A 9000-byte MTU: offered to the guest, set on the tap; big pings leave
# as single frames.
t=net_mtu9000
if [ $net_ok = 1 ]; then
	# Without TSO the largest frame is one MTU's worth: 8900-byte pings
	# and iperf3 segments fill 9000-byte frames unfragmented.
	net_boot $t 0 8900 --net "tap=vt0,vhost=off,mtu=9000,features=-tso"
	largest=$(netstat $t largest)
	if net_check $t && grep -q "RESULT net mtu=9000" "$work/$t.out" &&
	   [ "${largest:-0}" -ge 8942 ] && [ "${largest:-0}" -le 9018 ]; then
		pass $t
	else
		fail $t "host ping $hping; $(grep -E 'RESULT|vireo: net' "$work/$t.out" | tr '\n' ' ') $(why $t)"
	fi
fi


# Fault injection: 3% of the frames to the guest are dropped on purpose
# (inject=rxdrop%3): TCP from the host retransmits them, iperf3 -R still
# gets through, and vireo's injected count is what it dropped.
t=net_rxdrop
if [ $net_ok = 1 ]; then
	retrans() { awk '/^Tcp:/ { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1 }
		else print $c["RetransSegs"] }' /proc/net/snmp; }
	r0=$(retrans)
	iperf_dirs_save=$iperf_dirs
	iperf_dirs=rx
	net_boot $t 0 56 --net "tap=vt0,inject=rxdrop%3,seed=7"
	r1=$(retrans)
	inj=$(injected $t)
	note $t "${inj:-?} frames dropped by injection; host TCP retransmits $((r1 - r0))"
	if net_check $t && [ "${inj:-0}" -gt 0 ] && [ $((r1 - r0)) -gt 0 ]; then
		pass $t
	else
		fail $t "injected ${inj:-?}, retransmits $((r1 - r0)); $(grep -E 'RESULT|vireo: net' "$work/$t.out" | tr '\n' ' ') $(why $t)"
	fi
	iperf_dirs=$iperf_dirs_save
fi

# The other receive faults, each on 2% of the frames to the guest:
# duplicates, a used length one byte short, a broken checksum without
# DATA_VALID (the guest's TCP counts InCsumErrors); iperf3 -R still gets
# through and vireo counts what it injected.
t=net_faults
if [ $net_ok = 1 ]; then
	iperf_dirs_save=$iperf_dirs
	iperf_dirs=rx
	net_boot $t 0 56 --net "tap=vt0,inject=rxdup%2+shortlen%2+badcsum%2,seed=11"
	inj=$(injected $t)
	csum=$(sed -n 's/^RESULT csum_errors=\([0-9]*\).*/\1/p' "$work/$t.out" | tr -d '\r' | tail -n 1)
	note $t "${inj:-?} faults injected; the guest counted ${csum:-?} TCP checksum errors"
	if net_check $t && [ "${inj:-0}" -gt 0 ] && [ "${csum:-0}" -gt 0 ]; then
		pass $t
	else
		fail $t "injected ${inj:-?}, guest checksum errors ${csum:-?}; $(grep -E 'RESULT|vireo: net' "$work/$t.out" | tr '\n' ' ') $(why $t)"
	fi
	iperf_dirs=$iperf_dirs_save
fi

# Faults set at run time: once the guest watches its carrier, PUT
# /faults/net0 {"inject": "linkflap@500"} takes the link down and up
# every half second; the guest's driver sees the carrier changes (config
# interrupts) and vireo counts them as injected.
t=net_linkflap
if [ $net_ok = 1 ]; then
	flap_run() {
		timeout 150 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
			--cmdline "console=ttyS0 panic=-1 $klog vireo.test=net-flap" \
			--net "tap=vt0,vhost=off" --api-sock "$work/$t.sock" \
			< /dev/null > "$work/$t.out" 2>&1 &
		pid=$!
		code=
		wait_for "$work/$t.out" FLAP-WATCH 140 &&
			code=$(put_faults net0 linkflap@500)
		wait $pid
		rc=$?
	}
	retry_flaky $t flap_run
	inj=$(injected $t)
	if guest_ok $t && [ "$code" = 204 ] && [ "${inj:-0}" -ge 2 ]; then
		pass $t
	else
		fail $t "PUT /faults: ${code:-none} $(cat "$work/$t.api" 2>/dev/null); injected ${inj:-?}; $(grep RESULT "$work/$t.out" | tr '\n' ' ') $(why $t)"
	fi
	note $t "$(grep 'RESULT flap' "$work/$t.out" | tr -d '\r'), ${inj:-?} link changes injected"
fi

# Without MRG_RXBUF or TSO the guest posts 1.5 KiB buffers: 4 KiB frames
# from a 9000-MTU tap are dropped and counted, and RX goes on.
t=net_rx_too_big
if [ $net_ok = 1 ]; then
	net_boot $t 9000 56 --net "tap=vt0,vhost=off,features=-mrg_rxbuf,-tso"
	big=$(netstat $t "too big")
	# RX keeps going after the drops: the host's pings are answered and
	# iperf3 -R gets through.
	if net_check $t && [ "$bigping" != 0 ] && [ "${big:-0}" -ge 3 ]; then
		pass $t
	else
		fail $t "big ping $bigping, too big ${big:-?}, host ping $hping; $(grep -E 'RESULT|vireo: net' "$work/$t.out" | tr '\n' ' ') $(why $t)"
	fi
fi

fi


# The peers, carried into the test host with their libraries (run.sh), or
# the host's own. They exec: started in the background, $! is the peer
# itself, so that killing it kills the daemon, not a shell around it.
qsd() {
	if [ -n "$hostbin" ]; then exec "$hostbin/qemu-storage-daemon.sh" "$@"
	else exec qemu-storage-daemon "$@"; fi
}
testpmd() {
	if [ -n "$hostbin" ]; then
		exec "$hostbin/dpdk-testpmd.sh" -d "$hostbin/../lib/dpdk" "$@"
	else
		exec dpdk-testpmd "$@"
	fi
}
wait_socket() { # wait_socket PATH SECONDS
	_n=0
	while [ ! -S "$1" ] && [ $_n -lt $(($2 * 10)) ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	[ -S "$1" ]
}
# qsd_start IMG: serve IMG as vhost-user-blk on $qsock ($qsd_pid).
qsock=$work/qsd.sock
qsd_start() {
	rm -f "$qsock"
	qsd --blockdev "driver=file,node-name=f0,filename=$1" \
		--export "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=$qsock,writable=on" \
		>> "$work/qsd.log" 2>&1 &
	qsd_pid=$!
	wait_socket "$qsock" 20
}
qsd_stop() {
	kill "$qsd_pid" 2>/dev/null
	wait "$qsd_pid" 2>/dev/null
}
# qemu-storage-daemon's vhost-user-blk answers GET_ID with this serial.
vu_serial=vhost_user_blk

# have PROGRAM: the peer is here (carried in, or the host's own).
have() {
	if [ -n "$hostbin" ]; then [ -x "$hostbin/$1.sh" ]
	else command -v "$1" > /dev/null; fi
}

# DPDK's testpmd as a vhost-user switch: io forwarding between its two
# ports, vu0.sock (testpmd listens) and vu1.sock (testpmd connects).
tp_start() {
	# DPDK keeps its run-time files in /var/run/dpdk (the test host has
	# no /var).
	mkdir -p /var/run
	rm -f "$work/vu0.sock" "$work/tp.in"
	mkfifo "$work/tp.in"
	# --no-mlockall: testpmd otherwise calls mlockall(MCL_CURRENT |
	# MCL_FUTURE), so every guest memory table it maps (SET_MEM_TABLE)
	# is faulted in and locked whole before it answers: seconds per
	# guest in the test host, all of a guest's RAM made resident.
	testpmd -l 0-1 --no-huge --no-shconf -m 256 --no-pci \
		--vdev "net_vhost0,iface=$work/vu0.sock" \
		--vdev "net_vhost1,iface=$work/vu1.sock,client=1" \
		-- --no-mlockall --forward-mode=io --auto-start --total-num-mbufs=8192 \
		< "$work/tp.in" >> "$work/testpmd.log" 2>&1 &
	tp_pid=$!
	exec 4> "$work/tp.in"
	wait_socket "$work/vu0.sock" 30
}
tp_stop() {
	kill -9 "$tp_pid" 2>/dev/null
	wait "$tp_pid" 2>/dev/null
	exec 4>&-
}
# peer_vm NAME ROLE IP PEER NET-SPEC: a guest in the background ($!).
peer_vm() {
	timeout 300 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--memory 320M $toolsdisk --net "$5" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=net-peer vireo.role=$2 vireo.ip=$3 vireo.peer=$4" \
		< /dev/null > "$work/$1.out" 2>&1 &
}
# tp_peer_up ROLE NET-OPTS: guest ${t}_b (192.0.2.12, ROLE) on testpmd's
# vu1.sock (it listens, testpmd connects), testpmd started, and B up
# ($pb). The other guest is to boot only then (B pings for up to 120 s):
# the nested test host has died with both booting at once, and a guest
# lost at boot (an SVM shutdown) ends the try before the other starts.
# False, with $bad set and nothing left running, if B did not come up.
tp_peer_up() {
	rm -f "$work/vu1.sock"
	peer_vm ${t}_b "$1" 192.0.2.12 192.0.2.11 \
		"vhost-user=$work/vu1.sock,server=on$2"
	pb=$!
	wait_socket "$work/vu1.sock" 10
	tp_start
	wait_for "$work/${t}_b.out" NET-UP 200 && return 0
	bad="the peer (B) did not come up: $(why ${t}_b)"
	kill_vmm $pb
	wait $pb 2>/dev/null
	tp_stop
	return 1
}

if section vhost; then
# ---- vhost-user backends: qemu-storage-daemon and DPDK's testpmd --------


if ! have qemu-storage-daemon; then
	for t in vu_blk_ext4 vu_blk_fio_pci vu_blk_fio_mmio vu_blk_restart; do
		skip $t "no qemu-storage-daemon here"
	done
else
t=vu_blk_ext4
img=$work/vu.img
truncate -s 64M "$img"
qsd_start "$img"
bootargs="vireo.serial=$vu_serial" boot $t blk-ext4 --memory 384M $toolsdisk \
	--disk "vhost-user=$qsock"
qsd_stop
bad=
guest_ok $t || bad="$(why $t)"
grep -q "vireo: blk vhost-user $qsock: backend connected" "$work/$t.out" ||
	bad="$bad; no vhost-user line on exit"
ext4_checked
[ -z "$bad" ] && pass $t || fail $t "$bad"

# fio --verify on both transports across a driver unbind and bind: the
# reset's stop does not wait for the daemon's replies (pci: the driver
# polls the status until they are in; mmio: its next status write waits).
for tr in pci mmio; do
	t=vu_blk_fio_$tr
	truncate -s 32M "$img"
	qsd_start "$img"
	bootargs="vireo.serial=$vu_serial" boot "$t" blk-rebind --memory 384M \
		$toolsdisk --disk "vhost-user=$qsock,transport=$tr"
	qsd_stop
	guest_ok "$t" && grep -q "RESULT rebind .* before=0 after=0" "$work/$t.out" &&
		grep -q "lost 0 times" "$work/$t.out" && pass "$t" ||
		fail "$t" "$(grep RESULT "$work/$t.out" | tr '\n' ' ') $(why "$t")"
done

# The daemon killed (SIGKILL) and restarted while the guest writes:
# flushed data intact, I/O goes on after, in-flight requests completed
# or failed visibly (the daemon keeps no inflight region, so vireo
# completes them with IOERR).
t=vu_blk_restart
truncate -s 64M "$img"
run_restart() {
	qsd_start "$img"
	timeout 240 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--memory 384M $toolsdisk --disk "vhost-user=$qsock" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=blk-restart vireo.serial=$vu_serial" \
		< /dev/null > "$work/$t.out" 2>&1 &
	pid=$!
	if wait_for "$work/$t.out" RESTART-NOW 150; then
		kill -9 "$qsd_pid"
		wait "$qsd_pid" 2>/dev/null
		sleep 1
		qsd_start "$img"
	fi
	wait $pid
	rc=$?
	qsd_stop
}
retry_flaky $t run_restart
fio=$(grep "RESULT fio" "$work/$t.out" | tr -d '\r')
failed=$(sed -n 's/.* \([0-9]*\) requests in flight at a loss failed.*/\1/p' "$work/$t.out" | tail -n 1)
if guest_ok $t && grep -q "RESULT phase1 intact" "$work/$t.out" &&
   grep -q "RESULT after ok" "$work/$t.out" &&
   grep -q "vhost-user $qsock: the backend hung up" "$work/$t.out" &&
   grep -q "vhost-user $qsock: the backend is back" "$work/$t.out" &&
   { [ "$(field rc "$fio")" = 0 ] || [ "${failed:-0}" -gt 0 ]; }; then
	pass $t
	note $t "$fio; vireo failed ${failed:-0} requests in flight"
else
	fail $t "$fio; failed ${failed:-?}; $(grep -E 'RESULT|vhost-user' "$work/$t.out" | tr -d '\r' | tr '\n' '|') $(why $t)"
fi
rm -f "$img"
fi

# Two guests joined by testpmd (io forwarding between its two vhost-user
# ports): A connects to testpmd's socket, B listens for testpmd to connect
# (server=on). They ping each other and run iperf3; then testpmd is
# killed and started again: both links go down and come back, and the
# guests reach each other again with nothing done inside them.
if ! have dpdk-testpmd; then
	skip vu_net_iperf "no dpdk-testpmd here"
	skip vu_net_restart "no dpdk-testpmd here"
else
vu_net_pair() {
	[ $t = vu_net_iperf ] && ra=client rb=server ring=,ring=packed
	[ $t = vu_net_restart ] && ra=flap rb=flap ring=
	tp_peer_up "$rb" ",transport=mmio$ring" || return
	peer_vm ${t}_a "$ra" 192.0.2.11 192.0.2.12 "vhost-user=$work/vu0.sock"
	pa=$!
	if [ $t = vu_net_restart ] &&
	   wait_for "$work/${t}_a.out" FLAP-READY 200 &&
	   wait_for "$work/${t}_b.out" FLAP-READY 60; then
		tp_stop
		sleep 3
		tp_start
	fi
	wait $pa
	ra_rc=$?
	# A lost (an SVM shutdown): B would only ping on for its 120 s.
	grep -q 'triple fault (KVM_EXIT_SHUTDOWN)' "$work/${t}_a.out" && kill_vmm $pb
	wait $pb
	rb_rc=$?
	tp_stop
	a=$work/${t}_a.out
	b=$work/${t}_b.out
	{ [ $ra_rc = 0 ] && grep -q "VIREO-TEST-EXIT=0" "$a"; } || bad="A: rc=$ra_rc $(grep -E 'RESULT|^vireo:' "$a" | tr -d '\r' | tail -n 6 | tr '\n' '|')"
	{ [ $rb_rc = 0 ] && grep -q "VIREO-TEST-EXIT=0" "$b"; } || bad="$bad; B: rc=$rb_rc $(grep -E 'RESULT|^vireo:' "$b" | tr -d '\r' | tail -n 6 | tr '\n' '|')"
	if [ $t = vu_net_iperf ]; then
		[ "$(grep -c 'RESULT iperf' "$a")" = 2 ] || bad="$bad; iperf3 did not run both ways"
		note $t "$(grep 'RESULT iperf' "$a" | tr -d '\r' | tr '\n' ' ')"
	else
		for f in "$a" "$b"; do
			grep -q "RESULT ping-after ok" "$f" &&
				grep -q "the backend is back" "$f" ||
				bad="$bad; $(basename "$f"): $(grep -E 'RESULT|vhost-user' "$f" | tr -d '\r' | tr '\n' '|')"
		done
	fi
	[ -z "$bad" ] || bad="$bad; testpmd: $(grep -m 3 -E 'EAL: (Error|FATAL)|Cause' "$work/testpmd.log" | tr '\n' '|') $(tail -n 3 "$work/testpmd.log" | tr '\n' '|')"
}
multi_test vu_net_iperf vu_net_pair
multi_test vu_net_restart vu_net_pair
fi
fi

# ---- helpers of the snapshot and migrate groups ------------------------

# vm_in NAME ARGS...: vireo (run or restore ARGS) in the background, its
# stdin a fifo on fd 5 ($vmpid; output in $work/NAME.out).
vm_in() {
	_n=$1
	shift
	rm -f "$work/$_n.in" "$work/api.sock"
	mkfifo "$work/$_n.in"
	timeout 300 "$vireo" "$@" < "$work/$_n.in" > "$work/$_n.out" 2>&1 &
	vmpid=$!
	exec 5> "$work/$_n.in"
}
# api_ready: wait (up to 30 s) for the VM's API socket.
api_ready() {
	_n=0
	while [ ! -S "$work/api.sock" ] && [ $_n -lt 300 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
}
# say NAME WORD PATTERN: type WORD on the guest's console, wait for PATTERN.
say() {
	tell 5 "$2"
	wait_for "$work/$1.out" "$3" 60
}
ctl() {
	"$vireo" ctl --api-sock "$work/api.sock" "$@"
}
tap_up() { # tap_up TAP HOST_IP: wait for the tap vireo made, give it HOST_IP
	_n=0
	while [ ! -e /sys/class/net/$1 ] && [ $_n -lt 100 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	ip addr add "$2/24" dev "$1" 2>/dev/null
	ip link set "$1" up
}
hostping() { # hostping IFACE: the guest (192.0.2.2) answers through IFACE
	ping -c 3 -W 2 -I "$1" 192.0.2.2 > /dev/null 2>&1 ||
		ping -c 3 -W 5 -I "$1" 192.0.2.2 > /dev/null 2>&1
}

if section snapshot; then
# ---- API, pause, snapshot, restore -----------------------------------------

snapargs="--kernel $kernel --initrd $initrd --memory 384M"
img=$work/snap.img

# A guest counting into a file on a disk, with a NIC: snapshot, SIGKILL,
# restore in a new process, three times: the count goes on from where it
# was, the file is whole, the console answers, ping works.
snap_count_cycles() {
	img=$work/snap.img
	rm -f "$img"
	truncate -s 64M "$img"
	snapdir=$work/snapshot
	vm_in ${t}_0 run $snapargs $toolsdisk --disk "path=$img,serial=vireo-test" \
		--net tap=vt0 --api-sock "$work/api.sock" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=snap-count"
	tap_up vt0 192.0.2.1
	# pong OUT: ask the counting guest; its count, once the whole answer is in.
	pong() {
		_k=$(grep -c 'PONG count=[0-9][0-9]* ok' "$work/$1.out")
		tell 5 ping
		_n=0
		while [ "$(grep -c 'PONG count=[0-9][0-9]* ok' "$work/$1.out")" -le "$_k" ]; do
			_n=$((_n + 1))
			[ $_n -gt 600 ] && return 1
			sleep 0.1
		done
		grep -o 'PONG count=[0-9][0-9]* ok' "$work/$1.out" | tail -n 1 |
			sed 's/.*count=\([0-9]*\) ok/\1/'
	}
	if wait_for "$work/${t}_0.out" COUNT-READY 150 && pong ${t}_0 > /dev/null; then
		sleep 2
		for round in 1 2 3; do
			prev=$((round - 1))
			before=$(pong ${t}_$prev)
			{ ctl pause && ctl snapshot "$snapdir"; } > "$work/$t.ctl$round" 2>&1 ||
				{ bad="$bad; round $round: snapshot failed: $(cat "$work/$t.ctl$round")"; break; }
			kill_vmm $vmpid
			wait $vmpid 2>/dev/null
			exec 5>&-
			t0=$(date +%s)
			vm_in ${t}_$round restore --snapshot "$snapdir" --api-sock "$work/api.sock"
			tap_up vt0 192.0.2.1
			if ! pong ${t}_$round > /dev/null; then
				bad="$bad; round $round: no PONG after restore: $(tail -n 3 "$work/${t}_$round.out" | tr '\n' '|')"
				break
			fi
			sleep 1
			now=$(pong ${t}_$round)
			[ "${now:-0}" -gt "${before:-0}" ] ||
				bad="$bad; round $round: count $before then $now"
			hostping vt0 || bad="$bad; round $round: no ping"
			note $t "round $round count $before -> $now (restore to answer $(($(date +%s) - t0)) s)"
		done
		tell 5 quit
		wait_for "$work/${t}_3.out" "RESULT count" 60
		grep -q "RESULT count ok" "$work/${t}_3.out" ||
			bad="$bad; $(grep 'RESULT count' "$work/${t}_3.out")"
		wait $vmpid
		exec 5>&-
		hosttool e2fsck -fn "$img" > "$work/$t.fsck" 2>&1 || bad="$bad; e2fsck failed"
		# dtc reads a real state file.
		if [ -n "$hostbin" ] && [ -x "$hostbin/dtc.sh" ]; then
			"$hostbin/dtc.sh" -I dtb -O dts "$snapdir/state" 2>/dev/null |
				grep -q "vireo-snapshot" || bad="$bad; dtc cannot read the state file"
		fi
	else
		bad="guest not ready: $(why ${t}_0)"
		# Gone before a repeat starts one on the same API socket.
		kill_vmm $vmpid
		wait $vmpid 2>/dev/null
		exec 5>&-
	fi
}
multi_test snap_count_cycles snap_count_cycles

# Two clones from one snapshot at once, each on its own tap (override):
# both answer ping; the second shares most pages with the first.
snap_clones() {
	vm_in ${t}_0 run $snapargs $toolsdisk --net tap=vt0 --api-sock "$work/api.sock" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=snap-idle"
	tap_up vt0 192.0.2.1
	if wait_for "$work/${t}_0.out" IDLE-READY 150; then
		ctl pause > /dev/null && ctl snapshot "$work/clone" > "$work/$t.ctl" 2>&1 ||
			bad="snapshot: $(cat "$work/$t.ctl")"
		kill_vmm $vmpid
		wait $vmpid 2>/dev/null
		exec 5>&-
		ip link del vt0 2>/dev/null
		for c in 1 2; do
			rm -f "$work/c$c.in"
			mkfifo "$work/c$c.in"
			timeout 300 "$vireo" restore --snapshot "$work/clone" \
				--net-override net0=vc$c < "$work/c$c.in" \
				> "$work/${t}_$c.out" 2>&1 &
			eval "pid$c=\$!"
			eval "exec $((5 + c))> \"\$work/c\$c.in\""
			tap_up vc$c 192.0.2.$((10 + c))
		done
		sleep 2
		hostping vc1 || bad="$bad; clone 1 does not answer"
		hostping vc2 || bad="$bad; clone 2 does not answer"
		vp2=$(vmm_pid $pid2)
		rss=$(awk '/^Rss:/ { print $2 }' /proc/$vp2/smaps_rollup 2>/dev/null)
		pss=$(awk '/^Pss:/ { print $2 }' /proc/$vp2/smaps_rollup 2>/dev/null)
		note $t "clone 2 Rss ${rss:-?} KiB, Pss ${pss:-?} KiB"
		[ -n "$rss" ] && [ -n "$pss" ] && [ $((pss * 4)) -lt $((rss * 3)) ] ||
			bad="$bad; clone 2 shares little: Rss $rss Pss $pss KiB"
		tell 6 quit
		tell 7 quit
		wait $pid1
		wait $pid2
		exec 6>&- 7>&-
	else
		bad="guest not ready: $(why ${t}_0)"
		kill $vmpid 2>/dev/null
		exec 5>&-
	fi
}
multi_test snap_clones snap_clones

# Snapshot while fio --verify runs (paused, snapshot, the VM killed):
# restored, fio finishes and verifies.
snap_fio() {
	rm -f "$img"
	truncate -s 32M "$img"
	vm_in ${t}_0 run $snapargs $toolsdisk --disk "path=$img,serial=vireo-test" \
		--api-sock "$work/api.sock" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=snap-fio"
	if wait_for "$work/${t}_0.out" FIO-START 150; then
		sleep 3
		curl -s --unix-socket "$work/api.sock" -X PATCH -d '{"state":"Paused"}' \
			http://localhost/vm > /dev/null 2>&1 || ctl pause
		ctl snapshot "$work/fiosnap" > "$work/$t.ctl" 2>&1 ||
			bad="snapshot: $(cat "$work/$t.ctl")"
		! grep -q "RESULT fio" "$work/${t}_0.out" ||
			bad="$bad; fio ended before the snapshot (the test proves nothing)"
		kill_vmm $vmpid
		wait $vmpid 2>/dev/null
		exec 5>&-
		vm_in ${t}_1 restore --snapshot "$work/fiosnap"
		wait $vmpid
		rc=$?
		exec 5>&-
		grep -q "RESULT fio rc=0" "$work/${t}_1.out" && [ $rc = 0 ] ||
			bad="$bad; after restore: rc=$rc $(grep -E 'RESULT|verify' "$work/${t}_1.out" | tail -n 3 | tr '\n' '|')"
	else
		bad="fio did not start: $(why ${t}_0)"
		kill $vmpid 2>/dev/null
		exec 5>&-
	fi
}
multi_test snap_fio snap_fio

# A diff snapshot over a base restores to the same guest state as a full
# one taken at the same moment: each restored (paused) and snapshotted in
# full again, they give the same memory bytes.
snap_diff() {
	# pagediff A B: the first differing 4 KiB pages of two files, how many,
	# and the first differing bytes (offset: octal A -> octal B).
	pagediff() { "$pagecmp" -s "$1" "$2" 2>&1; }
	# pagelist A B: every differing 4 KiB page, one hex number per line.
	pagelist() { "$pagecmp" "$1" "$2" 2>/dev/null; }
	# (without the tool, no difference would be found: fail instead)
	[ -x "$pagecmp" ] || bad="no $pagecmp (make integration builds it)"
	vm_in ${t}_0 run $snapargs --track-dirty-pages --api-sock "$work/api.sock" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=snap-idle"
	if wait_for "$work/${t}_0.out" IDLE-READY 150; then
		ctl snapshot "$work/base" > "$work/$t.ctl" 2>&1 || bad="base: $(cat "$work/$t.ctl")"
		say ${t}_0 ping PONG > /dev/null
		say ${t}_0 ping PONG > /dev/null
		ctl pause > /dev/null
		ctl snapshot "$work/diff" --diff "$work/base/mem" > "$work/$t.ctl" 2>&1 ||
			bad="$bad; diff: $(cat "$work/$t.ctl")"
		ctl snapshot "$work/full" > "$work/$t.ctl" 2>&1 || bad="$bad; full: $(cat "$work/$t.ctl")"
		kill_vmm $vmpid
		wait $vmpid 2>/dev/null
		exec 5>&-
		dsize=$(du -k "$work/diff/mem" | cut -f1)
		fsize=$(du -k "$work/full/mem" | cut -f1)
		for from in diff full; do
			vm_in ${t}_$from restore --snapshot "$work/$from" --paused --api-sock "$work/api.sock"
			api_ready
			ctl snapshot "$work/again-$from" > "$work/$t.ctl" 2>&1 ||
				bad="$bad; again from $from: $(cat "$work/$t.ctl")"
			ctl poweroff > /dev/null 2>&1
			wait $vmpid
			exec 5>&-
		done
		# A restore sets MSR_KVM_WALL_CLOCK_NEW and KVM rewrites the guest's
		# pvclock_wall_clock with the time of that restore: the pages a
		# restore of the full snapshot changes are that noise, allowed to
		# differ (at most two); any other page must match.
		noise=$(pagelist "$work/full/mem" "$work/again-full/mem")
		other=$(pagelist "$work/again-full/mem" "$work/again-diff/mem" |
			grep -vxF -e "${noise:-none}")
		[ -n "$noise" ] &&
			note $t "a restore rewrote pages $(pagediff "$work/full/mem" "$work/again-full/mem")"
		[ "$(echo "$noise" | grep -c .)" -le 2 ] ||
			bad="$bad; a restore of the full snapshot rewrote more than the wall clock: pages $(pagediff "$work/full/mem" "$work/again-full/mem")"
		[ -z "$other" ] ||
			bad="$bad; restored from base+diff, memory differs from the full snapshot's in pages $(pagediff "$work/again-full/mem" "$work/again-diff/mem")"
		note $t "diff memory file ${dsize} KiB on disk, full ${fsize} KiB"
	else
		bad="guest not ready: $(why ${t}_0)"
		kill $vmpid 2>/dev/null
		exec 5>&-
	fi
}
multi_test snap_diff snap_diff

# The API as Firecracker's getting-started guide drives Firecracker, with
# curl: configure, InstanceStart, pause, snapshot; then a fresh process:
# load, resume; the guest answers.
snap_api_curl() {
	fc() { # fc METHOD PATH BODY: curl; the HTTP status in $code
		code=$(curl -s -o "$work/fc.out" -w '%{http_code}' --unix-socket "$work/api.sock" \
			-X "$1" "http://localhost$2" -H 'Accept: application/json' \
			-H 'Content-Type: application/json' ${3:+-d "$3"})
		[ "${code#2}" != "$code" ] || bad="$bad; $1 $2: $code $(cat "$work/fc.out")"
	}
	vm_in ${t}_0 run --api-sock "$work/api.sock"
	api_ready
	fc PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"initrd_path\": \"$initrd\", \"boot_args\": \"console=ttyS0 panic=-1 loglevel=5 vireo.test=snap-idle\"}"
	fc PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 384}'
	fc PUT /drives/tools "{\"drive_id\": \"tools\", \"path_on_host\": \"$tools\", \"is_root_device\": false, \"is_read_only\": true}"
	fc PUT /network-interfaces/net1 '{"iface_id": "net1", "host_dev_name": "vt0"}'
	fc PUT /actions '{"action_type": "InstanceStart"}'
	tap_up vt0 192.0.2.1
	if wait_for "$work/${t}_0.out" IDLE-READY 150; then
		fc PATCH /vm '{"state": "Paused"}'
		mkdir -p "$work/fcsnap"
		fc PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$work/fcsnap/vm.snap\", \"mem_file_path\": \"$work/fcsnap/vm.mem\"}"
		kill_vmm $vmpid
		wait $vmpid 2>/dev/null
		exec 5>&-
		vm_in ${t}_1 run --api-sock "$work/api.sock"
		api_ready
		fc PUT /snapshot/load "{\"snapshot_path\": \"$work/fcsnap/vm.snap\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$work/fcsnap/vm.mem\"}, \"resume_vm\": false}"
		fc PATCH /vm '{"state": "Resumed"}'
		tap_up vt0 192.0.2.1
		say ${t}_1 ping PONG || bad="$bad; no PONG after load"
		hostping vt0 || bad="$bad; no ping after load"
		# Seconds passed between the pause and the resume: the TSC
		# stood still with kvm-clock, or the guest's clocksource
		# watchdog (every 0.5 s) says they drifted apart.
		sleep 2
		! grep -a -q "Marking clocksource 'tsc' as unstable" "$work/${t}_1.out" ||
			bad="$bad; the guest's TSC and kvm-clock drifted apart: $(grep -a -A2 'clocksource.*unstable' "$work/${t}_1.out" | tr -d '\r' | tr '\n' '|')"
		fc PUT /actions '{"action_type": "Poweroff"}'
		wait $vmpid
		exec 5>&-
	else
		bad="$bad; guest not ready: $(why ${t}_0)"
		kill $vmpid 2>/dev/null
		exec 5>&-
	fi
}
multi_test snap_api_curl snap_api_curl
fi

# Two groups share the helpers: migrate (the moves that work) and
# migrate-bad (the ones that must fail cleanly), each its own test host.
if section migrate || section migrate-bad; then
# ---- live migration between two vireo processes ----------------------
# The source: a guest rewriting and checking 64 MiB (mig-sum); the target
# waits with --incoming on $2. mig_pair NAME URI [ctl migrate options]:
# migrate once the guest has done a pass (10 s each in the nested test
# host); the target's guest must go on passing (never BAD) and finish two
# more passes, the source exit 0, the downtime be reported.
# Results in $bad.
migargs="--kernel $kernel --initrd $initrd --memory 384M"
passes() { grep -o 'MIG pass=[0-9]* ok' "$1" | tail -n 1 | tr -dc 0-9; }
# clock_ok OUT: the guest whose output is OUT kept its TSC in step with
# kvm-clock across the moves (mig-sum's RESULT clock: the guest kernel's
# clocksource watchdog marks the TSC unstable when they drift apart);
# sets clock to that line.
# (In the nested test host its kernel's own TSC is unsynchronized and its
# clocksource hpet, 2026-12-07, so its KVM keeps no master clock: it sets
# a guest's kvm-clock page afresh from hpet time whenever a vCPU thread
# moves to another CPU, and the guest's TSC-run clock between two such
# settings drifts from hpet's. The step at a setting can mark any guest's
# TSC unstable, moved or not (mig_tcp on 2026-12-07: 1 run of 6 with
# vireo at 22e7e03, 2 of 7 with the commit after it). So there, a test
# that failed only here runs once more (multi_test); a move that steps
# the clock every time, as before 0f836c4, still fails.)
clock_ok() {
	clock=$(grep -a '^RESULT clock' "$1" | tr -d '\r')
	[ "$(field tsc_unstable "$clock")" = 0 ] && return
	clock_bad="; the guest's TSC and kvm-clock drifted apart: '$clock' $(grep -a -A3 'clocksource.*unstable' "$1" | tail -n 4 | tr -d '\r' | tr '\n' '|')"
	bad="$bad$clock_bad"
}
tgt_in() { # tgt_in NAME URI [ARGS]: the target, stdin on fd 6, pid in tgtpid
	_n=$1
	_u=$2
	shift 2
	rm -f "$work/$_n.in" "$work/tgt.sock"
	mkfifo "$work/$_n.in"
	timeout 300 "$vireo" run --incoming "$_u" --api-sock "$work/tgt.sock" \
		"$@" < "$work/$_n.in" > "$work/$_n.out" 2>&1 &
	tgtpid=$!
	exec 6> "$work/$_n.in"
}
# tgt_stopped NAME: where a target stopped by a signal (its time limit)
# said its vCPUs and rings stood, and the end of its guest's output (CI
# on 2026-12-07: mig_vu_fio_tcp's target ran out its 300 s, the line
# showing nothing of why).
tgt_stopped() {
	echo "$(tr -d '\r' < "$work/$1.out" | grep -a -E 'stopped by|at rip|rings:|rcu: INFO|soft lockup' |
		tr '\n' '|' | cut -c1-1500) end of its output: $(tr -d '\r' < "$work/$1.out" |
		grep -a -v '^vireo:' | tail -n 4 | tr '\n' '|')"
}
mig_pair() {
	_t=$1
	_uri=$2
	shift 2
	# (what the callers read, set -u: a pair given up early sets none)
	downtime= lost= tx= clock=
	# A NIC that moves to another tap: the guest is asked to announce
	# itself on the target (GUEST_ANNOUNCE), which its exit line shows.
	vm_in ${_t}_src run $migargs --api-sock "$work/api.sock" --net tap=vm0 \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=mig-sum"
	tap_up vm0 192.0.2.1
	tgt_in ${_t}_tgt "$_uri" --net-override net0=vm1
	if ! wait_for "$work/${_t}_src.out" 'MIG pass=1 ok' 240; then
		bad="source guest not passing: $(why ${_t}_src)"
		kill $vmpid $tgtpid 2>/dev/null
		exec 5>&- 6>&-
		return
	fi
	# The host pings the guest 10 times a second across the move: the
	# target's tap gets the same address as soon as it exists (the
	# source's goes with the source).
	hostping vm0 || bad="no ping before the move"
	ping -i 0.1 -w 600 192.0.2.2 > "$work/$_t.ping" 2>&1 &
	pingpid=$!
	( _n=0; while [ ! -e /sys/class/net/vm1 ] && [ $_n -lt 3000 ]; do
		sleep 0.1; _n=$((_n + 1)); done; tap_up vm1 192.0.2.1 ) &
	tapper=$!
	if ! ctl migrate --to "$_uri" "$@" > "$work/$_t.ctl" 2>&1; then
		bad="ctl migrate failed: $(tail -n 3 "$work/$_t.ctl" | tr '\n' '|')"
		kill $pingpid $tapper 2>/dev/null
		kill_vmm $vmpid
		kill_vmm $tgtpid
		wait $vmpid $tgtpid $pingpid $tapper 2>/dev/null
		exec 5>&- 6>&-
		return
	fi
	wait $vmpid
	src_rc=$?
	exec 5>&-
	wait $tapper
	# Until replies come through the target: then 3 s more of pinging.
	sent0=$(grep -c 'seq=' "$work/$_t.ping")
	_n=0
	while [ "$(grep -c 'seq=' "$work/$_t.ping")" -le "$sent0" ] && [ $_n -lt 300 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	sleep 3
	kill -INT $pingpid
	wait $pingpid
	# busybox: "N packets transmitted, M packets received"
	tx=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$work/$_t.ping")
	rx=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' "$work/$_t.ping")
	lost=$(( ${tx:-0} - ${rx:-0} ))
	[ -n "$tx" ] && [ "$rx" -gt "$sent0" ] ||
		bad="$bad; the guest did not answer ping on the target: $(tail -n 2 "$work/$_t.ping" | tr '\n' '|')"
	[ "$src_rc" = 0 ] || bad="$bad; the source exited $src_rc: $(tail -n 3 "$work/${_t}_src.out" | tr '\n' '|')"
	last=$(passes "$work/${_t}_src.out")
	# Two passes more on the target, counting on from the source's.
	want=$(( ${last:-0} + 2 ))
	wait_for "$work/${_t}_tgt.out" "MIG pass=$want ok" 240 ||
		bad="$bad; the target's guest did not reach pass $want: $(why ${_t}_tgt)"
	tell 6 quit
	wait_for "$work/${_t}_tgt.out" 'RESULT mig' 120
	wait $tgtpid
	tgt_rc=$?
	exec 6>&-
	res=$(grep -a '^RESULT mig' "$work/${_t}_tgt.out" | tr -d '\r')
	[ "$tgt_rc" = 0 ] && [ "$(field bad "$res")" = 0 ] ||
		bad="$bad; target rc=$tgt_rc, '$res'"
	! grep -q 'pass=[0-9]* BAD' "$work/${_t}_src.out" "$work/${_t}_tgt.out" ||
		bad="$bad; a pass saw RAM that lost writes"
	grep -q 'net vm1:.*announced after a move' "$work/${_t}_tgt.out" ||
		bad="$bad; the guest did not announce itself on the target: $(grep -a 'net vm' "$work/${_t}_tgt.out" | tr -d '\r')"
	clock_ok "$work/${_t}_tgt.out"
	downtime=$(grep -o '"downtime_ms":[0-9]*' "$work/$_t.ctl" | tr -dc 0-9)
	rounds=$(grep -c 'migrate: round' "$work/${_t}_src.out")
	note $_t "source at pass $last, downtime ${downtime:-?} ms, $rounds rounds, $lost of $tx pings lost (every 100 ms); $(grep -a 'migrate: done' "$work/${_t}_src.out" | tr -d '\r'); $clock; passes ended at (guest uptime, s) $(grep -a -h -o 'MIG pass=[0-9]* ok [0-9.]*' "$work/${_t}_src.out" "$work/${_t}_tgt.out" | sed 's/.*pass=\([0-9]*\) ok /\1:/' | tr '\n' ' ')"
}
# pings_ok MS: the pings lost fit the downtime, plus 2 s for the target's
# tap to get its address and the guest to learn its MAC.
pings_ok() {
	[ "${lost:-99999}" -le $(( ${1:-0} / 100 + 20 )) ] ||
		bad="$bad; $lost of $tx pings lost for a downtime of ${1:-?} ms"
}
mig_tcp() {
	mig_pair $t tcp:127.0.0.1:47001 --max-downtime 300
	[ -n "$downtime" ] && [ "$downtime" -le 300 ] ||
		bad="$bad; downtime ${downtime:-not reported} ms, over the 300 asked for"
	pings_ok "$downtime"
}
section migrate && multi_test mig_tcp mig_tcp

mig_local() {
	mig_pair $t "unix:$work/mig.sock,local=on"
	[ -n "$downtime" ] || bad="$bad; no downtime reported"
	pings_ok "$downtime"
}
section migrate && multi_test mig_local mig_local

# Ten migrations in a row (local=on, alternating sockets), each to a new
# process; then the guest, still checking its 64 MiB, powers off.
mig_ten_hops() {
	vm_in ${t}_0 run $migargs --api-sock "$work/hop0.sock" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=mig-sum"
	hop_pid=$vmpid
	if wait_for "$work/${t}_0.out" 'MIG pass=1 ok' 240; then
		# fd 5 moves to each new target's stdin (the last one gets "quit").
		hop=1
		while [ $hop -le 10 ] && [ -z "$bad" ]; do
			prev=$((hop - 1))
			rm -f "$work/hop$hop.sock" "$work/hop$hop.in"
			mkfifo "$work/hop$hop.in"
			timeout 300 "$vireo" run --incoming "unix:$work/m$((hop % 2)).sock" \
				--api-sock "$work/hop$hop.sock" < "$work/hop$hop.in" \
				> "$work/${t}_$hop.out" 2>&1 &
			next_pid=$!
			exec 5> "$work/hop$hop.in"
			wait_for "$work/${t}_$hop.out" 'waiting for a migration' 30
			"$vireo" ctl --api-sock "$work/hop$prev.sock" migrate \
				--to "unix:$work/m$((hop % 2)).sock" --local > "$work/$t.ctl" 2>&1 ||
				bad="hop $hop: $(tail -n 2 "$work/$t.ctl" | tr '\n' '|')"
			wait $hop_pid || bad="$bad; hop $hop: the source exited $?"
			hop_pid=$next_pid
			hop=$((hop + 1))
		done
		last=$((hop - 1))
		# (the last target's output may have no pass yet: count them all)
		p0=$(grep -aho 'MIG pass=[0-9]* ok' "$work/${t}"_*.out | tr -dc '0-9\n' | sort -n | tail -n 1)
		wait_for "$work/${t}_$last.out" "MIG pass=$(( ${p0:-0} + 1 )) ok" 240 ||
			bad="$bad; the guest stopped passing after hop $last: $(why ${t}_$last)"
		tell 5 quit
		wait_for "$work/${t}_$last.out" 'RESULT mig' 120
		wait $hop_pid
		rc=$?
		res=$(grep -a '^RESULT mig' "$work/${t}_$last.out" | tr -d '\r')
		[ "$rc" = 0 ] && [ "$(field bad "$res")" = 0 ] ||
			bad="$bad; the last vireo exited $rc, '$res'"
		! grep -q 'pass=[0-9]* BAD' "$work/${t}"_*.out || bad="$bad; a pass saw RAM that lost writes"
		clock_ok "$work/${t}_$last.out"
		note $t "downtimes (ms) $(grep -aho 'moved to .*(downtime [0-9]*' "$work/${t}"_*.out | sed 's/.*downtime //' | tr '\n' ' '); $clock"
	else
		bad="guest not passing: $(why ${t}_0)"
		kill $vmpid 2>/dev/null
	fi
	exec 5>&-
}
section migrate && long mig_ten_hops && multi_test mig_ten_hops mig_ten_hops

# The target killed mid-stream: the source says so and keeps running.
mig_target_killed() {
	vm_in ${t}_src run $migargs --api-sock "$work/api.sock" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=mig-sum"
	tgt_in ${t}_tgt tcp:127.0.0.1:47002
	if wait_for "$work/${t}_src.out" 'MIG pass=1 ok' 240; then
		# 4 MB/s: 384 MiB would take a minute and a half; kill it at 3 s.
		ctl migrate --to tcp:127.0.0.1:47002 --bandwidth 4 > "$work/$t.ctl" 2>&1 &
		cpid=$!
		sleep 3
		kill_vmm $tgtpid
		wait $cpid && bad="ctl migrate said it worked"
		wait_for "$work/${t}_src.out" 'keeps running here' 90 ||
			bad="$bad; no failure line from the source: $(tail -n 3 "$work/${t}_src.out" | tr '\n' '|')"
		! grep -q 'refused the stream:' "$work/${t}_src.out" ||
			bad="$bad; the target refused the stream (it was to be killed): $(grep -a refused "$work/${t}_src.out")"
		[ "$(ctl info | grep -o '"state":"[A-Za-z]*"')" = '"state":"Running"' ] ||
			bad="$bad; the source is not running: $(ctl info 2>&1)"
		p0=$(passes "$work/${t}_src.out")
		wait_for "$work/${t}_src.out" "MIG pass=$(( ${p0:-0} + 1 )) ok" 120 ||
			bad="$bad; the guest stopped passing after the failed migration"
		tell 5 quit
		wait_for "$work/${t}_src.out" 'RESULT mig' 120
		wait $vmpid
		rc=$?
		[ "$rc" = 0 ] || bad="$bad; the source exited $rc"
		note $t "$(grep -a 'migration to' "$work/${t}_src.out" | tr -d '\r')"
	else
		bad="source guest not passing: $(why ${t}_src)"
		kill $vmpid 2>/dev/null
	fi
	kill $tgtpid 2>/dev/null
	exec 5>&- 6>&-
}
section migrate-bad && multi_test mig_target_killed mig_target_killed

# fio writing and verifying its disk across a migration (the target
# opens the same image): fio finishes on the target and verifies.
# mig_fio_on URI DISK [vu]: DISK is the --disk value; vu: a vhost-user
# disk, paused and resumed first, whose backend the source must hand over.
mig_fio_on() {
	_uri=$1
	_vu=${3:-}
	vm_in ${t}_src run $migargs $toolsdisk --disk "$2" \
		--api-sock "$work/api.sock" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=snap-fio vireo.fio_loops=16${_vu:+ vireo.serial=$vu_serial}"
	tgt_in ${t}_tgt "$_uri"
	if [ -z "$bad" ] && wait_for "$work/${t}_src.out" FIO-START 150; then
		sleep 3
		if [ -n "$_vu" ]; then
			{ ctl pause && ctl resume; } > "$work/$t.pause" 2>&1 ||
				bad="pause and resume: $(tr '\n' '|' < "$work/$t.pause")"
		fi
		if ! ctl migrate --to "$_uri" > "$work/$t.ctl" 2>&1; then
			bad="$bad; ctl migrate failed: $(tail -n 3 "$work/$t.ctl" | tr '\n' '|')"
			kill_vmm $tgtpid
			kill_vmm $vmpid
		fi
		! grep -q "RESULT fio" "$work/${t}_src.out" ||
			bad="$bad; fio ended before the move (the test proves nothing)"
		wait $vmpid || bad="$bad; the source exited $?: $(tail -n 3 "$work/${t}_src.out" | tr '\n' '|')"
		[ -z "$_vu" ] ||
			grep -q 'blk vhost-user.*handed to another process 1 times' "$work/${t}_src.out" ||
			bad="$bad; the source did not hand the backend over: $(grep -a 'blk vhost-user' "$work/${t}_src.out" | tr -d '\r')"
		exec 5>&-
		wait $tgtpid
		rc=$?
		exec 6>&-
		grep -q "RESULT fio rc=0" "$work/${t}_tgt.out" && [ $rc = 0 ] ||
			bad="$bad; on the target: rc=$rc $(grep -a -E 'RESULT|verify|vhost-user' "$work/${t}_tgt.out" | tail -n 4 | tr '\n' '|'); $(tgt_stopped ${t}_tgt)"
		note $t "$(grep -a -E 'migrate: (paused|done)' "$work/${t}_src.out" | tr -d '\r' | tr '\n' ' ')${_vu:+; source: $(grep -a -o 'handed to another.*' "$work/${t}_src.out" | tr -d '\r'); target: $(grep -a -E 'the guest runs here|slowest answer' "$work/${t}_tgt.out" | tr -d '\r' | tr '\n' '|')}"
	else
		bad="${bad:-fio did not start: $(why ${t}_src)}"
		kill_vmm $vmpid
		kill_vmm $tgtpid
		exec 5>&- 6>&-
	fi
}
mig_fio() {
	truncate -s 32M "$work/mig.img"
	mig_fio_on tcp:127.0.0.1:47004 "path=$work/mig.img,serial=vireo-test"
}
section migrate && multi_test mig_fio mig_fio

# A disk served by a vhost-user backend (qemu-storage-daemon) with fio
# verifying on it across a migration to URI: the source waits for the
# requests the daemon took, then lets go of it at the switch; the target
# connects and goes on from the rings' bases. Over tcp the daemon logs
# the pages it writes (LOG_SHMFD).
# First a pause and a resume: the bases come back from the daemon and the
# disk goes on from them.
mig_vu_fio() {
	truncate -s 32M "$work/vu.img"
	qsd_start "$work/vu.img" || bad="qemu-storage-daemon did not start: $(tail -n 2 "$work/qsd.log")"
	mig_fio_on "$1" "vhost-user=$qsock" vu
	qsd_stop
}
mig_vu_fio_tcp() { mig_vu_fio tcp:127.0.0.1:47005; }
# With local=on: nothing is copied; the target hands the same memfds to
# the daemon. (Refused for a while after three guests triple-faulted
# right after the switch on 2026-12-06; 6 runs of 6 passed on 2026-12-07,
# one after a retry for the test host's lost vCPU state, vm.c.)
mig_vu_fio_local() { mig_vu_fio "unix:$work/mig.sock,local=on"; }
# A NIC served by a vhost-user backend (testpmd, switching between this
# guest and a peer) moves to URI: over tcp testpmd logs the pages it
# writes (LOG_SHMFD), with local=on the target hands it the same memfds;
# the source lets go of it at the switch, the target connects; the guest
# pings its peer five times a second all along, and again from the
# target. First a pause and a resume.
mig_vu_net() {
	_uri=$1
	tp_peer_up stay "" || return
	vm_in ${t}_src run $migargs $toolsdisk --net "vhost-user=$work/vu0.sock" \
		--api-sock "$work/api.sock" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=net-peer vireo.role=move vireo.ip=192.0.2.11 vireo.peer=192.0.2.12"
	tgt_in ${t}_tgt "$_uri"
	if wait_for "$work/${t}_src.out" MOVE-READY 200; then
		sleep 2
		{ ctl pause && ctl resume; } > "$work/$t.pause" 2>&1 ||
			bad="pause and resume: $(tr '\n' '|' < "$work/$t.pause")"
		sleep 2
		if ! ctl migrate --to "$_uri" > "$work/$t.ctl" 2>&1; then
			bad="$bad; ctl migrate failed: $(tail -n 3 "$work/$t.ctl" | tr '\n' '|')"
			kill_vmm $tgtpid
			kill_vmm $vmpid
		fi
		wait $vmpid || bad="$bad; the source exited $?: $(tail -n 3 "$work/${t}_src.out" | tr '\n' '|')"
		grep -q 'net vu0.sock: vhost-user.*handed to another process 1 times' "$work/${t}_src.out" ||
			bad="$bad; the source did not hand the backend over: $(grep -a 'vhost-user' "$work/${t}_src.out" | tr -d '\r' | tr '\n' '|')"
		exec 5>&-
		# Pings from the target for a few seconds, then the counts.
		sleep 4
		tell 6 quit
		wait $tgtpid
		rc=$?
		exec 6>&-
		grep -q "RESULT ping-after ok" "$work/${t}_tgt.out" && [ $rc = 0 ] ||
			bad="$bad; on the target: rc=$rc $(grep -a -E 'RESULT|vhost-user' "$work/${t}_tgt.out" | tail -n 4 | tr -d '\r' | tr '\n' '|')"
		note $t "$(grep -a 'RESULT pings' "$work/${t}_tgt.out" | tr -d '\r'); $(grep -a -E 'migrate: (paused|done)' "$work/${t}_src.out" | tr -d '\r' | tr '\n' ' '); source: $(grep -a -o 'handed to another[^;]*' "$work/${t}_src.out" | tr -d '\r'); target: $(grep -a -E 'connected in|the guest runs here|slowest answer' "$work/${t}_tgt.out" | tr -d '\r' | tr '\n' '|')"
	else
		bad="${bad:-the guest did not start pinging: $(why ${t}_src)}"
		kill_vmm $vmpid
		kill_vmm $tgtpid
		exec 5>&- 6>&-
	fi
	kill_vmm $pb
	wait $pb 2>/dev/null
	tp_stop
}
mig_vu_net_tcp() { mig_vu_net tcp:127.0.0.1:47006; }
mig_vu_net_local() { mig_vu_net "unix:$work/mig.sock,local=on"; }
if section migrate-bad && ! have dpdk-testpmd; then
	skip mig_vu_net_tcp "no dpdk-testpmd here"
	skip mig_vu_net_local "no dpdk-testpmd here"
elif section migrate-bad; then
	# (Under make check-full only for a while: four of the seven test
	# hosts that ran it on 2026-12-07 died during it. Its guests then
	# booted at once, and testpmd locked all their memory; neither does
	# now. Of five test hosts that ran it since, one died during it.)
	multi_test mig_vu_net_tcp mig_vu_net_tcp
	multi_test mig_vu_net_local mig_vu_net_local
fi
if section migrate-bad && ! have qemu-storage-daemon; then
	skip mig_vu_fio_tcp "no qemu-storage-daemon here"
	skip mig_vu_fio_local "no qemu-storage-daemon here"
elif section migrate-bad; then
	multi_test mig_vu_fio_tcp mig_vu_fio_tcp
	# (Under make check-full only: in a clean-clone rehearsal on
	# 2026-12-07 its three tries were all lost to the test host, two
	# SVM shutdowns right after the switch and one lost vCPU state,
	# where six other runs that day passed.)
	long mig_vu_fio_local && multi_test mig_vu_fio_local mig_vu_fio_local
fi

# A stream that is not one: the target refuses it and says why.
if section migrate-bad; then
t=mig_bad_stream
bad=
tgt_in ${t}_tgt tcp:127.0.0.1:47003
wait_for "$work/${t}_tgt.out" 'waiting for a migration' 30
printf 'VIREOMIG this is not a header, just bytes' |
	timeout 20 nc 127.0.0.1 47003 > "$work/$t.nc" 2>&1
wait $tgtpid
rc=$?
exec 6>&-
# The target exits 1 naming the damage, and told the sender too.
[ "$rc" = 1 ] && grep -q 'CRC' "$work/${t}_tgt.out" &&
	grep -q 'VIREO-NO.*CRC' "$work/$t.nc" && pass $t ||
	fail $t "rc=$rc: $(tail -n 2 "$work/${t}_tgt.out" | tr '\n' '|'); sender got '$(cat "$work/$t.nc")'"
fi
fi

if section balloon; then
# ---- virtio-balloon ------------------------------------------------------

# The host inflates a 512 MiB guest that touched 400 MiB by 256 MiB:
# vireo's RSS drops by >= 200 MiB; deflated, the guest uses the memory;
# the stats follow the guest's allocation.
t=balloon_inflate
bsock=$work/balloon.sock
bctl() {
	"$vireo" ctl --api-sock "$bsock" "$@"
}
# balloon_vm GUEST-TEST BALLOON-OPTS: a 512 MiB guest running GUEST-TEST
# in the background, its balloon driven through the API; pid, and vireo's
# own pid in vpid.
balloon_vm() {
	rm -f "$bsock"
	timeout 240 "$vireo" run --kernel "$kernel" --initrd "$initrd" --memory 512M \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=$1" \
		--api-sock "$bsock" --balloon "$2" < /dev/null > "$work/$t.out" 2>&1 &
	pid=$!
	vpid=$(vmm_pid $pid)
}
run_inflate() {
	balloon_vm balloon "stats_period=1"
	bad=
	if wait_for "$work/$t.out" BALLOON-READY 150; then
		sleep 2
		rss0=$(rss_kb "$vpid")
		s0=$(bctl balloon-stats)
		bctl balloon 256M > /dev/null || bad="ctl balloon 256M failed"
		wait_for "$work/$t.out" BALLOON-INFLATED 150 || bad="$bad; not inflated"
		sleep 1
		rss1=$(rss_kb "$vpid")
		info=$(bctl balloon-stats)
		bctl balloon 0 > /dev/null
		wait_for "$work/$t.out" BALLOON-FILLED 150 || bad="$bad; not refilled"
		sleep 3
		s1=$(bctl balloon-stats)
		bctl balloon-stats > /dev/null
	else
		bad="guest not ready"
	fi
	wait $pid
	rc=$?
}
bad= s0= s1= info= rss0= rss1=
retry_flaky $t run_inflate
free0=$(jfield free_memory "$s0")
free1=$(jfield free_memory "$s1")
total=$(jfield total_memory "$s0")
released=$(jfield released_mib "$info")
if [ -z "$bad" ] && guest_ok $t && [ -n "$rss0" ] && [ -n "$rss1" ] &&
   [ $((rss0 - rss1)) -ge 204800 ] && [ "${released:-0}" -ge 200 ] &&
   [ "${total:-0}" -gt $((400 << 20)) ] && [ "${total:-0}" -le $((512 << 20)) ] &&
   [ "${free0:-0}" -gt $((free1 + (200 << 20))) ]; then
	pass $t
else
	fail $t "$bad; RSS $rss0 -> $rss1 KiB; $info; stats before: $s0; after: $s1; $(why $t)"
fi

# Free page reporting: after the guest frees 350 MiB, vireo's RSS drops.
t=balloon_free_page_reporting
run_report() {
	balloon_vm balloon-report "free_page_reporting=on"
	rss0= rss1=
	if wait_for "$work/$t.out" BALLOON-FILLED 150; then
		rss0=$(rss_kb "$vpid")
		wait_for "$work/$t.out" BALLOON-DONE 150
		rss1=$(rss_kb "$vpid")
		info=$(bctl balloon-stats)
	fi
	reported=$(jfield reported_mib "$info")
	wait $pid
	rc=$?
}
retry_flaky $t run_report
if guest_ok $t && [ -n "$rss0" ] && [ -n "$rss1" ] &&
   [ $((rss0 - rss1)) -ge 153600 ] && [ "${reported:-0}" -ge 150 ]; then
	pass $t
else
	fail $t "RSS $rss0 -> $rss1 KiB; $info; $(why $t)"
fi


t=bad_kernels
bad=
head -c 5000000 "$kernel" > "$work/truncated"
timeout 30 "$vireo" run --kernel "$work/truncated" > "$work/$t.out" 2>&1
r1=$?
grep -q "truncated" "$work/$t.out" || bad="truncated bzImage: $(cat "$work/$t.out")"
timeout 30 "$vireo" run --kernel "$work/missing" > "$work/$t.out" 2>&1
r2=$?
grep -q "No such file" "$work/$t.out" || bad="$bad; missing: $(cat "$work/$t.out")"
[ "$r1" = 1 ] && [ "$r2" = 1 ] && [ -z "$bad" ] && pass $t ||
	fail $t "status $r1/$r2 $bad"
fi

if section vdpa; then
# ---- vDPA: qemu-storage-daemon's VDUSE disk through /dev/vhost-vdpa-N -----
# The vdpa, vduse and vhost_vdpa modules exist from Linux 5.15 on, in
# Debian 12's 6.12 kernels (not in 6.1): run.sh runs this group in a test
# host with that kernel (TEST-HOST.md).
vdpa_tests="vdpa_read vdpa_ext4 vdpa_fio_pci vdpa_fio_mmio vdpa_packed_asked vdpa_resize vdpa_gone"
if [ ! -e /dev/vduse/control ] || ! have vdpa || ! have qemu-storage-daemon; then
	for t in $vdpa_tests; do
		skip $t "no VDUSE here (/dev/vduse/control, iproute2's vdpa and qemu-storage-daemon are needed; Linux >= 5.15 with the vduse and vhost_vdpa modules)"
	done
else
# vduse_start IMG: export IMG as a VDUSE disk ($vduse, a new name each
# time: a daemon killed under its device, vdpa_gone, leaves the kernel's
# VDUSE device behind, and one of the same name made again never answers),
# make it a vDPA device bound to vhost_vdpa ($vdpa_dev; the daemon is
# $qsd_pid).
vduse_n=0
vduse_start() {
	vduse=vduse$vduse_n
	vduse_n=$((vduse_n + 1))
	rm -f "$work/qsd-qmp.sock"
	qsd --blockdev "driver=file,node-name=f0,filename=$1" \
		--export "type=vduse-blk,id=$vduse,name=$vduse,node-name=f0,writable=on" \
		--chardev "socket,id=m0,path=$work/qsd-qmp.sock,server=on,wait=off" \
		--monitor chardev=m0 >> "$work/qsd.log" 2>&1 &
	qsd_pid=$!
	_n=0
	while [ ! -e /dev/vduse/$vduse ] && [ $_n -lt 200 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	hosttool vdpa dev add name $vduse mgmtdev vduse >> "$work/qsd.log" 2>&1 || return 1
	_n=0
	vdpa_dev=
	while [ -z "$vdpa_dev" ] && [ $_n -lt 100 ]; do
		vdpa_dev=$(ls /sys/bus/vdpa/devices/$vduse 2>/dev/null | grep -m1 '^vhost-vdpa-')
		[ -n "$vdpa_dev" ] || sleep 0.1
		_n=$((_n + 1))
	done
	vdpa_dev=/dev/$vdpa_dev
	_n=0
	while [ ! -c "$vdpa_dev" ] && [ $_n -lt 50 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	[ -c "$vdpa_dev" ]
}
vduse_stop() {
	hosttool vdpa dev del $vduse >> "$work/qsd.log" 2>&1
	kill "$qsd_pid" 2>/dev/null
	wait "$qsd_pid" 2>/dev/null
}
# qemu-storage-daemon's VDUSE disk has no serial (GET_ID answers empty).
vduse_serial=none
img=$work/vdpa.img
# vdpa_test NAME FUNC [MiB]: a fresh image of MiB (64) exported as the
# VDUSE disk $vdpa_dev; FUNC runs the guest and checks (it sets $bad and
# $rc, and may stop the daemon itself, vduse_stop, before looking at the
# image). Once more, on a fresh image and device, after a nested flake.
vdpa_test() {
	t=$1
	already $t && return 0
	for _try in 1 2; do
		bad=
		rc=
		rm -f "$img"
		[ -n "${vdpa_data:-}" ] && head -c 4194304 /dev/urandom > "$img"
		truncate -s "${3:-64}M" "$img"
		if vduse_start "$img"; then
			"$2"
		else
			bad="no vDPA device: $(tail -n 5 "$work/qsd.log" | tr '\n' '|')"
		fi
		vduse_stop
		[ -n "$bad" ] && [ $_try = 1 ] && nested_flake $t || break
	done
	[ -z "$bad" ] && pass $t || fail $t "$bad"
}

# The guest reads what the host wrote; the disk's size is the image's.
vdpa_read() {
	want=$(head -c 4194304 "$img" | sha256sum | cut -d' ' -f1)
	bootargs="vireo.serial=$vduse_serial" boot $t blk-read --disk "vhost-vdpa=$vdpa_dev"
	got=$(grep '^RESULT read' "$work/$t.out" | tr -d '\r' | sed 's/.*sha=//')
	disk=$(grep '^RESULT disk' "$work/$t.out" | tr -d '\r')
	note $t "$disk; $(grep -a 'vhost-vdpa' "$work/$t.out" | tail -n 1 | tr -d '\r')"
	guest_ok $t && [ "$got" = "$want" ] && [ "$(field sectors "$disk")" = 131072 ] &&
		grep -q "vireo: blk vhost-vdpa $vdpa_dev:" "$work/$t.out" ||
		bad="want $want got ${got:-nothing}; $disk; $(why $t); qsd: $(tail -n 3 "$work/qsd.log" | tr '\n' '|')"
}
vdpa_data=1 vdpa_test vdpa_read vdpa_read

# ext4 made in the guest, checked on the host once the daemon is gone.
vdpa_ext4() {
	bootargs="vireo.serial=$vduse_serial" boot $t blk-ext4 --memory 384M $toolsdisk \
		--disk "vhost-vdpa=$vdpa_dev"
	vduse_stop
	guest_ok $t || bad="$(why $t)"
	ext4_checked
}
vdpa_test vdpa_ext4 vdpa_ext4

# fio --verify on both transports, across a driver unbind and bind (the
# device's reset runs on a thread, the guest reads status 0 once it is
# done; mmio's driver does not wait, its next status write does); ring=
# packed is offered only where the device does packed rings (VDUSE does
# split only): the guest must then get split rings and work as well.
vdpa_fio() {
	bootargs="vireo.serial=$vduse_serial" boot "$t" blk-rebind --memory 384M $toolsdisk \
		--disk "vhost-vdpa=$vdpa_dev$spec"
	guest_ok "$t" && grep -q "RESULT rebind .* before=0 after=0" "$work/$t.out" ||
		bad="$(grep RESULT "$work/$t.out" | tr '\n' ' ') $(why "$t")"
}
spec=,transport=pci vdpa_test vdpa_fio_pci vdpa_fio 32
spec=,transport=mmio vdpa_test vdpa_fio_mmio vdpa_fio 32
spec=,transport=pci,ring=packed vdpa_test vdpa_packed_asked vdpa_fio 32

# The daemon grows the disk (QMP block_resize): the vDPA device signals
# a config change, the guest sees the new capacity. Pausing the VM is
# refused, naming the device (VDUSE cannot suspend its rings).
vdpa_resize() {
	timeout 180 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--disk "vhost-vdpa=$vdpa_dev" --api-sock "$work/api.sock" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=blk-resize vireo.serial=$vduse_serial" \
		< /dev/null > "$work/$t.out" 2>&1 &
	pid=$!
	pause=
	if wait_for "$work/$t.out" RESIZE-NOW 150; then
		pause=$(curl -s --unix-socket "$work/api.sock" -X PATCH \
			-d '{"state":"Paused"}' http://localhost/vm 2>&1)
		truncate -s 128M "$img"
		"$unixcat" "$work/qsd-qmp.sock" '{"execute":"qmp_capabilities"}' \
			'{"execute":"block_resize","arguments":{"node-name":"f0","size":134217728}}' \
			'{"execute":"query-version"}' > "$work/$t.qmp" 2>&1
	fi
	wait $pid
	rc=$?
	r=$(grep '^RESULT resized' "$work/$t.out" | tr -d '\r')
	note $t "$r; pause: $pause"
	guest_ok $t && [ "$(field sectors "$r")" = 262144 ] &&
		echo "$pause" | grep -q "cannot suspend" &&
		grep -q "1 config changes passed on" "$work/$t.out" ||
		bad="$r; pause: $pause; qmp: $(tr '\n' '|' < "$work/$t.qmp"); $(why $t)"
}
vdpa_test vdpa_resize vdpa_resize

# The daemon killed under the guest: vireo stays up and says so; the
# guest's I/O fails instead of hanging for ever; what the guest flushed
# before is on the disk.
vdpa_gone() {
	timeout 240 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--memory 384M $toolsdisk --disk "vhost-vdpa=$vdpa_dev" \
		--cmdline "console=ttyS0 panic=-1 $klog vireo.test=blk-restart vireo.serial=$vduse_serial" \
		< /dev/null > "$work/$t.out" 2>&1 &
	pid=$!
	if wait_for "$work/$t.out" RESTART-NOW 150; then
		kill -9 "$qsd_pid"
		wait "$qsd_pid" 2>/dev/null
	fi
	wait $pid
	rc=$?
	want=$(sed -n 's/^RESULT phase1 md5=\([0-9a-f]*\).*/\1/p' "$work/$t.out" | tr -d '\r')
	got=$(head -c 8388608 "$img" | md5sum | cut -d' ' -f1)
	fio=$(grep "RESULT fio" "$work/$t.out" | tr -d '\r')
	note $t "$fio; $(grep -a -E 'stopped answering|requests it held' "$work/$t.out" | tr -d '\r' | tr '\n' '|')"
	guest_ok $t && [ -n "$want" ] && [ "$want" = "$got" ] &&
		[ "$(field rc "$fio")" != 0 ] &&
		grep -q "the vDPA device stopped answering" "$work/$t.out" &&
		grep -q "requests it held failed with an I/O error" "$work/$t.out" ||
		bad="phase 1 md5 guest ${want:-?} disk $got; $fio; $(why $t); qsd: $(tail -n 3 "$work/qsd.log" | tr '\n' '|')"
}
vdpa_test vdpa_gone vdpa_gone
rm -f "$img"
fi
fi
# (run.sh: a run without this line stopped early)
echo END-OF-TESTS
