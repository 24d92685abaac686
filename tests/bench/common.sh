# Sourced by the in-host benchmark scripts (run from the payload dir):
# the two VMMs on the same guest, 1 vCPU ($vm_cpus), the guest's tools
# disk on virtio-mmio. $append is the kernel command line.
export VIREO_CACHE_DIR=/tmp/bench-cache
# A guest the nested test host has hung is given up after this long (the
# run then reports no results for it) rather than stalling the benchmark.
vm_timeout=300

# report KIND LABEL < LOG: the guest's "RESULT bench ..." lines as
# "KIND vmm=LABEL ..."; a run without any says so, with its last words
# (the nested test host now and then shuts a guest down).
report() {
	tr -d '\r' > /tmp/bench-report.txt
	if grep -q '^RESULT bench ' /tmp/bench-report.txt; then
		sed -n "s/^RESULT bench /$1 vmm=$2 /p" /tmp/bench-report.txt
		# vireo's device counters (kicks, interrupts) on exit.
		grep -E '^vireo: (blk|net) ' /tmp/bench-report.txt |
			grep -v 'tools.img' | sed "s/^vireo: /BENCH-STAT $1 vmm=$2 /"
	else
		echo "BENCH-NOTE $1 vmm=$2: no results; $(last_words)"
		return
	fi
	# Some results, but the guest test did not finish: say how it ended.
	grep -q '^VIREO-TEST-EXIT=' /tmp/bench-report.txt ||
		echo "BENCH-NOTE $1 vmm=$2: the guest test did not finish; $(last_words)"
}

# The guest's last console lines, the headline of a guest kernel oops or
# panic if there was one (its register dump fills the last lines), and
# the VMM's first complaint (not its register dump or counters), from
# /tmp/bench-report.txt.
last_words() {
	# (every boot in the nested host warns about XSAVE sizes: not that)
	_oops=$(grep -E -e 'BUG:|Oops|general protection|Kernel panic|WARNING:|RIP: ' \
		/tmp/bench-report.txt | grep -v xstate | head -n 3 | tr '\n' '|')
	# A guest that neither powered off nor was stopped by vm_timeout
	# (the VMM then says it was signalled) was reset: with -no-reboot,
	# QEMU just exits when its guest triple-faults.
	_end="no power-off from the guest kernel"
	grep -q 'reboot: Power down' /tmp/bench-report.txt && _end="powered off"
	printf 'guest: %s %s end: %s; vmm: %s' \
		"$(grep -v -e '^vireo: ' -e '^  ' /tmp/bench-report.txt | tail -n 3 | tr '\n' '|')" \
		"${_oops:+oops: $_oops}" "$_end" \
		"$(grep -e '^vireo: ' -e 'qemu' /tmp/bench-report.txt | grep -v -e '^vireo: blk ' -e '^vireo: net ' | head -n 2 | tr '\n' '|')"
}

# The host KVM's exit counters while a guest runs (debugfs sums them over
# live VMs only, so they are sampled each second; the last sample is
# within a second of the guest's end, boot included). Only where run.sh
# asks (BENCH_KVM_STATS=1: the nested test host, no other VMs running).
kvm_stats() {
	for _s in exits mmio_exits io_exits halt_exits irq_injections \
		  irq_window_exits insn_emulation pf_fixed pf_guest \
		  tlb_flush signal_exits request_irq_exits; do
		printf '%s=%s ' $_s "$(cat /sys/kernel/debug/kvm/$_s 2>/dev/null)"
	done
}

# The running VMM's pid (vireo or QEMU), if there is one.
vmm_pid() {
	for _p in /proc/[0-9]*; do
		case "$(tr '\0' ' ' < "$_p/cmdline" 2>/dev/null)" in
		timeout* | sh\ * | */sh\ *) ;;	# its wrappers
		*"vireo"*" run "* | *qemu-system-x86_64*) echo "${_p#/proc/}"; return ;;
		esac
	done
}

