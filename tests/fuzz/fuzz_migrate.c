// SPDX-License-Identifier: GPL-2.0
/*
 * A migration stream is untrusted (BAD-INPUTS 24): the input is a stream
 * for mig_read_header() and mig_read_body() into 1 MiB of RAM, which must
 * refuse what is wrong and never write outside that RAM (ASan watches).
 * To get past the CRCs, an input whose first byte is odd has them fixed
 * first (header and every record the lengths lead to); a second byte
 * with bit 0 set marks the stream local (no RAM given), with bit 1 set
 * has the pages placed by a hook as the target's are (fuzz_pages aborts
 * on a run outside RAM).
 */
#include <stdlib.h>
#include <string.h>

#include "vmm/migrate.h"
#include "vmm/util.h"

#define RAM (1u << 20)

struct src {
	const uint8_t *p;
	size_t len, at;
};

static ssize_t src_read(void *ctx, void *out, size_t len)
{
	struct src *s = ctx;
	size_t n = len < s->len - s->at ? len : s->len - s->at;

	memcpy(out, s->p + s->at, n);
	s->at += n;
	return (ssize_t)n;
}

static void seal(uint8_t *b, size_t len)
{
	size_t at = MIG_HEADER_LEN;

	if (len < MIG_HEADER_LEN)
		return;
	put_le32(b + 28, mig_crc(0, b, 28));
	while (at + MIG_RECORD_LEN <= len) {
		uint32_t plen = get_le32(b + at + 16);
		size_t have = len - at - MIG_RECORD_LEN;
		uint32_t c = mig_crc(0, b + at, 20);

		c = mig_crc(c, b + at + MIG_RECORD_LEN, plen < have ? plen : have);
		put_le32(b + at + 20, c);
		if (plen > have)
			break;
		at += MIG_RECORD_LEN + plen;
	}
}

/* The RAM a pages hook may place runs in, and how much of it there is. */
struct placed {
	uint8_t *ram;
	uint64_t size;
};
static struct placed placed;

/* A run the reader hands a hook must lie inside RAM: it aborts if not.
 * Odd pages are left to the reader's own ram (a NULL answer). */
static uint8_t *fuzz_pages(void *cctx, uint64_t off, uint32_t len)
{
	const struct placed *p = cctx;

	if (!len || off > p->size || len > p->size - off)
		abort();
	return (off / 4096) & 1 ? NULL : p->ram + off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	struct mig_received r;
	struct mig_header h;
	struct mig_reader rd;
	struct src s;
	char err[512];
	uint8_t *b;

	if (size < 2)
		return 0;
	if (!ram)
		ram = malloc(RAM);
	b = malloc(size - 2 ? size - 2 : 1);
	if (!b || !ram) {
		free(b);
		return 0;
	}
	memcpy(b, data + 2, size - 2);
	if (data[0] & 1)
		seal(b, size - 2);
	s = (struct src){ b, size - 2, 0 };
	rd = (struct mig_reader){ .read = src_read, .ctx = &s };
	/* Every other input goes through a pages hook, as the target's. */
	if (data[1] & 2) {
		rd.pages = fuzz_pages;
		rd.cctx = &placed;
	}
	placed = (struct placed){ ram, 0 };
	if (!mig_read_header(&rd, &h, err, sizeof(err))) {
		/* The RAM given is 1 MiB whatever the header claims: the
		 * header's size bounds the offsets, so clamp it like the
		 * target's memfd would be sized. */
		if (h.ram_size > RAM)
			h.ram_size = RAM;
		placed.size = h.ram_size;
		if (!mig_read_body(&rd, &h, (data[1] & 1) ? NULL : ram, &r, err,
				   sizeof(err)))
			free(r.state);
	}
	free(b);
	return 0;
}
