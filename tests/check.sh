#!/bin/sh
# make check: every suite, then one summary line over all of them.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rm -rf build/results
sh tests/run-suite.sh unit sh tests/unit/run.sh build/unit-tests
sh tests/run-suite.sh fuzz sh tests/fuzz/run.sh --quick
sh tests/run-suite.sh integration sh tests/integration/run.sh
p=0
f=0
s=0
summary=
for r in build/results/*; do
	case "$r" in *.log) continue ;; esac
	read -r rp rf rs < "$r"
	p=$((p + rp))
	f=$((f + rf))
	s=$((s + rs))
	summary="$summary $(basename "$r")=$rp/$rf/$rs"
done
echo "suites (passed/failed/skipped):$summary"
# How often the nested test host made a test (or a whole group) run again.
retries=$(awk '/^RETRIES /{
	split($3, g, "="); split($4, h, "=");
	sub(/^testhost-/, "", $2); sub(/:$/, "", $2);
	if (g[2] + h[2] > 0) groups = groups " " $2 "=" g[2] "+" h[2];
	tg += g[2]; th += h[2] }
	END { printf "%d guest boots and %d test-host runs were retried%s\n", tg, th,
		groups ? " (by group, guests+hosts:" groups ")" : "" }' \
	build/results/integration.log 2>/dev/null)
echo "retries: ${retries:-none recorded}"
echo "$p passed, $f failed, $s skipped"
[ "$f" = 0 ]
