#!/bin/sh
# The unit tests in UNIT_JOBS processes at once (default: one per CPU),
# each a share of the suites (unit-tests --shard), then one SUITE-RESULT
# line for them all (tests/run-suite.sh reads it).
# usage: run.sh UNIT_TESTS_BINARY
set -u
bin=$1
n=${UNIT_JOBS:-$(nproc 2>/dev/null || echo 1)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vireo-unit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
k=0
while [ $k -lt "$n" ]; do
	( "$bin" --shard $k/"$n" > "$tmp/$k" 2>&1; echo $? > "$tmp/$k.rc" ) &
	k=$((k + 1))
done
wait
p=0
f=0
k=0
while [ $k -lt "$n" ]; do
	grep -v '^SUITE-RESULT ' "$tmp/$k"
	line=$(grep '^SUITE-RESULT ' "$tmp/$k")
	rc=$(cat "$tmp/$k.rc" 2>/dev/null)
	if [ -z "$line" ]; then
		echo "FAIL unit shard $k/$n: it died without a result (status ${rc:-?}): $(tail -n 3 "$tmp/$k" | tr '\n' '|')"
		f=$((f + 1))
	else
		p=$((p + $(echo "$line" | sed 's/.*passed=\([0-9]*\).*/\1/')))
		sf=$(echo "$line" | sed 's/.*failed=\([0-9]*\).*/\1/')
		f=$((f + sf))
		# Its result said all passed, then it failed on the way out
		# (LeakSanitizer, say).
		if [ "$sf" = 0 ] && [ "$rc" != 0 ]; then
			echo "FAIL unit shard $k/$n: status ${rc:-?} after all its tests passed (see above)"
			f=$((f + 1))
		fi
	fi
	k=$((k + 1))
done
echo "SUITE-RESULT passed=$p failed=$f skipped=0"
[ "$f" = 0 ]
