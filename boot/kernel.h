/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Opening a kernel image: a bzImage (its compressed vmlinux is extracted
 * on the host, once, and cached by content hash) or an ELF vmlinux.
 *
 * Only a valid ELF is cached. The cache is trusted only if the directory
 * and entry belong to the user and nobody else can write them; entries are
 * opened without following symlinks and re-validated on every use.
 */
#ifndef VIREO_KERNEL_H
#define VIREO_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vmm/util.h"
#include "bzimage.h"
#include "decompress.h"
#include "elf.h"

#define KERNEL_FILE_MAX		(2ULL << 30)	/* an unstripped vmlinux */
#define KERNEL_ELF_MAX		(256ULL << 20)	/* a bzImage's stripped one */

struct kernel_opts {
	bool use_cache;
	const char *cache_dir;		/* NULL: $VIREO_CACHE_DIR, XDG, ~ */
};

struct kernel {
	struct file_map file;		/* the image as given */
	struct file_map cached;		/* a cache entry, when used */
	uint8_t *extracted;		/* malloc()ed ELF, when not cached */
	const uint8_t *elf;		/* the ELF vmlinux, wherever it is */
	size_t elf_len;
	struct elf_info info;
	bool is_bzimage;
	struct bzimage bz;		/* valid if is_bzimage */
	enum payload_format format;
	bool cache_hit;
};

int kernel_open(struct kernel *k, const char *path,
		const struct kernel_opts *opts, char *err, size_t errlen);
void kernel_close(struct kernel *k);

/* Directory used for the cache (static buffer), or NULL if none. */
const char *kernel_cache_dir(const struct kernel_opts *opts);

#endif
