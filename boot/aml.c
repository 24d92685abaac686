// SPDX-License-Identifier: GPL-2.0
#include "aml.h"

#include <string.h>

#include "../vmm/util.h"

#define AML_ZERO	0x00
#define AML_ONE		0x01
#define AML_NAME	0x08
#define AML_BYTE	0x0a
#define AML_WORD	0x0b
#define AML_DWORD	0x0c
#define AML_STRING	0x0d
#define AML_QWORD	0x0e
#define AML_SCOPE	0x10
#define AML_BUFFER	0x11
#define AML_PACKAGE	0x12
#define AML_EXT		0x5b
#define AML_DEVICE	0x82
#define AML_ROOT	0x5c
#define AML_PARENT	0x5e
#define AML_DUAL	0x2e
#define AML_MULTI	0x2f

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->len = 0;
	a->cap = cap;
	a->overflow = false;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

size_t aml_pkg_begin(struct aml *a)
{
	static const uint8_t room[4];
	size_t mark = a->len;

	aml_bytes(a, room, sizeof(room));
	return mark;
}

void aml_pkg_end(struct aml *a, size_t mark)
{
	size_t body, total, n;
	uint8_t enc[4];

	if (a->overflow)
		return;
	body = a->len - mark - 4;
	/* PkgLength counts its own bytes: 1 byte up to 63, else 2..4. */
	if (body + 1 <= 0x3f) {
		n = 1;
		total = body + 1;
		enc[0] = (uint8_t)total;
	} else {
		n = body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
		total = body + n;
		if (total > 0xfffffff) {
			a->overflow = true;
			return;
		}
		enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		enc[1] = (uint8_t)(total >> 4);
		enc[2] = (uint8_t)(total >> 12);
		enc[3] = (uint8_t)(total >> 20);
	}
	memmove(a->buf + mark + n, a->buf + mark + 4, body);
	memcpy(a->buf + mark, enc, n);
	a->len = mark + n + body;
}

static void name_seg(struct aml *a, const char *s, size_t len)
{
	char seg[4] = { '_', '_', '_', '_' };

	memcpy(seg, s, MIN(len, (size_t)4));
	aml_bytes(a, seg, 4);
}

void aml_name(struct aml *a, const char *path)
{
	const char *p = path, *dot;
	unsigned int nseg = 1;

	if (*p == '\\') {
		aml_byte(a, AML_ROOT);
		p++;
	}
	while (*p == '^') {
		aml_byte(a, AML_PARENT);
		p++;
	}
	for (dot = p; (dot = strchr(dot, '.')); dot++)
		nseg++;
	if (!*p) {
		aml_byte(a, AML_ZERO);	/* NullName */
		return;
	}
	if (nseg == 2) {
		aml_byte(a, AML_DUAL);
	} else if (nseg > 2) {
		aml_byte(a, AML_MULTI);
		aml_byte(a, (uint8_t)nseg);
	}
	while (*p) {
		dot = strchr(p, '.');
		name_seg(a, p, dot ? (size_t)(dot - p) : strlen(p));
		p = dot ? dot + 1 : p + strlen(p);
	}
}

void aml_int(struct aml *a, uint64_t v)
{
	uint8_t b[8];

	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		put_le16(b, (uint16_t)v);
		aml_bytes(a, b, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD);
		put_le32(b, (uint32_t)v);
		aml_bytes(a, b, 4);
	} else {
		aml_byte(a, AML_QWORD);
		put_le64(b, v);
		aml_bytes(a, b, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

static unsigned int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned int)(c - '0');
	if (c >= 'A' && c <= 'F')
		return (unsigned int)(c - 'A' + 10);
	if (c >= 'a' && c <= 'f')
		return (unsigned int)(c - 'a' + 10);
	return 0;
}

static uint32_t eisa_id(const char *id)
{
	uint32_t v;
	int i;

	/* Three letters in 5 bits each, then four hex digits, big-endian. */
	v = (uint32_t)((id[0] - '@') & 0x1f) << 26 |
	    (uint32_t)((id[1] - '@') & 0x1f) << 21 |
	    (uint32_t)((id[2] - '@') & 0x1f) << 16;
	for (i = 3; i < 7; i++)
		v |= hex_digit(id[i]) << (4 * (6 - i));
	return __builtin_bswap32(v);
}

void aml_eisaid(struct aml *a, const char *id)
{
	uint8_t b[4];

	aml_byte(a, AML_DWORD);
	put_le32(b, eisa_id(id));
	aml_bytes(a, b, 4);
}

size_t aml_scope_begin(struct aml *a, const char *path)
{
	size_t mark;

	aml_byte(a, AML_SCOPE);
	mark = aml_pkg_begin(a);
	aml_name(a, path);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	mark = aml_pkg_begin(a);
	aml_name(a, name);
	return mark;
}

