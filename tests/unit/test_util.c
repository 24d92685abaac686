// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/util.h"

START_TEST(size_suffixes)
{
	uint64_t v;

	ck_assert_int_eq(parse_size("256M", &v), 0);
	ck_assert_uint_eq(v, 256ULL << 20);
	ck_assert_int_eq(parse_size("2g", &v), 0);
	ck_assert_uint_eq(v, 2ULL << 30);
	ck_assert_int_eq(parse_size("4096K", &v), 0);
	ck_assert_uint_eq(v, 4ULL << 20);
	ck_assert_int_eq(parse_size("1T", &v), 0);
	ck_assert_uint_eq(v, 1ULL << 40);
	ck_assert_int_eq(parse_size("512MiB", &v), 0);
	ck_assert_uint_eq(v, 512ULL << 20);
	ck_assert_int_eq(parse_size("64MB", &v), 0);
	ck_assert_uint_eq(v, 64ULL << 20);
	/* A bare number is MiB, like QEMU's -m. */
	ck_assert_int_eq(parse_size("128", &v), 0);
	ck_assert_uint_eq(v, 128ULL << 20);
}
END_TEST

START_TEST(size_garbage)
{
	uint64_t v = 7;

	ck_assert_int_eq(parse_size("12Q", &v), -EINVAL);
	ck_assert_int_eq(parse_size("", &v), -EINVAL);
	ck_assert_int_eq(parse_size("M", &v), -EINVAL);
	ck_assert_int_eq(parse_size("-1G", &v), -EINVAL);
	ck_assert_int_eq(parse_size(" 1G", &v), -EINVAL);
	ck_assert_int_eq(parse_size("1G extra", &v), -EINVAL);
	ck_assert_int_eq(parse_size("1.5G", &v), -EINVAL);
	ck_assert_int_eq(parse_size("99999999999999999999", &v), -ERANGE);
	ck_assert_int_eq(parse_size("17179869184T", &v), -ERANGE);
	ck_assert_int_eq(parse_size(NULL, &v), -EINVAL);
	ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(access_round_trip)
{
	uint8_t b[8];
	unsigned int len;

	for (len = 1; len <= 8; len *= 2) {
		uint64_t v = 0x1122334455667788ULL >> (64 - 8 * len);

		put_access(b, len, v);
		ck_assert_uint_eq(get_access(b, len), v);
	}
	put_le32(b, 0xdeadbeef);
	ck_assert_uint_eq(b[0], 0xef);
	ck_assert_uint_eq(b[3], 0xde);
}
END_TEST

START_TEST(overflow_helper)
{
	uint64_t r;

	ck_assert(!add_overflows(1, 2, &r));
	ck_assert_uint_eq(r, 3);
	ck_assert(add_overflows(UINT64_MAX, 1, &r));
}
END_TEST

/* Control sockets: a stale socket is replaced, nothing else is. */
START_TEST(unix_listen_paths)
{
	char dir[] = "/tmp/vireo-util-XXXXXX", path[200], err[256];
	char longpath[200];
	struct stat st;
	uint64_t id;
	int fd, fd2;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	fd = unix_listen(path, "--test socket", err, sizeof(err));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	close(fd);
	/* Left behind by a run that died: taken over. The old owner,
	 * going away late, leaves the new socket where it is. */
	id = unix_path_id(path);
	ck_assert_uint_ne(id, 0);
	usleep(20000);		/* (a coarse clock: a later change time) */
	fd2 = unix_listen(path, "--test socket", err, sizeof(err));
	ck_assert_int_ge(fd2, 0);
	unix_unlink_own(path, id);
	ck_assert_int_eq(lstat(path, &st), 0);
	unix_unlink_own(path, unix_path_id(path));
	ck_assert_int_ne(lstat(path, &st), 0);
	close(fd2);
	/* A regular file is somebody's data: refused, kept. */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(unix_listen(path, "--test socket", err, sizeof(err)),
			 -EEXIST);
	ck_assert_ptr_nonnull(strstr(err, "--test socket"));
	ck_assert_ptr_nonnull(strstr(err, "not a socket"));
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	unlink(path);
	/* Longer than sun_path: an error, not a truncated path. */
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	memcpy(longpath, "/tmp/", 5);
	ck_assert_int_eq(unix_listen(longpath, "--test socket", err, sizeof(err)),
			 -ENAMETOOLONG);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	rmdir(dir);
}
END_TEST

Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, size_suffixes);
	tcase_add_test(tc, size_garbage);
	tcase_add_test(tc, access_round_trip);
	tcase_add_test(tc, overflow_helper);
	tcase_add_test(tc, unix_listen_paths);
	suite_add_tcase(s, tc);
	return s;
}
