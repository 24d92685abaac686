// SPDX-License-Identifier: GPL-2.0
#include "decompress.h"

#include <errno.h>
#include <lz4.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "../vmm/util.h"

#define LZ4_LEGACY_MAGIC 0x184c2102U
#define LZ4_LEGACY_BLOCK (8U << 20)

enum payload_format payload_detect(const uint8_t *p, size_t len)
{
	if (len >= 4 && !memcmp(p, "\x7f" "ELF", 4))
		return PAYLOAD_ELF;
	if (len >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 0x08)
		return PAYLOAD_GZIP;
	if (len >= 6 && !memcmp(p, "\xfd" "7zXZ\0", 6))
		return PAYLOAD_XZ;
	if (len >= 4 && get_le32(p) == LZ4_LEGACY_MAGIC)
		return PAYLOAD_LZ4;
	if (len >= 4 && get_le32(p) == 0xfd2fb528U)
		return PAYLOAD_ZSTD;
	if (len >= 3 && !memcmp(p, "BZh", 3))
		return PAYLOAD_BZIP2;
	if (len >= 4 && !memcmp(p, "\x89LZO", 4))
		return PAYLOAD_LZO;
	if (len >= 3 && p[0] == 0x5d && p[1] == 0 && p[2] == 0)
		return PAYLOAD_LZMA;
	return PAYLOAD_UNKNOWN;
}

const char *payload_format_name(enum payload_format f)
{
	static const char *const names[] = {
		[PAYLOAD_UNKNOWN] = "unknown", [PAYLOAD_ELF] = "uncompressed",
		[PAYLOAD_GZIP] = "gzip", [PAYLOAD_XZ] = "xz",
		[PAYLOAD_LZMA] = "lzma", [PAYLOAD_LZ4] = "lz4",
		[PAYLOAD_ZSTD] = "zstd", [PAYLOAD_BZIP2] = "bzip2",
		[PAYLOAD_LZO] = "lzo",
	};

	return f < ARRAY_SIZE(names) ? names[f] : "unknown";
}

static int inflate_gzip(const uint8_t *in, size_t in_len, uint8_t *out,
			size_t out_len, size_t *done)
{
	z_stream zs;
	int ret;

	memset(&zs, 0, sizeof(zs));
	if (in_len > UINT32_MAX || out_len > UINT32_MAX)
		return -EFBIG;
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = out;
	zs.avail_out = (uInt)out_len;
	ret = inflate(&zs, Z_FINISH);
	*done = zs.total_out;
	inflateEnd(&zs);
	if (ret == Z_STREAM_END || zs.avail_out == 0)
		return 0;
	return ret == Z_BUF_ERROR ? -ENODATA : -EBADMSG;
}

static int inflate_xz(const uint8_t *in, size_t in_len, uint8_t *out,
		      size_t out_len, size_t *done, int lzma_alone)
{
	lzma_stream ls = LZMA_STREAM_INIT;
	lzma_ret r;

	if (lzma_alone)
		r = lzma_alone_decoder(&ls, 256 << 20);
	else
		r = lzma_stream_decoder(&ls, 256 << 20, 0);
	if (r != LZMA_OK)
		return -ENOMEM;
	ls.next_in = in;
	ls.avail_in = in_len;
	ls.next_out = out;
	ls.avail_out = out_len;
	do {
		r = lzma_code(&ls, LZMA_FINISH);
	} while (r == LZMA_OK && ls.avail_out);
	*done = (size_t)ls.total_out;
	lzma_end(&ls);
	if (r == LZMA_STREAM_END || ls.avail_out == 0)
		return 0;
	if (r == LZMA_OK || r == LZMA_BUF_ERROR)
		return -ENODATA;
	return r == LZMA_MEMLIMIT_ERROR ? -E2BIG : -EBADMSG;
}

static int inflate_lz4(const uint8_t *in, size_t in_len, uint8_t *out,
		       size_t out_len, size_t *done)
{
	size_t pos = 4, produced = 0;

	while (produced < out_len) {
		uint32_t csize;
		int n;

		if (in_len - pos < 4)
			break;
		csize = get_le32(in + pos);
		pos += 4;
		if (csize == LZ4_LEGACY_MAGIC)
			continue;
		if (csize > in_len - pos ||
		    csize > (uint32_t)LZ4_compressBound(LZ4_LEGACY_BLOCK))
			break;
		n = LZ4_decompress_safe((const char *)in + pos,
					(char *)out + produced, (int)csize,
					(int)MIN(out_len - produced,
						 (size_t)LZ4_LEGACY_BLOCK));
		if (n < 0) {
			*done = produced;
			return -EBADMSG;
		}
		produced += (size_t)n;
		pos += csize;
	}
	*done = produced;
	return 0;
}

