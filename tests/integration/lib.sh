# Helpers for integration tests (POSIX sh: they also run under busybox ash
# inside the nested test host). Each test reports one line:
#   PASS name | FAIL name: why | SKIP name: why
# Each also logs "TIME name Ns" (seconds since the previous report), kept
# in the nested logs (build/nested/*.log), not in the summary; inside
# the nested test host only.
_last_report=$(date +%s)
took() {
	progressed "$1"
	[ "${VIREO_KVM_KIND:-}" = nested ] || return 0
	_now=$(date +%s)
	echo "TIME $1 $((_now - _last_report))s"
	_last_report=$_now
}
pass() { already "$1" || { echo "PASS $1"; took "$1"; }; }
fail() { already "$1" || { echo "FAIL $1: $2"; took "$1"; }; }
skip() { already "$1" || { echo "SKIP $1: $2"; took "$1"; }; }
note() { already "$1" || echo "NOTE $1: $2"; }

# to_fifo FD FORMAT [ARG...]: printf to the fifo a test holds open on
# FD as a vireo's stdin; tell FD LINE: the same for one line. When that
# vireo is already gone (no reader), the write's SIGPIPE ends a subshell,
# not the test script: a CI run lost a whole group's results (status
# 141) to one vireo that died before its Ctrl-A x. The test then fails
# on its own terms.
to_fifo() {
	_fd=$1
	shift
	(printf "$@" >&"$_fd") 2>/dev/null
}
tell() {
	to_fifo "$1" '%s\n' "$2"
}

# already NAME: test NAME reported in an earlier run of this group, one
# whose nested test host then died (run.sh starts the group again with
# VIREO_DONE="NAME ..."). Its result stands and it is not run again:
# boot, retry_flaky and multi_test run no guest for it, and what it
# would report is not printed twice.
already() {
	case " ${VIREO_DONE:-} " in
	*" $1 "*)
		progressed "done $1"
		return 0
		;;
	esac
	# VIREO_ONLY="NAME..." (while developing): the others count as done.
	case " ${VIREO_ONLY:-$1} " in
	*" $1 "*) ;;
	*) return 0 ;;
	esac
	return 1
}

# carry VAR VALUE: set VAR to VALUE, a number of test $t's that a later
# test needs, and keep it in the group's log (a KEEP line): in a run that
# goes on after a test host died, with $t already done, VAR gets the
# value kept by the earlier run (run.sh passes the KEEP lines as
# VIREO_KEPT).
carry() {
	if already "$t"; then
		eval "$1=\$(printf '%s\n' \"\${VIREO_KEPT:-}\" | sed -n 's/^$1=//p' | tail -n 1)"
	else
		eval "$1=\$2"
		echo "KEEP $1=$2"
	fi
}

# progressed WHAT: a test reported, or a guest boot is being repeated: the
# stall watchdog's clock starts again (the file replaced whole, so that it
# never reads half a line).
progressed() {
	[ -n "${progress_file:-}" ] || return 0
	echo "$(date +%s) $1" > "$progress_file.new" &&
		mv -f "$progress_file.new" "$progress_file"
}

# descends PID ROOT: PID is ROOT or one of its descendants.
descends() {
	_p=$1
	_i=0
	while [ "$_i" -lt 20 ] && [ -n "$_p" ] && [ "$_p" -gt 1 ]; do
		[ "$_p" = "$2" ] && return 0
		_p=$(sed -n 's/^PPid:[[:space:]]*//p' "/proc/$_p/status" 2>/dev/null)
		_i=$((_i + 1))
	done
	return 1
}

