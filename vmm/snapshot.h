/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Snapshot files. A snapshot is a state file and a memory file:
 *  - the state file is a flattened device tree (libfdt), readable with
 *    "dtc -I dtb -O dts": a format version, a CRC-32 over the whole blob
 *    (its own cell zeroed), the machine (RAM size, vCPUs), every vCPU's
 *    and the VM's KVM state, the platform devices' registers, and every
 *    virtio device: its class, the options it was made with, and its
 *    transport, device-model and class state, all plain structs;
 *  - the memory file holds guest RAM at the memfd's offsets, zero pages
 *    left as holes (a diff snapshot holds only the pages written since
 *    the last snapshot, over a base named in its state file).
 *
 * Reading is split from applying: snapshot_parse() turns untrusted bytes
 * into a struct snapshot, checking the header, the CRC, every length and
 * count (BAD-INPUTS 24); it is fuzzed. Applying it (vmm/machine.c) then
 * leaves the rest to the device models' and KVM's own checks.
 */
#ifndef VIREO_SNAPSHOT_H
#define VIREO_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../devices/platform.h"
#include "../devices/rtc.h"
#include "../devices/serial.h"
#include "../virtio/mmio.h"
#include "../virtio/pci.h"
#include "config.h"
#include "vcpu-state.h"

#define SNAPSHOT_VERSION	1
#define SNAPSHOT_MAX_SIZE	(64u << 20)
#define SNAPSHOT_DEV_STATE_MAX	4096

struct snapshot_dev {
	const struct vdev_class *cls;
	char id[64];
	char spec[4400];		/* the options it was made with */
	struct virtio_opts opts;
	struct console_config console;	/* the console class's options */
	bool pci;
	struct virtio_pci_state pci_state;
	struct virtio_mmio_state mmio_state;
	struct virtio_state virtio;
	uint32_t dev_state_len;
	uint8_t dev_state[SNAPSHOT_DEV_STATE_MAX];
};

struct snapshot {
	uint64_t mem_size;
	unsigned int cpus;
	bool virtio_console;		/* the terminal is hvc0 */
	bool diff;			/* the memory file holds dirty pages */
	char mem_base[4096];		/* diff: the full memory file below it */
	struct vcpu_state *vcpu;	/* cpus of them */
	struct vm_kvm_state kvm;
	struct serial_state com1;
	struct rtc_state rtc;
	struct i8042_state i8042;
	unsigned int nr_devs;
	struct snapshot_dev *dev;	/* nr_devs of them */
};

/*
 * Check and read a state file's bytes into s. 0, or -EINVAL with err
 * naming what is wrong (bad magic, version, CRC, a truncated or oversized
 * part, a count out of range, an unknown device class).
 */
int snapshot_parse(const uint8_t *buf, size_t len, struct snapshot *s,
		   char *err, size_t errlen);
void snapshot_free(struct snapshot *s);

/* Recompute the CRC of a state file edited in place (tests). */
void snapshot_seal(uint8_t *blob, size_t len);

/* Serialize s (the vireo that writes it fills it). -errno. */
int snapshot_encode(const struct snapshot *s, uint8_t **out, size_t *len);

#endif
