#!/bin/sh
# The combined load of the mix benchmark (tests/bench/mix.sh), all at
# once for vireo.bench_runtime seconds: fio 4k random reads on the disk
# vireo-b1 and 4k random writes on vireo-b2 (numjobs=2, iodepth 32 each)
# while iperf3 -P 2 sends to the host. One RESULT line per figure, and
# one for how busy the guest's CPUs were meanwhile (from /proc/stat: all
# but idle and iowait). vireo.bench_fio_rate=N caps each fio job at N
# IOPS (fio --rate_iops): with the same disk work asked of every VMM,
# the network figure then says what the NIC costs the guest.
. /tests/lib.sh
d1=$(disk_by_serial vireo-b1) && d2=$(disk_by_serial vireo-b2) &&
	mount_tools && net_up || exit 1
rt=$(sed -n 's/.*vireo.bench_runtime=\([0-9]*\).*/\1/p' /proc/cmdline)
rt=${rt:-10}
rate=$(sed -n 's/.*vireo.bench_fio_rate=\([0-9]*\).*/\1/p' /proc/cmdline)
# cpu_ticks: "BUSY TOTAL IRQ STEAL", the guest's CPU ticks over all CPUs
# so far: all but idle and iowait (steal included), all, hard and soft
# interrupts (hard ones only with IRQ_TIME_ACCOUNTING, which Debian's
# cloud kernel lacks), steal (runnable while the host ran something else).
cpu_ticks() {
	awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i
		print t - $5 - $6, t, $7 + $8, $9; exit }' /proc/stat
}
# irqs: "RX TX BLK TIMER IPI", the interrupts the guest took so far from
# its NIC's receive and transmit queues (virtioN-input/output), its disks'
# (virtioN-req), its local APIC timers (LOC) and other CPUs (RES, CAL,
# TLB: reschedules, function calls, TLB shootdowns).
irqs() {
	awk 'function sum(  i, s) { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; return s }
		/virtio[0-9]+-input\./ { r += sum() }
		/virtio[0-9]+-output\./ { t += sum() }
		/virtio[0-9]+-req\./ { b += sum() }
		$1 == "LOC:" { l += sum() }
		$1 == "RES:" || $1 == "CAL:" || $1 == "TLB:" { p += sum() }
		END { print r + 0, t + 0, b + 0, l + 0, p + 0 }' /proc/interrupts
}
# iperf3 starts first and runs a little longer: fio's whole run is loaded.
/opt/bin/iperf3 -c 10.77.0.1 -t $((rt + 3)) -P 2 -f m > /tmp/iperf.out 2>&1 &
ipid=$!
sleep 1
set -- $(cpu_ticks) $(irqs)
b0=$1 t0=$2 q0=$3 s0=$4 r0=$5 x0=$6 k0=$7 l0=$8 p0=$9
/opt/bin/fio --ioengine=libaio --direct=1 --bs=4k --iodepth=32 --numjobs=2 \
	--runtime="$rt" --ramp_time=1 --time_based --group_reporting \
	--output-format=terse ${rate:+--rate_iops=$rate} \
	--name=r --filename="$d1" --rw=randread \
	--name=w --filename="$d2" --rw=randwrite --new_group \
	> /tmp/fio.out 2>&1 || { cat /tmp/fio.out; exit 1; }
set -- $(cpu_ticks) $(irqs)
busy=$(( ($1 - b0) * 100 / ($2 - t0) ))
irq=$(( ($3 - q0) * 100 / ($2 - t0) ))
steal=$(( ($4 - s0) * 100 / ($2 - t0) ))
rxirq=$(( ($5 - r0) / rt )) txirq=$(( ($6 - x0) / rt ))
birq=$(( ($7 - k0) / rt )) tirq=$(( ($8 - l0) / rt )) ipi=$(( ($9 - p0) / rt ))
wait $ipid || { cat /tmp/iperf.out; exit 1; }
# fio's terse v3, a line per group: read IOPS $8, write IOPS $49.
awk -F';' '$1 == 3 && $3 == "r" { printf "RESULT bench job=mix-randread iops=%s\n", $8 }
	$1 == 3 && $3 == "w" { printf "RESULT bench job=mix-randwrite iops=%s\n", $49 }' /tmp/fio.out
mbit=$(awk '/receiver/ && /SUM/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") m = $i } END { print m }' /tmp/iperf.out)
echo "RESULT bench job=mix-net-tx iops=0 mbit=$mbit"
echo "RESULT bench job=mix-guest-busy iops=0 pct=$busy"
# Where it went: interrupt handling and steal, in percent of its time;
# the NIC's (receive, transmit), the disks', the timers' and the other
# CPUs' interrupts per second of fio's nominal run time (it runs a second
# or two longer: the same for every VMM).
echo "RESULT bench job=mix-guest-irq iops=0 pct=$irq"
echo "RESULT bench job=mix-guest-steal iops=0 pct=$steal"
echo "RESULT bench job=mix-irqs-rx iops=$rxirq"
echo "RESULT bench job=mix-irqs-tx iops=$txirq"
echo "RESULT bench job=mix-irqs-blk iops=$birq"
echo "RESULT bench job=mix-irqs-timer iops=$tirq"
echo "RESULT bench job=mix-irqs-ipi iops=$ipi"
