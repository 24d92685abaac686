// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/layout.h"
#include "vmm/util.h"

START_TEST(layout_small)
{
	struct guest_mem gm;

	ck_assert_int_eq(gm_layout(&gm, 256 * MiB), 0);
	ck_assert_uint_eq(gm.nr, 1);
	ck_assert_uint_eq(gm.r[0].gpa, 0);
	ck_assert_uint_eq(gm.r[0].size, 256 * MiB);
	ck_assert_uint_eq(gm_low_end(&gm), 256 * MiB);
}
END_TEST

START_TEST(layout_splits_at_hole)
{
	static const uint64_t sizes[] = { 3 * GiB, 3 * GiB + 512 * MiB, 4 * GiB,
					  8 * GiB };
	struct guest_mem gm;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		ck_assert_int_eq(gm_layout(&gm, sizes[i]), 0);
		ck_assert_uint_eq(gm.r[0].size, MIN(sizes[i], LAYOUT_MMIO_HOLE));
		ck_assert_uint_eq(gm.ram_size, sizes[i]);
		if (sizes[i] <= LAYOUT_MMIO_HOLE) {
			ck_assert_uint_eq(gm.nr, 1);
			continue;
		}
		ck_assert_uint_eq(gm.nr, 2);
		ck_assert_uint_eq(gm.r[1].gpa, LAYOUT_4G);
		ck_assert_uint_eq(gm.r[1].size, sizes[i] - LAYOUT_MMIO_HOLE);
		ck_assert_uint_eq(gm.r[1].fd_offset, LAYOUT_MMIO_HOLE);
	}
}
END_TEST

START_TEST(layout_rejects)
{
	struct guest_mem gm;

	ck_assert_int_eq(gm_layout(&gm, 0), -EINVAL);
	ck_assert_int_eq(gm_layout(&gm, 4097), -EINVAL);
	ck_assert_int_eq(gm_layout(&gm, (1ULL << 40) + 4096), -EINVAL);
}
END_TEST

START_TEST(ptr_bounds)
{
	struct guest_mem gm;

	test_mem_init(&gm, 0x1000, 0x4000);
	ck_assert_ptr_nonnull(gm_ptr(&gm, 0x1000, 0x4000));
	/* The boundary: ends exactly at the top of RAM, and one past. */
	ck_assert_ptr_nonnull(gm_ptr(&gm, 0x4fff, 1));
	ck_assert_ptr_null(gm_ptr(&gm, 0x4fff, 2));
	ck_assert_ptr_nonnull(gm_ptr(&gm, 0x5000, 0));
	ck_assert_ptr_null(gm_ptr(&gm, 0x5001, 0));
	ck_assert_ptr_null(gm_ptr(&gm, 0x0fff, 1));
	ck_assert_ptr_null(gm_ptr(&gm, 0, 0x2000));
	/* Overflow of gpa + len must not wrap into RAM. */
	ck_assert_ptr_null(gm_ptr(&gm, 0x2000, UINT64_MAX));
	ck_assert_ptr_null(gm_ptr(&gm, UINT64_MAX, 2));
	test_mem_fini(&gm);
}
END_TEST

START_TEST(ptr_never_spans_regions)
{
	struct guest_mem gm;

	ck_assert_int_eq(gm_create(&gm, 3 * GiB + 64 * MiB), 0);
	ck_assert_ptr_nonnull(gm_ptr(&gm, LAYOUT_MMIO_HOLE - 8, 8));
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_MMIO_HOLE - 8, 16));
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_MMIO_HOLE, 1));
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_IOAPIC, 4));
	ck_assert_ptr_nonnull(gm_ptr(&gm, LAYOUT_4G, 64 * MiB));
	ck_assert_ptr_null(gm_ptr(&gm, LAYOUT_4G, 64 * MiB + 1));
	/* Both halves are the same memfd, at their offsets. */
	*(uint32_t *)gm_ptr(&gm, LAYOUT_4G, 4) = 0xfeedf00d;
	ck_assert_uint_eq(gm.r[1].fd_offset, LAYOUT_MMIO_HOLE);
	gm_destroy(&gm);
}
END_TEST

