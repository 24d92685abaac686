/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Host-side decompression of a bzImage payload (the compressed ELF
 * vmlinux). Every format the kernel appends the uncompressed size to:
 * the last 4 bytes of the payload, little-endian. The output is exactly
 * that size; a stream that would produce more (a bomb) or less
 * (truncated) is refused.
 */
#ifndef VIREO_DECOMPRESS_H
#define VIREO_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

enum payload_format {
	PAYLOAD_UNKNOWN,
	PAYLOAD_ELF,		/* CONFIG_KERNEL_UNCOMPRESSED */
	PAYLOAD_GZIP,
	PAYLOAD_XZ,
	PAYLOAD_LZMA,
	PAYLOAD_LZ4,
	PAYLOAD_ZSTD,
	PAYLOAD_BZIP2,		/* recognised, not supported */
	PAYLOAD_LZO,		/* recognised, not supported */
};

enum payload_format payload_detect(const uint8_t *p, size_t len);
const char *payload_format_name(enum payload_format f);

/*
 * Decompress in[0..in_len) into a new malloc()ed buffer. Refuses a
 * declared size above max_out before allocating anything. Returns 0 or
 * -errno with a message in err.
 */
int payload_decompress(const uint8_t *in, size_t in_len, size_t max_out,
		       uint8_t **out, size_t *out_len, char *err,
		       size_t errlen);

#endif
