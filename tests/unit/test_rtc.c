// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "devices/rtc.h"
#include "unit.h"

/* 2026-11-21 22:26:43 UTC, a Saturday. */
static struct timespec fake_now = { 1795300003, 0 };

static void clock_fake(struct timespec *ts)
{
	*ts = fake_now;
}

static struct rtc r;

static void setup(void)
{
	rtc_init(&r);
	r.now = clock_fake;
	fake_now.tv_sec = 1795300003;
	fake_now.tv_nsec = 0;
}

static void teardown(void)
{
	rtc_destroy(&r);
}

static uint8_t cmos_read(uint8_t reg)
{
	uint8_t v;

	rtc_ops.write(&r, 0, &reg, 1);
	rtc_ops.read(&r, 1, &v, 1);
	return v;
}

static void cmos_write(uint8_t reg, uint8_t v)
{
	rtc_ops.write(&r, 0, &reg, 1);
	rtc_ops.write(&r, 1, &v, 1);
}

START_TEST(bcd_24h_by_default)
{
	ck_assert_uint_eq(cmos_read(0x0a) & 0x80, 0);
	ck_assert_uint_eq(cmos_read(0x00), 0x43);
	ck_assert_uint_eq(cmos_read(0x02), 0x26);
	ck_assert_uint_eq(cmos_read(0x04), 0x22);
	ck_assert_uint_eq(cmos_read(0x06), 0x07);		/* Saturday */
	ck_assert_uint_eq(cmos_read(0x07), 0x21);
	ck_assert_uint_eq(cmos_read(0x08), 0x11);
	ck_assert_uint_eq(cmos_read(0x09), 0x26);
	ck_assert_uint_eq(cmos_read(0x32), 0x20);
	ck_assert_uint_eq(cmos_read(0x0d), 0x80);		/* valid */
}
END_TEST

START_TEST(binary_and_12h)
{
	cmos_write(0x0b, 0x04);				/* binary, 12-hour */
	ck_assert_uint_eq(cmos_read(0x00), 43);
	ck_assert_uint_eq(cmos_read(0x04), 0x80 | 10);	/* 10 PM */
	ck_assert_uint_eq(cmos_read(0x09), 26);
	fake_now.tv_sec -= 22 * 3600;			/* 00:26 */
	ck_assert_uint_eq(cmos_read(0x00), 43);		/* re-latch */
	ck_assert_uint_eq(cmos_read(0x04), 12);		/* 12 AM */
}
END_TEST

START_TEST(uip_window)
{
	fake_now.tv_nsec = 999000000;
	ck_assert_uint_eq(cmos_read(0x0a) & 0x80, 0x80);
	fake_now.tv_nsec = 500000000;
	ck_assert_uint_eq(cmos_read(0x0a) & 0x80, 0);
	ck_assert_uint_eq(cmos_read(0x0a) & 0x7f, 0x26);
}
END_TEST

START_TEST(guest_sets_the_clock)
{
	/* SET, write 2030-01-02 03:04:05, clear SET: the clock runs from it. */
	cmos_write(0x0b, 0x82);
	cmos_write(0x00, 0x05);
	cmos_write(0x02, 0x04);
	cmos_write(0x04, 0x03);
	cmos_write(0x07, 0x02);
	cmos_write(0x08, 0x01);
	cmos_write(0x09, 0x30);
	cmos_write(0x32, 0x20);
	ck_assert_uint_eq(cmos_read(0x00), 0x05);		/* frozen while SET */
	cmos_write(0x0b, 0x02);
	fake_now.tv_sec += 10;
	ck_assert_uint_eq(cmos_read(0x00), 0x15);
	ck_assert_uint_eq(cmos_read(0x09), 0x30);
	ck_assert_uint_eq(cmos_read(0x08), 0x01);
	/* A single field written without SET keeps the rest. */
	cmos_write(0x02, 0x59);
	ck_assert_uint_eq(cmos_read(0x02), 0x59);
	ck_assert_uint_eq(cmos_read(0x04), 0x03);
}
END_TEST

START_TEST(nvram_and_index)
{
	cmos_write(0x40, 0x12);
	cmos_write(0x7f, 0x34);
	ck_assert_uint_eq(cmos_read(0x40), 0x12);
	ck_assert_uint_eq(cmos_read(0x7f), 0x34);
	/* Bit 7 of the index masks NMI; the register is the low 7 bits. */
	ck_assert_uint_eq(cmos_read(0x80 | 0x40), 0x12);
	/* Register C reads 0 (no interrupt sources); D cannot be written. */
	ck_assert_uint_eq(cmos_read(0x0c), 0);
	cmos_write(0x0d, 0);
	ck_assert_uint_eq(cmos_read(0x0d), 0x80);
	/* Wide accesses and reads of the index port are ignored. */
	{
		uint8_t v[2] = { 0, 0 };

		rtc_ops.read(&r, 0, v, 1);
		ck_assert_uint_eq(v[0], 0xff);
		rtc_ops.read(&r, 1, v, 2);
		ck_assert_uint_eq(v[0], 0xff);
	}
}
END_TEST

START_TEST(alarm_registers_are_storage)
{
	/* Linux's cmos_set_alarm writes 1, 3, 5: the clock must not move. */
	ck_assert_uint_eq(cmos_read(0x00), 0x43);
	cmos_write(0x01, 0x30);
	cmos_write(0x03, 0x15);
	cmos_write(0x05, 0x07);
	ck_assert_int_eq(r.offset_ns, 0);
	ck_assert_uint_eq(cmos_read(0x01), 0x30);
	ck_assert_uint_eq(cmos_read(0x05), 0x07);
	ck_assert_uint_eq(cmos_read(0x00), 0x43);
}
END_TEST

START_TEST(far_future_is_refused)
{
	/* Year 9999: the offset would overflow 64-bit nanoseconds. */
	cmos_write(0x0b, 0x82);
	cmos_write(0x09, 0x99);
	cmos_write(0x32, 0x99);
	cmos_write(0x0b, 0x02);
	ck_assert_int_eq(r.offset_ns, 0);
	ck_assert_uint_eq(cmos_read(0x32), 0x20);
	/* Garbage BCD (0xff) does not break the clock either. */
	cmos_write(0x0b, 0x82);
	cmos_write(0x08, 0xff);
	cmos_write(0x0b, 0x02);
	ck_assert_uint_eq(cmos_read(0x09), 0x26);
}
END_TEST

Suite *rtc_suite(void)
{
	Suite *s = suite_create("rtc");
	TCase *tc = tcase_create("cmos");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bcd_24h_by_default);
	tcase_add_test(tc, binary_and_12h);
	tcase_add_test(tc, uip_window);
	tcase_add_test(tc, guest_sets_the_clock);
	tcase_add_test(tc, nvram_and_index);
	tcase_add_test(tc, alarm_registers_are_storage);
	tcase_add_test(tc, far_future_is_refused);
	suite_add_tcase(s, tc);
	return s;
}
