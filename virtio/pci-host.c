// SPDX-License-Identifier: GPL-2.0
#include "pci-host.h"

#include <errno.h>
#include <string.h>

#include "../vmm/util.h"

#define CF8_ENABLE	0x80000000U
#define CF9_RESET_CPU	0x04

void pci_host_init(struct pci_host *h, uint32_t mmio_base, uint32_t mmio_size)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->mmio_base = h->mmio_next = mmio_base;
	h->mmio_size = mmio_size;
}

void pci_host_fini(struct pci_host *h)
{
	pthread_mutex_destroy(&h->lock);
}

int pci_host_add(struct pci_host *h, struct pci_func *f)
{
	unsigned int slot, bar;

	for (slot = 1; slot < PCI_SLOTS && h->slot[slot]; slot++)
		;
	if (slot == PCI_SLOTS)
		return -ENOSPC;
	for (bar = 0; bar < PCI_NUM_BARS; bar++) {
		uint32_t size = f->bar_size[bar];
		uint64_t at;

		if (!size)
			continue;
		if (size & (size - 1))
			return -EINVAL;
		at = ALIGN_UP((uint64_t)h->mmio_next, size);
		if (at + size > (uint64_t)h->mmio_base + h->mmio_size)
			return -ENOSPC;
		pci_cfg_set32(f, PCI_BAR0 + 4 * bar, (uint32_t)at);
		/* Low 4 bits: 32-bit, non-prefetchable memory; read-only. */
		put_le32(f->wmask + PCI_BAR0 + 4 * bar, ~(size - 1));
		h->mmio_next = (uint32_t)(at + size);
	}
	f->slot = slot;
	pci_func_update_decode(f);
	h->slot[slot] = f;
	return 0;
}

uint32_t pci_bar_base(const struct pci_func *f, unsigned int bar)
{
	uint16_t cmd = (uint16_t)(f->cfg[PCI_COMMAND] | f->cfg[PCI_COMMAND + 1] << 8);

	if (bar >= PCI_NUM_BARS || !f->bar_size[bar] || !(cmd & PCI_CMD_MEM))
		return 0;
	return pci_cfg_get32(f, PCI_BAR0 + 4 * bar) & ~0xfU;
}

void pci_func_update_decode(struct pci_func *f)
{
	unsigned int b;

	for (b = 0; b < PCI_NUM_BARS; b++)
		__atomic_store_n(&f->decode[b], pci_bar_base(f, b),
				 __ATOMIC_RELEASE);
}