void aml_name_int(struct aml *a, const char *name, uint64_t v)
{
	aml_byte(a, AML_NAME);
	aml_name(a, name);
	aml_int(a, v);
}

void aml_name_string(struct aml *a, const char *name, const char *s)
{
	aml_byte(a, AML_NAME);
	aml_name(a, name);
	aml_string(a, s);
}

void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	aml_byte(a, AML_NAME);
	aml_name(a, name);
	aml_eisaid(a, id);
}

void aml_name_package(struct aml *a, const char *name, const uint64_t *v,
		      unsigned int n)
{
	size_t mark;
	unsigned int i;

	aml_byte(a, AML_NAME);
	aml_name(a, name);
	aml_byte(a, AML_PACKAGE);
	mark = aml_pkg_begin(a);
	aml_byte(a, (uint8_t)n);
	for (i = 0; i < n; i++)
		aml_int(a, v[i]);
	aml_pkg_end(a, mark);
}

static void res_bytes(struct aml_res *r, const uint8_t *p, size_t n)
{
	if (r->overflow || n > sizeof(r->b) - 2 - r->len) {
		r->overflow = true;	/* keep room for the end tag */
		return;
	}
	memcpy(r->b + r->len, p, n);
	r->len += n;
}

void res_io(struct aml_res *r, uint16_t port, uint8_t len)
{
	uint8_t d[8] = { 0x47, 0x01 };

	put_le16(d + 2, port);
	put_le16(d + 4, port);
	d[6] = 1;
	d[7] = len;
	res_bytes(r, d, sizeof(d));
}

void res_mem32_fixed(struct aml_res *r, uint32_t base, uint32_t len)
{
	uint8_t d[12] = { 0x86, 0x09, 0x00, 0x01 };	/* read-write */

	put_le32(d + 4, base);
	put_le32(d + 8, len);
	res_bytes(r, d, sizeof(d));
}

void res_irq(struct aml_res *r, uint32_t gsi, bool level, bool active_low)
{
	uint8_t d[9] = { 0x89, 0x06, 0x00 };

	/* bit0 consumer, bit1 edge, bit2 active low; exclusive. */
	d[3] = (uint8_t)(0x01 | (level ? 0 : 0x02) | (active_low ? 0x04 : 0));
	d[4] = 1;
	put_le32(d + 5, gsi);
	res_bytes(r, d, sizeof(d));
}

/* Address space descriptors: WORD (0x88), DWORD (0x87), QWORD (0x8a). */
static void res_addr(struct aml_res *r, uint8_t tag, uint8_t type,
		     uint8_t tflags, unsigned int width, uint64_t min,
		     uint64_t max)
{
	uint8_t d[46];
	size_t body = 3 + 5 * (size_t)width, i;
	uint64_t f[5] = { 0, min, max, 0, max - min + 1 };

	memset(d, 0, sizeof(d));
	d[0] = tag;
	put_le16(d + 1, (uint16_t)body);
	d[3] = type;
	d[4] = 0x0c;		/* producer, min and max fixed */
	d[5] = tflags;
	for (i = 0; i < 5; i++) {
		uint8_t *p = d + 6 + i * width;

		if (width == 2)
			put_le16(p, (uint16_t)f[i]);
		else if (width == 4)
			put_le32(p, (uint32_t)f[i]);
		else
			put_le64(p, f[i]);
	}
	res_bytes(r, d, 3 + body);
}

void res_bus_numbers(struct aml_res *r, uint16_t min, uint16_t max)
{
	res_addr(r, 0x88, 2, 0, 2, min, max);
}

void res_io_range(struct aml_res *r, uint32_t min, uint32_t max)
{
	res_addr(r, 0x87, 1, 0x03, 4, min, max);	/* entire range */
}

void res_mem32_range(struct aml_res *r, uint32_t min, uint32_t max)
{
	res_addr(r, 0x87, 0, 0x01, 4, min, max);	/* read-write */
}

void res_mem64_range(struct aml_res *r, uint64_t min, uint64_t max)
{
	res_addr(r, 0x8a, 0, 0x01, 8, min, max);
}

void aml_name_resources(struct aml *a, const char *name,
			const struct aml_res *r)
{
	static const uint8_t end_tag[2] = { 0x79, 0x00 };
	size_t mark;

	if (r->overflow) {
		a->overflow = true;
		return;
	}
	aml_byte(a, AML_NAME);
	aml_name(a, name);
	aml_byte(a, AML_BUFFER);
	mark = aml_pkg_begin(a);
	aml_int(a, r->len + sizeof(end_tag));
	aml_bytes(a, r->b, r->len);
	aml_bytes(a, end_tag, sizeof(end_tag));
	aml_pkg_end(a, mark);
}
