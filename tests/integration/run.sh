#!/bin/sh
# All integration tests: the tiny guest on this machine's own KVM, then the
# real Linux guest where a KVM can run it: directly on hardware KVM, else
# inside the nested test host.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
# The tiny-guest tests on this machine's /dev/kvm; without one, inside the
# nested test host (the "host" group below).
# run_checked NAME LOG SCRIPT ARGS...: run a test script here, its lines
# to stdout; a FAIL line if it stopped before its last line.
run_checked() {
	_name=$1
	_log=$2
	shift 2
	sh "$@" | tee "$_log" | grep -v '^END-OF-TESTS'
	grep -q '^END-OF-TESTS' "$_log" ||
		echo "FAIL $_name: the tests stopped early after '$(grep -E '^(PASS|FAIL|SKIP) ' "$_log" | tail -n 1)'"
}
host_here=yes
if [ -c /dev/kvm ]; then
	run_checked host-tests "$build/host.log" \
		"$top/tests/integration/host.sh" "$build"
else
	host_here=
fi

kind=$(sh "$top/tests/integration/kvm-kind.sh")
if [ "$kind" = hardware ]; then
	echo "integration: /dev/kvm is hardware-backed; booting Linux guests directly"
	run_checked linux-tests "$build/linux.log" \
		"$top/tests/integration/linux.sh" "$build/vireo" \
		"$build/guest/vmlinuz" "$build/guest/initramfs.cpio" \
		"$build/guest/tools.img" "" "$build/unixcat"
	exit 0
fi
echo "integration: /dev/kvm here is $kind ($(ls /sys/module | grep -m1 '^kvm_' || echo absent)); booting Linux guests inside the nested test host"
payload=$build/payload
rm -rf "$payload"
mkdir -p "$payload/tests" "$payload/guest"
cp "$build/vireo" "$payload/"
cp "$build/guest/vmlinuz" "$build/guest/initramfs.cpio" \
	"$build/guest/tools.img" "$payload/guest/"
cp "$top/tests/integration/lib.sh" "$top/tests/integration/linux.sh" \
	"$top/tests/integration/host.sh" "$payload/tests/"
cp "$build/tiny.elf" "$payload/"
# The test host has only busybox: carry e2fsck and debugfs for disk checks,
# iperf3 for network tests, and the vhost-user backends: qemu-storage-daemon
# and DPDK's testpmd, with the drivers testpmd loads at run time.
for p in e2fsck debugfs iperf3 qemu-storage-daemon dpdk-testpmd curl dtc vdpa lz4; do
	command -v "$p" > /dev/null || continue
	"$top/guest-images/testhost/add-binary.sh" "$p" "$payload/hosttools"
done
if command -v dpdk-testpmd > /dev/null; then
	"$top/guest-images/testhost/add-binary.sh" --plugins \
		"$(dpkg -L librte-net-vhost23 2>/dev/null | grep -m1 '/pmds-[^/]*$')" \
		"$payload/hosttools" librte_net_vhost librte_bus_vdev librte_mempool_ring
fi
cp "$build/unixcat" "$build/pagecmp" "$payload/"
# One test host per group of tests (linux.sh SECTIONS): the test host
# itself (QEMU TCG emulating SVM) now and then dies without a word mid-run
# (QEMU's -d cpu_reset log says "Triple fault") or stops making progress
# (TEST-HOST.md). A group whose host died or hung is started again; each
# new run goes on where the last one died: the tests that reported before
# the death keep their results and are not run again (VIREO_DONE, lib.sh
# already()), so the test that was running when the host died runs again
# and the ones after it run for the first time. Each new run prints a
# RETRY line. The runs go on while they make progress: a group gives up
# after three runs in a row that reported no test (the same test lost
# each time), after ten runs, or when the nested run's time is spent.
# (A fixed five runs in all was too few: the CI of 2026-12-06 lost two
# groups whose fifth run was still reporting tests, two of their deaths
# at the test host's start.)
# The nested run's time is a hard limit: VIREO_NESTED_BUDGET_S seconds
# (45 minutes; 75 under make check-full) for every test host of every
# group, so make check stays inside CI's 90 minutes with its build and
# other suites however often the test host dies (the CI of 2026-12-07
# spent 75 minutes here when only new runs were held to 50). No test host
# runs past it: each gets what is left of it (or its group's own limit,
# if less), and a group that cannot start fails, saying so.
# VIREO_SECTIONS="net balloon" runs only those groups (while developing);
# VIREO_ONLY="NAME..." only those tests in them.
sections=${VIREO_SECTIONS:-boot virtio blk console net vhost snapshot migrate migrate-bad balloon vdpa}
[ -n "$host_here" ] || [ -n "${VIREO_SECTIONS:-}" ] || sections="host $sections"
# The tests named in done-GROUP (VIREO_DONE) reported in the group's
# earlier runs; kept-GROUP (VIREO_KEPT) holds the values those runs kept
# for later tests (KEEP lines, lib.sh carry()).
for sec in $sections; do
	cat > "$payload/run-$sec.sh" <<RUN
