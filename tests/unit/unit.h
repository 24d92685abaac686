/* SPDX-License-Identifier: GPL-2.0 */
/* Shared declarations for vireo's unit tests (check). */
#ifndef VIREO_UNIT_H
#define VIREO_UNIT_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/mem.h"

/* Every suite, listed once in main.c. */
#define UNIT_SUITES(X) \
	X(util) X(mem) X(bus) X(config) X(bzimage) X(decompress) X(elf) \
	X(kernel) X(x86) X(acpi) X(cpuid) X(serial) X(rtc) X(platform) \
	X(queue) X(console) X(transport) X(blk) X(vcon) X(net) X(balloon) X(vhost_user) X(vdpa) X(snapshot) X(api) X(migrate) X(sandbox)

#define DECLARE_SUITE(name) Suite *name##_suite(void);
UNIT_SUITES(DECLARE_SUITE)

/*
 * Fake guest memory: one region of size bytes at gpa, with PROT_NONE guard
 * pages on both sides so that any overrun faults under test.
 */
void test_mem_init(struct guest_mem *gm, uint64_t gpa, uint64_t size);
void test_mem_fini(struct guest_mem *gm);

#endif

#include <stdbool.h>

#include "boot/decompress.h"

/*
 * Synthetic kernel images for the loader tests. All return a malloc()ed
 * buffer and its length.
 */
/* x86_64 ELF: one PT_LOAD (filesz bytes of pattern, memsz total) at paddr,
 * entry at paddr + 0x10, and a PVH note pointing at paddr + 0x20. */
uint8_t *make_elf(uint64_t paddr, size_t filesz, size_t memsz, bool pvh,
		  size_t *len);
/* A bzImage (protocol 2.15, 1 setup sector) around a payload. */
uint8_t *make_bzimage(const uint8_t *payload, size_t plen, size_t *len);
/* data compressed like the kernel build does, with the size trailer. */
uint8_t *compress_payload(enum payload_format f, const uint8_t *data,
			  size_t len, size_t *out_len);
