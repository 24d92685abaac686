/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ELF64 vmlinux: validate the program headers, find the PVH entry note
 * (XEN_ELFNOTE_PHYS32_ENTRY) and copy PT_LOAD segments to their physical
 * addresses in guest memory.
 */
#ifndef VIREO_ELF_H
#define VIREO_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vmm/mem.h"

#define ELF_MAX_SEGMENTS 16

struct elf_segment {
	uint64_t paddr;
	uint64_t offset;
	uint64_t filesz;
	uint64_t memsz;
};

struct elf_info {
	uint64_t entry;			/* physical 64-bit entry */
	uint64_t lo, hi;		/* physical span of all segments */
	unsigned int nseg;
	struct elf_segment seg[ELF_MAX_SEGMENTS];
	bool has_pvh;
	uint32_t pvh_entry;		/* 32-bit PVH entry */
};

bool elf_probe(const uint8_t *buf, size_t len);

/* Validate buf as an x86_64 executable. 0 or -errno with err. */
int elf_parse(const uint8_t *buf, size_t len, struct elf_info *info,
	      char *err, size_t errlen);

/* Copy the segments into guest memory (zeroing bss). 0 or -errno. */
int elf_load(const uint8_t *buf, const struct elf_info *info,
	     const struct guest_mem *gm, char *err, size_t errlen);

#endif
