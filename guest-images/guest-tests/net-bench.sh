#!/bin/sh
# iperf3 against the host (10.77.0.1) for the network benchmark: guest to
# host (tx) and host to guest (rx), 1 and 4 streams, vireo.bench_runtime
# seconds each; one RESULT line per run.
. /tests/lib.sh
mount_tools && net_up || exit 1
rt=$(sed -n 's/.*vireo.bench_runtime=\([0-9]*\).*/\1/p' /proc/cmdline)
for job in tx:1 rx:1 tx:4 rx:4; do
	dir=${job%:*}
	streams=${job#*:}
	[ "$dir" = rx ] && r=-R || r=
	/opt/bin/iperf3 -c 10.77.0.1 -t "${rt:-10}" -P "$streams" -f m $r \
		> /tmp/iperf.out 2>&1 || { cat /tmp/iperf.out; exit 1; }
	# The receiver's total ([SUM] with several streams).
	mbit=$(awk '/receiver/ && (/SUM/ || s == 1) { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") m = $i } END { print m }' s="$streams" /tmp/iperf.out)
	echo "RESULT bench job=$dir-$streams mbit=$mbit"
done
