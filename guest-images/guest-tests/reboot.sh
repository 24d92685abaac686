#!/bin/sh
# Reboot the guest (ACPI reset register); vireo exits 0 or restarts.
sync
reboot -f
