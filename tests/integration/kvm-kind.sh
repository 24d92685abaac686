#!/bin/sh
# Which KVM backs /dev/kvm here: "hardware" (kvm_intel/kvm_amd: stock Linux
# guests run), "software" (another backend, such as kvm_pvm, that cannot
# run them; see TEST-HOST.md) or "none".
if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ]; then
	echo none
elif [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; then
	echo hardware
else
	echo software
fi
