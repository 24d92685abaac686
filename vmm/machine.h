/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The default x86_64 machine: a VM with COM1, the CMOS RTC, the i8042
 * reset line, ACPI power management, pvpanic, ACPI tables, and a kernel
 * loaded per vm_config. machine_create() unwinds whatever it built if a
 * step fails.
 */
#ifndef VIREO_MACHINE_H
#define VIREO_MACHINE_H

#include "../devices/platform.h"
#include "../devices/rtc.h"
#include "../devices/serial.h"
#include "../devices/vdev.h"
#include "../virtio/mmio.h"
#include "../virtio/pci.h"
#include "config.h"
#include "console.h"
#include "loop.h"
#include "vm.h"

/* A virtio device: its class instance and its transport. */
struct machine_vdev {
	const struct vdev_class *cls;
	struct virtio_dev *vdev;
	enum virtio_transport transport;
	bool wired;
	uint64_t mmio_base;
	unsigned int gsi;
	struct virtio_mmio mmio;
	struct virtio_pci pci;
};

struct machine {
	const struct vm_config *cfg;
	struct vm vm;
	struct console *con;
	struct ev_loop *loop;
	struct ev_handler exit_h;
	bool exit_watched;
	bool vm_created;
	bool devices_ready;
	struct serial com1;
	struct rtc rtc;
	struct i8042 i8042;
	struct pm pm;
	struct pvpanic pvpanic;
	bool pci_ready;
	struct pci_host pci;
	unsigned int nr_vdevs;
	struct machine_vdev *vdevs[CONFIG_MAX_DEVICES + 1];
};

/* The host terminal changed size. */
void machine_resize(struct machine *m);

int machine_create(struct machine *m, const struct vm_config *cfg,
		   struct console *con, struct ev_loop *loop, char *err,
		   size_t errlen);
/* Run until something ends the VM; returns why. vCPUs are stopped. */
enum vm_exit_reason machine_run(struct machine *m);
void machine_destroy(struct machine *m);

#endif
