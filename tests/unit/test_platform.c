// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <string.h>

#include "devices/platform.h"
#include "unit.h"

static int events[4];

static void record(void *opaque, enum platform_event ev)
{
	(void)opaque;
	events[ev]++;
}

static const struct platform_hook hook = { record, NULL };

static void io_out(const struct bus_ops *ops, void *dev, uint64_t off, uint8_t v)
{
	ops->write(dev, off, &v, 1);
}

static uint8_t io_in(const struct bus_ops *ops, void *dev, uint64_t off)
{
	uint8_t v;

	ops->read(dev, off, &v, 1);
	return v;
}

START_TEST(i8042_reset_paths)
{
	struct i8042 k;

	memset(events, 0, sizeof(events));
	i8042_init(&k, &hook);
	/* Status: nothing to read, input buffer empty (reboot=k waits on it). */
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 4) & 0x03, 0);
	io_out(&i8042_ops, &k, 4, 0xaa);			/* self test */
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 4) & 1, 1);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0x55);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 4) & 1, 0);
	io_out(&i8042_ops, &k, 4, 0x60);			/* command byte */
	io_out(&i8042_ops, &k, 0, 0x47);
	io_out(&i8042_ops, &k, 4, 0x20);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0x47);
	ck_assert_int_eq(events[PLATFORM_RESET], 0);
	io_out(&i8042_ops, &k, 4, 0xfe);			/* pulse reset */
	ck_assert_int_eq(events[PLATFORM_RESET], 1);
	io_out(&i8042_ops, &k, 4, 0xff);			/* pulse nothing */
	ck_assert_int_eq(events[PLATFORM_RESET], 1);
	io_out(&i8042_ops, &k, 4, 0xd1);			/* output port */
	io_out(&i8042_ops, &k, 0, 0x03);			/* bit 0 set: no */
	ck_assert_int_eq(events[PLATFORM_RESET], 1);
	io_out(&i8042_ops, &k, 4, 0xd1);
	io_out(&i8042_ops, &k, 0, 0x02);			/* bit 0 clear */
	ck_assert_int_eq(events[PLATFORM_RESET], 2);
	i8042_destroy(&k);
}
END_TEST

static int irq_edges;
static bool irq_now;

static void irq_set(void *opaque, unsigned int gsi, bool level)
{
	(void)opaque;
	ck_assert_uint_eq(gsi, 1);
	if (level && !irq_now)
		irq_edges++;
	irq_now = level;
}

