// SPDX-License-Identifier: GPL-2.0
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
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

/*
 * A mapping of guest RAM: never in a host core dump; where it is the
 * memfd's (huge), huge pages where the host allows them for shared memory
 * (/sys/kernel/mm/transparent_hugepage/shmem_enabled "advise"; Debian's
 * default, "never", leaves this without effect): KVM then maps the guest
 * 2 MiB at a time, so a guest's first touches after a migration or a
 * restore fault in 512 times fewer pages.
 */
static void gm_advise(void *p, uint64_t size, bool huge)
{
	madvise(p, size, MADV_DONTDUMP);
	if (huge)
		madvise(p, size, MADV_HUGEPAGE);
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
		gm_advise(p, gm->r[i].size, true);
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

int gm_load(struct guest_mem *gm, uint64_t ram_size, int fd, enum gm_from from)
{
	struct stat st;
	unsigned int i;
	int ret;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != ram_size)
		return -EINVAL;
	if (from == GM_COPY) {
		ret = gm_create(gm, ram_size);
		for (i = 0; !ret && i < gm->nr; i++)
			if (pread_full(fd, gm->r[i].hva, gm->r[i].size,
				       (off_t)gm->r[i].fd_offset) !=
			    (ssize_t)gm->r[i].size)
				ret = -EIO;
		if (ret)
			gm_destroy(gm);
		return ret;
	}
	ret = gm_layout(gm, ram_size);
	if (ret)
		return ret;
	for (i = 0; i < gm->nr; i++) {
		void *p = mmap(NULL, gm->r[i].size, PROT_READ | PROT_WRITE,
			       (from == GM_ADOPT ? MAP_SHARED : MAP_PRIVATE) |
			       MAP_NORESERVE, fd, (off_t)gm->r[i].fd_offset);

		if (p == MAP_FAILED) {
			ret = -errno;
			while (i--)
				munmap(gm->r[i].hva, gm->r[i].size);
			memset(gm, 0, sizeof(*gm));
			gm->fd = -1;
			return ret;
		}
		gm->r[i].hva = p;
		gm_advise(p, gm->r[i].size, from == GM_ADOPT);
	}
	if (from == GM_ADOPT) {
		gm->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (gm->fd < 0) {
			ret = -errno;
			gm_destroy(gm);
			return ret;
		}
	}
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

/* mincore()'s vector for this many pages at a time: 1 GiB of RAM. */
#define POPULATE_CHUNK	(1u << 18)

long gm_populate(const struct guest_mem *gm, unsigned int max_ms)
{
	unsigned char *in = malloc(POPULATE_CHUNK);
	struct timespec t0;
	long done = 0;
	unsigned int i;

	if (!in)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];
		uint64_t at;

		for (at = 0; at < r->size / 4096; at += POPULATE_CHUNK) {
			uint64_t pages = MIN(r->size / 4096 - at,
					     (uint64_t)POPULATE_CHUNK);
			uint8_t *base = r->hva + at * 4096;
			uint64_t pg = 0, n;

			if (ms_since(&t0) >= max_ms)
				goto out;
			if (mincore(base, pages * 4096, in) < 0) {
				done = -errno;
				goto out;
			}
			while (pg < pages) {
				while (pg < pages && !(in[pg] & 1))
					pg++;
				for (n = 0; pg + n < pages && (in[pg + n] & 1); n++)
					;
				if (n && madvise(base + pg * 4096, n * 4096,
						 MADV_POPULATE_WRITE) < 0) {
					done = -errno;
					goto out;
				}
				done += (long)n;
				pg += n;
			}
		}
	}
out:
	free(in);
	return done;
}

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[4096];

	return !memcmp(p, zero, sizeof(zero));
}

int gm_save(const struct guest_mem *gm, int fd, const uint64_t *dirty)
{
	unsigned int i;

	if (ftruncate(fd, (off_t)gm->ram_size) < 0)
		return -errno;
	for (i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];
		uint64_t first = r->fd_offset / 4096, pages = r->size / 4096;
		uint64_t pg = 0;

		while (pg < pages) {
			uint64_t n = 0, bit;

			/* A run of pages to write: dirty (or all), not zero. */
			for (; pg + n < pages; n++) {
				bit = first + pg + n;
				if (dirty && !(dirty[bit / 64] & (1ULL << (bit % 64))))
					break;
				/* A diff has no holes for zeros: a hole there
				 * means "as in the base". */
				if (!dirty && page_is_zero(r->hva + (pg + n) * 4096))
					break;
				if (n == 256)
					break;
			}
			if (n && pwrite_full(fd, r->hva + pg * 4096, n * 4096,
					     (off_t)(r->fd_offset + pg * 4096)) !=
				 (ssize_t)(n * 4096))
				return -EIO;
			pg += n ? n : 1;
		}
	}
	return 0;
}

int gm_dirty_track(struct guest_mem *gm)
{
	if (!gm->dirty)
		gm->dirty = calloc((gm->ram_size / 4096 + 63) / 64, 8);
	return gm->dirty ? 0 : -ENOMEM;
}

void gm_dirty_clear(struct guest_mem *gm)
{
	if (gm->dirty)
		memset(gm->dirty, 0, (gm->ram_size / 4096 + 63) / 64 * 8);
}

void gm_mark_dirty(const struct guest_mem *gm, const void *hva, size_t len)
{
	uintptr_t a = (uintptr_t)hva;
	unsigned int i;

	if (!gm || !gm->dirty || !len)
		return;
	for (i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];
		uintptr_t base = (uintptr_t)r->hva;
		uint64_t pg, last;

		if (a < base || a - base >= r->size)
			continue;
		pg = (r->fd_offset + (a - base)) / 4096;
		last = (r->fd_offset + MIN(a - base + len, r->size) - 1) / 4096;
		for (; pg <= last; pg++)
			__atomic_fetch_or(&gm->dirty[pg / 64], 1ULL << (pg % 64),
					  __ATOMIC_RELAXED);
		return;
	}
}

