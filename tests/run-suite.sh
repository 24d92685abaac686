#!/bin/sh
# Run one test suite, show its output, and record its counts in
# build/results/NAME as "P F S". A suite reports either a line
# "SUITE-RESULT passed=P failed=F skipped=S" or one PASS/FAIL/SKIP line per
# test. A suite that dies without reporting counts as one failure.
# usage: run-suite.sh NAME COMMAND [ARGS...]
set -u
name=$1
shift
top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$top/build/results"
log=$top/build/results/$name.log
"$@" 2>&1 | tee "$log"
status=$(tail -n 1 "$log" > /dev/null; echo 0)
line=$(grep '^SUITE-RESULT ' "$log" | tail -n 1)
if [ -n "$line" ]; then
	p=$(echo "$line" | sed 's/.*passed=\([0-9]*\).*/\1/')
	f=$(echo "$line" | sed 's/.*failed=\([0-9]*\).*/\1/')
	s=$(echo "$line" | sed 's/.*skipped=\([0-9]*\).*/\1/')
else
	p=$(grep -c '^PASS ' "$log")
	f=$(grep -c '^FAIL ' "$log")
	s=$(grep -c '^SKIP ' "$log")
fi
if [ $((p + f + s)) = 0 ]; then
	echo "FAIL $name: the suite reported no results"
	f=1
fi
echo "$p $f $s" > "$top/build/results/$name"
echo "SUITE $name: $p passed, $f failed, $s skipped"
[ "$f" = 0 ]
