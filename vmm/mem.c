// SPDX-License-Identifier: GPL-2.0
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "layout.h"
#include "util.h"

#define GM_MAX_RAM (1ULL << 40)

int gm_layout(struct guest_mem *gm, uint64_t ram_size)
{
	uint64_t low;

	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	if (!ram_size || !IS_ALIGNED(ram_size, 4096) || ram_size > GM_MAX_RAM)
		return -EINVAL;
	low = MIN(ram_size, LAYOUT_MMIO_HOLE);
	gm->r[0].gpa = 0;
	gm->r[0].size = low;
	gm->nr = 1;
	if (ram_size > low) {
		gm->r[1].gpa = LAYOUT_4G;
		gm->r[1].size = ram_size - low;
		gm->r[1].fd_offset = low;
		gm->nr = 2;
	}
	gm->ram_size = ram_size;
	return 0;
}

int gm_create(struct guest_mem *gm, uint64_t ram_size)
{
	unsigned int i;
	int ret;

	ret = gm_layout(gm, ram_size);
	if (ret)
		return ret;
	gm->fd = memfd_create("vireo-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (gm->fd < 0)
		return -errno;
	if (ftruncate(gm->fd, (off_t)ram_size) < 0) {
		ret = -errno;
		goto err_close;
	}
	for (i = 0; i < gm->nr; i++) {
		void *p = mmap(NULL, gm->r[i].size, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_NORESERVE, gm->fd,
			       (off_t)gm->r[i].fd_offset);

		if (p == MAP_FAILED) {
			ret = -errno;
			goto err_unmap;
		}
		gm->r[i].hva = p;
		/* Guest RAM never belongs in a host core dump. */
		madvise(p, gm->r[i].size, MADV_DONTDUMP);
	}
	return 0;

err_unmap:
	while (i--)
		munmap(gm->r[i].hva, gm->r[i].size);
err_close:
	close(gm->fd);
	gm->fd = -1;
	return ret;
}

void gm_destroy(struct guest_mem *gm)
{
	unsigned int i;

	for (i = 0; i < gm->nr; i++)
		if (gm->r[i].hva)
			munmap(gm->r[i].hva, gm->r[i].size);
	if (gm->fd >= 0)
		close(gm->fd);
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t end;
	unsigned int i;

	if (add_overflows(gpa, len, &end))
		return NULL;
	for (i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];

		if (gpa >= r->gpa && end <= r->gpa + r->size)
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

long gm_discard(const struct guest_mem *gm, void *hva, size_t len)
{
	uintptr_t start = ((uintptr_t)hva + 4095) & ~(uintptr_t)4095;
	uintptr_t end = ((uintptr_t)hva + len) & ~(uintptr_t)4095;
	unsigned int i;

	if ((uintptr_t)hva + len < (uintptr_t)hva)
		return -EINVAL;
	if (end <= start)
		return 0;
	for (i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];
		uintptr_t base = (uintptr_t)r->hva;

		if (start < base || end > base + r->size)
			continue;
		if (gm->fd < 0) {
			if (madvise((void *)start, end - start, MADV_DONTNEED))
				return -errno;
		} else if (fallocate(gm->fd, FALLOC_FL_PUNCH_HOLE |
				     FALLOC_FL_KEEP_SIZE,
				     (off_t)(r->fd_offset + (start - base)),
				     (off_t)(end - start))) {
			return -errno;
		}
		return (long)(end - start);
	}
	return -EFAULT;
}

int gm_read(const struct guest_mem *gm, void *dst, uint64_t gpa, size_t len)
{
	const void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src,
	     size_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

uint64_t gm_low_end(const struct guest_mem *gm)
{
	return gm->nr ? gm->r[0].gpa + gm->r[0].size : 0;
}