void pci_config_access(struct pci_host *h, unsigned int slot, uint32_t off,
		       uint8_t *data, unsigned int len, bool write)
{
	struct pci_func *f = slot < PCI_SLOTS ? h->slot[slot] : NULL;
	unsigned int i;

	if (!f) {
		if (!write)
			memset(data, 0xff, len);	/* no device here */
		return;
	}
	/* Only naturally aligned 1, 2, 4-byte accesses inside the space. */
	if ((len != 1 && len != 2 && len != 4) || off % len ||
	    off >= PCI_CFG_SIZE) {
		if (!write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(f->lock);
	if (write) {
		for (i = 0; i < len; i++)
			f->cfg[off + i] = (uint8_t)((f->cfg[off + i] & ~f->wmask[off + i]) |
						    (data[i] & f->wmask[off + i]));
		pci_func_update_decode(f);
		if (f->ops->config_written)
			f->ops->config_written(f, off, len);
	} else {
		if (f->ops->config_read)
			f->ops->config_read(f, off, len);
		memcpy(data, f->cfg + off, len);
	}
	pthread_mutex_unlock(f->lock);
}

/* ---- 0xCF8 .. 0xCFF ---------------------------------------------------- */

static void pio_read(void *opaque, uint64_t off, uint8_t *data, unsigned int len)
{
	struct pci_host *h = opaque;
	uint32_t cf8;

	memset(data, 0xff, len);
	pthread_mutex_lock(&h->lock);
	cf8 = h->cf8;
	pthread_mutex_unlock(&h->lock);
	if (off == 0 && len == 4) {
		put_le32(data, cf8);
		return;
	}
	if (off < 4 || !(cf8 & CF8_ENABLE) || ((cf8 >> 16) & 0xff) ||
	    ((cf8 >> 8) & 7) || off - 4 + len > 4)
		return;
	pci_config_access(h, (cf8 >> 11) & 0x1f,
			  (cf8 & 0xfc) + (uint32_t)(off - 4), data, len, false);
}

static void pio_write(void *opaque, uint64_t off, const uint8_t *data,
		      unsigned int len)
{
	struct pci_host *h = opaque;
	uint32_t cf8;

	if (off == 0 && len == 4) {
		pthread_mutex_lock(&h->lock);
		h->cf8 = get_le32(data);
		pthread_mutex_unlock(&h->lock);
		return;
	}
	if (off == 1 && len == 1) {		/* 0xCF9: reset control */
		if ((data[0] & CF9_RESET_CPU) && h->reset)
			h->reset(h->reset_opaque);
		return;
	}
	pthread_mutex_lock(&h->lock);
	cf8 = h->cf8;
	pthread_mutex_unlock(&h->lock);
	if (off < 4 || !(cf8 & CF8_ENABLE) || ((cf8 >> 16) & 0xff) ||
	    ((cf8 >> 8) & 7) || off - 4 + len > 4)
		return;
	pci_config_access(h, (cf8 >> 11) & 0x1f,
			  (cf8 & 0xfc) + (uint32_t)(off - 4), (uint8_t *)data,
			  len, true);
}

const struct bus_ops pci_host_pio_ops = { pio_read, pio_write };

/* ---- ECAM: bus 0 only, [dev:5][fn:3][reg:12] --------------------------- */

static void ecam_access(struct pci_host *h, uint64_t off, uint8_t *data,
			unsigned int len, bool write)
{
	unsigned int slot = (off >> 15) & 0x1f, fn = (off >> 12) & 7;
	uint32_t reg = off & 0xfff;

	if (fn || off >= (1U << 20)) {
		if (!write)
			memset(data, 0xff, len);
		return;
	}
	if (reg >= PCI_CFG_SIZE && h->slot[slot]) {
		if (!write)
			memset(data, 0, len);	/* no extended capabilities */
		return;
	}
	pci_config_access(h, slot, reg, data, len, write);
}

static void ecam_read(void *opaque, uint64_t off, uint8_t *data, unsigned int len)
{
	ecam_access(opaque, off, data, len, false);
}

static void ecam_write(void *opaque, uint64_t off, const uint8_t *data,
		       unsigned int len)
{
	ecam_access(opaque, off, (uint8_t *)data, len, true);
}

const struct bus_ops pci_host_ecam_ops = { ecam_read, ecam_write };

/* ---- the BAR window ---------------------------------------------------- */

/*
 * Find the BAR holding addr from the published decode map, then take only
 * that function's lock, and check again under it (the BAR may have moved).
 */
static void bar_access(struct pci_host *h, uint64_t addr, uint8_t *data,
		       unsigned int len, bool write)
{
	unsigned int s, b;

	for (s = 0; s < PCI_SLOTS; s++) {
		struct pci_func *f = h->slot[s];

		if (!f)
			continue;
		for (b = 0; b < PCI_NUM_BARS; b++) {
			uint64_t base = __atomic_load_n(&f->decode[b],
							__ATOMIC_ACQUIRE);

			if (!base || addr < base || addr + len > base + f->bar_size[b])
				continue;
			pthread_mutex_lock(f->lock);
			if (pci_bar_base(f, b) == base) {
				if (write && f->ops->bar_write)
					f->ops->bar_write(f, b, addr - base, data, len);
				else if (!write && f->ops->bar_read)
					f->ops->bar_read(f, b, addr - base, data, len);
			}
			pthread_mutex_unlock(f->lock);
			return;
		}
	}
}

static void mmio_read(void *opaque, uint64_t off, uint8_t *data, unsigned int len)
{
	struct pci_host *h = opaque;

	memset(data, 0xff, len);
	bar_access(h, h->mmio_base + off, data, len, false);
}

static void mmio_write(void *opaque, uint64_t off, const uint8_t *data,
		       unsigned int len)
{
	struct pci_host *h = opaque;

	bar_access(h, h->mmio_base + off, (uint8_t *)data, len, true);
}

const struct bus_ops pci_host_mmio_ops = { mmio_read, mmio_write };
