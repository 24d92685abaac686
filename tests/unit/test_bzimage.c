// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bzimage.h"
#include "unit.h"
#include "vmm/util.h"

static uint8_t *good(size_t *len)
{
	static const uint8_t payload[64] = { 0x1f, 0x8b, 0x08 };

	return make_bzimage(payload, sizeof(payload), len);
}

START_TEST(parses_header_and_payload)
{
	struct bzimage bz;
	size_t len;
	uint8_t *b = good(&len);
	char err[256];

	ck_assert(bzimage_probe(b, len));
	ck_assert_int_eq(bzimage_parse(b, len, &bz, err, sizeof(err)), 0);
	ck_assert_uint_eq(bz.hdr.version, 0x020f);
	ck_assert_uint_eq(bz.hdr.cmdline_size, 2047);
	ck_assert_uint_eq(bz.hdr.initrd_addr_max, 0x7fffffff);
	ck_assert_uint_eq(bz.hdr_len, 0x26c - 0x1f1);
	ck_assert_ptr_eq(bz.payload, b + 1024 + 0x100);
	ck_assert_uint_eq(bz.payload_len, 64);
	free(b);
}
END_TEST

START_TEST(rejects_wrong_magic)
{
	struct bzimage bz;
	size_t len;
	uint8_t *b = good(&len);
	char err[256];

	b[0x1fe] = 0;
	ck_assert(!bzimage_probe(b, len));
	ck_assert_int_eq(bzimage_parse(b, len, &bz, err, sizeof(err)), -EINVAL);
	b[0x1fe] = 0x55;
	memcpy(b + 0x202, "HdrT", 4);
	ck_assert_int_eq(bzimage_parse(b, len, &bz, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a bzImage"));
	free(b);
}
END_TEST

START_TEST(rejects_truncation_everywhere)
{
	struct bzimage bz;
	size_t len, cut;
	uint8_t *b = good(&len);
	char err[256];

	/* Every prefix shorter than the end of the payload is refused. */
	for (cut = 0; cut < 1024 + 0x100 + 64; cut++)
		ck_assert_int_ne(bzimage_parse(b, cut, &bz, err, sizeof(err)), 0);
	ck_assert_int_eq(bzimage_parse(b, 1024 + 0x100 + 64, &bz, err,
				       sizeof(err)), 0);
	free(b);
}
END_TEST

START_TEST(rejects_payload_past_end)
{
	struct bzimage bz;
	size_t len;
	uint8_t *b = good(&len);
	char err[256];

	put_le32(b + 0x248, 0xfffffff0);	/* offset wraps 32 bits */
	ck_assert_int_eq(bzimage_parse(b, len, &bz, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "past the end"));
	put_le32(b + 0x248, 0x100);
	put_le32(b + 0x24c, 0xffffffff);
	ck_assert_int_eq(bzimage_parse(b, len, &bz, err, sizeof(err)), -EINVAL);
	put_le32(b + 0x24c, 0);
	ck_assert_int_eq(bzimage_parse(b, len, &bz, err, sizeof(err)), -EINVAL);
	b[0x1f1] = 0xff;			/* 255 setup sectors: past EOF */
	put_le32(b + 0x24c, 64);
	ck_assert_int_eq(bzimage_parse(b, len, &bz, err, sizeof(err)), -EINVAL);
	free(b);
}
END_TEST

START_TEST(rejects_old_protocols)
{
	struct bzimage bz;
	size_t len;
	uint8_t *b = good(&len);
	char err[256];

	put_le16(b + 0x206, 0x0204);
	ck_assert_int_eq(bzimage_parse(b, len, &bz, err, sizeof(err)), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(err, "2.04"));
	put_le16(b + 0x206, 0x020f);
	b[0x211] = 0;				/* a zImage */
	ck_assert_int_eq(bzimage_parse(b, len, &bz, err, sizeof(err)), -ENOTSUP);
	free(b);
}
END_TEST

START_TEST(short_header_jump)
{
	struct bzimage bz;
	size_t len;
	uint8_t *b = good(&len);
	char err[256];

	/* A header that ends before payload_length is too short to use. */
	b[0x201] = 0x10;
	ck_assert_int_eq(bzimage_parse(b, len, &bz, err, sizeof(err)), -EINVAL);
	free(b);
}
END_TEST

Suite *bzimage_suite(void)
{
	Suite *s = suite_create("bzimage");
	TCase *tc = tcase_create("header");

	tcase_add_test(tc, parses_header_and_payload);
	tcase_add_test(tc, rejects_wrong_magic);
	tcase_add_test(tc, rejects_truncation_everywhere);
	tcase_add_test(tc, rejects_payload_past_end);
	tcase_add_test(tc, rejects_old_protocols);
	tcase_add_test(tc, short_header_jump);
	suite_add_tcase(s, tc);
	return s;
}
