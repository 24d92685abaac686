#!/bin/sh
# Runs inside the nested test host (or on hardware KVM): snapshot create
# time and size, and restore latency (from starting the restore to the
# restored guest's first console line), vireo vs QEMU, same guest (256 MiB,
# 1 vCPU, 64 MiB of it filled, printing a line every 20 ms), interleaved.
#  vireo: 'vireo ctl snapshot' (pause, state + memory files, resume), then
#         'vireo restore --snapshot'.
#  QEMU:  QMP migrate to "exec:cat > FILE" (bandwidth unlimited, as for a
#         save to file), then the same command line with -incoming
#         "exec:cat FILE".
# One SNAP line per step: SNAP vmm=V step=create|restore ms=... size_kb=...
# usage: snap.sh DIR RUNS   (DIR holds vireo, stamp, qmp, guest/, qemu/)
set -u
d=$1
runs=$2
cd "$d"
. ./common.sh
append="console=ttyS0 panic=-1 vireo.test=snap-tick"
export STAMP_TIMEOUT=120
s=/tmp/snapbench
mkdir -p "$s"

vireo_run() { # vireo_run ARGS...: the VM's own options
	./vireo run --kernel guest/vmlinuz --initrd guest/initramfs.cpio \
		--memory 256M --cpus 1 --cmdline "$append" "$@"
}
qemu_run() {
	qemu/bin/qemu-system-x86_64.sh -L qemu/share/qemu -M microvm \
		-enable-kvm -cpu host -m 256M -smp 1 -nodefaults -no-user-config \
		-display none -serial stdio -no-reboot -kernel guest/vmlinuz \
		-initrd guest/initramfs.cpio -append "$append" "$@"
}
create() { # create VMM: boot, wait, snapshot into $s/snap; a STAMP line
	rm -rf "$s/snap" "$s/api.sock" "$s/qmp.sock"
	mkdir -p "$s/snap"
	if [ "$1" = vireo ]; then
		vireo_run --api-sock "$s/api.sock" < /dev/null > "$s/boot.out" 2>&1 &
	else
		qemu_run -qmp "unix:$s/qmp.sock,server=on,wait=off" \
			< /dev/null > "$s/boot.out" 2>&1 &
	fi
	_pid=$!
	if ! wait_out "$s/boot.out" TICK-READY "$vm_timeout"; then
		echo "BENCH-NOTE snap vmm=$1: the guest did not come up; $(tail -n 3 "$s/boot.out" | tr -d '\r' | tr '\n' '|')" > "$s/note"
		kill -9 $_pid
		wait $_pid 2>/dev/null
		return 1
	fi
	sleep 1
	if [ "$1" = vireo ]; then
		./stamp - ./vireo ctl --api-sock "$s/api.sock" snapshot "$s/snap"
	else
		./stamp - ./qmp "$s/qmp.sock" --wait-migration \
			'{"execute": "migrate-set-parameters", "arguments": {"max-bandwidth": 107374182400}}' \
			"{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"exec:cat > $s/snap/qemu.state\"}}"
	fi
	kill -9 $_pid
	wait $_pid 2>/dev/null
	return 0	# (not the killed VMM's status)
}
restore() { # restore VMM: a STAMP line at the first TICK, the VM stopped
	if [ "$1" = vireo ]; then
		STAMP_STOP=1 ./stamp TICK ./vireo restore --snapshot "$s/snap" < /dev/null
	else
		STAMP_STOP=1 ./stamp TICK sh -c "exec qemu/bin/qemu-system-x86_64.sh -L qemu/share/qemu -M microvm \
			-enable-kvm -cpu host -m 256M -smp 1 -nodefaults -no-user-config \
			-display none -serial stdio -no-reboot -kernel guest/vmlinuz \
			-initrd guest/initramfs.cpio -append '$append' \
			-incoming 'exec:cat $s/snap/qemu.state'" < /dev/null
	fi
}
i=0
while [ $i -lt "$runs" ]; do
	for vmm in vireo qemu; do
		rm -f "$s/note"
		if ! c=$(create $vmm 2> "$s/create.out"); then
			cat "$s/note"
			continue
		fi
		size=$(du -k "$s/snap" | tail -n 1 | cut -f1)
		echo "SNAP vmm=$vmm step=create ${c#STAMP } size_kb=$size"
		case "$c" in *" status=0 "*) ;; *)
			echo "BENCH-NOTE snap vmm=$vmm: create: $(tail -n 3 "$s/create.out" | tr -d '\r' | tr '\n' '|')" ;;
		esac
		r=$(restore $vmm 2> "$s/restore.out")
		echo "SNAP vmm=$vmm step=restore ${r#STAMP } size_kb=$size"
		case "$r" in *" status=0 "*) ;; *)
			echo "BENCH-NOTE snap vmm=$vmm: restore: $(grep -v TICK "$s/restore.out" | tail -n 3 | tr -d '\r' | tr '\n' '|')" ;;
		esac
	done
	i=$((i + 1))
done
