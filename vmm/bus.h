/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The I/O bus: port-I/O and MMIO exits are dispatched through a sorted
 * table of non-overlapping ranges. Ranges are registered before the vCPUs
 * start and never removed while they run, so lookups need no lock; devices
 * that move (PCI BARs) decode inside a range they own for good.
 */
#ifndef VIREO_BUS_H
#define VIREO_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct bus_ops {
	/* Fill data[0..len) (little-endian) for a read at offset. */
	void (*read)(void *opaque, uint64_t offset, uint8_t *data,
		     unsigned int len);
	/* Handle a write of data[0..len) at offset. */
	void (*write)(void *opaque, uint64_t offset, const uint8_t *data,
		      unsigned int len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

#define BUS_MAX_RANGES 128

struct io_bus {
	unsigned int nr;
	struct bus_range r[BUS_MAX_RANGES];
};

/* Add [base, base + len); -EEXIST on overlap, -ENOSPC when full. */
int bus_register(struct io_bus *bus, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque, const char *name);

/* The range holding addr, or NULL. */
const struct bus_range *bus_find(const struct io_bus *bus, uint64_t addr);

/*
 * Dispatch an access of len bytes at addr. An access that no range holds
 * entirely reads as all ones and writes are dropped; returns false then.
 */
bool bus_access(const struct io_bus *bus, uint64_t addr, uint8_t *data,
		unsigned int len, bool is_write);

#endif
