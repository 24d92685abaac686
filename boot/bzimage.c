// SPDX-License-Identifier: GPL-2.0
#include "bzimage.h"

#include <errno.h>
#include <string.h>

#include "../vmm/util.h"

#define HDR_OFFSET	0x1f1
#define HDRS_MAGIC	0x53726448	/* "HdrS" */

bool bzimage_probe(const uint8_t *buf, size_t len)
{
	return len >= 0x206 && get_le16(buf + 0x1fe) == 0xaa55 &&
	       get_le32(buf + 0x202) == HDRS_MAGIC;
}

int bzimage_parse(const uint8_t *buf, size_t len, struct bzimage *bz,
		  char *err, size_t errlen)
{
	uint64_t pm_offset, start, end;
	size_t hdr_end;
	unsigned int setup_sects;

	memset(bz, 0, sizeof(*bz));
	if (!bzimage_probe(buf, len)) {
		errf(err, errlen, "not a bzImage (no boot signature)");
		return -EINVAL;
	}
	/* The header ends at 0x202 + the jump offset at 0x201. */
	hdr_end = 0x202 + buf[0x201];
	if (hdr_end > len) {
		errf(err, errlen, "truncated bzImage header");
		return -EINVAL;
	}
	bz->hdr_len = MIN(hdr_end - HDR_OFFSET, sizeof(bz->hdr));
	memcpy(&bz->hdr, buf + HDR_OFFSET, bz->hdr_len);
	if (bz->hdr.version < 0x0208) {
		errf(err, errlen, "boot protocol %u.%02u is too old (vireo "
		     "needs 2.08 or later)", bz->hdr.version >> 8,
		     bz->hdr.version & 0xff);
		return -ENOTSUP;
	}
	if (bz->hdr_len < offsetof(struct setup_header, payload_length) + 4) {
		errf(err, errlen, "truncated bzImage header");
		return -EINVAL;
	}
	if (!(bz->hdr.loadflags & LOADED_HIGH)) {
		errf(err, errlen, "zImage kernels (not loaded high) are not supported");
		return -ENOTSUP;
	}
	setup_sects = bz->hdr.setup_sects ? bz->hdr.setup_sects : 4;
	pm_offset = (uint64_t)(setup_sects + 1) * 512;
	start = pm_offset + bz->hdr.payload_offset;
	end = start + bz->hdr.payload_length;
	if (pm_offset > len || start > len || end > len ||
	    bz->hdr.payload_length == 0) {
		errf(err, errlen, "the payload (offset %u, %u bytes) lies past "
		     "the end of the %zu-byte file; is it truncated?",
		     bz->hdr.payload_offset, bz->hdr.payload_length, len);
		return -EINVAL;
	}
	bz->payload = buf + start;
	bz->payload_len = bz->hdr.payload_length;
	return 0;
}