/* The keyboard as Linux's i8042 and atkbd drivers talk to it. */
START_TEST(i8042_keyboard)
{
	static const struct irq_line irq = { irq_set, NULL, 1 };
	static const uint8_t cad[] = { 0x1d, 0x38, 0xe0, 0x53,
				       0xe0, 0xd3, 0xb8, 0x9d };
	struct i8042 k;
	unsigned int i;

	irq_edges = 0;
	irq_now = false;
	i8042_init(&k, &hook);
	i8042_set_irq(&k, &irq);
	/* Reset: ACK then self-test passed, one interrupt per byte. */
	io_out(&i8042_ops, &k, 0, 0xff);
	ck_assert(irq_now);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0xfa);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0xaa);
	ck_assert(!irq_now);
	ck_assert_int_eq(irq_edges, 2);
	/* Identify, translated (the command byte's default). */
	io_out(&i8042_ops, &k, 0, 0xf2);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0xfa);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0xab);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0x41);
	/* LEDs: ACK for the command and for its argument. */
	io_out(&i8042_ops, &k, 0, 0xed);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0xfa);
	io_out(&i8042_ops, &k, 0, 0x07);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0xfa);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 4) & 1, 0);
	/* No aux device: a byte for it gets no answer. */
	io_out(&i8042_ops, &k, 4, 0xd4);
	io_out(&i8042_ops, &k, 0, 0xf2);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 4) & 1, 0);
	/* Ctrl-Alt-Del, set 1 (translated): make and break codes. */
	irq_edges = 0;
	ck_assert_int_eq(i8042_ctrl_alt_del(&k), 0);
	for (i = 0; i < sizeof(cad); i++) {
		ck_assert_uint_eq(io_in(&i8042_ops, &k, 4) & 1, 1);
		ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), cad[i]);
	}
	ck_assert_int_eq(irq_edges, (int)sizeof(cad));
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 4) & 1, 0);
	/* A guest that never reads: the second press fits, then no room. */
	ck_assert_int_eq(i8042_ctrl_alt_del(&k), 0);
	ck_assert_int_eq(i8042_ctrl_alt_del(&k), 0);
	ck_assert_int_eq(i8042_ctrl_alt_del(&k), -EBUSY);
	/* Interrupts off in the command byte: no IRQ, bytes still there. */
	io_out(&i8042_ops, &k, 4, 0x60);
	io_out(&i8042_ops, &k, 0, 0x44);
	ck_assert(!irq_now);
	/* Untranslated: set 2 codes. */
	while (io_in(&i8042_ops, &k, 4) & 1)
		io_in(&i8042_ops, &k, 0);
	ck_assert_int_eq(i8042_ctrl_alt_del(&k), 0);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0x1d);	/* still 0x44: xlate */
	io_out(&i8042_ops, &k, 4, 0x60);
	io_out(&i8042_ops, &k, 0, 0x05);
	while (io_in(&i8042_ops, &k, 4) & 1)
		io_in(&i8042_ops, &k, 0);
	ck_assert_int_eq(i8042_ctrl_alt_del(&k), 0);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0x14);
	ck_assert_uint_eq(io_in(&i8042_ops, &k, 0), 0x11);
	i8042_destroy(&k);
}
END_TEST

START_TEST(pm_sleep_and_reset)
{
	struct pm p;

	memset(events, 0, sizeof(events));
	pm_init(&p, &hook, 5, 0x0e);
	io_out(&pm_ops, &p, 0, 5 << 2);				/* no SLP_EN */
	io_out(&pm_ops, &p, 0, 0x20 | 3 << 2);			/* S3: unsupported */
	ck_assert_int_eq(events[PLATFORM_POWEROFF], 0);
	io_out(&pm_ops, &p, 0, 0x20 | 5 << 2);
	ck_assert_int_eq(events[PLATFORM_POWEROFF], 1);
	io_out(&pm_ops, &p, 1, 0x80);				/* WAK_STS clear */
	io_out(&pm_ops, &p, 2, 0x01);
	ck_assert_int_eq(events[PLATFORM_RESET], 0);
	io_out(&pm_ops, &p, 2, 0x0e);
	ck_assert_int_eq(events[PLATFORM_RESET], 1);
	ck_assert_uint_eq(io_in(&pm_ops, &p, 1), 0);
}
END_TEST

START_TEST(pvpanic_events)
{
	struct pvpanic pv;

	memset(events, 0, sizeof(events));
	pvpanic_init(&pv, &hook);
	ck_assert_uint_eq(io_in(&pvpanic_ops, &pv, 0), 0x03);
	io_out(&pvpanic_ops, &pv, 0, 0);
	io_out(&pvpanic_ops, &pv, 0, 2);
	ck_assert_int_eq(events[PLATFORM_PANIC], 0);
	ck_assert_int_eq(events[PLATFORM_CRASH_LOADED], 1);
	io_out(&pvpanic_ops, &pv, 0, 1);
	ck_assert_int_eq(events[PLATFORM_PANIC], 1);
}
END_TEST

Suite *platform_suite(void)
{
	Suite *s = suite_create("platform");
	TCase *tc = tcase_create("devices");

	tcase_add_test(tc, i8042_reset_paths);
	tcase_add_test(tc, i8042_keyboard);
	tcase_add_test(tc, pm_sleep_and_reset);
	tcase_add_test(tc, pvpanic_events);
	suite_add_tcase(s, tc);
	return s;
}
