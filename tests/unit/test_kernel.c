// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/kernel.h"
#include "unit.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/vireo-unit-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
}

/* The one cache entry's path, or "" if there is none. */
static void cache_entry(const char *cache, char out[512], size_t len)
{
	DIR *d = opendir(cache);
	struct dirent *e;

	out[0] = '\0';
	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "vmlinux-", 8))
			snprintf(out, len, "%s/%s", cache, e->d_name);
	closedir(d);
}

static char *write_bzimage(enum payload_format f, uint8_t **elf, size_t *elf_len)
{
	static char path[128];
	size_t clen, blen;
	uint8_t *c, *bz;

	*elf = make_elf(0x1000000, 50000, 80000, true, elf_len);
	c = compress_payload(f, *elf, *elf_len, &clen);
	bz = make_bzimage(c, clen, &blen);
	snprintf(path, sizeof(path), "%s/bzImage", dir);
	write_file(path, bz, blen);
	free(c);
	free(bz);
	return path;
}

START_TEST(bzimage_is_extracted_then_cached)
{
	struct kernel_opts o = { .use_cache = true };
	char cache[128], entry[512], err[256];
	struct kernel k;
	size_t elf_len;
	uint8_t *elf;
	const char *path = write_bzimage(PAYLOAD_ZSTD, &elf, &elf_len);

	snprintf(cache, sizeof(cache), "%s/cache/nested", dir);
	o.cache_dir = cache;
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	ck_assert(k.is_bzimage);
	ck_assert(!k.cache_hit);
	ck_assert_int_eq(k.format, PAYLOAD_ZSTD);
	ck_assert_uint_eq(k.elf_len, elf_len);
	ck_assert_int_eq(memcmp(k.elf, elf, elf_len), 0);
	ck_assert(k.info.has_pvh);
	kernel_close(&k);

	cache_entry(cache, entry, sizeof(entry));
	ck_assert_str_ne(entry, "");
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	ck_assert(k.cache_hit);
	ck_assert_int_eq(memcmp(k.elf, elf, elf_len), 0);
	kernel_close(&k);

	/* A damaged cache entry is noticed, dropped and rebuilt. */
	write_file(entry, "garbage", 7);
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	ck_assert(!k.cache_hit);
	ck_assert_int_eq(memcmp(k.elf, elf, elf_len), 0);
	kernel_close(&k);
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	ck_assert(k.cache_hit);
	kernel_close(&k);

	/* Without the cache, nothing is looked up. */
	o.use_cache = false;
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	ck_assert(!k.cache_hit);
	kernel_close(&k);
	free(elf);
}
END_TEST

START_TEST(unwritable_cache_still_boots)
{
	struct kernel_opts o = { .use_cache = true, .cache_dir = "/proc/nope" };
	char err[256];
	struct kernel k;
	size_t elf_len;
	uint8_t *elf;
	const char *path = write_bzimage(PAYLOAD_GZIP, &elf, &elf_len);

	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	ck_assert_int_eq(memcmp(k.elf, elf, elf_len), 0);
	kernel_close(&k);
	free(elf);
}
END_TEST

START_TEST(plain_elf)
{
	struct kernel_opts o = { .use_cache = false };
	char path[128], err[256];
	struct kernel k;
	size_t len;
	uint8_t *elf = make_elf(0x1000000, 1000, 2000, false, &len);

	snprintf(path, sizeof(path), "%s/vmlinux", dir);
	write_file(path, elf, len);
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	ck_assert(!k.is_bzimage);
	ck_assert_uint_eq(k.info.entry, 0x1000010);
	kernel_close(&k);
	free(elf);
	/* Segments in the boot area below 1 MiB are refused. */
	elf = make_elf(0x8000, 1000, 2000, false, &len);
	write_file(path, elf, len);
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "below 1 MiB"));
	free(elf);
}
END_TEST

START_TEST(bad_files)
{
	struct kernel_opts o = { .use_cache = false };
	char path[128], err[256];
	struct kernel k;
	uint8_t junk[4096] = "this is not a kernel";

	snprintf(path, sizeof(path), "%s/missing", dir);
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	ck_assert_int_eq(kernel_open(&k, dir, &o, err, sizeof(err)), -EISDIR);
	snprintf(path, sizeof(path), "%s/empty", dir);
	write_file(path, "", 0);
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	snprintf(path, sizeof(path), "%s/junk", dir);
	write_file(path, junk, sizeof(junk));
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "neither a bzImage nor an ELF"));
}
END_TEST

