#!/bin/sh
# Runs inside the nested test host (or on hardware KVM): live migration to
# a second process on this host, total time and downtime, vireo vs QEMU,
# the same guest (512 MiB, 1 vCPU), interleaved:
#  idle  snap-tick (64 MiB filled, a line every 20 ms)
#  busy  mig-sum (rewriting and checking 64 MiB in a loop)
# vireo over tcp (pre-copy) and unix local=on (the memfd handed over);
# QEMU -M microvm 'migrate' to '-incoming tcp:', downtime-limit 300 ms.
# One MIG line per migration:
#   MIG vmm=vireo-tcp|vireo-local|qemu-tcp load=idle|busy total_ms=N downtime_ms=N gap_ms=N
# downtime_ms is what the VMM reports, and the VMMs do not count alike:
# vireo's runs from the pause until the target says the guest runs there,
# QEMU's ends on the source once the last state is sent, before the
# target has loaded it. gap_ms counts the same way for both: the guest
# prints TICK every 20 ms (the busy guest too, vireo.ticks=1), both
# processes' output goes through tsline (stamped on this host's
# monotonic clock), and gap_ms is from the source's last TICK to the
# target's first, 20 ms of it the guest's own sleep.
# usage: mig.sh DIR RUNS   (DIR holds vireo, qmp, guest/, qemu/)
# MIG_LOADS="busy" runs only those loads, MIG_VMMS="vireo-local qemu-tcp"
# only those VMMs (run.sh passes both on).
set -u
d=$1
runs=$2
cd "$d"
. ./common.sh
s=/tmp/migbench
mkdir -p "$s"
port=47100

