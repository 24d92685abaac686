// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "boot/x86.h"
#include "unit.h"
#include "vmm/layout.h"
#include "vmm/util.h"

static void check_e820_sane(const struct boot_e820_entry *e, unsigned int n)
{
	unsigned int i;

	for (i = 1; i < n; i++)
		ck_assert_msg(e[i].addr >= e[i - 1].addr + e[i - 1].size,
			      "e820 entries %u and %u overlap or are unsorted",
			      i - 1, i);
}

static uint64_t e820_ram(const struct boot_e820_entry *e, unsigned int n)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (e[i].type == 1)
			sum += e[i].size;
	return sum;
}

START_TEST(e820_sizes)
{
	static const uint64_t sizes[] = {
		64 * MiB, 256 * MiB, 3 * GiB, 3 * GiB + 512 * MiB, 4 * GiB, 16 * GiB,
	};
	struct boot_e820_entry e[16];
	struct guest_mem gm;
	unsigned int i, n;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		ck_assert_int_eq(gm_layout(&gm, sizes[i]), 0);
		n = e820_build(&gm, e, ARRAY_SIZE(e));
		check_e820_sane(e, n);
		/* All RAM but the 1 KiB-to-1 MiB legacy hole is usable. */
		ck_assert_uint_eq(e820_ram(e, n),
				  sizes[i] - (LAYOUT_HIGH_MEM - LAYOUT_EBDA));
		ck_assert_uint_eq(e[0].addr, 0);
		ck_assert_uint_eq(e[0].size, LAYOUT_EBDA);
		ck_assert_uint_eq(e[1].type, 2);
		ck_assert_uint_eq(e[2].addr, LAYOUT_HIGH_MEM);
		ck_assert_uint_eq(e[2].addr + e[2].size, MIN(sizes[i], LAYOUT_MMIO_HOLE));
		ck_assert_uint_eq(e[3].addr, LAYOUT_PCI_ECAM);
		ck_assert_uint_eq(e[3].type, 2);
		if (sizes[i] > LAYOUT_MMIO_HOLE) {
			ck_assert_uint_eq(n, 5);
			ck_assert_uint_eq(e[4].addr, LAYOUT_4G);
			ck_assert_uint_eq(e[4].size, sizes[i] - LAYOUT_MMIO_HOLE);
		} else {
			ck_assert_uint_eq(n, 4);
		}
	}
	/* A short table is filled, not overrun. */
	ck_assert_int_eq(gm_layout(&gm, 8 * GiB), 0);
	ck_assert_uint_eq(e820_build(&gm, e, 2), 2);
}
END_TEST

START_TEST(initrd_placement)
{
	struct guest_mem gm;
	struct setup_header h = { .version = 0x020f, .initrd_addr_max = 0x7fffffff };
	uint64_t gpa;

	ck_assert_int_eq(gm_layout(&gm, 256 * MiB), 0);
	gm.r[0].hva = (uint8_t *)0x10000;	/* never dereferenced */
	ck_assert_int_eq(initrd_place(&gm, &h, 32 * MiB, 10 * MiB + 1, &gpa), 0);
	ck_assert_uint_eq(gpa, ALIGN_DOWN(256 * MiB - 10 * MiB - 1, 4096));
	ck_assert_uint_ge(gpa, 32 * MiB);
	/* Does not fit above the kernel. */
	ck_assert_int_eq(initrd_place(&gm, &h, 200 * MiB, 60 * MiB, &gpa), -ENOSPC);
	ck_assert_int_eq(initrd_place(&gm, &h, 0, 300 * MiB, &gpa), -ENOSPC);
	/* The kernel's limit wins over the end of RAM. */
	h.initrd_addr_max = 128 * MiB - 1;
	ck_assert_int_eq(initrd_place(&gm, &h, 32 * MiB, 4096, &gpa), 0);
	ck_assert_uint_eq(gpa, 128 * MiB - 4096);
	/* More RAM than the default 2 GiB limit of a plain vmlinux. */
	ck_assert_int_eq(gm_layout(&gm, 3 * GiB), 0);
	gm.r[0].hva = (uint8_t *)0x10000;
	ck_assert_int_eq(initrd_place(&gm, NULL, 32 * MiB, 4096, &gpa), 0);
	ck_assert_uint_eq(gpa, 2 * GiB - 4096);
}
END_TEST

static struct boot_info linux_info(void)
{
	struct boot_info bi = {
		.protocol = BOOT_LINUX64,
		.entry = 0x1000000,
		.cmdline = "console=ttyS0 root=/dev/vda",
		.initrd_gpa = 0x3000000,
		.initrd_size = 0x123456,
		.rsdp = LAYOUT_ACPI,
	};

	return bi;
}

