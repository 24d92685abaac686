/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ACPI tables for the default machine: RSDP -> XSDT -> FADT (hardware-
 * reduced, with sleep control/status and reset registers), MADT (one
 * LAPIC per vCPU, the IOAPIC), MCFG (when there is a PCI host bridge) and
 * a DSDT describing \_S5, the pvpanic port, virtio-mmio devices
 * (LNRO0005) and the PCI root bridge.
 */
#ifndef VIREO_ACPI_H
#define VIREO_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vmm/mem.h"

#define ACPI_MAX_MMIO_DEVS 64

struct acpi_mmio_dev {
	uint64_t addr;
	uint32_t len;
	uint32_t gsi;
};

struct acpi_pci_host {
	uint64_t ecam;			/* bus 0 only */
	uint32_t mmio32_base, mmio32_size;
	uint32_t intx_gsi[4];		/* INTA..INTD */
	unsigned int nr_slots;		/* _PRT entries for slots 0..n-1 */
};

/* A legacy ISA device: its ports and (edge, active-high) IRQ, or -1. */
struct acpi_isa_dev {
	const char *name;		/* 4 characters, e.g. "COM1" */
	const char *hid;		/* EISA ID, e.g. "PNP0501" */
	uint16_t port;
	uint8_t len;
	int irq;
	uint16_t port2;			/* a second I/O range, or 0 */
	uint8_t len2;
};

#define ACPI_MAX_ISA_DEVS 8

struct acpi_config {
	unsigned int nr_cpus;
	/*
	 * Hardware-reduced ACPI has no legacy PIC, so Linux maps ISA IRQs
	 * only for devices the DSDT describes: list COM1, the RTC, ...
	 */
	unsigned int nr_isa;
	struct acpi_isa_dev isa[ACPI_MAX_ISA_DEVS];
	uint16_t pm_port;		/* sleep ctl, +1 sleep sts, +2 reset */
	uint8_t reset_value;
	uint8_t s5_slp_typ;
	uint16_t pvpanic_port;		/* 0: none */
	unsigned int nr_mmio;
	struct acpi_mmio_dev mmio[ACPI_MAX_MMIO_DEVS];
	const struct acpi_pci_host *pci;	/* NULL: no PCI */
};

/*
 * Build every table into buf (len bytes), to be placed at guest address
 * base. The RSDP is at buf[0]. Returns the bytes used or -ENOSPC.
 */
long acpi_build(uint8_t *buf, size_t len, uint64_t base,
		const struct acpi_config *cfg);

/* acpi_build() into guest memory at LAYOUT_ACPI; *rsdp gets its address. */
int acpi_install(const struct guest_mem *gm, const struct acpi_config *cfg,
		 uint64_t *rsdp);

/* Sum of bytes, as ACPI checksums are defined (0 when valid). */
uint8_t acpi_checksum(const uint8_t *p, size_t len);

#endif
