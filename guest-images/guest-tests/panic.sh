#!/bin/sh
# Crash the kernel; pvpanic reports it and vireo exits with status 3.
echo c > /proc/sysrq-trigger
