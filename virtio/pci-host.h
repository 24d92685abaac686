/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI host bridge for bus 0: configuration mechanism #1 (ports 0xCF8 and
 * 0xCFC, plus the reset control register at 0xCF9), ECAM (MMIO, announced
 * in ACPI MCFG) and the 32-bit memory window where functions' BARs live.
 * The window is one bus range owned by the host for good; accesses are
 * decoded against the BARs at the time of the access, so BARs can move
 * without touching the bus table under running vCPUs.
 *
 * A function keeps a 256-byte config image with a write mask; vireo
 * assigns BARs at creation, as firmware would.
 */
#ifndef VIREO_PCI_HOST_H
#define VIREO_PCI_HOST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../vmm/bus.h"

#define PCI_SLOTS		32
#define PCI_CFG_SIZE		256
#define PCI_NUM_BARS		6

#define PCI_VENDOR_ID		0x00
#define PCI_DEVICE_ID		0x02
#define PCI_COMMAND		0x04
#define PCI_STATUS		0x06
#define PCI_REVISION		0x08
#define PCI_CLASS_PROG		0x09
#define PCI_HEADER_TYPE		0x0e
#define PCI_BAR0		0x10
#define PCI_SUBSYS_VENDOR	0x2c
#define PCI_SUBSYS_ID		0x2e
#define PCI_CAP_PTR		0x34
#define PCI_INT_LINE		0x3c
#define PCI_INT_PIN		0x3d
#define PCI_CMD_MEM		0x0002
#define PCI_CMD_MASTER		0x0004
#define PCI_CMD_INTX_DISABLE	0x0400
#define PCI_STATUS_CAP_LIST	0x0010

struct pci_func;

struct pci_func_ops {
	/* An access inside a BAR (offset from its base). */
	void (*bar_read)(struct pci_func *f, unsigned int bar, uint64_t off,
			 uint8_t *data, unsigned int len);
	void (*bar_write)(struct pci_func *f, unsigned int bar, uint64_t off,
			  const uint8_t *data, unsigned int len);
	/* After the guest wrote config bytes [off, off + len). */
	void (*config_written)(struct pci_func *f, uint32_t off, uint32_t len);
	/* Config reads of [off, off + len) may refresh the image first. */
	void (*config_read)(struct pci_func *f, uint32_t off, uint32_t len);
};

struct pci_func {
	/*
	 * Where each BAR decodes now (0: nowhere), kept current under *lock
	 * by pci_func_update_decode(): accesses find their function from it
	 * without taking every function's lock.
	 */
	uint32_t decode[PCI_NUM_BARS];
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	uint32_t bar_size[PCI_NUM_BARS];	/* 32-bit memory BARs; 0 = none */
	unsigned int slot;
	const struct pci_func_ops *ops;
	pthread_mutex_t *lock;		/* taken around every callback */
};

struct pci_host {
	pthread_mutex_t lock;		/* the CF8 latch */
	uint32_t cf8;
	struct pci_func *slot[PCI_SLOTS];
	uint32_t mmio_base, mmio_size, mmio_next;
	void (*reset)(void *opaque);	/* 0xCF9 reset request */
	void *reset_opaque;
};

void pci_host_init(struct pci_host *h, uint32_t mmio_base, uint32_t mmio_size);
void pci_host_fini(struct pci_host *h);
/* Place f in the next free slot (from 1) and assign its BARs. -ENOSPC. */
int pci_host_add(struct pci_host *h, struct pci_func *f);

/* Bus ranges: ports 0xCF8-0xCFF, the ECAM window, the BAR window. */
extern const struct bus_ops pci_host_pio_ops;
extern const struct bus_ops pci_host_ecam_ops;
extern const struct bus_ops pci_host_mmio_ops;

/* Config helpers for function setup (and tests). */
static inline void pci_cfg_set16(struct pci_func *f, uint32_t off, uint16_t v)
{
	f->cfg[off] = (uint8_t)v;
	f->cfg[off + 1] = (uint8_t)(v >> 8);
}

static inline void pci_cfg_set32(struct pci_func *f, uint32_t off, uint32_t v)
{
	pci_cfg_set16(f, off, (uint16_t)v);
	pci_cfg_set16(f, off + 2, (uint16_t)(v >> 16));
}

static inline uint32_t pci_cfg_get32(const struct pci_func *f, uint32_t off)
{
	return (uint32_t)f->cfg[off] | (uint32_t)f->cfg[off + 1] << 8 |
	       (uint32_t)f->cfg[off + 2] << 16 | (uint32_t)f->cfg[off + 3] << 24;
}

/* Current base of a memory BAR, or 0 when decoding is off. */
uint32_t pci_bar_base(const struct pci_func *f, unsigned int bar);
/* Refresh f->decode after BARs or the command register changed. */
void pci_func_update_decode(struct pci_func *f);

/* Config space access as the guest sees it (exported for tests). */
void pci_config_access(struct pci_host *h, unsigned int slot, uint32_t off,
		       uint8_t *data, unsigned int len, bool write);

#endif