# CPU time of PID: total=cpu/guest/system for the whole process (exited
# threads included), then the live threads summed by name (digits
# dropped), in clock ticks; cpu is user+system (a vCPU thread's user time
# includes the guest time it ran), system the kernel's part (for a vCPU
# thread: the host KVM's work on its exits, not the VMM's own).
thread_cpu() {
	cat /proc/"$1"/stat /proc/"$1"/task/*/stat 2>/dev/null | awk '{
		match($0, /\(.*\)/)
		c = NR == 1 ? "total" : substr($0, RSTART + 1, RLENGTH - 2)
		gsub(/[0-9]+/, "", c); gsub(/[ \/]/, "_", c)
		split(substr($0, RSTART + RLENGTH + 1), f, " ")
		cpu[c] += f[12] + f[13]; guest[c] += f[41]; sys[c] += f[13]
		if (NR == 1) printf "total=%d/%d/%d ", cpu[c], guest[c], sys[c]
	} END { for (c in cpu) if (c != "total") printf "%s=%d/%d/%d ", c, cpu[c], guest[c], sys[c] }'
}

# grew FILE "k=v ...": no value in the sample is below FILE's (if any),
# and none is missing (an exited thread). A value a/b compares a.
grew() {
	[ -s "$1" ] || return 0
	printf '%s\n%s\n' "$(cat "$1")" "$2" | awk '
		NR == 1 { for (i = 1; i <= NF; i++) { split($i, kv, "="); old[kv[1]] = kv[2] + 0 } }
		NR == 2 { for (i = 1; i <= NF; i++) { split($i, kv, "="); seen[kv[1]] = 1
			if ((kv[1] in old) && kv[2] + 0 < old[kv[1]]) bad = 1 } }
		END { for (k in old) if (!(k in seen) && old[k] > 0) bad = 1; exit bad }'
}

# total_grew FILE SAMPLE: SAMPLE's total= is not below FILE's. Threads
# come and go (and get renamed), so only the process total must grow.
total_grew() {
	[ -s "$1" ] || return 0
	printf '%s\n%s\n' "$(cat "$1")" "$2" | awk '
		{ for (i = 1; i <= NF; i++) if ($i ~ /^total=/) { split($i, kv, "="); t[NR] = kv[2] + 0 } }
		END { exit !((2 in t) && t[2] >= t[1]) }'
}

# counted LABEL COMMAND...: run COMMAND, then a BENCH-KVM line for LABEL
# with the exits its guest caused, if the host KVM shows them, and a
# BENCH-CPU line with the CPU time of the VMM's threads.
counted() {
	_label=$1
	shift
	rm -f /tmp/kvm-last /tmp/cpu-last
	if [ "${BENCH_KVM_STATS:-0}" = 1 ] || [ "${BENCH_CPU_STATS:-0}" = 1 ]; then
		_vmm=
		_tick=0
		while :; do
			# BENCH_KVM_EVERY=N: the KVM counters every N s only.
			_tick=$((_tick + 1))
			if [ "${BENCH_KVM_STATS:-0}" = 1 ] &&
			   [ $((_tick % ${BENCH_KVM_EVERY:-1})) = 0 ] &&
			   [ -r /sys/kernel/debug/kvm/exits ]; then
				_s=$(kvm_stats)
				# Counters only grow while the VM lives: a
				# sample where one fell was taken while it was
				# being torn down.
				case "$_s" in
				exits=0\ *|exits=\ *) ;;
				*) grew /tmp/kvm-last "$_s" &&
					echo "$_s" > /tmp/kvm-last ;;
				esac
			fi
			[ -n "$_vmm" ] || _vmm=$(vmm_pid)
			if [ -n "$_vmm" ]; then
				_c=$(thread_cpu "$_vmm")
				[ -n "$_c" ] && total_grew /tmp/cpu-last "$_c" &&
					echo "$_c" > /tmp/cpu-last
			fi
			sleep 1
		done &
		_sampler=$!
	fi
	"$@"
	if [ -n "${_sampler:-}" ]; then
		kill "$_sampler" 2>/dev/null
		wait "$_sampler" 2>/dev/null
		_sampler=
	fi
	[ -s /tmp/kvm-last ] && echo "BENCH-KVM vmm=$_label $(cat /tmp/kvm-last)"
	[ -s /tmp/cpu-last ] && echo "BENCH-CPU vmm=$_label $(cat /tmp/cpu-last)"
	return 0
}

# interleave RUNS: the functions vireo and qemu, in turn, RUNS times each
# (and vireo as vireo-base with the baseline binary, if there is one),
# then each function named in $extra (its label: _ becomes -).
extra=
interleave() {
	_i=0
	while [ $_i -lt "$1" ]; do
		counted vireo vireo vireo
		counted qemu qemu
		for _f in $extra; do
			_l=$(echo "$_f" | tr _ -)
			counted "$_l" "$_f" "$_l"
		done
		if [ -x ./vireo-base ]; then
			vireo_bin=./vireo-base
			counted vireo-base vireo vireo-base
			vireo_bin=./vireo
		fi
		_i=$((_i + 1))
	done
}

# vireo_vm MEMORY ARGS...: vireo with the tools disk, plus ARGS ($vireo_bin
# picks the binary).
vireo_bin=./vireo
vm_cpus=1
vireo_vm() {
	_mem=$1
	shift
	timeout "$vm_timeout" "$vireo_bin" run --kernel guest/vmlinuz --initrd guest/initramfs.cpio \
		--memory "$_mem" --cpus "$vm_cpus" --cmdline "$append" \
		--disk path=guest/tools.img,readonly=on,serial=vireo-tools,transport=mmio \
		"$@"
}

# The benchmarked device's transport on both VMMs (BENCH_TRANSPORT):
# mmio (QEMU's microvm default), or pci (vireo's default: modern
# virtio-pci with MSI-X; QEMU microvm with its PCIe host bridge, its NIC
# without a boot ROM, which it would look for and not find).
transport=${BENCH_TRANSPORT:-mmio}
case "$transport" in
pci) qemu_machine=microvm,pcie=on qemu_virtio=pci qemu_nic=,romfile= ;;
*) transport=mmio qemu_machine=microvm qemu_virtio=device qemu_nic= ;;
esac
echo "BENCH-NOTE transport=$transport"

# qemu_vm MEMORY ARGS...: QEMU -M microvm (the anchor), the same.
qemu_vm() {
	_mem=$1
	shift
	timeout "$vm_timeout" qemu/bin/qemu-system-x86_64.sh -L qemu/share/qemu \
		-M "$qemu_machine" -enable-kvm -cpu host -m "$_mem" -smp "$vm_cpus" -nodefaults \
		-no-user-config -display none -serial stdio -no-reboot \
		-name qemu,process=qemu,debug-threads=on \
		-kernel guest/vmlinuz -initrd guest/initramfs.cpio \
		-append "$append" \
		-drive file=guest/tools.img,format=raw,if=none,id=t,readonly=on \
		-device virtio-blk-device,drive=t,serial=vireo-tools "$@"
}

# wait_out FILE PATTERN SECONDS: until FILE holds PATTERN; 1 on timeout.
wait_out() {
	_n=0
	while ! grep -q -- "$2" "$1" 2>/dev/null; do
		_n=$((_n + 1))
		[ "$_n" -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
}

# net_host_side: give vt0 (created by the VMM) the host address and serve
# iperf3 (its pid in $server).
net_host_side() {
	_n=0
	while [ ! -e /sys/class/net/vt0 ] && [ $_n -lt 300 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	ip addr add 10.77.0.1/24 dev vt0
	ip link set vt0 up
	hosttools/bin/iperf3.sh -s > /dev/null 2>&1 &
	server=$!
}

# net_run_vm KIND FUNCTION LABEL: boot the VM FUNCTION starts with a NIC
# on vt0, serve the host side, report its results as KIND lines.
net_run_vm() {
	"$2" < /dev/null > /tmp/net-vm.out 2>&1 &
	_vm=$!
	net_host_side
	wait $_vm
	kill $server
	report "$1" "$3" < /tmp/net-vm.out
}
