#!/bin/sh
# What the guest sees of the machine vireo built: CPUs, memory, RTC.
cpus=$(grep -c '^processor' /proc/cpuinfo)
online=$(cat /sys/devices/system/cpu/online)
mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
rtc=$(cat /sys/class/rtc/rtc0/since_epoch 2>/dev/null || echo none)
echo "RESULT cpus=$cpus online=$online mem_kb=$mem_kb rtc=$rtc date=$(date +%s)"
