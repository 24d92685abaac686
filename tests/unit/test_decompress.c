// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/decompress.h"
#include "unit.h"
#include "vmm/util.h"

static const enum payload_format formats[] = {
	PAYLOAD_GZIP, PAYLOAD_XZ, PAYLOAD_LZMA, PAYLOAD_LZ4, PAYLOAD_ZSTD,
};

static uint8_t *sample(size_t *len)
{
	return make_elf(0x1000000, 200000, 300000, true, len);
}

START_TEST(round_trip)
{
	enum payload_format f = formats[_i];
	size_t len, clen, olen;
	uint8_t *data = sample(&len), *c, *out;
	char err[256];

	c = compress_payload(f, data, len, &clen);
	ck_assert_int_eq(payload_detect(c, clen), f);
	ck_assert_int_eq(payload_decompress(c, clen, 1 << 30, &out, &olen, err,
					    sizeof(err)), 0);
	ck_assert_uint_eq(olen, len);
	ck_assert_int_eq(memcmp(out, data, len), 0);
	free(out);
	free(c);
	free(data);
}
END_TEST

START_TEST(truncated)
{
	enum payload_format f = formats[_i];
	size_t len, clen, olen, cut;
	uint8_t *data = sample(&len), *c, *out = (uint8_t *)1;
	char err[256];

	c = compress_payload(f, data, len, &clen);
	/* Drop the middle of the stream but keep the size trailer. */
	for (cut = clen / 4; cut < clen - 8; cut += clen / 5) {
		uint8_t *t = malloc(cut + 4);

		memcpy(t, c, cut);
		memcpy(t + cut, c + clen - 4, 4);
		ck_assert_int_ne(payload_decompress(t, cut + 4, 1 << 30, &out,
						    &olen, err, sizeof(err)), 0);
		ck_assert_ptr_null(out);
		free(t);
	}
	/* And a plain cut, where the "trailer" is stream bytes. */
	ck_assert_int_ne(payload_decompress(c, clen / 2, 1 << 30, &out, &olen,
					    err, sizeof(err)), 0);
	free(c);
	free(data);
}
END_TEST

START_TEST(corrupt)
{
	enum payload_format f = formats[_i];
	size_t len, clen, olen, i;
	uint8_t *data = sample(&len), *c, *out;
	char err[256];
	int ret;

	c = compress_payload(f, data, len, &clen);
	for (i = clen / 3; i < clen / 3 + 64; i++)
		c[i] ^= 0xa5;
	ret = payload_decompress(c, clen, 1 << 30, &out, &olen, err, sizeof(err));
	/*
	 * gzip, xz, lzma and zstd carry checksums or strict structure. The
	 * lz4 legacy frame has no checksum: corruption may decode to other
	 * bytes of the right size, which the ELF checks then see.
	 */
	if (ret == 0) {
		ck_assert_int_eq(f, PAYLOAD_LZ4);
		ck_assert_int_ne(memcmp(out, data, len), 0);
		free(out);
	} else {
		ck_assert_ptr_nonnull(strstr(err, payload_format_name(f)));
	}
	free(c);
	free(data);
}
END_TEST

START_TEST(bomb_declared_too_small)
{
	enum payload_format f = formats[_i];
	size_t len = 32 << 20, clen, olen;
	uint8_t *data = calloc(1, len), *c, *out;
	char err[256];
	int ret;

	/* 32 MiB of zeros that claims to be 1 MiB: stop at 1 MiB + 1. */
	c = compress_payload(f, data, len, &clen);
	ck_assert_uint_lt(clen, len / 100);
	put_le32(c + clen - 4, 1 << 20);
	ret = payload_decompress(c, clen, 1 << 30, &out, &olen, err, sizeof(err));
	ck_assert_int_ne(ret, 0);
	if (f != PAYLOAD_LZ4)	/* lz4 cannot tell a short buffer from junk */
		ck_assert_int_eq(ret, -EOVERFLOW);
	free(c);
	free(data);
}
END_TEST

START_TEST(bomb_declared_too_large)
{
	enum payload_format f = formats[_i];
	size_t len, clen, olen;
	uint8_t *data = sample(&len), *c, *out;
	char err[256];

	c = compress_payload(f, data, len, &clen);
	/* More than the limit: refused before anything is allocated. */
	ck_assert_int_eq(payload_decompress(c, clen, len - 1, &out, &olen, err,
					    sizeof(err)), -EFBIG);
	ck_assert_ptr_nonnull(strstr(err, "limit"));
	put_le32(c + clen - 4, 7);
	ck_assert_int_eq(payload_decompress(c, clen, 1 << 30, &out, &olen, err,
					    sizeof(err)), -EINVAL);
	free(c);
	free(data);
}
END_TEST

START_TEST(lz4_many_blocks)
{
	size_t len = (9 << 20) + 123, clen, olen, i;
	uint8_t *data = malloc(len), *c, *out;
	char err[256];

	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(i ^ (i >> 13));
	c = compress_payload(PAYLOAD_LZ4, data, len, &clen);
	ck_assert_int_eq(payload_decompress(c, clen, 1 << 30, &out, &olen, err,
					    sizeof(err)), 0);
	ck_assert_int_eq(memcmp(out, data, len), 0);
	free(out);
	/* A block size past the input is caught, not read past. */
	put_le32(c + 4, (uint32_t)clen);
	ck_assert_int_ne(payload_decompress(c, clen, 1 << 30, &out, &olen, err,
					    sizeof(err)), 0);
	free(c);
	free(data);
}
END_TEST

START_TEST(unsupported_and_unknown)
{
	static const uint8_t bz2[32] = "BZh91AY&SY";
	static const uint8_t lzo[32] = "\x89LZO";
	static const uint8_t junk[32] = "hello";
	uint8_t *out;
	size_t olen;
	char err[256];

	ck_assert_int_eq(payload_decompress(bz2, 32, 1 << 30, &out, &olen, err,
					    sizeof(err)), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(err, "bzip2"));
	ck_assert_int_eq(payload_decompress(lzo, 32, 1 << 30, &out, &olen, err,
					    sizeof(err)), -ENOTSUP);
	ck_assert_int_eq(payload_decompress(junk, 32, 1 << 30, &out, &olen, err,
					    sizeof(err)), -EINVAL);
	ck_assert_int_eq(payload_decompress(junk, 0, 1 << 30, &out, &olen, err,
					    sizeof(err)), -EINVAL);
	ck_assert_int_eq(payload_detect((const uint8_t *)"\x7f" "ELF", 4),
			 PAYLOAD_ELF);
}
END_TEST

Suite *decompress_suite(void)
{
	Suite *s = suite_create("decompress");
	TCase *tc = tcase_create("formats");
	int n = (int)ARRAY_SIZE(formats);

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, round_trip, 0, n);
	tcase_add_loop_test(tc, truncated, 0, n);
	tcase_add_loop_test(tc, corrupt, 0, n);
	tcase_add_loop_test(tc, bomb_declared_too_small, 0, n);
	tcase_add_loop_test(tc, bomb_declared_too_large, 0, n);
	tcase_add_test(tc, lz4_many_blocks);
	tcase_add_test(tc, unsupported_and_unknown);
	suite_add_tcase(s, tc);
	return s;
}
