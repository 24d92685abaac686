// SPDX-License-Identifier: GPL-2.0
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/elf.h"
#include "unit.h"
#include "vmm/util.h"

#define PADDR 0x100000ULL

static Elf64_Phdr *phdr(uint8_t *b, int i)
{
	return (Elf64_Phdr *)(b + sizeof(Elf64_Ehdr)) + i;
}

START_TEST(parses_segments_and_pvh)
{
	struct elf_info info;
	size_t len;
	uint8_t *b = make_elf(PADDR, 1000, 5000, true, &len);
	char err[256];

	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), 0);
	ck_assert_uint_eq(info.entry, PADDR + 0x10);
	ck_assert_uint_eq(info.nseg, 1);
	ck_assert_uint_eq(info.lo, PADDR);
	ck_assert_uint_eq(info.hi, PADDR + 5000);
	ck_assert(info.has_pvh);
	ck_assert_uint_eq(info.pvh_entry, PADDR + 0x20);
	free(b);
	b = make_elf(PADDR, 1000, 5000, false, &len);
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), 0);
	ck_assert(!info.has_pvh);
	free(b);
}
END_TEST

START_TEST(loads_and_zeroes_bss)
{
	struct guest_mem gm;
	struct elf_info info;
	size_t len;
	uint8_t *b = make_elf(PADDR, 1000, 5000, false, &len), *g;
	char err[256];

	test_mem_init(&gm, 0, 2 * MiB);
	g = gm_ptr(&gm, PADDR, 5000);
	memset(g, 0xcc, 5000);
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), 0);
	ck_assert_int_eq(elf_load(b, &info, &gm, err, sizeof(err)), 0);
	ck_assert_int_eq(memcmp(g, b + 4096, 1000), 0);
	ck_assert_uint_eq(g[1000], 0);
	ck_assert_uint_eq(g[4999], 0);
	ck_assert_uint_eq(*(uint8_t *)gm_ptr(&gm, PADDR + 5000, 1), 0);
	test_mem_fini(&gm);
	free(b);
}
END_TEST

START_TEST(segment_outside_ram)
{
	struct guest_mem gm;
	struct elf_info info;
	size_t len;
	uint8_t *b = make_elf(PADDR, 1000, 2 * MiB, false, &len);
	char err[256];

	/* Ends 1 MiB past the top of RAM: refused, nothing written. */
	test_mem_init(&gm, 0, 2 * MiB);
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), 0);
	ck_assert_int_eq(elf_load(b, &info, &gm, err, sizeof(err)), -ERANGE);
	ck_assert_ptr_nonnull(strstr(err, "--memory"));
	ck_assert_uint_eq(*(uint8_t *)gm_ptr(&gm, PADDR, 1), 0);
	test_mem_fini(&gm);
	/* Exactly up to the top is fine. */
	test_mem_init(&gm, 0, PADDR + 2 * MiB);
	ck_assert_int_eq(elf_load(b, &info, &gm, err, sizeof(err)), 0);
	test_mem_fini(&gm);
	free(b);
}
END_TEST

START_TEST(rejects_malformed)
{
	struct elf_info info;
	size_t len, cut;
	uint8_t *b = make_elf(PADDR, 1000, 5000, true, &len);
	char err[256];

	for (cut = 0; cut < sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr); cut++)
		ck_assert_int_eq(elf_parse(b, cut, &info, err, sizeof(err)), -EINVAL);
	/* Truncated inside the segment's file bytes. */
	ck_assert_int_eq(elf_parse(b, len - 1, &info, err, sizeof(err)), -EINVAL);

	b[EI_CLASS] = ELFCLASS32;
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "x86_64"));
	b[EI_CLASS] = ELFCLASS64;
	((Elf64_Ehdr *)b)->e_machine = EM_AARCH64;
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), -EINVAL);
	((Elf64_Ehdr *)b)->e_machine = EM_X86_64;
	((Elf64_Ehdr *)b)->e_type = ET_DYN;
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), -EINVAL);
	((Elf64_Ehdr *)b)->e_type = ET_EXEC;
	((Elf64_Ehdr *)b)->e_phnum = 0xffff;
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), -EINVAL);
	((Elf64_Ehdr *)b)->e_phnum = 2;
	((Elf64_Ehdr *)b)->e_phoff = UINT64_MAX - 8;
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), -EINVAL);
	((Elf64_Ehdr *)b)->e_phoff = sizeof(Elf64_Ehdr);
	((Elf64_Ehdr *)b)->e_entry = 0x42;
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "entry point"));
	((Elf64_Ehdr *)b)->e_entry = PADDR + 0x10;

	phdr(b, 0)->p_filesz = 6000;		/* filesz > memsz */
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), -EINVAL);
	phdr(b, 0)->p_filesz = 1000;
	phdr(b, 0)->p_offset = UINT64_MAX - 10;	/* offset + filesz wraps */
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), -EINVAL);
	phdr(b, 0)->p_offset = 4096;
	phdr(b, 0)->p_paddr = UINT64_MAX - 100;	/* paddr + memsz wraps */
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), -EINVAL);
	phdr(b, 0)->p_paddr = PADDR;
	phdr(b, 0)->p_type = PT_NULL;		/* nothing to load */
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), -EINVAL);
	free(b);
}
END_TEST

START_TEST(hostile_notes)
{
	struct elf_info info;
	size_t len;
	uint8_t *b = make_elf(PADDR, 1000, 5000, true, &len);
	uint8_t *note = b + sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
	char err[256];

	put_le32(note, 0xfffffff0);		/* namesz past the note */
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), 0);
	ck_assert(!info.has_pvh);
	put_le32(note, 4);
	put_le32(note + 4, 0xffffffff);		/* descsz past the note */
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), 0);
	ck_assert(!info.has_pvh);
	put_le32(note + 4, 4);
	phdr(b, 1)->p_filesz = len;		/* note segment past EOF */
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), 0);
	ck_assert(!info.has_pvh);
	phdr(b, 1)->p_filesz = 20;
	put_le32(note + 16, 0x10);		/* PVH entry in no segment */
	ck_assert_int_eq(elf_parse(b, len, &info, err, sizeof(err)), 0);
	ck_assert(!info.has_pvh);
	free(b);
}
END_TEST

Suite *elf_suite(void)
{
	Suite *s = suite_create("elf");
	TCase *tc = tcase_create("elf");

	tcase_add_test(tc, parses_segments_and_pvh);
	tcase_add_test(tc, loads_and_zeroes_bss);
	tcase_add_test(tc, segment_outside_ram);
	tcase_add_test(tc, rejects_malformed);
	tcase_add_test(tc, hostile_notes);
	suite_add_tcase(s, tc);
	return s;
}
