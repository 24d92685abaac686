#!/bin/sh
# Integration tests that boot the real Debian guest. They need a KVM that
# runs stock Linux: run.sh calls this inside the nested test host, or
# directly on a host with hardware KVM.
# usage: linux.sh VIREO KERNEL INITRD
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
vireo=$1
kernel=$2
initrd=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/vireo-linux.XXXXXX")
export VIREO_CACHE_DIR=$work/cache
trap 'rm -rf "$work"' EXIT

# boot NAME TEST [vireo args]: run guest test TEST; output in $work/NAME.out,
# vireo's status in $rc, the RESULT line in $result.
boot() {
	_name=$1
	_test=$2
	shift 2
	timeout 180 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
		--cmdline "console=ttyS0 panic=-1 vireo.test=$_test" "$@" \
		< /dev/null > "$work/$_name.out" 2>&1
	rc=$?
	result=$(grep '^RESULT' "$work/$_name.out" | tr -d '\r' | tail -n 1)
}

# test_exit NAME: the guest test exited 0 and vireo exited 0.
guest_ok() {
	[ "$rc" = 0 ] && grep -q "VIREO-TEST-EXIT=0" "$work/$1.out"
}

why() {
	echo "rc=$rc; $(grep -v -E 'evm:|Key type|ima:|CPUID\[' "$work/$1.out" | tail -n 6 | tr '\n' '|')"
}

check_info() { # check_info NAME CPUS MIN_KB MAX_KB
	_cpus=$(field cpus "$result")
	_mem=$(field mem_kb "$result")
	_rtc=$(field rtc "$result")
	_now=$(date +%s)
	if ! guest_ok "$1"; then
		fail "$1" "$(why "$1")"
	elif [ "$_cpus" != "$2" ] || [ "$_mem" -lt "$3" ] || [ "$_mem" -gt "$4" ]; then
		fail "$1" "guest saw cpus=$_cpus mem_kb=$_mem (want $2, $3..$4 KiB)"
	elif [ "$_rtc" -lt $((_now - 30)) ] || [ "$_rtc" -gt "$_now" ]; then
		fail "$1" "guest RTC $_rtc, host clock $_now"
	else
		pass "$1"
	fi
}

boot boot_1cpu info --cpus 1 --memory 256M
check_info boot_1cpu 1 200000 262144

boot boot_2cpu info --cpus 2 --memory 256M
check_info boot_2cpu 2 200000 262144
[ "$(field online "$result")" = 0-1 ] || fail boot_2cpu_online "online CPUs: $(field online "$result")"

boot boot_4cpu info --cpus 4 --memory 384M
check_info boot_4cpu 4 300000 393216

# More RAM than fits below the 3 GiB hole: the rest lands above 4 GiB.
boot memory_above_4g info --memory 3584M
check_info memory_above_4g 1 3300000 3670016
grep -q "BIOS-e820: \[mem 0x0000000100000000-0x000000011fffffff\] usable" \
	"$work/memory_above_4g.out" || fail memory_above_4g_e820 "no RAM above 4 GiB in the e820 map"

# The ELF vmlinux vireo extracted (and cached), booted both ways.
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

boot poweroff up
guest_ok poweroff && grep -q "Power down" "$work/poweroff.out" &&
	pass poweroff || fail poweroff "$(why poweroff)"

boot reboot_exits reboot
if [ "$rc" = 0 ] && grep -q "reboot: Restarting system" "$work/reboot_exits.out"; then
	pass reboot_exits
else
	fail reboot_exits "$(why reboot_exits)"
fi

# --on-reboot restart: the guest boots again; then SIGTERM ends vireo.
t=reboot_restarts
timeout 300 "$vireo" run --kernel "$kernel" --initrd "$initrd" --on-reboot restart \
	--cmdline "console=ttyS0 panic=-1 vireo.test=reboot" < /dev/null \
	> "$work/$t.out" 2>&1 &
pid=$!
n=0
while [ "$(count_of "$work/$t.out" VIREO-GUEST-UP)" -lt 2 ] && [ $n -lt 1800 ]; do
	sleep 0.1
	n=$((n + 1))
