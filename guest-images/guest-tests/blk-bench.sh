#!/bin/sh
# fio on the disk with serial vireo-bench: 4k random read and write at
# iodepth 32, 128k sequential read at iodepth 8; one RESULT line per job.
. /tests/lib.sh
dev=$(disk_by_serial vireo-bench) && mount_tools || exit 1
rt=$(sed -n 's/.*vireo.bench_runtime=\([0-9]*\).*/\1/p' /proc/cmdline)
for job in randread:4k:32 randwrite:4k:32 read:128k:8; do
	set -- $(echo "$job" | tr : ' ')
	rw=$1 bs=$2 qd=$3
	/opt/bin/fio --name=bench --filename="$dev" --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --ioengine=libaio --direct=1 \
		--runtime="${rt:-10}" --ramp_time=2 --time_based \
		--output-format=terse > /tmp/fio.out 2>&1 || { cat /tmp/fio.out; exit 1; }
	awk -F';' -v rw="$rw" -v bs="$bs" '$1 == 3 {
		if (rw == "randwrite") { kb = $48; io = $49 } else { kb = $7; io = $8 }
		print "RESULT bench job=" rw "-" bs " iops=" io " kbs=" kb
	}' /tmp/fio.out
done