START_TEST(linux64_boot_params)
{
	struct guest_mem gm;
	struct boot_info bi = linux_info();
	struct vcpu_boot_state st;
	struct boot_params *bp;
	char err[256] = "";

	test_mem_init(&gm, 0, 64 * MiB);
	ck_assert_int_eq(boot_setup(&gm, &bi, &st, err, sizeof(err)), 0);
	bp = gm_ptr(&gm, LAYOUT_ZERO_PAGE, sizeof(*bp));
	ck_assert_uint_eq(bp->hdr.boot_flag, 0xaa55);
	ck_assert_uint_eq(bp->hdr.header, 0x53726448);
	ck_assert_uint_eq(bp->hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	ck_assert_str_eq((char *)gm_ptr(&gm, LAYOUT_CMDLINE, 1), bi.cmdline);
	ck_assert_uint_eq(bp->hdr.ramdisk_image, 0x3000000);
	ck_assert_uint_eq(bp->hdr.ramdisk_size, 0x123456);
	ck_assert_uint_eq(bp->acpi_rsdp_addr, LAYOUT_ACPI);
	ck_assert_uint_eq(bp->e820_entries, 4);
	ck_assert_uint_eq(bp->e820_table[2].addr, LAYOUT_HIGH_MEM);
	/* The 64-bit entry state of the boot protocol. */
	ck_assert_uint_eq(st.regs.rip, 0x1000000);
	ck_assert_uint_eq(st.regs.rsi, LAYOUT_ZERO_PAGE);
	ck_assert_uint_eq(st.regs.rflags & 0x200, 0);	/* IF clear */
	ck_assert_uint_eq(st.sregs.cs.selector, 0x10);
	ck_assert_uint_eq(st.sregs.ds.selector, 0x18);
	ck_assert_uint_eq(st.sregs.ss.selector, 0x18);
	ck_assert_uint_eq(st.sregs.cs.l, 1);
	ck_assert_uint_eq(st.sregs.efer & 0x500, 0x500);
	ck_assert_uint_eq(st.sregs.cr0 & 0x80000001, 0x80000001);
	ck_assert_uint_eq(st.sregs.cr4 & 0x20, 0x20);
	ck_assert_uint_eq(st.sregs.cr3, LAYOUT_PML4);
	test_mem_fini(&gm);
}
END_TEST

/* Walk the guest page tables as the MMU would. */
static uint64_t translate(struct guest_mem *gm, uint64_t cr3, uint64_t va)
{
	uint64_t *pml4 = gm_ptr(gm, cr3, 4096), *pdpt, *pd, e;

	e = pml4[(va >> 39) & 511];
	ck_assert(e & 1);
	pdpt = gm_ptr(gm, e & ~0xfffULL, 4096);
	ck_assert_ptr_nonnull(pdpt);
	e = pdpt[(va >> 30) & 511];
	ck_assert(e & 1);
	ck_assert(!(e & 0x80));
	pd = gm_ptr(gm, e & ~0xfffULL, 4096);
	ck_assert_ptr_nonnull(pd);
	e = pd[(va >> 21) & 511];
	ck_assert(e & 1);
	ck_assert(e & 2);			/* writable */
	ck_assert(e & 0x80);			/* 2 MiB page */
	return (e & ~0x1fffffULL & ((1ULL << 52) - 1)) | (va & 0x1fffff);
}

START_TEST(identity_page_tables)
{
	static const uint64_t va[] = {
		0, 0x7000, 0x1000000, 0x3fffffff, 0x40000000, 0xbfffffff,
		0xfee00000, 0xffffffff,
	};
	struct guest_mem gm;
	struct boot_info bi = linux_info();
	struct vcpu_boot_state st;
	char err[256] = "";
	unsigned int i;

	test_mem_init(&gm, 0, 64 * MiB);
	ck_assert_int_eq(boot_setup(&gm, &bi, &st, err, sizeof(err)), 0);
	for (i = 0; i < ARRAY_SIZE(va); i++)
		ck_assert_uint_eq(translate(&gm, st.sregs.cr3, va[i]), va[i]);
	/* Nothing maps at or above 4 GiB. */
	ck_assert_uint_eq(((uint64_t *)gm_ptr(&gm, LAYOUT_PML4 + 0x1000, 4096))[4], 0);
	test_mem_fini(&gm);
}
END_TEST

START_TEST(gdt_matches_selectors)
{
	struct guest_mem gm;
	struct boot_info bi = linux_info();
	struct vcpu_boot_state st;
	uint64_t *gdt;
	char err[256] = "";

	test_mem_init(&gm, 0, 64 * MiB);
	ck_assert_int_eq(boot_setup(&gm, &bi, &st, err, sizeof(err)), 0);
	gdt = gm_ptr(&gm, st.sregs.gdt.base, st.sregs.gdt.limit + 1);
	ck_assert_ptr_nonnull(gdt);
	/* __BOOT_CS: present, code, long mode; __BOOT_DS: data, flat. */
	ck_assert_uint_eq(gdt[st.sregs.cs.selector / 8] >> 40 & 0x9a, 0x9a);
	ck_assert(gdt[st.sregs.cs.selector / 8] >> 53 & 1);
	ck_assert_uint_eq(gdt[st.sregs.ds.selector / 8] >> 40 & 0x92, 0x92);
	ck_assert_uint_ge(st.sregs.gdt.limit + 1, (st.sregs.tr.selector / 8 + 2) * 8);
	test_mem_fini(&gm);
}
END_TEST

START_TEST(cmdline_limits)
{
	struct guest_mem gm;
	struct boot_info bi = linux_info();
	struct vcpu_boot_state st;
	struct setup_header h = { .version = 0x020f, .cmdline_size = 16 };
	char err[256] = "";

	test_mem_init(&gm, 0, 64 * MiB);
	bi.hdr = &h;
	bi.hdr_len = sizeof(h);
	bi.cmdline = "0123456789abcdef";
	ck_assert_int_eq(boot_setup(&gm, &bi, &st, err, sizeof(err)), 0);
	bi.cmdline = "0123456789abcdefg";
	ck_assert_int_eq(boot_setup(&gm, &bi, &st, err, sizeof(err)), -E2BIG);
	ck_assert_ptr_nonnull(strstr(err, "at most 16"));
	ck_assert_uint_eq(boot_cmdline_max(NULL), 2047);
	h.version = 0x0205;
	ck_assert_uint_eq(boot_cmdline_max(&h), 255);
	test_mem_fini(&gm);
}
END_TEST

struct pvh_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist, cmdline, rsdp, memmap;
	uint32_t memmap_entries, reserved;
};