append() { echo "console=ttyS0 panic=-1 vireo.test=$1 vireo.ticks=1"; }
ready() { [ "$1" = idle ] && echo TICK-READY || echo 'MIG pass=1 ok'; }
qemu_vm() { # qemu_vm LOAD ARGS...
	_l=$1
	shift
	qemu/bin/qemu-system-x86_64.sh -L qemu/share/qemu -M microvm \
		-enable-kvm -cpu host -m 512M -smp 1 -nodefaults -no-user-config \
		-display none -serial stdio -no-reboot -kernel guest/vmlinuz \
		-initrd guest/initramfs.cpio -append "$(append "$_l")" "$@"
}
# stamped NAME: a fifo whose lines tsline writes, stamped, to $s/NAME.out
# (a VMM writes into $s/NAME.fifo; $! stays the VMM's pid).
stamped() {
	rm -f "$s/$1.fifo"
	mkfifo "$s/$1.fifo"
	./tsline < "$s/$1.fifo" > "$s/$1.out" &
}
# gap: milliseconds from the source's last TICK to the target's first.
gap() {
	wait_out "$s/tgt.out" TICK 10 || return 0
	_a=$(grep TICK "$s/src.out" | tail -n 1 | cut -d' ' -f1)
	_b=$(grep TICK "$s/tgt.out" | head -n 1 | cut -d' ' -f1)
	[ -n "$_a" ] && [ -n "$_b" ] && awk -v a="$_a" -v b="$_b" 'BEGIN { printf " gap_ms=%d", b - a }'
}
# timeline VMM LOAD DOWNTIME_MS: where a vireo migration's tick gap went,
# from the stamped lines (the pause: the source's "migrate: done" line
# less its downtime).
timeline() {
	_st=$(grep TICK "$s/src.out" | tail -n 1 | cut -d' ' -f1)
	_done=$(grep 'migrate: done' "$s/src.out" | tail -n 1 | cut -d' ' -f1)
	_runs=$(grep 'the guest runs here' "$s/tgt.out" | head -n 1 | cut -d' ' -f1)
	_tt=$(grep TICK "$s/tgt.out" | head -n 1 | cut -d' ' -f1)
	[ -n "$_st" ] && [ -n "$_done" ] && [ -n "$_runs" ] && [ -n "$_tt" ] || return 0
	awk -v st="$_st" -v done="$_done" -v d="$3" -v runs="$_runs" -v tt="$_tt" \
		-v what="BENCH-NOTE mig vmm=$1 load=$2" 'BEGIN {
		p = done - d
		printf "%s: the last TICK on the source %.0f ms before the pause; the target ran the guest %.0f ms after the pause; its first TICK came %.0f ms after that", what, p - st, runs - p, tt - runs
	}'
	echo "; $(grep -h -o 'migrate: \(paused\|done\):.*' "$s/src.out" | tr -d '\r' | tr '\n' ' ')target: $(grep -h -o 'the guest runs here.*' "$s/tgt.out" | tr -d '\r')"
}
# huge VMM LOAD PID: how much of the target's memory (PID or its child
# processes: QEMU runs under a subshell) is mapped in huge pages (its
# guest's first touches after the move fault in 2 MiB pages there, 4 KiB
# ones elsewhere), with the test host's THP settings.
huge() {
	_kb=0
	for _p in $3 $(grep -l "^[0-9]* ([^)]*) [A-Z] $3 " /proc/[0-9]*/stat 2>/dev/null | cut -d/ -f3); do
		_k=$(awk '/^(AnonHugePages|ShmemPmdMapped|FilePmdMapped):/ { s += $2 } END { print s + 0 }' "/proc/$_p/smaps_rollup" 2>/dev/null)
		_kb=$((_kb + ${_k:-0}))
	done
	echo "BENCH-NOTE mig vmm=$1 load=$2: the target's huge pages: $_kb kB (THP $(cat /sys/kernel/mm/transparent_hugepage/enabled), shmem $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled))"
}
note() { # note VMM LOAD WHAT FILE
	echo "BENCH-NOTE mig vmm=$1 load=$2: $3; $(tail -n 3 "$4" | tr -d '\r' | tr '\n' '|')"
}
one() { # one VMM LOAD: a MIG line
	_v=$1 _l=$2
	port=$((port + 1))
	rm -f "$s"/*.sock "$s"/*.out
	stamped src
	stamped tgt
	test=snap-tick
	[ "$_l" = busy ] && test=mig-sum
	case $_v in
	vireo-*)
		uri=tcp:127.0.0.1:$port
		[ $_v = vireo-local ] && uri="unix:$s/mig.sock,local=on"
		./vireo run --kernel guest/vmlinuz --initrd guest/initramfs.cpio \
			--memory 512M --cpus 1 --cmdline "$(append $test)" \
			--api-sock "$s/api.sock" < /dev/null > "$s/src.fifo" 2>&1 &
		src=$!
		./vireo run --incoming "${uri%,local=on}" < /dev/null > "$s/tgt.fifo" 2>&1 &
		tgt=$!
		if wait_out "$s/src.out" "$(ready $_l)" "$vm_timeout"; then
			sleep 1
			./vireo ctl --api-sock "$s/api.sock" migrate --to "$uri" \
				--max-downtime 300 > "$s/ctl.out" 2>&1
			r=$(grep -o '"total_ms":[0-9]*,"downtime_ms":[0-9]*' "$s/ctl.out" |
				sed 's/"total_ms":\([0-9]*\),"downtime_ms":\([0-9]*\)/total_ms=\1 downtime_ms=\2/')
			if [ -n "$r" ] && wait_out "$s/tgt.out" "the guest runs here" 30; then
				echo "MIG vmm=$_v load=$_l $r$(gap)"
				huge $_v $_l $tgt
				timeline $_v $_l "${r##*downtime_ms=}"
			else
				note $_v $_l "no result" "$s/ctl.out"
				note $_v $_l "target" "$s/tgt.out"
			fi
		else
			note $_v $_l "the guest did not come up" "$s/src.out"
		fi
		kill -9 $src $tgt 2>/dev/null
		wait $src $tgt 2>/dev/null
		;;
	qemu-tcp)
		qemu_vm $test -qmp "unix:$s/q.sock,server=on,wait=off" \
			< /dev/null > "$s/src.fifo" 2>&1 &
		src=$!
		qemu_vm $test -incoming "tcp:127.0.0.1:$port" < /dev/null > "$s/tgt.fifo" 2>&1 &
		tgt=$!
		if wait_out "$s/src.out" "$(ready $_l)" "$vm_timeout"; then
			sleep 1
			./qmp "$s/q.sock" --wait-migration \
				'{"execute": "migrate-set-parameters", "arguments": {"downtime-limit": 300, "max-bandwidth": 107374182400}}' \
				"{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:127.0.0.1:$port\"}}" \
				> "$s/ctl.out" 2>&1
			last=$(tail -n 1 "$s/ctl.out")
			tt=$(echo "$last" | sed -n 's/.*"total-time": *\([0-9]*\).*/\1/p')
			dt=$(echo "$last" | sed -n 's/.*"downtime": *\([0-9]*\).*/\1/p')
			if [ -n "$tt" ] && [ -n "$dt" ]; then
				echo "MIG vmm=$_v load=$_l total_ms=$tt downtime_ms=$dt$(gap)"
				huge $_v $_l $tgt
			else
				note $_v $_l "no result" "$s/ctl.out"
			fi
		else
			note $_v $_l "the guest did not come up" "$s/src.out"
		fi
		kill -9 $src $tgt 2>/dev/null
		wait $src $tgt 2>/dev/null
		;;
	esac
}
i=0
while [ $i -lt "$runs" ]; do
	for l in ${MIG_LOADS:-idle busy}; do
		for v in ${MIG_VMMS:-vireo-tcp vireo-local qemu-tcp}; do
			one $v $l
		done
	done
	i=$((i + 1))
done