done
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
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
mkfifo "$work/in"
timeout 180 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1" < "$work/in" > "$work/$t.out" 2>&1 &
pid=$!
exec 3> "$work/in"
if wait_for "$work/$t.out" "vireo-guest:/# " 150; then
	echo 'echo "sum=$((6 * 7))"' >&3
	wait_for "$work/$t.out" "sum=42" 30
	echo poweroff >&3
fi
wait $pid
rc=$?
exec 3>&-
if [ "$rc" = 0 ] && grep -q "sum=42" "$work/$t.out"; then
	pass $t
else
	fail $t "$(why $t)"
fi

# virtio-rng on every transport x ring: the guest binds it, reads
# /dev/hwrng, and the negotiated features say what was agreed.
feature() { # feature BITSTRING N: bit N of the sysfs features string
	echo "$1" | cut -c$(($2 + 1))
}
for combo in pci:split pci:packed mmio:split mmio:packed mmio-legacy:split \
	     pci:split:-event_idx,-indirect_desc; do
	tr=${combo%%:*}
	rest=${combo#*:}
	ring=${rest%%:*}
	feat=${rest#"$ring"}
	feat=${feat#:}
	t=rng_$(echo "$tr-$ring${feat:+-plain}" | tr -d ',')
	dev="rng,transport=$tr,ring=$ring${feat:+,features=$feat}"
	boot "$t" rng --device "$dev"
	line=$(grep '^RESULT rng dev' "$work/$t.out" | tr -d '\r')
	hw=$(grep '^RESULT hwrng bytes' "$work/$t.out" | tr -d '\r')
	f=$(field features "$line")
	parent=$(field parent "$line")
	bad=
	guest_ok "$t" || bad="$(why "$t")"
	case "$tr" in
	pci) case "$parent" in 0000:00:*) ;; *) bad="$bad parent=$parent" ;; esac
	     [ "$(field msix_lines "$hw")" -ge 1 ] || bad="$bad no MSI-X" ;;
	*) [ "${parent#LNRO0005}" != "$parent" ] || bad="$bad parent=$parent" ;;
	esac
	want_packed=0
	[ "$ring" = packed ] && want_packed=1
	[ "$(feature "$f" 34)" = $want_packed ] || bad="$bad RING_PACKED=$(feature "$f" 34)"
	want_v1=1
	[ "$tr" = mmio-legacy ] && want_v1=0
	[ "$(feature "$f" 32)" = $want_v1 ] || bad="$bad VERSION_1=$(feature "$f" 32)"
	want_ev=1
	[ -n "$feat" ] && want_ev=0
	[ "$(feature "$f" 29)" = $want_ev ] || bad="$bad EVENT_IDX=$(feature "$f" 29)"
	[ "$(feature "$f" 28)" = $want_ev ] || bad="$bad INDIRECT=$(feature "$f" 28)"
	[ "$(field bytes "$hw")" = 4096 ] && [ "$(field distinct "$hw")" -gt 200 ] ||
		bad="$bad hwrng: $hw"
	[ -z "$bad" ] && pass "$t" || fail "$t" "$bad"
done

# INTx: with MSI off in the guest, virtio-pci falls back to its level-
# triggered INTx line (irqfd with resample).
t=rng_pci_intx
timeout 180 "$vireo" run --kernel "$kernel" --initrd "$initrd" \
	--cmdline "console=ttyS0 panic=-1 pci=nomsi vireo.test=rng" \
	--device rng,transport=pci < /dev/null > "$work/$t.out" 2>&1
rc=$?
hw=$(grep '^RESULT hwrng bytes' "$work/$t.out" | tr -d '\r')
if guest_ok $t && [ "$(field bytes "$hw")" = 4096 ] &&
   [ "$(field msix_lines "$hw")" = 0 ] &&
   grep -q 'IO-APIC.*fasteoi.*virtio' "$work/$t.out"; then
	pass $t
else
	fail $t "$(why $t) $hw"
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