# stall_watchdog SECONDS DIR ROOT: run in the background, with
# $progress_file set (progressed() writes the time there), by the test
# script whose pid is ROOT; it ends when ROOT does. A test that stops
# making progress (a vireo that never exits, a request that never gets an
# answer) must not use up its group's whole time limit, and the group's
# log must say what hung: when nothing has progressed for SECONDS, one
# NOTE line says which processes ran and what the newest output file in
# DIR ended with, and every vireo ROOT started is stopped (SIGTERM, so
# that it reports where its rings stood; SIGKILL 5 s later), which ends
# the test's waits: it then fails on its own terms. The clock starts
# again after each stop.
stall_watchdog() {
	progressed start
	while sleep 5; do
		# The test host's heartbeat goes on while this loop does (its
		# init; a stuck loop means a stuck test host).
		[ -z "${TESTHOST_BEAT:-}" ] || touch "$TESTHOST_BEAT"
		kill -0 "$3" 2>/dev/null || return 0
		read -r _at _after < "$progress_file" 2>/dev/null || continue
		_age=$(($(date +%s) - _at))
		[ "$_age" -ge "$1" ] || continue
		_procs=
		_vireos=
		for _d in /proc/[0-9]*; do
			_comm=$(cat "$_d/comm" 2>/dev/null)
			case "$_comm" in
			vireo | curl | qemu-storage-* | *testpmd | fio | iperf3) ;;
			*) continue ;;
			esac
			descends "${_d#/proc/}" "$3" || continue
			_cmd=$(tr '\0' ' ' < "$_d/cmdline" 2>/dev/null | cut -c1-70)
			_procs="${_procs:+$_procs; }$_cmd"
			[ "$_comm" != vireo ] || _vireos="$_vireos ${_d#/proc/}"
		done
		# A test that reported meanwhile started anew: its vireo stays.
		read -r _now_at _rest < "$progress_file" 2>/dev/null
		[ "${_now_at:-}" = "$_at" ] || continue
		_newest=$(ls -t "$2"/*.out 2>/dev/null | head -n 1)
		echo "NOTE stall: nothing progressed for $_age s (the last report: $_after); running: ${_procs:-nothing}; ${_newest##*/} ends: $(tail -n 3 "$_newest" 2>/dev/null | tr -d '\r' | tr '\n' '|' | cut -c1-300); stopping vireo${_vireos:- (none running)}"
		if [ -n "$_vireos" ]; then
			kill -TERM $_vireos 2>/dev/null
			sleep 5
			kill -KILL $_vireos 2>/dev/null
		fi
		progressed "$_after"
	done
}

# wait_for FILE PATTERN SECONDS: wait until FILE contains PATTERN; false
# after SECONDS, or at once when vireo wrote there that its guest died
# (guest_died): nothing more will come, and the test's retry or failure
# should not wait out the time limit first (in a run on 2026-12-07
# net_pci-packed's guest died so after NET-UP, and the test waited 120 s
# for iperf3 and 60 s for pings before its retry: 193 s for a 25 s test).
wait_for() {
	_n=0
	while ! grep -q -- "$2" "$1" 2>/dev/null; do
		_n=$((_n + 1))
		[ "$_n" -gt $(($3 * 10)) ] && return 1
		[ $((_n % 10)) = 0 ] && guest_died "$1" && return 1
		sleep 0.1
	done
	return 0
}

# guest_died FILE: vireo wrote in FILE that its guest died: a triple
# fault (the nested test host's SVM shutdown), the host's KVM losing a
# vCPU's state (vm.c; both retried: linux.sh nested_flake) or a kernel
# panic.
guest_died() {
	grep -q -E "triple fault \(KVM_EXIT_SHUTDOWN\)|the host's KVM lost its state|the guest kernel panicked" "$1" 2>/dev/null
}

# count_of FILE PATTERN: how many lines of FILE contain PATTERN.
count_of() {
	grep -c -- "$2" "$1" 2>/dev/null || true
}

# field NAME LINE: the value of NAME=... in a RESULT line.
field() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# jfield NAME JSON: the number after "NAME": in a compact JSON reply.
jfield() {
	echo "$2" | sed -n "s/.*\"$1\":\([0-9-]*\).*/\1/p"
}

# kill_vmm PID: SIGKILL to vireo started as "timeout ... vireo" (PID), the
# vireo itself too: GNU timeout does not pass SIGKILL on.
kill_vmm() {
	kill -9 "$(vmm_pid "$1")" "$1" 2>/dev/null
}

# vmm_pid PID: vireo's pid when PID is "timeout ... vireo" started in the
# background: PID itself under busybox (its timeout execs the command),
# PID's child under GNU timeout. Waits up to 5 s for it.
vmm_pid() {
	_n=0
	while [ $_n -lt 50 ]; do
		if [ "$(cat "/proc/$1/comm" 2>/dev/null)" = vireo ]; then
			echo "$1"
			return 0
		fi
		for _s in /proc/[0-9]*/stat; do
			read -r _cp _cc _cs _cpp _rest < "$_s" 2>/dev/null || continue
			if [ "$_cpp" = "$1" ] && [ "$_cc" = "(vireo)" ]; then
				echo "$_cp"
				return 0
			fi
		done
		_n=$((_n + 1))
		sleep 0.1
	done
	return 1
}

# rss_kb PID: resident memory of PID in KiB.
rss_kb() {
	awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# loop_ticks PID: CPU clock ticks (user + system) of PID's main thread:
# vireo's event loop, where it serves devices itself.
loop_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/task/$1/stat" 2>/dev/null
}