cd /payload
TMPDIR=/tmp VIREO_KVM_KIND=nested VIREO_FULL=${VIREO_FULL:-} VIREO_ONLY="${VIREO_ONLY:-}" VIREO_STALL_S=${VIREO_STALL_S:-} VIREO_KLOG="${VIREO_KLOG:-}" VIREO_DONE="\$(cat done-$sec)" VIREO_KEPT="\$(cat kept-$sec)" SECTIONS=$sec sh tests/linux.sh /payload/vireo \\
	guest/vmlinuz guest/initramfs.cpio guest/tools.img /payload/hosttools/bin \\
	/payload/unixcat
RUN
done
# host.sh calls curl, dtc and lz4 by name: the carried ones, through shims.
cat > "$payload/run-host.sh" <<'RUN'
mkdir -p /tmp/shims
for p in curl dtc lz4; do
	[ -x /payload/hosttools/bin/$p.sh ] || continue
	printf '#!/bin/sh\nexec /payload/hosttools/bin/%s.sh "$@"\n' $p > /tmp/shims/$p
	chmod +x /tmp/shims/$p
done
cd /payload
PATH=/tmp/shims:$PATH TMPDIR=/tmp VIREO_KVM_KIND=nested VIREO_DONE="$(cat done-host)" sh tests/host.sh /payload
RUN
# The test host's kernel: the vdpa group needs Linux 6.12 (vduse and
# vhost_vdpa); the rest run on the 6.1 cloud kernel, measured stable.
testhost_dir() {
	case $1 in
	vdpa) echo "$build/testhost-vdpa" ;;
	*) echo "$build/testhost" ;;
	esac
}
# Seconds a group's test host may run before it counts as hung (with the
# long tests of make check-full, VIREO_FULL=1, ten minutes more).
group_timeout() {
	case $1 in
	snapshot) _t=1200 ;;
	migrate|migrate-bad|virtio) _t=900 ;;
	*) _t=720 ;;
	esac
	echo $((_t ${VIREO_FULL:+ + 600}))
}
budget=${VIREO_NESTED_BUDGET_S:-$((2700 ${VIREO_FULL:+ + 1800}))}
logs=$build/nested
rm -rf "$logs"
mkdir -p "$logs"
start=$(date +%s)
# left: seconds of the nested run's budget not yet spent.
left() {
	echo $((budget - ($(date +%s) - start)))
}
# Not worth starting a test host with less than this.
min_run_s=90
# reported LOG...: the names of the tests that reported in these logs.
reported() {
	cat "$@" | tr -d '\r' | grep -E '^(PASS|FAIL|SKIP) ' | sed -E 's/^[A-Z]+ ([^: ]+).*/\1/' | tr '\n' ' '
}
for sec in $sections; do
	log=$logs/$sec.log
	t0=$(date +%s)
	done_names=
	attempt=0
	stuck=0
	gave_up=
	while :; do
		_left=$(left)
		if [ "$_left" -lt $min_run_s ]; then
			# (after a death, the loop below gives up first)
			echo "FAIL testhost-$sec: not run: the nested run's $((budget / 60)) minutes (VIREO_NESTED_BUDGET_S) were spent before this group's turn"
			status=skip
			break
		fi
		_limit=$(group_timeout $sec)
		[ "$_left" -ge "$_limit" ] || _limit=$_left
		attempt=$((attempt + 1))
		echo "$done_names" > "$payload/done-$sec"
		cat "$log".try* 2>/dev/null | tr -d '\r' | sed -n 's/^KEEP //p' > "$payload/kept-$sec"
		TESTHOST_QEMU_LOG=$log.qemu$attempt TESTHOST_DIR=$(testhost_dir $sec) \
			TESTHOST_SILENT_S=120 \
			"$top/guest-images/testhost/run.sh" --timeout "$_limit" "$payload" \
			"run-$sec.sh" > "$log.try$attempt" 2>&1
		status=$?
		cp "$log.try$attempt" "$log"
		[ $status = 125 ] || break
		last=$(grep -E '^(PASS|FAIL|SKIP) ' "$log" | tail -n 1)
		if grep -q -i 'triple fault' "$log.qemu$attempt" 2>/dev/null; then
			how="died (triple fault)"
		else
			how="died or hung"
		fi
		# Held to what was left of the budget, and stopped at it.
		[ "$_limit" -lt "$(group_timeout $sec)" ] && [ "$(left)" -le 5 ] &&
			how="was stopped when the nested run's time ran out"
		# Dead after its last test: every result is in.
		if tr -d '\r' < "$log" | grep -q '^END-OF-TESTS'; then
			echo "NOTE testhost-$sec: the nested test host $how after its last test; its results are whole"
			status=0
			break
		fi
		# A FAIL just before the death is suspect (CI on 2026-12-06:
		# net_iothread_mmio's guest saw no network as its test host
		# was dying): it runs again in the new test host, its FAIL
		# kept as a RETRY line (counted as a retry, not a result).
		_last=$(tr -d '\r' < "$log.try$attempt" | grep -E '^(PASS|FAIL|SKIP) ' | tail -n 1)
		case "$_last" in
		FAIL\ *)
			_n=$(echo "$_last" | sed -E 's/^FAIL ([^: ]+).*/\1/')
			sed -i "s/^FAIL $_n: /RETRY $_n: failed just before its test host died, so it runs again; it said: /" "$log.try$attempt"
			;;
		esac
		# Progress: tests this run reported (a FAIL made a RETRY above
		# is none, so a test that dies with its host every time stops).
		if [ -n "$(reported "$log.try$attempt")" ]; then
			stuck=0
		else
			stuck=$((stuck + 1))
		fi
		if [ $stuck -ge 3 ]; then
			gave_up="three runs in a row reported no test"
		elif [ $attempt -ge 10 ]; then
			gave_up="ten runs in all"
		elif [ "$(left)" -lt $min_run_s ]; then
			gave_up="the nested run's $((budget / 60)) minutes (VIREO_NESTED_BUDGET_S) are spent"
		fi
		[ -z "$gave_up" ] || break
		done_names=$(reported "$log".try*)
		echo "RETRY testhost-$sec: the nested test host $how after '${last:-its start}' (its last line: '$(tail -n 1 "$log" | tr -d '\r' | cut -c1-120)'; logs in $log.try$attempt); a new test host goes on from there ($(echo $done_names | wc -w) tests done)"
	done
	[ "$status" != skip ] || continue
	# The results of all runs: each test reported in exactly one.
	cat "$log".try* | tr -d '\r' | grep -E '^(PASS|FAIL|SKIP|RETRY|NOTE) '
	# Every retry of every attempt counts (make check reports them).
	guests=$(cat "$log".try* | tr -d '\r' | grep -c '^RETRY ')
	echo "RETRIES testhost-$sec: guests=$guests testhost=$((attempt - 1))"
	echo "NOTE testhost-$sec: $(($(date +%s) - t0)) s in the nested test host ($attempt run(s))"
	if [ $status = 125 ]; then
		echo "FAIL testhost-$sec: the nested test host $how; the run stopped after '$(grep -E '^(PASS|FAIL|SKIP) ' "$log" | tail -n 1)' (no more runs: ${gave_up:-?})"
	elif ! cat "$log".try* | grep -q -E '^(PASS|FAIL|SKIP) '; then
		echo "FAIL testhost-$sec: no results (status $status): $(tail -n 3 "$log" | tr '\n' '|')"
	elif ! tr -d '\r' < "$log" | grep -q '^END-OF-TESTS'; then
		echo "FAIL testhost-$sec: the tests stopped early (status $status) after '$(grep -E '^(PASS|FAIL|SKIP) ' "$log" | tail -n 1 | tr -d '\r')': $(tail -n 3 "$log" | tr -d '\r' | tr '\n' '|')"
	fi
done