START_TEST(read_write_soft_fail)
{
	struct guest_mem gm;
	uint8_t buf[16] = { 1, 2, 3 };

	test_mem_init(&gm, 0, 4096);
	ck_assert_int_eq(gm_write(&gm, 4090, buf, 6), 0);
	ck_assert_int_eq(gm_write(&gm, 4091, buf, 6), -EFAULT);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(gm_read(&gm, buf, 4090, 3), 0);
	ck_assert_uint_eq(buf[2], 3);
	ck_assert_int_eq(gm_read(&gm, buf, 4095, 2), -EFAULT);
	test_mem_fini(&gm);
}
END_TEST

static bool bit(const uint64_t *b, uint64_t n)
{
	return b[n / 64] & (1ULL << (n % 64));
}

/*
 * A backend's log by guest-physical page lands in the dirty bitmap by
 * memfd offset: regions with ragged ends, a whole word in the middle,
 * the region's last page; a bit in the hole between regions stays.
 */
START_TEST(log_merge)
{
	static uint64_t log[8], dirty[8];
	struct guest_mem gm = { .fd = -1, .nr = 2, .dirty = dirty };
	static const uint64_t set[] = { 3, 50, 100, 128, 140, 191, 299 };
	static const uint64_t want[] = { 3, 10, 38, 50, 101, 209 };
	unsigned int i;
	uint64_t n;

	gm.r[0] = (struct gm_region){ .gpa = 0, .size = 10 * 4096, .fd_offset = 0 };
	gm.r[1] = (struct gm_region){ .gpa = 100 * 4096, .size = 200 * 4096,
				      .fd_offset = 10 * 4096 };
	gm.ram_size = 210 * 4096;
	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		log[set[i] / 64] |= 1ULL << (set[i] % 64);
	gm_log_merge(&gm, log);
	for (n = 0, i = 0; n < 210; n++) {
		bool w = i < sizeof(want) / sizeof(want[0]) && want[i] == n;

		if (bit(dirty, n) != w)
			ck_abort_msg("page %llu of the memfd: dirty %d, want %d",
				     (unsigned long long)n, bit(dirty, n), w);
		i += w;
	}
	for (n = 0; n < 512; n++)
		ck_assert_int_eq(bit(log, n), n == 50);
}
END_TEST

/* Page tables for gm_walk(): PML4 at 1 MiB, then PDPT, PD, PT. */
#define WT_PML4 0x100000ull
#define WT_PDPT 0x101000ull
#define WT_PD 0x102000ull
#define WT_PT 0x103000ull
#define WT_CR0 0x80050033ull
#define WT_EFER 0xd01ull

static void wt_put(struct guest_mem *gm, uint64_t table, unsigned int i,
		   uint64_t e)
{
	ck_assert_int_eq(gm_write(gm, table + i * 8u, &e, sizeof(e)), 0);
}

/* gm_walk() in long mode with paging; why holds 96 bytes. */
static int wt_walk(struct guest_mem *gm, uint64_t cr3, uint64_t cr4,
		   uint64_t la, uint64_t *gpa, char *why)
{
	return gm_walk(gm, WT_CR0, cr3, cr4, WT_EFER, la, gpa, why, 96);
}

/* 0xffffffffc0000dcc (indices 511, 511, 0, 0) mapped to 0x200dcc. */
static void wt_chain(struct guest_mem *gm)
{
	wt_put(gm, WT_PML4, 511, WT_PDPT | 0x63);
	wt_put(gm, WT_PDPT, 511, WT_PD | 0x63);
	wt_put(gm, WT_PD, 0, WT_PT | 0x63);
	wt_put(gm, WT_PT, 0, 0x200000 | 0x163);
}