void gm_destroy(struct guest_mem *gm)
{
	unsigned int i;

	free(gm->dirty);
	gm->dirty = NULL;
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

static void mark_page(struct guest_mem *gm, uint64_t page)
{
	__atomic_fetch_or(&gm->dirty[page / 64], 1ULL << (page % 64),
			  __ATOMIC_RELAXED);
}

void gm_log_merge(struct guest_mem *gm, uint64_t *log)
{
	unsigned int i;

	for (i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];
		uint64_t gp = r->gpa / 4096, pages = r->size / 4096;
		uint64_t first = r->fd_offset / 4096, p = 0, v, b;

		while (p < pages) {
			uint64_t *w = &log[(gp + p) / 64];

			if ((gp + p) % 64 || pages - p < 64) {
				/* the region's ragged ends: a bit at a time */
				b = 1ULL << ((gp + p) % 64);
				if (__atomic_fetch_and(w, ~b, __ATOMIC_SEQ_CST) & b)
					mark_page(gm, first + p);
				p++;
				continue;
			}
			v = __atomic_load_n(w, __ATOMIC_RELAXED) ?
			    __atomic_exchange_n(w, 0, __ATOMIC_SEQ_CST) : 0;
			for (; v; v &= v - 1)
				mark_page(gm, first + p + (uint64_t)__builtin_ctzll(v));
			p += 64;
		}
	}
}

uint64_t gm_low_end(const struct guest_mem *gm)
{
	return gm->nr ? gm->r[0].gpa + gm->r[0].size : 0;
}

int gm_walk(const struct guest_mem *gm, uint64_t cr0, uint64_t cr3,
	    uint64_t cr4, uint64_t efer, uint64_t la, uint64_t *gpa, char *why,
	    size_t len)
{
	const uint64_t addr_mask = GM_PTE_ADDR;
	int level = cr4 & (1u << 12) ? 5 : 4;
	uint64_t table = cr3 & addr_mask, e = 0;

	if (!(efer & (1u << 10)) || !(cr0 & (1u << 31))) {
		snprintf(why, len, "not in long mode with paging");
		return -1;
	}
	for (; level > 0; level--) {
		unsigned int idx = (unsigned int)(la >> (12 + 9 * (level - 1))) & 511;

		if (gm_read(gm, &e, table + idx * 8u, sizeof(e))) {
			snprintf(why, len, "level %d table at %#llx not in RAM",
				 level, (unsigned long long)table);
			return -1;
		}
		if (!(e & 1)) {
			snprintf(why, len, "level %d entry %#llx not present",
				 level, (unsigned long long)e);
			return -1;
		}
		if ((level == 2 || level == 3) && (e & (1u << 7))) {
			uint64_t page = 1ull << (12 + 9 * (level - 1));

			*gpa = (e & addr_mask & ~(page - 1)) | (la & (page - 1));
			return 0;
		}
		table = e & addr_mask;
	}
	*gpa = table | (la & 4095);
	return 0;
}

void gm_page_said(const struct guest_mem *gm, uint64_t gpa, char *buf, size_t len)
{
	uint64_t w[512], common = 0;
	unsigned int i, j, nz = 0, present = 0, best = 0;

	if (gm_read(gm, w, gpa & ~4095ull, sizeof(w))) {
		snprintf(buf, len, "page %#llx not in RAM",
			 (unsigned long long)gpa);
		return;
	}
	for (i = 0; i < 512; i++) {
		unsigned int same = 0;

		nz += !!w[i];
		present += w[i] & 1;
		if (!w[i] || w[i] == common)
			continue;
		for (j = i; j < 512; j++)
			same += w[j] == w[i];
		if (same > best) {
			best = same;
			common = w[i];
		}
	}
	snprintf(buf, len, "page %#llx: %u of 512 words non-zero, %u with bit 0; "
		 "%#llx %#llx %#llx %#llx ... %#llx %#llx %#llx %#llx; %#llx "
		 "%u times", (unsigned long long)(gpa & ~4095ull), nz, present,
		 (unsigned long long)w[0], (unsigned long long)w[1],
		 (unsigned long long)w[2], (unsigned long long)w[3],
		 (unsigned long long)w[508], (unsigned long long)w[509],
		 (unsigned long long)w[510], (unsigned long long)w[511],
		 (unsigned long long)common, best);
}

void gm_top_tables_said(const struct guest_mem *gm, uint64_t cr3, char *buf,
			size_t len)
{
	unsigned int i, found = 0;
	bool cr3_seen = false;
	size_t n;

	n = (size_t)snprintf(buf, len, "top page tables in RAM:");
	for (i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];
		uint64_t off;

		for (off = 0; off + 4096 <= r->size; off += 4096) {
			const uint64_t *w = (const uint64_t *)(r->hva + off);
			uint64_t gpa = r->gpa + off;

			if (!(w[511] & 1) || !(w[273] & 1) ||
			    (w[511] & 0xfff) != (w[273] & 0xfff))
				continue;
			found++;
			cr3_seen |= gpa == cr3;
			if (found <= 6 && n < len)
				n += (size_t)snprintf(buf + n, len - n, " %#llx",
						      (unsigned long long)gpa);
		}
	}
	if (n < len)
		snprintf(buf + n, len - n, "%s (%u in all; CR3's page %s them)",
			 found > 6 ? " ..." : "", found,
			 cr3_seen ? "among" : "not among");
}