START_TEST(bzimage_with_bad_payload)
{
	struct kernel_opts o = { .use_cache = false };
	char path[128], err[256];
	struct kernel k;
	uint8_t payload[256];
	size_t blen;
	uint8_t *bz;

	/* gzip magic, then garbage: a clear decompression error. */
	memset(payload, 0x41, sizeof(payload));
	payload[0] = 0x1f;
	payload[1] = 0x8b;
	payload[2] = 0x08;
	put_le32(payload + 252, 100000);
	bz = make_bzimage(payload, sizeof(payload), &blen);
	snprintf(path, sizeof(path), "%s/bad", dir);
	write_file(path, bz, blen);
	ck_assert_int_ne(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "gzip"));
	/* A payload that is not ELF once decompressed. */
	free(bz);
	{
		uint8_t text[1000];
		size_t clen;
		uint8_t *c;

		memset(text, 'x', sizeof(text));
		c = compress_payload(PAYLOAD_XZ, text, sizeof(text), &clen);
		bz = make_bzimage(c, clen, &blen);
		write_file(path, bz, blen);
		ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "inside the bzImage"));
		free(c);
	}
	free(bz);
}
END_TEST

START_TEST(cache_trusts_only_private_entries)
{
	struct kernel_opts o = { .use_cache = true };
	char cache[128], entry[512], link[600], err[256];
	struct kernel k;
	size_t elf_len;
	uint8_t *elf;
	const char *path = write_bzimage(PAYLOAD_LZ4, &elf, &elf_len);

	snprintf(cache, sizeof(cache), "%s/cache", dir);
	o.cache_dir = cache;
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	kernel_close(&k);
	cache_entry(cache, entry, sizeof(entry));
	ck_assert_str_ne(entry, "");

	/* Writable by others: not trusted (re-extracted, rewritten). */
	ck_assert_int_eq(chmod(entry, 0666), 0);
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	ck_assert(!k.cache_hit);
	kernel_close(&k);
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	ck_assert(k.cache_hit);
	kernel_close(&k);

	/* A symlink planted in place of the entry is not followed. */
	snprintf(link, sizeof(link), "%s/elsewhere", cache);
	ck_assert_int_eq(rename(entry, link), 0);
	ck_assert_int_eq(symlink(link, entry), 0);
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	ck_assert(!k.cache_hit);
	kernel_close(&k);

	/* A cache directory others may write is not used at all. */
	ck_assert_int_eq(chmod(cache, 0777), 0);
	ck_assert_int_eq(unlink(entry), 0);
	ck_assert_int_eq(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	kernel_close(&k);
	cache_entry(cache, entry, sizeof(entry));
	ck_assert_str_eq(entry, "");
	free(elf);
}
END_TEST

START_TEST(invalid_payload_not_cached)
{
	struct kernel_opts o = { .use_cache = true };
	char cache[128], entry[512], path[128], err[256];
	struct kernel k;
	uint8_t junk[4096];
	size_t clen, blen;
	uint8_t *c, *bz;

	/* "\x7fELF" then zeros: the magic alone must not get it cached. */
	memset(junk, 0, sizeof(junk));
	memcpy(junk, "\x7f" "ELF", 4);
	c = compress_payload(PAYLOAD_GZIP, junk, sizeof(junk), &clen);
	bz = make_bzimage(c, clen, &blen);
	snprintf(path, sizeof(path), "%s/fake", dir);
	write_file(path, bz, blen);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	o.cache_dir = cache;
	ck_assert_int_ne(kernel_open(&k, path, &o, err, sizeof(err)), 0);
	cache_entry(cache, entry, sizeof(entry));
	ck_assert_str_eq(entry, "");
	free(c);
	free(bz);
}
END_TEST

Suite *kernel_suite(void)
{
	Suite *s = suite_create("kernel");
	TCase *tc = tcase_create("open");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bzimage_is_extracted_then_cached);
	tcase_add_test(tc, unwritable_cache_still_boots);
	tcase_add_test(tc, plain_elf);
	tcase_add_test(tc, bad_files);
	tcase_add_test(tc, bzimage_with_bad_payload);
	tcase_add_test(tc, cache_trusts_only_private_entries);
	tcase_add_test(tc, invalid_payload_not_cached);
	suite_add_tcase(s, tc);
	return s;
}