/* Whether this process's page tables map the page at p (pagemap bit 63). */
static bool mapped(const void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &e, sizeof(e),
			       (off_t)((uintptr_t)p / 4096 * sizeof(e))),
			 (ssize_t)sizeof(e));
	close(fd);
	return e >> 63;
}

/*
 * gm_populate() maps the pages the memfd holds (written through another
 * mapping, as a migration's source writes them) and only those: holes
 * stay holes, so nothing is allocated; and it stops at its time limit.
 */
START_TEST(populate_maps_what_the_file_holds)
{
	struct guest_mem gm;
	uint8_t *other;
	long n;

	ck_assert_int_eq(gm_create(&gm, 16 * MiB), 0);
	other = mmap(NULL, 16 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED,
		     gm.fd, 0);
	ck_assert(other != MAP_FAILED);
	other[3 * 4096] = 1;
	other[7 * 4096 + 5] = 2;
	other[4 * 4096] = 3;
	ck_assert(!mapped(gm.r[0].hva + 3 * 4096));
	/* No time: nothing mapped. */
	ck_assert_int_eq(gm_populate(&gm, 0), 0);
	ck_assert(!mapped(gm.r[0].hva + 3 * 4096));
	n = gm_populate(&gm, 10000);
	if (n == -EINVAL)	/* before Linux 5.14 */
		goto out;
	ck_assert_int_eq(n, 3);
	ck_assert(mapped(gm.r[0].hva + 3 * 4096));
	ck_assert(mapped(gm.r[0].hva + 4 * 4096));
	ck_assert(mapped(gm.r[0].hva + 7 * 4096));
	ck_assert(!mapped(gm.r[0].hva + 5 * 4096));
	ck_assert_uint_eq(gm.r[0].hva[7 * 4096 + 5], 2);
out:
	munmap(other, 16 * MiB);
	gm_destroy(&gm);
}
END_TEST

START_TEST(walk)
{
	/* 0xffffffffc0000dcc: indices 511, 511, 0, 0. */
	const uint64_t la = 0xffffffffc0000dccull;
	struct guest_mem gm;
	uint64_t gpa = 0;
	char why[96];

	ck_assert_int_eq(gm_create(&gm, 16 * MiB), 0);
	wt_chain(&gm);
	/* PCID bits in CR3 are not part of the table's address. */
	ck_assert_int_eq(wt_walk(&gm, WT_PML4 | 5, 0x20, la, &gpa, why), 0);
	ck_assert_uint_eq(gpa, 0x200dcc);
	/* A 2 MiB page in the PD. */
	wt_put(&gm, WT_PD, 0, 0x400000 | 0xe3);
	ck_assert_int_eq(wt_walk(&gm, WT_PML4, 0x20, la + 0x1000, &gpa, why), 0);
	ck_assert_uint_eq(gpa, 0x401dcc);
	/* A 1 GiB page in the PDPT. */
	wt_put(&gm, WT_PDPT, 511, 0x40000000 | 0xe3);
	ck_assert_int_eq(wt_walk(&gm, WT_PML4, 0x20, la, &gpa, why), 0);
	ck_assert_uint_eq(gpa, 0x40000dcc);
	/* Not present at the top: the entry is named. */
	wt_put(&gm, WT_PML4, 511, 0x5760000057600ull);
	ck_assert_int_eq(wt_walk(&gm, WT_PML4, 0x20, la, &gpa, why), -1);
	ck_assert_str_eq(why, "level 4 entry 0x5760000057600 not present");
	/* With LA57 the top table is one level higher: index 511 again. */
	wt_put(&gm, WT_PML4 + 0x10000, 511, WT_PML4 | 0x63);
	wt_chain(&gm);
	ck_assert_int_eq(wt_walk(&gm, WT_PML4 + 0x10000, 0x1020, la, &gpa, why),
			 0);
	ck_assert_uint_eq(gpa, 0x200dcc);
	/* The same CR3 walked as 4-level finds nothing at 511. */
	ck_assert_int_eq(wt_walk(&gm, WT_PML4 + 0x10000, 0x20, la, &gpa, why),
			 -1);
	/* A table outside RAM (the guest's entries can say anything). */
	wt_put(&gm, WT_PML4, 511, 0xfff0000000000ull | 0x63);
	ck_assert_int_eq(wt_walk(&gm, WT_PML4, 0x20, la, &gpa, why), -1);
	ck_assert_ptr_nonnull(strstr(why, "level 3 table at 0xfff0000000000 "
				     "not in RAM"));
	/* CR3 itself outside RAM, and the last page of RAM's last entry. */
	ck_assert_int_eq(wt_walk(&gm, 0xfffffffff000ull, 0x20, la, &gpa, why),
			 -1);
	ck_assert_int_eq(wt_walk(&gm, 16 * MiB - 4096, 0x20, la, &gpa, why), -1);
	ck_assert_str_eq(why, "level 4 entry 0 not present");
	/* Not in long mode with paging. */
	ck_assert_int_eq(gm_walk(&gm, 0x11, WT_PML4, 0, 0, la, &gpa, why,
				 sizeof(why)), -1);
	ck_assert_str_eq(why, "not in long mode with paging");
	gm_destroy(&gm);
}
END_TEST

