// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "unit.h"
#include "vmm/bus.h"

struct rec {
	uint64_t off;
	unsigned int len;
	uint8_t data[8];
	int writes, reads;
};

static void rec_read(void *opaque, uint64_t off, uint8_t *data,
		     unsigned int len)
{
	struct rec *r = opaque;

	r->reads++;
	r->off = off;
	memset(data, 0x5a, len);
}

static void rec_write(void *opaque, uint64_t off, const uint8_t *data,
		      unsigned int len)
{
	struct rec *r = opaque;

	r->writes++;
	r->off = off;
	r->len = len;
	memcpy(r->data, data, len);
}

static const struct bus_ops rec_ops = { rec_read, rec_write };

START_TEST(register_rejects_overlap)
{
	static struct io_bus bus;
	struct rec a, b;

	memset(&bus, 0, sizeof(bus));
	ck_assert_int_eq(bus_register(&bus, 0x100, 0x10, &rec_ops, &a, "a"), 0);
	ck_assert_int_eq(bus_register(&bus, 0x10f, 1, &rec_ops, &b, "b"), -EEXIST);
	ck_assert_int_eq(bus_register(&bus, 0xff, 2, &rec_ops, &b, "b"), -EEXIST);
	ck_assert_int_eq(bus_register(&bus, 0x90, 0x100, &rec_ops, &b, "b"), -EEXIST);
	ck_assert_int_eq(bus_register(&bus, 0x110, 1, &rec_ops, &b, "b"), 0);
	ck_assert_int_eq(bus_register(&bus, 0xf0, 0x10, &rec_ops, &b, "c"), 0);
	ck_assert_int_eq(bus_register(&bus, 0x1, 0, &rec_ops, &b, "zero"), -EINVAL);
	ck_assert_int_eq(bus_register(&bus, UINT64_MAX, 2, &rec_ops, &b, "wrap"),
			 -EINVAL);
	ck_assert_uint_eq(bus.nr, 3);
	ck_assert_uint_eq(bus.r[0].base, 0xf0);
	ck_assert_uint_eq(bus.r[1].base, 0x100);
	ck_assert_uint_eq(bus.r[2].base, 0x110);
}
END_TEST

START_TEST(dispatch_and_unclaimed)
{
	static struct io_bus bus;
	struct rec a = { 0 };
	uint8_t d[8] = { 1, 2, 3, 4 };

	memset(&bus, 0, sizeof(bus));
	ck_assert_int_eq(bus_register(&bus, 0x1000, 0x100, &rec_ops, &a, "a"), 0);
	ck_assert(bus_access(&bus, 0x1010, d, 4, true));
	ck_assert_uint_eq(a.off, 0x10);
	ck_assert_uint_eq(a.len, 4);
	ck_assert_uint_eq(a.data[3], 4);
	ck_assert(bus_access(&bus, 0x10fc, d, 4, false));
	ck_assert_uint_eq(d[0], 0x5a);
	/* Straddling the end of a range: nobody is called, reads all ones. */
	ck_assert(!bus_access(&bus, 0x10fe, d, 4, false));
	ck_assert_uint_eq(d[0], 0xff);
	ck_assert_uint_eq(a.reads, 1);
	ck_assert(!bus_access(&bus, 0x2000, d, 2, false));
	ck_assert(!bus_access(&bus, 0x2000, d, 2, true));
	ck_assert(!bus_access(&bus, 0x1000, d, 0, false));
	ck_assert_int_eq(a.writes, 1);
}
END_TEST

START_TEST(many_ranges_binary_search)
{
	static struct io_bus bus;
	struct rec a = { 0 };
	unsigned int i;
	uint8_t d[1];

	memset(&bus, 0, sizeof(bus));
	for (i = 0; i < BUS_MAX_RANGES; i++)
		ck_assert_int_eq(bus_register(&bus, (BUS_MAX_RANGES - i) * 16ULL,
					      8, &rec_ops, &a, "r"), 0);
	ck_assert_int_eq(bus_register(&bus, 0x100000, 1, &rec_ops, &a, "full"),
			 -ENOSPC);
	for (i = 1; i <= BUS_MAX_RANGES; i++) {
		ck_assert(bus_access(&bus, i * 16ULL + 7, d, 1, false));
		ck_assert(!bus_access(&bus, i * 16ULL + 8, d, 1, false));
	}
}
END_TEST

Suite *bus_suite(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, register_rejects_overlap);
	tcase_add_test(tc, dispatch_and_unclaimed);
	tcase_add_test(tc, many_ranges_binary_search);
	suite_add_tcase(s, tc);
	return s;
}
