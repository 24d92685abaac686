// SPDX-License-Identifier: GPL-2.0
/*
 * The migration stream as untrusted input (BAD-INPUTS 24): a stream the
 * source's encoders make is read back whole; then each kind of damage is
 * refused with a message naming it: bad magic, version, header CRC,
 * truncation anywhere, records out of order, pages outside RAM, a flipped
 * payload byte, pages in a local stream, a second state, END before the
 * state, a page count that does not add up, unknown record types, a
 * stream that does not begin with its configuration or has two; the
 * configuration reaches the reader's hook, whose refusal ends the stream.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "vmm/migrate.h"
#include "vmm/util.h"

#define RAM (64 * 4096)

struct buf {
	uint8_t *p;
	size_t len, at;
};

static void put(struct buf *b, const void *p, size_t len)
{
	b->p = realloc(b->p, b->len + len);
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

static void rec(struct buf *b, uint32_t type, uint32_t seq, uint64_t arg,
		const void *payload, uint32_t len)
{
	uint8_t h[MIG_RECORD_LEN];

	mig_record_encode(h, type, seq, arg, payload, len);
	put(b, h, sizeof(h));
	if (len)
		put(b, payload, len);
}

static ssize_t buf_read(void *ctx, void *out, size_t len)
{
	struct buf *b = ctx;
	size_t n = len < b->len - b->at ? len : b->len - b->at;

	memcpy(out, b->p + b->at, n);
	b->at += n;
	return (ssize_t)n;
}

static const uint8_t config[40] = { 0xc0, 0xf1, [39] = 0x9 };

/* A fresh stream's opening: the header and the configuration, record 0. */
static void opening(struct buf *b, uint32_t flags)
{
	struct mig_header h = { MIG_VERSION, flags, RAM };
	uint8_t hb[MIG_HEADER_LEN];

	memset(b, 0, sizeof(*b));
	mig_header_encode(hb, &h);
	put(b, hb, sizeof(hb));
	rec(b, MIG_CONFIG, 0, 0, config, sizeof(config));
}

/* A good stream: header, the configuration, a round, 2 pages at 8 KiB,
 * a state, END. */
static void good(struct buf *b, uint32_t flags)
{
	uint8_t pages[8192], state[100];

	memset(pages, 0xab, sizeof(pages));
	memset(state, 0x5a, sizeof(state));
	opening(b, flags);
	rec(b, MIG_ROUND, 1, 0, NULL, 0);
	rec(b, MIG_PAGES, 2, 8192, pages, sizeof(pages));
	rec(b, MIG_STATE, 3, 0, state, sizeof(state));
	rec(b, MIG_END, 4, 2, NULL, 0);
}

/* The reader's configuration hook: counts, checks, refuses on demand. */
static int configs_seen;
static bool refuse_config;

static int on_config(void *ctx, const uint8_t *blob, size_t len, char *err,
		     size_t errlen)
{
	(void)ctx;
	configs_seen++;
	ck_assert_uint_eq(len, sizeof(config));
	ck_assert(!memcmp(blob, config, len));
	if (refuse_config) {
		snprintf(err, errlen, "not this machine");
		return -EINVAL;
	}
	return 0;
}

/* Read b into fresh RAM: the result, the error in err. */
static int read_stream(struct buf *b, uint8_t *ram, char *err, size_t errlen)
{
	struct mig_reader rd = { buf_read, b, on_config, NULL, NULL, NULL };
	struct mig_received r;
	struct mig_header h;
	int ret;

	b->at = 0;
	err[0] = '\0';
	ret = mig_read_header(&rd, &h, err, errlen);
	if (ret)
		return ret;
	ret = mig_read_body(&rd, &h, (h.flags & MIG_LOCAL) ? NULL : ram, &r,
			    err, errlen);
	if (!ret) {
		ck_assert_uint_eq(r.state_len, 100);
		ck_assert_uint_eq(r.state[0], 0x5a);
		free(r.state);
	} else {
		ck_assert_ptr_null(r.state);
	}
	return ret;
}

static void expect(struct buf *b, const char *want)
{
	static uint8_t ram[RAM];
	char err[512];

	ck_assert_int_lt(read_stream(b, ram, err, sizeof(err)), 0);
	if (!strstr(err, want))
		ck_abort_msg("error '%s' does not say '%s'", err, want);
	free(b->p);
}

