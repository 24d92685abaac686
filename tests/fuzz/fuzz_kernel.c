// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel images are untrusted files: the bzImage header, every
 * decompressor (with a small output cap) and the ELF parser and loader.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "boot/bzimage.h"
#include "boot/decompress.h"
#include "boot/elf.h"
#include "vmm/util.h"

static struct guest_mem gm;

static void load_elf(const uint8_t *data, size_t size)
{
	struct elf_info info;
	char err[256];

	if (elf_parse(data, size, &info, err, sizeof(err)))
		return;
	elf_load(data, &info, &gm, err, sizeof(err));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bzimage bz;
	uint8_t *out;
	size_t out_len;
	char err[256];

	if (!gm.nr) {
		/* 4 MiB of "RAM" at 1 MiB, as a small guest has. */
		gm.nr = 1;
		gm.fd = -1;
		gm.r[0].gpa = 1 << 20;
		gm.r[0].size = 4 << 20;
		gm.r[0].hva = mmap(NULL, 4 << 20, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	load_elf(data, size);
	if (bzimage_parse(data, size, &bz, err, sizeof(err)) == 0) {
		if (!payload_decompress(bz.payload, bz.payload_len, 8 << 20,
					&out, &out_len, err, sizeof(err))) {
			load_elf(out, out_len);
			free(out);
		}
	}
	/* The decompressors on raw input too, not only behind a header. */
	if (!payload_decompress(data, size, 8 << 20, &out, &out_len, err,
				sizeof(err)))
		free(out);
	return 0;
}
