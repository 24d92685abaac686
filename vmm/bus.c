// SPDX-License-Identifier: GPL-2.0
#include "bus.h"

#include <errno.h>
#include <string.h>

int bus_register(struct io_bus *bus, uint64_t base, uint64_t len,
		 const struct bus_ops *ops, void *opaque, const char *name)
{
	unsigned int i, pos;

	if (!len || base + len < base)
		return -EINVAL;
	if (bus->nr == BUS_MAX_RANGES)
		return -ENOSPC;
	for (pos = 0; pos < bus->nr; pos++)
		if (bus->r[pos].base >= base)
			break;
	if (pos > 0) {
		const struct bus_range *prev = &bus->r[pos - 1];

		if (prev->base + prev->len > base)
			return -EEXIST;
	}
	if (pos < bus->nr && base + len > bus->r[pos].base)
		return -EEXIST;
	for (i = bus->nr; i > pos; i--)
		bus->r[i] = bus->r[i - 1];
	bus->r[pos] = (struct bus_range){ base, len, ops, opaque, name };
	bus->nr++;
	return 0;
}

const struct bus_range *bus_find(const struct io_bus *bus, uint64_t addr)
{
	unsigned int lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->r[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(const struct io_bus *bus, uint64_t addr, uint8_t *data,
		unsigned int len, bool is_write)
{
	const struct bus_range *r = bus_find(bus, addr);
	uint64_t off;

	if (!r || len == 0 || len > 8)
		goto unclaimed;
	off = addr - r->base;
	if (len > r->len - off)
		goto unclaimed;
	if (is_write) {
		if (r->ops->write)
			r->ops->write(r->opaque, off, data, len);
	} else if (r->ops->read) {
		r->ops->read(r->opaque, off, data, len);
	} else {
		memset(data, 0xff, len);
	}
	return true;

unclaimed:
	if (!is_write)
		memset(data, 0xff, len);
	return false;
}