START_TEST(round_trip)
{
	static uint8_t ram[RAM];
	struct buf b;
	char err[512];

	good(&b, 0);
	configs_seen = 0;
	ck_assert_int_eq(read_stream(&b, ram, err, sizeof(err)), 0);
	ck_assert_int_eq(configs_seen, 1);
	ck_assert_uint_eq(ram[8192], 0xab);
	ck_assert_uint_eq(ram[8192 * 2 - 1], 0xab);
	ck_assert_uint_eq(ram[8192 * 2], 0);
	ck_assert_uint_eq(ram[4096], 0);
	free(b.p);
}
END_TEST

/* The target's SYNC hook: the rounds it was told of; fails on demand. */
static uint64_t syncs_seen[4];
static unsigned int nr_syncs;
static bool fail_sync;

static int on_sync(void *ctx, uint64_t arg, char *err, size_t errlen)
{
	(void)ctx;
	if (nr_syncs < 4)
		syncs_seen[nr_syncs] = arg;
	nr_syncs++;
	if (fail_sync) {
		snprintf(err, errlen, "the source went away");
		return -EPIPE;
	}
	return 0;
}

/*
 * A SYNC record after each round's pages: the hook is called once each,
 * with the round, after what came before it was read; one with a payload
 * is refused; a hook that fails ends the stream with its error.
 */
START_TEST(sync_after_rounds)
{
	static uint8_t ram[RAM];
	struct mig_header h = { MIG_VERSION, 0, RAM };
	uint8_t page[4096], state[100];
	struct mig_reader rd = { buf_read, NULL, on_config, NULL, on_sync, NULL };
	struct mig_received r;
	struct buf b;
	char err[512];
	int pass;

	memset(page, 0x77, sizeof(page));
	memset(state, 0x5a, sizeof(state));
	for (pass = 0; pass < 3; pass++) {
		opening(&b, 0);
		rec(&b, MIG_ROUND, 1, 0, NULL, 0);
		rec(&b, MIG_PAGES, 2, 0, page, sizeof(page));
		rec(&b, MIG_SYNC, 3, 0, NULL, 0);
		rec(&b, MIG_ROUND, 4, 1, NULL, 0);
		rec(&b, MIG_PAGES, 5, 4096, page, sizeof(page));
		rec(&b, MIG_SYNC, 6, 1, pass == 2 ? page : NULL,
		    pass == 2 ? 16 : 0);
		rec(&b, MIG_STATE, 7, 0, state, sizeof(state));
		rec(&b, MIG_END, 8, 2, NULL, 0);
		rd.ctx = &b;
		nr_syncs = 0;
		fail_sync = pass == 1;
		memset(ram, 0, sizeof(ram));
		ck_assert_int_eq(mig_read_header(&rd, &h, err, sizeof(err)), 0);
		if (pass == 0) {
			ck_assert_int_eq(mig_read_body(&rd, &h, ram, &r, err,
						       sizeof(err)), 0);
			ck_assert_uint_eq(nr_syncs, 2);
			ck_assert_uint_eq(syncs_seen[0], 0);
			ck_assert_uint_eq(syncs_seen[1], 1);
			ck_assert_uint_eq(ram[4096 + 4095], 0x77);
			free(r.state);
		} else if (pass == 1) {
			ck_assert_int_eq(mig_read_body(&rd, &h, ram, &r, err,
						       sizeof(err)), -EPIPE);
			ck_assert_uint_eq(nr_syncs, 1);
			ck_assert(strstr(err, "went away") != NULL);
		} else {
			ck_assert_int_eq(mig_read_body(&rd, &h, ram, &r, err,
						       sizeof(err)), -EPROTO);
			ck_assert_uint_eq(nr_syncs, 1);
			ck_assert(strstr(err, "record 6 (sync)") != NULL);
		}
		free(b.p);
	}
	fail_sync = false;
}
END_TEST

/* The pages hook: what it is asked, and where its answer sends pages. */
static uint8_t *hook_to;
static uint64_t hook_off[4];
static uint32_t hook_len[4];
static unsigned int nr_hooks;

