/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest memory: memfd-backed MAP_SHARED regions (shareable with vhost-user
 * backends and snapshots). The only way any code touches guest memory is
 * gm_ptr()/gm_read()/gm_write(), which check the whole range, with
 * overflow, against a single RAM region and fail softly.
 */
#ifndef VIREO_MEM_H
#define VIREO_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GM_MAX_REGIONS 4

struct gm_region {
	uint64_t gpa;		/* guest-physical start */
	uint64_t size;
	uint8_t *hva;		/* host mapping */
	uint64_t fd_offset;	/* offset of this region in the memfd */
};

struct guest_mem {
	int fd;			/* memfd, -1 for test memory */
	uint64_t ram_size;	/* total RAM over all regions */
	unsigned int nr;
	struct gm_region r[GM_MAX_REGIONS];
	/*
	 * Pages vireo's devices wrote (used rings, buffers they filled), by
	 * memfd offset / 4096, while dirty tracking is on; else NULL.
	 */
	uint64_t *dirty;
};

/*
 * Split ram_size into regions around the 32-bit MMIO hole (the layout
 * alone, no allocation): fills gm->r and gm->nr. Returns -EINVAL if
 * ram_size is zero, not page-aligned or larger than 1 TiB.
 */
int gm_layout(struct guest_mem *gm, uint64_t ram_size);

/* gm_layout() plus a memfd of ram_size mapped MAP_SHARED. -errno. */
int gm_create(struct guest_mem *gm, uint64_t ram_size);
void gm_destroy(struct guest_mem *gm);

/* How gm_load() makes RAM of a file. */
enum gm_from {
	GM_COPY,	/* copied into a fresh memfd (for vhost-user backends) */
	GM_PRIVATE,	/* mapped copy-on-write: clones of one snapshot share
			 * its pages (gm->fd is then -1: nothing else can map
			 * this RAM) */
	GM_ADOPT,	/* fd is a memfd that becomes this RAM (migration) */
};

/*
 * RAM of ram_size from a snapshot's memory file, or a migration's memfd,
 * fd (laid out at the memfd's offsets), as from says. -errno; -EINVAL if
 * the file is not ram_size bytes.
 */
int gm_load(struct guest_mem *gm, uint64_t ram_size, int fd, enum gm_from from);
/*
 * Copy pages of RAM into fd at their memfd offsets, zero pages left as
 * holes; with dirty (a bitmap of ram_size / 4096 bits), only those set.
 * The file is sized to ram_size. -errno.
 */
int gm_save(const struct guest_mem *gm, int fd, const uint64_t *dirty);
/*
 * Map into this process's page tables the pages of RAM that its file holds
 * already (mincore; holes stay holes), so that KVM's first touch of each
 * finds them; stops after about max_ms. The number of pages mapped, or
 * -errno (-EINVAL before Linux 5.14, which lacks MADV_POPULATE_WRITE).
 */
long gm_populate(const struct guest_mem *gm, unsigned int max_ms);

/*
 * Host pointer to [gpa, gpa + len) if the whole range lies in one RAM
 * region, else NULL. len == 0 is allowed (a pointer at gpa if gpa is RAM
 * or the end of a region).
 */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy to/from guest memory; -EFAULT if any byte is outside RAM. */
int gm_read(const struct guest_mem *gm, void *dst, uint64_t gpa, size_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src,
	     size_t len);

/*
 * Give the host pages of [hva, hva + len) back (the guest reads zeros
 * there next): the range is shrunk to whole pages and must lie in one RAM
 * region. Returns the bytes released, or -errno.
 */
long gm_discard(const struct guest_mem *gm, void *hva, size_t len);

/* Start recording the pages devices write (gm->dirty). -ENOMEM. */
int gm_dirty_track(struct guest_mem *gm);
/* Forget what was recorded (after a snapshot took it). */
void gm_dirty_clear(struct guest_mem *gm);
/* Devices wrote [hva, hva + len): mark its pages, if tracking. */
void gm_mark_dirty(const struct guest_mem *gm, const void *hva, size_t len);

/*
 * Move the pages set in log, a bitmap by guest-physical page (bit gpa /
 * 4096, written concurrently by others: vhost), into gm->dirty (by memfd
 * offset), clearing them in log. Bits outside RAM stay. gm->dirty must
 * be there.
 */
void gm_log_merge(struct guest_mem *gm, uint64_t *log);

/* End of the RAM region below 4 GiB (the first region's end). */
uint64_t gm_low_end(const struct guest_mem *gm);

/* An x86 page-table entry's address bits. */
#define GM_PTE_ADDR 0x000ffffffffff000ull

/*
 * The guest's own page tables, walked from CR3 (4 or 5 levels, long mode
 * only, 2 MiB and 1 GiB pages too): 0 and the guest-physical address of
 * linear address la in *gpa, or -1 and how far the walk got in why
 * ("level L entry E not present", a table outside RAM). Every table is
 * read through gm_read(): the tables are the guest's, anything at all.
 * A check of KVM_TRANSLATE, which has said "not mapped" for a vCPU
 * sitting at that very rip.
 */
int gm_walk(const struct guest_mem *gm, uint64_t cr0, uint64_t cr3,
	    uint64_t cr4, uint64_t efer, uint64_t la, uint64_t *gpa, char *why,
	    size_t len);

/*
 * What the page at gpa holds, in 64-bit words: how many are non-zero, how
 * many have bit 0 (present, for a page table), the first and last four
 * and the most common non-zero one. For a page table that stopped mapping
 * what the vCPU runs: did one entry change, or the whole page?
 */
void gm_page_said(const struct guest_mem *gm, uint64_t gpa, char *buf, size_t len);

/*
 * Pages of guest RAM that look like a 64-bit Linux top page table (the
 * direct map's entry, 273, and the kernel's, 511, both present): how
 * many, and the first few. A vCPU whose CR3 page is not among them has
 * either lost its page table or had its CR3 changed under it.
 */
void gm_top_tables_said(const struct guest_mem *gm, uint64_t cr3, char *buf,
			size_t len);

#endif