START_TEST(page_and_top_tables_said)
{
	struct guest_mem gm;
	char buf[400];
	unsigned int i;

	ck_assert_int_eq(gm_create(&gm, 16 * MiB), 0);
	gm_page_said(&gm, WT_PML4, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "page 0x100000: 0 of 512 words "
				     "non-zero, 0 with bit 0"));
	for (i = 0; i < 512; i++)
		wt_put(&gm, WT_PML4, i, 0x5760000057600ull);
	wt_put(&gm, WT_PML4, 3, 0x1063);
	gm_page_said(&gm, WT_PML4 + 0x123, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "512 of 512 words non-zero, 1 with "
				     "bit 0"));
	ck_assert_ptr_nonnull(strstr(buf, "0x5760000057600 511 times"));
	gm_page_said(&gm, 64 * MiB, buf, sizeof(buf));
	ck_assert_str_eq(buf, "page 0x4000000 not in RAM");

	/* Two pages that look like Linux's top tables; CR3 at neither. */
	wt_put(&gm, WT_PDPT, 273, 0x5063);
	wt_put(&gm, WT_PDPT, 511, 0x6063);
	wt_put(&gm, WT_PD, 273, 0x5067);
	wt_put(&gm, WT_PD, 511, 0x6067);
	/* Different flags in the two: not one. */
	wt_put(&gm, WT_PT, 273, 0x5063);
	wt_put(&gm, WT_PT, 511, 0x6067);
	gm_top_tables_said(&gm, WT_PML4, buf, sizeof(buf));
	ck_assert_str_eq(buf, "top page tables in RAM: 0x101000 0x102000 "
			 "(2 in all; CR3's page not among them)");
	gm_top_tables_said(&gm, WT_PD, buf, sizeof(buf));
	ck_assert_ptr_nonnull(strstr(buf, "CR3's page among them"));
	gm_destroy(&gm);
}
END_TEST

Suite *mem_suite(void)
{
	Suite *s = suite_create("mem");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, layout_small);
	tcase_add_test(tc, layout_splits_at_hole);
	tcase_add_test(tc, layout_rejects);
	tcase_add_test(tc, ptr_bounds);
	tcase_add_test(tc, ptr_never_spans_regions);
	tcase_add_test(tc, read_write_soft_fail);
	tcase_add_test(tc, log_merge);
	tcase_add_test(tc, walk);
	tcase_add_test(tc, populate_maps_what_the_file_holds);
	tcase_add_test(tc, page_and_top_tables_said);
	suite_add_tcase(s, tc);
	return s;
}