START_TEST(pvh_start_info)
{
	struct guest_mem gm;
	struct boot_info bi = linux_info();
	struct vcpu_boot_state st;
	struct pvh_info *si;
	uint64_t *mod;
	char err[256] = "";

	test_mem_init(&gm, 0, 64 * MiB);
	bi.protocol = BOOT_PVH;
	bi.pvh_entry = 0x1000020;
	ck_assert_int_eq(boot_setup(&gm, &bi, &st, err, sizeof(err)), 0);
	si = gm_ptr(&gm, st.regs.rbx, sizeof(*si));
	ck_assert_ptr_nonnull(si);
	ck_assert_uint_eq(si->magic, 0x336ec578);
	ck_assert_uint_eq(si->version, 1);
	ck_assert_uint_eq(si->nr_modules, 1);
	ck_assert_uint_eq(si->rsdp, LAYOUT_ACPI);
	ck_assert_str_eq((char *)gm_ptr(&gm, si->cmdline, 1), bi.cmdline);
	mod = gm_ptr(&gm, si->modlist, 32);
	ck_assert_uint_eq(mod[0], 0x3000000);
	ck_assert_uint_eq(mod[1], 0x123456);
	ck_assert_uint_eq(si->memmap_entries, 4);
	/* 32-bit protected mode, paging off. */
	ck_assert_uint_eq(st.regs.rip, 0x1000020);
	ck_assert_uint_eq(st.sregs.cr0 & 0x80000001, 1);
	ck_assert_uint_eq(st.sregs.efer, 0);
	ck_assert_uint_eq(st.sregs.cs.l, 0);
	ck_assert_uint_eq(st.sregs.cs.db, 1);
	test_mem_fini(&gm);
}
END_TEST

START_TEST(tiny_ram_fails_softly)
{
	struct guest_mem gm;
	struct boot_info bi = linux_info();
	struct vcpu_boot_state st;
	char err[256] = "";

	test_mem_init(&gm, 0, 0x8000);	/* no room for the page tables */
	ck_assert_int_ne(boot_setup(&gm, &bi, &st, err, sizeof(err)), 0);
	ck_assert_str_ne(err, "");
	test_mem_fini(&gm);
}
END_TEST

START_TEST(reset_vector_stub)
{
	static const uint8_t want[] = {
		0xba, 0x02, 0x06, 0xb0, 0x0e, 0xee, 0xf4, 0xeb, 0xfd,
	};
	struct guest_mem gm;

	/* mov dx, 0x602; mov al, 0x0e; out dx, al; 1: hlt; jmp 1b */
	test_mem_init(&gm, 0, 2 * MiB);
	ck_assert_int_eq(boot_reset_vector(&gm, 0x602, 0x0e), 0);
	ck_assert_int_eq(memcmp(gm_ptr(&gm, 0xffff0, sizeof(want)), want,
				sizeof(want)), 0);
	test_mem_fini(&gm);
	/* No RAM at the reset vector: a soft error. */
	test_mem_init(&gm, 0, 0x80000);
	ck_assert_int_eq(boot_reset_vector(&gm, 0x602, 0x0e), -EFAULT);
	test_mem_fini(&gm);
}
END_TEST

Suite *x86_suite(void)
{
	Suite *s = suite_create("x86");
	TCase *tc = tcase_create("boot");

	tcase_add_test(tc, e820_sizes);
	tcase_add_test(tc, initrd_placement);
	tcase_add_test(tc, linux64_boot_params);
	tcase_add_test(tc, identity_page_tables);
	tcase_add_test(tc, gdt_matches_selectors);
	tcase_add_test(tc, cmdline_limits);
	tcase_add_test(tc, pvh_start_info);
	tcase_add_test(tc, tiny_ram_fails_softly);
	tcase_add_test(tc, reset_vector_stub);
	suite_add_tcase(s, tc);
	return s;
}
