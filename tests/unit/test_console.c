// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/console.h"

START_TEST(escape_sequences)
{
	struct console c;
	uint8_t out[64];
	bool quit;
	size_t n;
	int p[2];

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(pipe(p), 0);
	c.out_fd = p[1];
	pthread_mutex_init(&c.out_lock, NULL);

	n = console_filter(&c, (const uint8_t *)"ls\r", 3, out, &quit);
	ck_assert_uint_eq(n, 3);
	ck_assert(!quit);
	/* Ctrl-A Ctrl-A sends one Ctrl-A; Ctrl-A z sends both. */
	n = console_filter(&c, (const uint8_t *)"\x01\x01" "a\x01z", 5, out, &quit);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(memcmp(out, "\x01" "a\x01z", 4), 0);
	/* An escape split across two reads still counts. */
	n = console_filter(&c, (const uint8_t *)"q\x01", 2, out, &quit);
	ck_assert_uint_eq(n, 1);
	ck_assert(!quit);
	n = console_filter(&c, (const uint8_t *)"x", 1, out, &quit);
	ck_assert_uint_eq(n, 0);
	ck_assert(quit);
	/* Ctrl-A h prints help on the console, sends nothing. */
	n = console_filter(&c, (const uint8_t *)"\x01h", 2, out, &quit);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_gt(read(p[0], out, sizeof(out)), 10);
	close(p[0]);
	close(p[1]);
}
END_TEST

Suite *console_suite(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("escape");

	tcase_add_test(tc, escape_sequences);
	suite_add_tcase(s, tc);
	return s;
}
