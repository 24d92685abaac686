// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "devices/serial.h"
#include "unit.h"

struct fake {
	bool level;
	int edges;
	char tx[4096];
	size_t tx_len;
	int room_calls;
};

static void fake_irq(void *opaque, unsigned int gsi, bool level)
{
	struct fake *f = opaque;

	ck_assert_uint_eq(gsi, 4);
	ck_assert_msg(level != f->level, "the line was set to what it was");
	if (level)
		f->edges++;
	f->level = level;
}

static void fake_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct fake *f = opaque;

	memcpy(f->tx + f->tx_len, buf, len);
	f->tx_len += len;
}

static void fake_room(void *opaque)
{
	((struct fake *)opaque)->room_calls++;
}

static struct serial s;
static struct fake f;

static void setup(void)
{
	struct irq_line irq = { fake_irq, &f, 4 };
	struct serial_host host = { fake_tx, fake_room, &f };

	memset(&f, 0, sizeof(f));
	serial_init(&s, &irq, &host);
}

static void teardown(void)
{
	serial_destroy(&s);
}

static uint8_t in(unsigned int reg)
{
	uint8_t v;

	serial_ops.read(&s, reg, &v, 1);
	return v;
}

static void out(unsigned int reg, uint8_t v)
{
	serial_ops.write(&s, reg, &v, 1);
}

START_TEST(transmits_bytes)
{
	out(0, 'h');
	out(0, 'i');
	ck_assert_uint_eq(f.tx_len, 2);
	ck_assert_int_eq(memcmp(f.tx, "hi", 2), 0);
	ck_assert_uint_eq(in(5) & 0x60, 0x60);		/* THRE | TEMT */
}
END_TEST

/* What Linux's 8250 autoconfig does to recognise a 16550A. */
START_TEST(linux_autoconfig_probe)
{
	out(7, 0xa5);					/* scratch */
	ck_assert_uint_eq(in(7), 0xa5);
	out(1, 0);
	ck_assert_uint_eq(in(1) & 0x0f, 0);
	out(1, 0x0f);
	ck_assert_uint_eq(in(1) & 0x0f, 0x0f);
	out(1, 0);
	/* Loopback: MCR outputs appear in MSR (RTS->CTS, ..., OUT2->DCD). */
	out(4, 0x10 | 0x0a);
	ck_assert_uint_eq(in(6) & 0xf0, 0x90);
	out(4, 0x1f);
	ck_assert_uint_eq(in(6) & 0xf0, 0xf0);
	/* FIFO enabled: IIR bits 7:6 read 11. */
	out(2, 0x01);
	ck_assert_uint_eq(in(2) & 0xc0, 0xc0);
	out(2, 0);
	ck_assert_uint_eq(in(2) & 0xc0, 0);
	/* Divisor latch. */
	out(3, 0x80);
	out(0, 0x01);
	out(1, 0x00);
	ck_assert_uint_eq(in(0), 0x01);
	out(3, 0x03);
	ck_assert_uint_eq(in(3), 0x03);
}
END_TEST

START_TEST(loopback_data)
{
	out(4, 0x10);
	out(0, 'L');
	ck_assert_uint_eq(f.tx_len, 0);			/* not on the wire */
	ck_assert_uint_eq(in(5) & 1, 1);
	ck_assert_uint_eq(in(0), 'L');
	ck_assert_uint_eq(in(5) & 1, 0);
}
END_TEST

START_TEST(thre_interrupt)
{
	out(4, 0x08);					/* OUT2: IRQ enabled */
	ck_assert(!f.level);
	out(1, 0x02);					/* ETBEI: fires at once */
	ck_assert(f.level);
	ck_assert_uint_eq(in(2) & 0x0f, 0x02);		/* THRI, and acks it */
	ck_assert(!f.level);
	ck_assert_uint_eq(in(2) & 0x0f, 0x01);		/* nothing pending */
	out(0, 'x');					/* sent: THRE again */
	ck_assert(f.level);
	ck_assert_uint_eq(f.edges, 2);
	out(1, 0);
	ck_assert(!f.level);
}
END_TEST

START_TEST(rx_interrupt_and_out2_gate)
{
	ck_assert_uint_eq(serial_receive(&s, (const uint8_t *)"ab", 2), 2);
	out(1, 0x01);					/* ERBFI */
	ck_assert(!f.level);				/* OUT2 clear: no IRQ */
	out(4, 0x08);
	ck_assert(f.level);
	ck_assert_uint_eq(in(2) & 0x0f, 0x04);
	ck_assert_uint_eq(in(0), 'a');
	ck_assert(f.level);
	ck_assert_uint_eq(in(0), 'b');
	ck_assert(!f.level);
	ck_assert_uint_eq(in(0), 0);			/* empty reads 0 */
	serial_receive(&s, (const uint8_t *)"c", 1);
	ck_assert(f.level);
	ck_assert_uint_eq(f.edges, 2);
}
END_TEST

START_TEST(rx_buffer_bounded)
{
	uint8_t buf[SERIAL_RX_BUF + 100];
	size_t i;

	memset(buf, 'z', sizeof(buf));
	ck_assert_uint_eq(serial_receive(&s, buf, sizeof(buf)), SERIAL_RX_BUF);
	ck_assert_uint_eq(serial_receive(&s, buf, 1), 0);
	/* Room is reported once, after the guest drained half. */
	for (i = 0; i < SERIAL_RX_BUF / 2; i++)
		in(0);
	ck_assert_int_eq(f.room_calls, 0);
	in(0);
	ck_assert_int_eq(f.room_calls, 1);
	in(0);
	ck_assert_int_eq(f.room_calls, 1);
	out(2, 0x03);					/* FCR: clear RX */
	ck_assert_uint_eq(in(5) & 1, 0);
}
END_TEST

START_TEST(odd_accesses_ignored)
{
	uint8_t v[4] = { 1, 2, 3, 4 };

	serial_ops.write(&s, 0, v, 2);			/* 16-bit: ignored */
	ck_assert_uint_eq(f.tx_len, 0);
	serial_ops.read(&s, 0, v, 4);
	ck_assert_uint_eq(v[0], 0xff);
	serial_ops.read(&s, 9, v, 1);
	ck_assert_uint_eq(v[0], 0xff);
}
END_TEST

/* A host whose output path feeds input back: must not deadlock. */
static void echo_tx(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque;
	serial_receive(&s, buf, len);
}

START_TEST(tx_runs_outside_the_lock)
{
	struct irq_line irq = { fake_irq, &f, 4 };
	struct serial_host host = { echo_tx, NULL, NULL };

	serial_destroy(&s);
	serial_init(&s, &irq, &host);
	out(0, 'e');		/* would self-deadlock if tx held the lock */
	ck_assert_uint_eq(in(0), 'e');
}
END_TEST

Suite *serial_suite(void)
{
	Suite *su = suite_create("serial");
	TCase *tc = tcase_create("16550a");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, transmits_bytes);
	tcase_add_test(tc, linux_autoconfig_probe);
	tcase_add_test(tc, loopback_data);
	tcase_add_test(tc, thre_interrupt);
	tcase_add_test(tc, rx_interrupt_and_out2_gate);
	tcase_add_test(tc, rx_buffer_bounded);
	tcase_add_test(tc, odd_accesses_ignored);
	tcase_add_test(tc, tx_runs_outside_the_lock);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(su, tc);
	return su;
}
