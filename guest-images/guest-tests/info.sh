#!/bin/sh
# What the guest sees of the machine vireo built: CPUs, memory, RTC.
cpus=$(grep -c '^processor' /proc/cpuinfo)
online=$(cat /sys/devices/system/cpu/online)
mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
rtc=$(cat /sys/class/rtc/rtc0/since_epoch 2>/dev/null || echo none)
# The processor's name (spaces as _), which vireo adds to KVM's CPUID,
# and whether the guest has the TSC-deadline timer (vireo leaves it off).
model=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1 | tr ' ' '_')
deadline=0
grep -q '^flags.* tsc_deadline_timer' /proc/cpuinfo && deadline=1
echo "RESULT cpus=$cpus online=$online mem_kb=$mem_kb rtc=$rtc date=$(date +%s) model=${model:-none} deadline=$deadline"
