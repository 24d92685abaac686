#!/bin/sh
# Helpers for in-guest tests (sourced, not run).

# disk_by_serial SERIAL: the /dev/vdX whose virtio-blk serial is SERIAL
# ("none": the one disk without a serial).
disk_by_serial() {
	_want=$1
	[ "$_want" = none ] && _want=
	for b in /sys/block/vd*; do
		[ -e "$b/serial" ] || continue
		if [ "$(cat "$b/serial" 2>/dev/null)" = "$_want" ]; then
			echo "/dev/${b##*/}"
			return 0
		fi
	done
	echo "no disk with serial $1 (there are:$(for b in /sys/block/vd*; do
		printf ' %s=%s' "${b##*/}" "$(cat "$b/serial" 2>/dev/null)"; done))" >&2
	return 1
}

# mount_tools: the read-only tools disk (fio, e2fsprogs, ...) at /opt.
mount_tools() {
	grep -q ' /opt ' /proc/mounts && return 0
	t=$(disk_by_serial vireo-tools) || return 1
	mount -o ro -t ext4 "$t" /opt
}

# cmdline_arg NAME: the value of vireo.NAME= on the kernel command line.
cmdline_arg() {
	sed -n "s/.*vireo\.$1=\([^ ]*\).*/\1/p" /proc/cmdline
}

# disk_ios DEV: requests DEV has completed (reads + writes, from sysfs).
disk_ios() {
	awk '{ print $1 + $5 }' "/sys/block/${1#/dev/}/stat"
}

# wait_disk_ios DEV N SECONDS: wait until DEV completes N more requests
# (or SECONDS pass); prints how many it completed meanwhile.
wait_disk_ios() {
	_start=$(disk_ios "$1")
	_n=0
	while [ $(($(disk_ios "$1") - _start)) -lt "$2" ] &&
	      [ $_n -lt $(($3 * 10)) ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
	echo $(($(disk_ios "$1") - _start))
}

# test_disk: the disk under test: serial vireo.serial= (default vireo-test).
test_disk() {
	s=$(cmdline_arg serial)
	disk_by_serial "${s:-vireo-test}"
}

# net_up: eth0 at 10.77.0.2/24, NET-UP said, and the host (10.77.0.1)
# answering a ping within 90 s (the benchmarks' iperf3 server).
net_up() {
	ip addr add 10.77.0.2/24 dev eth0 && ip link set eth0 up || return 1
	echo NET-UP
	_n=0
	until ping -c 1 -W 1 10.77.0.1 > /dev/null 2>&1; do
		_n=$((_n + 1))
		[ $_n -lt 90 ] || return 1
	done
}

# wait_size_change FILE: until FILE (a sysfs size) changes, up to 60 s.
wait_size_change() {
	_s0=$(cat "$1")
	_n=0
	while [ "$(cat "$1")" = "$_s0" ] && [ $_n -lt 600 ]; do
		sleep 0.1
		_n=$((_n + 1))
	done
}
