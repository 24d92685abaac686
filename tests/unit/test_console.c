// SPDX-License-Identifier: GPL-2.0
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "vmm/console.h"

START_TEST(escape_sequences)
{
	struct console c;
	struct ev_loop loop;
	uint8_t out[64];
	bool quit;
	size_t n;
	int p[2], in[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(ev_init(&loop), 0);
	ck_assert_int_eq(console_init(&c, &loop, in[0], p[1]), 0);

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
	console_fini(&c);
	ev_fini(&loop);
	close(p[0]);
	close(p[1]);
	close(in[0]);
	close(in[1]);
}
END_TEST

/* A device that takes at most `room` bytes. */
static size_t room;
static size_t got;

static size_t take(void *opaque, const uint8_t *buf, size_t len)
{
	size_t n = len < room ? len : room;

	(void)opaque;
	(void)buf;
	room -= n;
	got += n;
	return n;
}

START_TEST(paused_input_hangup_does_not_spin)
{
	struct console c;
	struct ev_loop loop;
	char data[300];
	int in[2], out[2], i, events = 0;

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(ev_init(&loop), 0);
	ck_assert_int_eq(console_init(&c, &loop, in[0], out[1]), 0);
	room = 10;
	got = 0;
	console_attach(&c, take, NULL);
	memset(data, 'a', sizeof(data));
	ck_assert_int_eq(write(in[1], data, sizeof(data)), (int)sizeof(data));
	close(in[1]);				/* hang-up while full */
	ck_assert_int_eq(ev_run_once(&loop, 1000), 1);
	ck_assert(c.in_paused);
	/* Paused: the hang-up must not wake the loop again and again. */
	for (i = 0; i < 50; i++)
		events += ev_run_once(&loop, 0);
	ck_assert_int_eq(events, 0);
	/* Room again: the rest flows, then EOF is seen. */
	room = 1000;
	console_rx_room(&c);
	for (i = 0; i < 20 && got < sizeof(data); i++)
		ev_run_once(&loop, 100);
	ck_assert_uint_eq(got, sizeof(data));
	for (i = 0; i < 20 && c.in_open; i++)
		ev_run_once(&loop, 100);
	ck_assert(!c.in_open);
	console_fini(&c);
	ev_fini(&loop);
	close(in[0]);
	close(out[0]);
	close(out[1]);
}
END_TEST

START_TEST(new_device_gets_queued_input)
{
	struct console c;
	struct ev_loop loop;
	int in[2], out[2];

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(ev_init(&loop), 0);
	ck_assert_int_eq(console_init(&c, &loop, in[0], out[1]), 0);
	room = 0;
	got = 0;
	console_attach(&c, take, NULL);
	ck_assert_int_eq(write(in[1], "hello", 5), 5);
	ck_assert_int_eq(ev_run_once(&loop, 1000), 1);
	ck_assert(c.in_paused);
	/* After a restart the new device takes what the old one left. */
	console_attach(&c, NULL, NULL);
	room = 100;
	console_attach(&c, take, NULL);
	ck_assert_uint_eq(got, 5);
	ck_assert(!c.in_paused);
	console_fini(&c);
	ev_fini(&loop);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}
END_TEST

static void *flood(void *arg)
{
	static char chunk[16384];

	/* 1 MiB into a stdout nobody reads: blocks until released. */
	for (int i = 0; i < 64; i++)
		console_write(arg, chunk, sizeof(chunk));
	return NULL;
}

START_TEST(stalled_stdout_throttles_then_releases)
{
	struct console c;
	struct ev_loop loop;
	pthread_t t;
	int in[2], out[2];
	char buf[4096];

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(ev_init(&loop), 0);
	ck_assert_int_eq(console_init(&c, &loop, in[0], out[1]), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, flood, &c), 0);
	usleep(200000);
	/* Bounded: the ring is full and the producer waits, nothing grows. */
	pthread_mutex_lock(&c.out_lock);
	ck_assert_uint_eq(c.out_len, CONSOLE_OUT_BUF);
	pthread_mutex_unlock(&c.out_lock);
	/* Stopping the VM lets the producer go (what does not fit is dropped). */
	console_release_writers(&c, true);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	/* What was queued still reaches stdout once it drains. */
	ck_assert_int_eq(read(out[0], buf, sizeof(buf)), (int)sizeof(buf));
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	while (read(out[0], buf, sizeof(buf)) > 0)
		;
	console_fini(&c);
	ev_fini(&loop);
	close(in[0]);
	close(in[1]);
	close(out[0]);
	close(out[1]);
}
END_TEST

Suite *console_suite(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("escape");

	tcase_add_test(tc, escape_sequences);
	tcase_add_test(tc, paused_input_hangup_does_not_spin);
	tcase_add_test(tc, new_device_gets_queued_input);
	tcase_add_test(tc, stalled_stdout_throttles_then_releases);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return s;
}
