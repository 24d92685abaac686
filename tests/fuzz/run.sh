#!/bin/sh
# Build the libFuzzer targets (clang) and run each for a bounded time.
# usage: run.sh [--quick|--long] [TARGET...]   (--quick: 15 s per
# target, for make check; --long: 10 minutes each, make fuzz-long;
# otherwise 2 minutes; TARGETs: only those, e.g. api snapshot)
# Crashes are kept in build/fuzz/crash-*; each becomes a unit test. The
# corpus grows in build/fuzz/corpus-*, so each campaign starts where the
# last one stopped. Each PASS line says how many inputs ran and the
# coverage reached (libFuzzer's cov: edges, ft: features).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/fuzz
secs=120
case "${1:-}" in
--quick) secs=15; shift ;;
--long) secs=600; shift ;;
--default) shift ;;
esac
# The targets: all, or those named after the mode.
targets=${*:-kernel devices vring transport vdev vhost_user api snapshot migrate pagewalk}
if ! command -v clang > /dev/null; then
	echo "SKIP fuzz: clang is not installed (run 'make deps')"
	exit 0
fi
mkdir -p "$out"
make -s -j"$(nproc)" -C "$top" fuzz-build || { echo "FAIL fuzz-build: the fuzz targets do not build"; exit 1; }
"$out/mkseeds" "$out/seeds"
for t in $targets; do
	mkdir -p "$out/corpus-$t" "$out/seeds/$t"
	if "$out/fuzz_$t" -max_total_time=$secs -rss_limit_mb=2048 -timeout=10 \
		-artifact_prefix="$out/crash-$t-" -print_final_stats=1 \
		"$out/corpus-$t" "$out/seeds/$t" > "$out/$t.log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log" | head -n 1)
		cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$out/$t.log" | tail -n 1)
		echo "PASS fuzz_$t: ${runs:-?} inputs in ${secs}s, ${cov:-cov: ?}, corpus $(ls "$out/corpus-$t" | wc -l)"
	else
		echo "FAIL fuzz_$t: $(grep -m1 -E 'ERROR|SUMMARY' "$out/$t.log")"
	fi
done
