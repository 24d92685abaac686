#!/bin/sh
# Build the libFuzzer targets (clang) and run each for a bounded time.
# usage: run.sh [--quick]   (--quick: 20 s per target, for make check)
# Crashes are kept in build/fuzz/crash-*; each becomes a unit test.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/fuzz
secs=120
[ "${1:-}" = --quick ] && secs=15
if ! command -v clang > /dev/null; then
	echo "SKIP fuzz: clang is not installed (run 'make deps')"
	exit 0
fi
mkdir -p "$out"
make -s -C "$top" fuzz-build || { echo "FAIL fuzz-build: the fuzz targets do not build"; exit 1; }
"$out/mkseeds" "$out/seeds"
for t in kernel devices vring transport vdev vhost_user api snapshot migrate; do
	mkdir -p "$out/corpus-$t" "$out/seeds/$t"
	if "$out/fuzz_$t" -max_total_time=$secs -rss_limit_mb=2048 -timeout=10 \
		-artifact_prefix="$out/crash-$t-" -print_final_stats=1 \
		"$out/corpus-$t" "$out/seeds/$t" > "$out/$t.log" 2>&1; then
		echo "PASS fuzz_$t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | tr -s ' ') in ${secs}s"
	else
		echo "FAIL fuzz_$t: $(grep -m1 -E 'ERROR|SUMMARY' "$out/$t.log")"
	fi
done