static uint8_t *on_pages(void *cctx, uint64_t off, uint32_t len)
{
	(void)cctx;
	if (nr_hooks < 4) {
		hook_off[nr_hooks] = off;
		hook_len[nr_hooks] = len;
	}
	/* The first run elsewhere, the second left to ram. */
	return nr_hooks++ == 0 ? hook_to + off : NULL;
}

/*
 * The target's hook places each checked run of pages (the guest's own
 * mapping, migrate.c); a NULL answer sends it into ram; a run outside
 * RAM is refused before the hook is asked.
 */
START_TEST(pages_hook_places_runs)
{
	static uint8_t ram[RAM], other[RAM];
	struct mig_header h = { MIG_VERSION, 0, RAM };
	uint8_t page[2 * 4096], state[100];
	struct mig_reader rd = { buf_read, NULL, on_config, NULL, NULL,
				 on_pages };
	struct mig_received r;
	struct buf b;
	char err[512];

	memset(page, 0x66, sizeof(page));
	memset(state, 0x5a, sizeof(state));
	opening(&b, 0);
	rec(&b, MIG_ROUND, 1, 0, NULL, 0);
	rec(&b, MIG_PAGES, 2, 8192, page, sizeof(page));
	rec(&b, MIG_PAGES, 3, 0, page, 4096);
	rec(&b, MIG_STATE, 4, 0, state, sizeof(state));
	rec(&b, MIG_END, 5, 3, NULL, 0);
	rd.ctx = &b;
	hook_to = other;
	nr_hooks = 0;
	memset(ram, 0, sizeof(ram));
	memset(other, 0, sizeof(other));
	ck_assert_int_eq(mig_read_header(&rd, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(mig_read_body(&rd, &h, ram, &r, err, sizeof(err)), 0);
	free(r.state);
	ck_assert_uint_eq(nr_hooks, 2);
	ck_assert_uint_eq(hook_off[0], 8192);
	ck_assert_uint_eq(hook_len[0], 8192);
	ck_assert_uint_eq(hook_off[1], 0);
	ck_assert_uint_eq(hook_len[1], 4096);
	ck_assert_uint_eq(other[8192], 0x66);
	ck_assert_uint_eq(other[3 * 4096 - 1], 0x66);
	ck_assert_uint_eq(ram[8192], 0);
	ck_assert_uint_eq(ram[0], 0x66);
	ck_assert_uint_eq(other[0], 0);
	free(b.p);

	/* Outside RAM: refused, the hook never asked. */
	opening(&b, 0);
	rec(&b, MIG_PAGES, 1, RAM - 4096, page, sizeof(page));
	rd.ctx = &b;
	nr_hooks = 0;
	ck_assert_int_eq(mig_read_header(&rd, &h, err, sizeof(err)), 0);
	ck_assert_int_eq(mig_read_body(&rd, &h, ram, &r, err, sizeof(err)),
			 -EPROTO);
	ck_assert_uint_eq(nr_hooks, 0);
	free(b.p);
}
END_TEST

START_TEST(truncated_anywhere)
{
	static uint8_t ram[RAM];
	struct buf b;
	size_t full, cut;
	char err[512];

	good(&b, 0);
	full = b.len;
	for (cut = 0; cut < full; cut += (cut < 64 ? 1 : 97)) {
		b.len = cut;
		ck_assert_int_lt(read_stream(&b, ram, err, sizeof(err)), 0);
		ck_assert(strstr(err, "truncated") != NULL);
	}
	free(b.p);
}
END_TEST

START_TEST(header_damage)
{
	struct buf b;

	good(&b, 0);
	b.p[0] = 'X';
	expect(&b, "bad magic");
	good(&b, 0);
	b.p[17] ^= 1;				/* RAM size, CRC now wrong */
	expect(&b, "CRC");
	{
		struct mig_header h = { MIG_VERSION + 1, 0, RAM };

		good(&b, 0);
		mig_header_encode(b.p, &h);
		expect(&b, "version");
		h.version = MIG_VERSION;
		h.ram_size = RAM + 1;
		good(&b, 0);
		mig_header_encode(b.p, &h);
		expect(&b, "whole number of pages");
		h.ram_size = RAM;
		h.flags = 0x80;
		good(&b, 0);
		mig_header_encode(b.p, &h);
		expect(&b, "flags");
	}
}
END_TEST

/* A stream with one bad record after the header and the configuration
 * (record 0): the bad one is record 1, unless seq says otherwise. */
static void one(struct buf *b, uint32_t type, uint32_t seq, uint64_t arg,
		const void *payload, uint32_t len)
{
	struct mig_header h = { MIG_VERSION, 0, RAM };
	uint8_t hb[MIG_HEADER_LEN];

	memset(b, 0, sizeof(*b));
	mig_header_encode(hb, &h);
	put(b, hb, sizeof(hb));
	rec(b, MIG_CONFIG, 0, 0, config, sizeof(config));
	rec(b, type, seq, arg, payload, len);
}

START_TEST(record_damage)
{
	static uint8_t page[8192];
	uint8_t state[16] = { 1 };
	struct buf b;

	refuse_config = false;
	one(&b, MIG_ROUND, 5, 0, NULL, 0);
	expect(&b, "out of order");
	one(&b, MIG_PAGES, 1, RAM, page, 4096);
	expect(&b, "outside RAM");
	one(&b, MIG_PAGES, 1, RAM - 4096, page, 8192);
	expect(&b, "outside RAM");
	one(&b, MIG_PAGES, 1, 100, page, 4096);
	expect(&b, "outside RAM");
	one(&b, MIG_PAGES, 1, 0, page, 100);
	expect(&b, "whole pages");
	one(&b, MIG_PAGES, 1, UINT64_MAX - 4095, page, 4096);
	expect(&b, "outside RAM");
	one(&b, 99, 1, 0, NULL, 0);
	expect(&b, "unknown type");
	one(&b, MIG_END, 1, 0, NULL, 0);
	expect(&b, "end before the state");
	one(&b, MIG_ROUND, 1, 0, page, 4);
	expect(&b, "length");
	one(&b, MIG_STATE, 1, 0, state, 0);
	expect(&b, "length");
	/* A payload byte flipped after encoding. */
	one(&b, MIG_PAGES, 1, 0, page, 4096);
	b.p[b.len - 4096 + 7] ^= 0x10;
	expect(&b, "CRC mismatch");
	/* Two states. */
	one(&b, MIG_STATE, 1, 0, state, sizeof(state));
	rec(&b, MIG_STATE, 2, 0, state, sizeof(state));
	expect(&b, "second state");
	/* The count at the end must match what came. */
	one(&b, MIG_PAGES, 1, 0, page, 4096);
	rec(&b, MIG_STATE, 2, 0, state, sizeof(state));
	rec(&b, MIG_END, 3, 5, NULL, 0);
	expect(&b, "arrived");
	/* Two configurations; an empty one. */
	one(&b, MIG_CONFIG, 1, 0, config, sizeof(config));
	expect(&b, "a configuration after the first record");
	one(&b, MIG_STATE, 1, 0, state, sizeof(state));
	b.p[MIG_HEADER_LEN + 16] = 0;		/* record 0's length */
	expect(&b, "length of 0");
}
END_TEST

/* The configuration comes first, or the stream is refused; a refused
 * configuration ends it with the hook's reason, before anything else. */
START_TEST(config_first)
{
	struct mig_header h = { MIG_VERSION, 0, RAM };
	uint8_t hb[MIG_HEADER_LEN], state[16] = { 1 };
	struct buf b = { 0 };

	mig_header_encode(hb, &h);
	put(&b, hb, sizeof(hb));
	rec(&b, MIG_STATE, 0, 0, state, sizeof(state));
	expect(&b, "record 0 is state, not the configuration");

	good(&b, 0);
	refuse_config = true;
	configs_seen = 0;
	expect(&b, "not this machine");
	refuse_config = false;
	ck_assert_int_eq(configs_seen, 1);

	/* A configuration record with a corrupt payload never reaches it. */
	good(&b, 0);
	b.p[MIG_HEADER_LEN + MIG_RECORD_LEN + 3] ^= 1;
	configs_seen = 0;
	expect(&b, "CRC mismatch");
	ck_assert_int_eq(configs_seen, 0);
}
END_TEST

START_TEST(local_stream_has_no_pages)
{
	static uint8_t page[4096];
	struct mig_header h = { MIG_VERSION, MIG_LOCAL, RAM };
	uint8_t hb[MIG_HEADER_LEN];
	struct buf b = { 0 };

	mig_header_encode(hb, &h);
	put(&b, hb, sizeof(hb));
	rec(&b, MIG_CONFIG, 0, 0, config, sizeof(config));
	rec(&b, MIG_PAGES, 1, 0, page, sizeof(page));
	expect(&b, "local stream");
}
END_TEST

START_TEST(uris)
{
	struct mig_opts o;
	char err[256];

	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(mig_parse_uri("tcp:127.0.0.1:4444", &o, err, sizeof(err)), 0);
	ck_assert_str_eq(o.to, "tcp:127.0.0.1:4444");
	ck_assert(!o.local);
	memset(&o, 0, sizeof(o));
	ck_assert_int_eq(mig_parse_uri("unix:/tmp/m.sock,local=on", &o, err,
				       sizeof(err)), 0);
	ck_assert_str_eq(o.to, "unix:/tmp/m.sock");
	ck_assert(o.local);
	ck_assert_int_lt(mig_parse_uri("tcp:h:1,local=on", &o, err, sizeof(err)), 0);
	ck_assert(strstr(err, "unix") != NULL);
	ck_assert_int_lt(mig_parse_uri("udp:x", &o, err, sizeof(err)), 0);
	ck_assert_int_lt(mig_parse_uri("tcp:nohostport", &o, err, sizeof(err)), 0);
	ck_assert_int_lt(mig_parse_uri("unix:", &o, err, sizeof(err)), 0);
	ck_assert_int_lt(mig_parse_uri("unix:/x,bogus=1", &o, err, sizeof(err)), 0);
}
END_TEST

/* The pre-copy stop rule: at 100 pages per ms, a 300 ms budget holds
 * 30000 pages and the 10 ms tail 1000. */
START_TEST(precopy_stop_rule)
{
	struct mig_opts o = { .max_downtime_ms = 300, .max_rounds = 30 };
	uint64_t rate = 100 * 4096;

	/* Does not fit the downtime: go on, whatever the trend. */
	ck_assert(!mig_precopy_done(30001, 0, rate, 0, &o));
	ck_assert(!mig_precopy_done(30001, 30000, rate, 5, &o));
	/* ... until the round limit. */
	ck_assert(mig_precopy_done(30001, 30000, rate, 29, &o));
	ck_assert(mig_precopy_done(1ULL << 30, 0, 0, 29, &o));
	/* Fits, but round 0 (all of RAM) left more than the tail: once more. */
	ck_assert(!mig_precopy_done(5000, 0, rate, 0, &o));
	/* Fits and within the tail: done. */
	ck_assert(mig_precopy_done(1000, 0, rate, 0, &o));
	ck_assert(mig_precopy_done(0, 0, rate, 0, &o));
	/* Fits, above the tail: on while each round halves the rest ... */
	ck_assert(!mig_precopy_done(2000, 5000, rate, 1, &o));
	/* ... and done once it does not. */
	ck_assert(mig_precopy_done(2600, 5000, rate, 1, &o));
	/* No rate known (nothing sent in no time): only the limit or an
	 * empty rest stops it. */
	ck_assert(!mig_precopy_done(1, 0, 0, 3, &o));
	ck_assert(mig_precopy_done(0, 0, 0, 3, &o));
	/* A rate that would overflow the products is capped. */
	ck_assert(mig_precopy_done(1ULL << 28, 1ULL << 28, UINT64_MAX, 1, &o));
}
END_TEST

Suite *migrate_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("stream");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, truncated_anywhere);
	tcase_add_test(tc, sync_after_rounds);
	tcase_add_test(tc, pages_hook_places_runs);
	tcase_add_test(tc, header_damage);
	tcase_add_test(tc, record_damage);
	tcase_add_test(tc, config_first);
	tcase_add_test(tc, local_stream_has_no_pages);
	tcase_add_test(tc, uris);
	tcase_add_test(tc, precopy_stop_rule);
	suite_add_tcase(s, tc);
	return s;
}