static int inflate_zstd(const uint8_t *in, size_t in_len, uint8_t *out,
			size_t out_len, size_t *done)
{
	size_t fsize = ZSTD_findFrameCompressedSize(in, in_len);
	size_t n;

	*done = 0;
	if (ZSTD_isError(fsize))
		return ZSTD_getErrorCode(fsize) == ZSTD_error_srcSize_wrong ?
		       -ENODATA : -EBADMSG;
	n = ZSTD_decompress(out, out_len, in, fsize);
	if (ZSTD_isError(n) &&
	    ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall)
		n = out_len;	/* it wanted more room than declared + 1 */
	else if (ZSTD_isError(n))
		return -EBADMSG;
	*done = n;
	return 0;
}

int payload_decompress(const uint8_t *in, size_t in_len, size_t max_out,
		       uint8_t **out, size_t *out_len, char *err,
		       size_t errlen)
{
	enum payload_format fmt = payload_detect(in, in_len);
	size_t declared, cap, done = 0;
	uint8_t *buf;
	int ret;

	*out = NULL;
	*out_len = 0;
	switch (fmt) {
	case PAYLOAD_GZIP:
	case PAYLOAD_XZ:
	case PAYLOAD_LZMA:
	case PAYLOAD_LZ4:
	case PAYLOAD_ZSTD:
		break;
	case PAYLOAD_BZIP2:
	case PAYLOAD_LZO:
		errf(err, errlen, "%s-compressed kernels are not supported "
		     "(gzip, xz, lzma, lz4 and zstd are); boot the ELF vmlinux "
		     "instead", payload_format_name(fmt));
		return -ENOTSUP;
	default:
		errf(err, errlen, "the compressed payload has an unknown format");
		return -EINVAL;
	}
	if (in_len < 16) {
		errf(err, errlen, "the compressed payload is truncated");
		return -EINVAL;
	}
	declared = get_le32(in + in_len - 4);
	if (declared < 64) {
		errf(err, errlen, "the payload declares an uncompressed size "
		     "of %zu bytes, too small for a kernel", declared);
		return -EINVAL;
	}
	if (declared > max_out) {
		errf(err, errlen, "the payload declares %zu MiB uncompressed, "
		     "more than the %zu MiB limit", declared >> 20, max_out >> 20);
		return -EFBIG;
	}
	/*
	 * One spare byte: a stream that fills it produces more than it
	 * declared. The decoders report how much they wrote in done.
	 */
	cap = declared + 1;
	buf = malloc(cap);
	if (!buf) {
		errf(err, errlen, "out of memory for a %zu MiB kernel",
		     declared >> 20);
		return -ENOMEM;
	}
	switch (fmt) {
	case PAYLOAD_GZIP:
		ret = inflate_gzip(in, in_len, buf, cap, &done);
		break;
	case PAYLOAD_XZ:
		ret = inflate_xz(in, in_len - 4, buf, cap, &done, 0);
		break;
	case PAYLOAD_LZMA:
		ret = inflate_xz(in, in_len - 4, buf, cap, &done, 1);
		break;
	case PAYLOAD_LZ4:
		ret = inflate_lz4(in, in_len - 4, buf, cap, &done);
		break;
	default:
		ret = inflate_zstd(in, in_len - 4, buf, cap, &done);
		break;
	}
	if (!ret && done > declared)
		ret = -EOVERFLOW;
	else if (!ret && done < declared)
		ret = -ENODATA;
	if (ret) {
		if (ret == -EOVERFLOW)
			errf(err, errlen, "the %s payload decompresses to more "
			     "than its declared %zu bytes", payload_format_name(fmt),
			     declared);
		else if (ret == -ENODATA)
			errf(err, errlen, "the %s payload is truncated (%zu of "
			     "%zu bytes)", payload_format_name(fmt), done, declared);
		else
			errf(err, errlen, "the %s payload is corrupt",
			     payload_format_name(fmt));
		free(buf);
		return ret;
	}
	*out = buf;
	*out_len = declared;
	return 0;
}
