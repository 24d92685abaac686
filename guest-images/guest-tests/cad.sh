#!/bin/sh
# Ctrl-Alt-Del from the host's keyboard (API SendCtrlAltDel): the kernel
# sees the keyboard, and the key press restarts the guest.
echo "RESULT kbd lines=$(dmesg | grep -c -i -E 'serio: i8042 KBD port|input: AT .* keyboard')"
dmesg | grep -i -E 'i8042|atkbd|serio|keyboard' | head -n 8
echo CAD-READY
sleep 60
echo "RESULT no reboot"
