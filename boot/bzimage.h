/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bzImage (x86 boot protocol >= 2.08) header parsing: the setup header the
 * boot_params are seeded from, and where the compressed vmlinux lies.
 */
#ifndef VIREO_BZIMAGE_H
#define VIREO_BZIMAGE_H

#include <asm/bootparam.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bzimage {
	struct setup_header hdr;	/* copied, host order */
	size_t hdr_len;			/* bytes of it the image carries */
	const uint8_t *payload;		/* inside the caller's buffer */
	size_t payload_len;
};

/* Does buf look like a bzImage at all (boot flag and "HdrS")? */
bool bzimage_probe(const uint8_t *buf, size_t len);

/* Validate and locate the payload. 0 or -errno with a message in err. */
int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage *bz,
		  char *err, size_t errlen);

#endif
