// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-blk requests through hand-built rings against a real image file
 * and a real io_uring: data round trips, bounds, read-only disks, GET_ID,
 * FLUSH, DISCARD/WRITE_ZEROES, malformed chains, reset during I/O
 * (BAD-INPUTS 18 and 22), kicks held while requests are in flight.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio-blk.h"
#include "fakevmm.h"
#include "unit.h"
#include "vmm/util.h"
#include "vring.h"

#define IMG_SECTORS	2048		/* 1 MiB */
#define HDR		DRV_BUFS		/* request header */
#define DATA		(DRV_BUFS + 0x1000)	/* data buffer */
#define STATUS		(DRV_BUFS + 0x100000)	/* status byte */

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_IOERR 1
#define S_UNSUPP 2

static struct drv d;
static struct virtio_blk *b;
static char img[64];
static int img_fd;

static struct blk_inject inject;	/* the next open_blk's inject= */
static bool direct;			/* the next open_blk's direct= */
static unsigned int queues;		/* the next open_blk's queues= */
static bool iothread;			/* the next open_blk's iothread= */

static void open_blk(bool readonly, enum blk_cache cache, const char *serial)
{
	struct blk_config c = { .readonly = readonly, .cache = cache,
				.inject = inject, .direct = direct,
				.queues = queues, .iothread = iothread };
	struct virtio_opts o = { .transport = VIRTIO_MMIO };
	char err[256];

	strcpy(c.path, img);
	strcpy(c.serial, serial);
	b = calloc(1, sizeof(*b));
	ck_assert_int_eq(virtio_blk_init(b, &c, &d.gm, &o, &fake, err, sizeof(err)), 0);
	/* Negotiate everything offered and run the queue by hand. */
	b->vdev.acked = b->vdev.offered;
	b->vdev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	b->vdev.vq[0] = d.vq;
	b->vdev.vq[0].max_size = BLK_QUEUE_SIZE;
}

static void setup(void)
{
	uint8_t sector[512];
	int i;

	memset(&vmm, 0, sizeof(vmm));
	strcpy(img, "/tmp/vireo-blk-XXXXXX");
	img_fd = mkstemp(img);
	ck_assert_int_ge(img_fd, 0);
	for (i = 0; i < IMG_SECTORS; i++) {
		memset(sector, i & 0xff, sizeof(sector));
		ck_assert_int_eq(write(img_fd, sector, 512), 512);
	}
	drv_init(&d, 16, false, 0);
}

static void teardown(void)
{
	if (b) {
		virtio_blk_fini(b);
		free(b);
		b = NULL;
	}
	drv_fini(&d);
	close(img_fd);
	unlink(img);
}

/* Add the buffers of one request (header already at HDR), kick, wait. */
static int submit(const struct drv_buf *bufs, unsigned int n, uint32_t type,
		  uint8_t *status)
{
	unsigned int tries;
	uint16_t id;
	uint32_t len;

	*drv_mem(&d, STATUS) = 0xee;
	drv_add(&d, bufs, n);
	b->vdev.vq[0].ready = true;
	virtio_kick(&b->vdev, 0);
	for (tries = 0; tries < 100; tries++) {
		if (drv_get_used(&d, &id, &len)) {
			*status = *drv_mem(&d, STATUS);
			return (int)len;
		}
		fake_dispatch(50);
	}
	ck_abort_msg("request type %u never completed", type);
	return -1;
}

/* Submit one request and wait for its completion; returns used len. */
static int run(uint32_t type, uint64_t sector, uint64_t data_len, bool data_write,
	       uint8_t *status)
{
	struct drv_buf bufs[3];
	unsigned int n = 0;

	put_le32(drv_mem(&d, HDR), type);
	put_le32(drv_mem(&d, HDR + 4), 0);
	put_le64(drv_mem(&d, HDR + 8), sector);
	bufs[n++] = (struct drv_buf){ HDR, 16, false };
	if (data_len)
		bufs[n++] = (struct drv_buf){ DATA, (uint32_t)data_len, data_write };
	bufs[n++] = (struct drv_buf){ STATUS, 1, true };
	return submit(bufs, n, type, status);
}

/* Keep the mock's ring state in step with the device's copy. */
static void sync_ring(void)
{
	d.vq = b->vdev.vq[0];
}

START_TEST(write_then_read)
{
	uint8_t st;
	uint8_t buf[4096];
	char line[PATH_MAX + 256];
	int i;

	open_blk(false, BLK_CACHE_WRITEBACK, "");
	for (i = 0; i < 4096; i++)
		drv_mem(&d, DATA)[i] = (uint8_t)(i * 3);
	ck_assert_int_eq(run(T_OUT, 8, 4096, false, &st), 1);
	ck_assert_uint_eq(st, 0);
	ck_assert_int_eq(pread(img_fd, buf, 4096, 8 * 512), 4096);
	ck_assert_int_eq(memcmp(buf, drv_mem(&d, DATA), 4096), 0);
	memset(drv_mem(&d, DATA), 0, 4096);
	sync_ring();
	ck_assert_int_eq(run(T_IN, 8, 4096, true, &st), 4097);
	ck_assert_uint_eq(st, 0);
	ck_assert_int_eq(memcmp(buf, drv_mem(&d, DATA), 4096), 0);
	ck_assert_uint_eq(b->stats.bytes_read, 4096);
	ck_assert_uint_eq(b->stats.bytes_written, 4096);
	/* What the user is shown on exit. */
	virtio_blk_stats_line(b, line, sizeof(line));
	ck_assert_msg(strstr(line, ": 1 reads 4096 bytes, 1 writes 4096 bytes,"),
		      "%s", line);
	ck_assert_msg(strstr(line, "; 2 kicks, 2 interrupts (0 of them held for "
			      "more completions), 2 completion wakeups;"), "%s", line);
}
END_TEST

/* inject=: the Nth request, a sector range, UNSUPP, NEEDS_RESET; each
 * counted and logged as "injected", apart from driver violations. */
START_TEST(fault_injection)
{
	FILE *log = tmpfile();
	char line[512];
	int lines = 0;
	uint8_t st;

	ck_assert_ptr_nonnull(log);
	viol_setup(log, false);
	memset(&inject, 0, sizeof(inject));
	inject.on = true;
	inject.ioerr_at = 2;
	inject.unsupp_at = 4;
	inject.reset_at = 6;
	inject.first = 100;
	inject.last = 199;
	open_blk(false, BLK_CACHE_WRITEBACK, "");
	run(T_IN, 0, 512, true, &st);			/* 1: fine */
	ck_assert_uint_eq(st, 0);
	sync_ring();
	run(T_IN, 0, 512, true, &st);			/* 2: the Nth */
	ck_assert_uint_eq(st, S_IOERR);
	sync_ring();
	run(T_OUT, 196, 4096, false, &st);		/* 3: 196-203 overlaps */
	ck_assert_uint_eq(st, S_IOERR);
	sync_ring();
	run(T_IN, 8, 512, true, &st);			/* 4: UNSUPP */
	ck_assert_uint_eq(st, S_UNSUPP);
	sync_ring();
	run(T_IN, 200, 512, true, &st);			/* 5: just past */
	ck_assert_uint_eq(st, 0);
	ck_assert_uint_eq(b->vdev.injected, 3);
	ck_assert_uint_eq(b->vdev.nr_violations, 0);
	ck_assert(!b->vdev.broken);
	/* 6: the device gives up. */
	sync_ring();
	put_le32(drv_mem(&d, HDR), T_IN);
	put_le64(drv_mem(&d, HDR + 8), 0);
	{
		struct drv_buf r[3] = { { HDR, 16, false }, { DATA, 512, true },
					{ STATUS, 1, true } };

		drv_add(&d, r, 3);
		virtio_kick(&b->vdev, 0);
	}
	ck_assert(b->vdev.broken);
	ck_assert_uint_eq(b->vdev.status & VIRTIO_STATUS_NEEDS_RESET,
			  VIRTIO_STATUS_NEEDS_RESET);
	ck_assert_uint_eq(b->vdev.injected, 4);
	rewind(log);
	while (fgets(line, sizeof(line), log)) {
		ck_assert_ptr_nonnull(strstr(line, "\"kind\": \"injected\""));
		lines++;
	}
	ck_assert_int_eq(lines, 4);
	viol_setup(NULL, false);
	fclose(log);
	memset(&inject, 0, sizeof(inject));
}
END_TEST

/* The same seed gives the same faults; a rate of 30% gives about that. */
START_TEST(fault_injection_seeded)
{
	uint8_t pattern[2][40];
	int run_no, i, errs = 0;
	uint8_t st;

	for (run_no = 0; run_no < 2; run_no++) {
		memset(&inject, 0, sizeof(inject));
		inject.on = true;
		inject.ioerr_pct = 30;
		inject.seed = 12345;
		inject.first = 1;
		open_blk(false, BLK_CACHE_WRITEBACK, "");
		for (i = 0; i < 40; i++) {
			run(T_IN, 0, 512, true, &st);
			sync_ring();
			pattern[run_no][i] = st;
			errs += run_no == 0 && st == S_IOERR;
		}
		virtio_blk_fini(b);
		free(b);
		b = NULL;
		drv_fini(&d);
		drv_init(&d, 16, false, 0);
	}
	ck_assert_int_eq(memcmp(pattern[0], pattern[1], 40), 0);
	ck_assert_int_ge(errs, 4);
	ck_assert_int_le(errs, 24);
	memset(&inject, 0, sizeof(inject));
}
END_TEST

START_TEST(bounds_and_lengths)
{
	uint8_t st, before[512], after[512];

	open_blk(false, BLK_CACHE_WRITEBACK, "");
	pread(img_fd, before, 512, (IMG_SECTORS - 1) * 512);
	/* Last sector: fine. One past: IOERR. */
	ck_assert_int_eq(run(T_IN, IMG_SECTORS - 1, 512, true, &st), 513);
	ck_assert_uint_eq(st, 0);
	ck_assert_int_eq(run(T_OUT, IMG_SECTORS - 1, 1024, false, &st), 1);
	ck_assert_uint_eq(st, 1);
	ck_assert_int_eq(run(T_IN, IMG_SECTORS, 512, true, &st), 1);
	ck_assert_uint_eq(st, 1);
	/* sector + length overflows 64 bits. */
	ck_assert_int_eq(run(T_OUT, UINT64_MAX, 512, false, &st), 1);
	ck_assert_uint_eq(st, 1);
	/* Not a multiple of 512. */
	ck_assert_int_eq(run(T_OUT, 0, 100, false, &st), 1);
	ck_assert_uint_eq(st, 1);
	pread(img_fd, after, 512, (IMG_SECTORS - 1) * 512);
	ck_assert_int_eq(memcmp(before, after, 512), 0);
	ck_assert_uint_eq(b->stats.io_errors, 4);
}
END_TEST

START_TEST(read_only_disk)
{
	uint8_t st, before[4096], after[4096];

	open_blk(true, BLK_CACHE_WRITEBACK, "");
	ck_assert(b->vdev.offered & (1ULL << 5));		/* RO */
	ck_assert(!(b->vdev.offered & (1ULL << 13)));		/* no DISCARD */
	pread(img_fd, before, 4096, 0);
	memset(drv_mem(&d, DATA), 0x77, 4096);
	ck_assert_int_eq(run(T_OUT, 0, 4096, false, &st), 1);
	ck_assert_uint_eq(st, 1);
	ck_assert_int_eq(run(T_WRITE_ZEROES, 0, 16, false, &st), 1);
	ck_assert_uint_ne(st, 0);
	pread(img_fd, after, 4096, 0);
	ck_assert_int_eq(memcmp(before, after, 4096), 0);
	/* Reads still work. */
	ck_assert_int_eq(run(T_IN, 0, 512, true, &st), 513);
	ck_assert_uint_eq(st, 0);
}
END_TEST

START_TEST(get_id)
{
	uint8_t st;

	open_blk(false, BLK_CACHE_WRITEBACK, "vireo-serial-1");
	memset(drv_mem(&d, DATA), 0xff, 32);
	ck_assert_int_eq(run(T_GET_ID, 0, 20, true, &st), 21);
	ck_assert_uint_eq(st, 0);
	ck_assert_str_eq((char *)drv_mem(&d, DATA), "vireo-serial-1");
	/* A buffer shorter than the 20-byte ID is refused. */
	memset(drv_mem(&d, DATA), 0xff, 32);
	ck_assert_int_eq(run(T_GET_ID, 0, 19, true, &st), 1);
	ck_assert_uint_eq(st, 1);
	ck_assert_uint_eq(*drv_mem(&d, DATA), 0xff);
}
END_TEST

START_TEST(flush_and_unknown)
{
	uint8_t st;

	open_blk(false, BLK_CACHE_WRITEBACK, "");
	ck_assert_int_eq(run(T_FLUSH, 0, 0, false, &st), 1);
	ck_assert_uint_eq(st, 0);
	ck_assert_uint_eq(b->stats.flushes, 1);
	ck_assert_int_eq(run(99, 0, 0, false, &st), 1);
	ck_assert_uint_eq(st, 2);				/* UNSUPP */
	virtio_blk_fini(b);
	free(b);
	b = NULL;
	drv_fini(&d);
	drv_init(&d, 16, false, 0);
	open_blk(false, BLK_CACHE_UNSAFE, "");
	ck_assert_int_eq(run(T_FLUSH, 0, 0, false, &st), 1);
	ck_assert_uint_eq(st, 0);
}
END_TEST

static void seg(unsigned int i, uint64_t sector, uint32_t num, uint32_t flags)
{
	put_le64(drv_mem(&d, HDR + 16 + 16 * i), sector);
	put_le32(drv_mem(&d, HDR + 16 + 16 * i + 8), num);
	put_le32(drv_mem(&d, HDR + 16 + 16 * i + 12), flags);
}

/* DISCARD/WRITE_ZEROES carry their ranges after the header. */
static int run_ranges(uint32_t type, unsigned int nseg, uint8_t *st)
{
	struct drv_buf bufs[2] = {
		{ HDR, 16 + 16 * nseg, false }, { STATUS, 1, true },
	};

	put_le32(drv_mem(&d, HDR), type);
	put_le64(drv_mem(&d, HDR + 8), 0);
	return submit(bufs, 2, type, st);
}

START_TEST(discard_and_write_zeroes)
{
	uint8_t st, buf[512];
	struct stat s0, s1;

	open_blk(false, BLK_CACHE_WRITEBACK, "");
	fsync(img_fd);
	fstat(img_fd, &s0);
	seg(0, 0, 1024, 0);
	seg(1, 1024, 512, 0);
	ck_assert_int_eq(run_ranges(T_DISCARD, 2, &st), 1);
	ck_assert_uint_eq(st, 0);
	fstat(img_fd, &s1);
	ck_assert_uint_lt(s1.st_blocks, s0.st_blocks);
	pread(img_fd, buf, 512, 10 * 512);
	ck_assert_uint_eq(buf[0], 0);
	/* Write zeroes, without unmap, on the last sectors. */
	seg(0, IMG_SECTORS - 4, 4, 0);
	ck_assert_int_eq(run_ranges(T_WRITE_ZEROES, 1, &st), 1);
	ck_assert_uint_eq(st, 0);
	pread(img_fd, buf, 512, (IMG_SECTORS - 1) * 512);
	ck_assert_uint_eq(buf[511], 0);
	pread(img_fd, buf, 512, (IMG_SECTORS - 5) * 512);
	ck_assert_uint_eq(buf[0], (IMG_SECTORS - 5) & 0xff);	/* untouched */
	/* Flags on a discard, ranges past the end, bad layouts. */
	seg(0, 0, 8, 1);
	ck_assert_int_eq(run_ranges(T_DISCARD, 1, &st), 1);
	ck_assert_uint_eq(st, 2);
	seg(0, IMG_SECTORS - 1, 2, 0);
	ck_assert_int_eq(run_ranges(T_DISCARD, 1, &st), 1);
	ck_assert_uint_eq(st, 1);
	seg(0, UINT64_MAX - 1, 8, 0);
	ck_assert_int_eq(run_ranges(T_WRITE_ZEROES, 1, &st), 1);
	ck_assert_uint_eq(st, 1);
	ck_assert_int_eq(run_ranges(T_DISCARD, BLK_MAX_DISCARD_SEG + 1, &st), 1);
	ck_assert_uint_eq(st, 1);
}
END_TEST

START_TEST(malformed_chains)
{
	struct drv_buf only_hdr = { HDR, 16, false };
	struct drv_buf short_hdr[2] = { { HDR, 8, false }, { STATUS, 1, true } };
	struct drv_buf readable_data[3] = {
		{ HDR, 16, false }, { DATA, 512, false }, { STATUS, 1, true },
	};
	uint16_t id;
	uint32_t len;

	open_blk(false, BLK_CACHE_WRITEBACK, "");
	/* No status byte: dropped with used length 0. */
	put_le32(drv_mem(&d, HDR), T_IN);
	drv_add(&d, &only_hdr, 1);
	virtio_kick(&b->vdev, 0);
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert_uint_eq(len, 0);
	/* A header shorter than 16 bytes: dropped too. */
	drv_add(&d, short_hdr, 2);
	virtio_kick(&b->vdev, 0);
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(b->stats.malformed, 2);
	ck_assert(!b->vdev.broken);
	/* A read whose data buffer is device-readable: never written. */
	memset(drv_mem(&d, DATA), 0x5a, 512);
	put_le32(drv_mem(&d, HDR), T_IN);
	put_le64(drv_mem(&d, HDR + 8), 0);
	drv_add(&d, readable_data, 3);
	virtio_kick(&b->vdev, 0);
	for (int i = 0; i < 100 && !drv_get_used(&d, &id, &len); i++)
		fake_dispatch(50);
	ck_assert_uint_eq(*drv_mem(&d, DATA), 0x5a);
	/* Each is the driver's violation of the request layout. */
	ck_assert_uint_eq(b->vdev.violations[VIOL_REQUEST_LAYOUT], 3);
	/* A write whose data the device could write: one more. */
	sync_ring();
	put_le32(drv_mem(&d, HDR), T_OUT);
	{
		struct drv_buf w[3] = { { HDR, 16, false }, { DATA, 512, true },
					{ STATUS, 1, true } };
		uint8_t st;

		submit(w, 3, T_OUT, &st);
	}
	ck_assert_uint_eq(b->vdev.violations[VIOL_REQUEST_LAYOUT], 4);
	ck_assert_uint_eq(b->vdev.nr_violations, 4);
}
END_TEST

/* n reads of sector i (one 512-byte buffer each) at once; their heads. */
static void add_reads(unsigned int n, int *heads)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct drv_buf r[3] = {
			{ HDR + 32 * i, 16, false },
			{ DATA + 4096 * i, 512, true },
			{ STATUS + i, 1, true },
		};

		put_le32(drv_mem(&d, HDR + 32 * i), T_IN);
		put_le32(drv_mem(&d, HDR + 32 * i + 4), 0);
		put_le64(drv_mem(&d, HDR + 32 * i + 8), i);
		heads[i] = drv_add(&d, r, 3);
	}
	b->vdev.vq[0].ready = true;
	virtio_kick(&b->vdev, 0);
}

/* Collect n used buffers (ids in order), waiting up to a second. */
static void get_used(unsigned int n, uint16_t *ids)
{
	unsigned int got = 0, tries;
	uint32_t len;

	for (tries = 0; got < n && tries < 100; tries++) {
		while (got < n && drv_get_used(&d, &ids[got], &len))
			got++;
		if (got < n)
			fake_dispatch(10);
	}
	ck_assert_uint_eq(got, n);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A writeback disk whose every request completes at least ms late. */
static void open_blk_delayed(unsigned int ms)
{
	memset(&inject, 0, sizeof(inject));
	inject.on = true;
	inject.first = 1;
	inject.delay_ms = ms;
	open_blk(false, BLK_CACHE_WRITEBACK, "");
}

/*
 * Completion faults: delayed (each at least MS late), given back in
 * reverse order, in bursts; each counted as injected.
 */
START_TEST(completion_faults)
{
	int heads[4];
	uint16_t ids[4];
	uint64_t t0;
	uint8_t st;

	open_blk_delayed(40);
	t0 = mono_ns();
	run(T_IN, 0, 512, true, &st);
	ck_assert_uint_eq(st, 0);
	ck_assert_uint_ge(mono_ns() - t0, 40000000ULL);
	ck_assert_uint_eq(*drv_mem(&d, DATA), 0);	/* sector 0's bytes */
	ck_assert_uint_eq(b->vdev.injected, 1);
	virtio_blk_fini(b);
	free(b);
	b = NULL;
	drv_fini(&d);
	drv_init(&d, 16, false, 0);

	/* reorder@3: three reads come back together, last first. The
	 * page cache answers them in the order they were submitted. */
	inject.delay_ms = 0;
	inject.hold = 3;
	inject.hold_reverse = true;
	open_blk(false, BLK_CACHE_WRITEBACK, "");
	add_reads(3, heads);
	get_used(3, ids);
	ck_assert_int_eq(ids[0], heads[2]);
	ck_assert_int_eq(ids[1], heads[1]);
	ck_assert_int_eq(ids[2], heads[0]);
	ck_assert_uint_eq(*drv_mem(&d, DATA + 4096 * 2), 2);
	ck_assert_uint_eq(b->vdev.injected, 1);
	ck_assert_uint_eq(b->q[0].nr_held, 0);
	sync_ring();

	/* burst@2 (now, through the API's path): three reads; the first
	 * two together, in order, the third on its own after the wait. */
	ck_assert_int_eq(virtio_blk_class.set_faults(&b->vdev, "burst@2", 0,
						     NULL, 0), 0);
	add_reads(3, heads);
	get_used(3, ids);
	ck_assert_int_eq(ids[0], heads[0]);
	ck_assert_int_eq(ids[1], heads[1]);
	ck_assert_int_eq(ids[2], heads[2]);
	ck_assert_uint_eq(b->vdev.injected, 2);	/* the pair; one alone is not */
	memset(&inject, 0, sizeof(inject));
}
END_TEST

/* capacity@S shrinks the disk with a config change; clearing restores. */
START_TEST(capacity_fault)
{
	char err[256];
	uint8_t c[8], st;

	open_blk(false, BLK_CACHE_WRITEBACK, "");
	ck_assert_int_eq(virtio_blk_class.set_faults(&b->vdev, "capacity@1000",
						     0, err, sizeof(err)), 0);
	virtio_config_access(&b->vdev, 0, c, 8, false);
	ck_assert_uint_eq(get_le64(c), 1000);
	ck_assert_uint_eq(b->vdev.config_gen, 1);
	run(T_IN, 1500, 512, true, &st);		/* past the new end */
	ck_assert_uint_eq(st, S_IOERR);
	ck_assert_int_lt(virtio_blk_class.set_faults(&b->vdev, "capacity@4096",
						     0, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "not grow it"));
	ck_assert_int_eq(virtio_blk_class.set_faults(&b->vdev, "", 0, err,
						     sizeof(err)), 0);
	virtio_config_access(&b->vdev, 0, c, 8, false);
	ck_assert_uint_eq(get_le64(c), IMG_SECTORS);
	ck_assert_uint_eq(b->vdev.config_gen, 2);
	ck_assert_uint_eq(b->vdev.injected, 2);
}
END_TEST

/* Interrupts late (after the used ring moved), spurious while idle. */
START_TEST(interrupt_faults)
{
	char err[256];
	uint64_t irqs;
	uint8_t st;
	int i;

	open_blk(false, BLK_CACHE_WRITEBACK, "");
	ck_assert_int_eq(virtio_blk_class.set_faults(&b->vdev, "irqlate@100",
						     0, err, sizeof(err)), 0);
	irqs = b->vdev.interrupts;
	run(T_IN, 0, 512, true, &st);
	ck_assert_uint_eq(b->vdev.interrupts, irqs);	/* not yet */
	for (i = 0; i < 30 && b->vdev.interrupts == irqs; i++)
		fake_dispatch(10);
	ck_assert_uint_eq(b->vdev.interrupts, irqs + 1);
	ck_assert_uint_eq(b->vdev.injected, 1);
	ck_assert_int_eq(virtio_blk_class.set_faults(&b->vdev, "irqspurious@10",
						     0, err, sizeof(err)), 0);
	irqs = b->vdev.interrupts;
	for (i = 0; i < 20; i++)
		fake_dispatch(10);
	ck_assert_uint_ge(b->vdev.interrupts, irqs + 2);
	ck_assert_uint_eq(b->vdev.injected, 1 + b->vdev.interrupts - irqs);
	ck_assert_int_eq(virtio_blk_class.set_faults(&b->vdev, "", 0, err,
						     sizeof(err)), 0);
	ck_assert_ptr_null(b->vdev.irqf);
	ck_assert_int_lt(virtio_blk_class.set_faults(&b->vdev, "irqcoalesce@1",
						     0, err, sizeof(err)), 0);
}
END_TEST

START_TEST(reset_during_io)
{
	struct drv_buf bufs[3] = {
		{ HDR, 16, false }, { DATA, 65536, true }, { STATUS, 1, true },
	};
	uint16_t used_before;
	struct virtq tmpl;
	unsigned int i;

	open_blk(false, BLK_CACHE_WRITEBACK, "");
	tmpl = b->vdev.vq[0];
	put_le32(drv_mem(&d, HDR), T_IN);
	put_le64(drv_mem(&d, HDR + 8), 0);
	drv_add(&d, bufs, 3);
	virtio_kick(&b->vdev, 0);
	used_before = drv_used_idx(&d);
	/* Reset before the completion is processed: it does not wait for
	 * it; the driver reads a non-zero status until the request ended,
	 * and nothing reaches the used ring. */
	pthread_mutex_lock(&b->vdev.lock);
	virtio_set_status(&b->vdev, 0);
	ck_assert_uint_eq(b->q[0].inflight, 1);
	ck_assert_uint_ne(virtio_read_status(&b->vdev), 0);
	pthread_mutex_unlock(&b->vdev.lock);
	for (i = 0; i < 40 && virtio_read_status(&b->vdev); i++)
		fake_dispatch(50);
	ck_assert_uint_eq(virtio_read_status(&b->vdev), 0);
	ck_assert_uint_eq(b->q[0].inflight, 0);
	ck_assert_uint_eq(drv_used_idx(&d), used_before);
	ck_assert_uint_eq(b->stats.async_resets, 1);

	/* A driver that re-initialises at once (Linux's virtio-mmio) ends
	 * the reset there and then, still with nothing used. */
	drv_add(&d, bufs, 3);
	b->vdev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	b->vdev.acked = b->vdev.offered;
	b->vdev.vq[0] = tmpl;
	b->vdev.vq[0].ready = true;
	virtio_kick(&b->vdev, 0);
	used_before = drv_used_idx(&d);
	pthread_mutex_lock(&b->vdev.lock);
	virtio_set_status(&b->vdev, 0);
	ck_assert(b->vdev.resetting);
	virtio_set_status(&b->vdev, VIRTIO_STATUS_ACKNOWLEDGE);
	ck_assert(!b->vdev.resetting);
	ck_assert_uint_eq(b->q[0].inflight, 0);
	pthread_mutex_unlock(&b->vdev.lock);
	fake_dispatch(100);
	ck_assert_uint_eq(drv_used_idx(&d), used_before);
}
END_TEST

/* The used ring's flags: 1 (NO_NOTIFY) asks the driver not to kick. */
static uint16_t used_flags(void)
{
	return get_le16(drv_mem(&d, DRV_DEVICE));
}

static unsigned int wait_used(unsigned int want)
{
	unsigned int got = 0, i;
	uint16_t id;
	uint32_t len;

	for (i = 0; i < 100 && got < want; i++) {
		fake_dispatch(50);
		while (drv_get_used(&d, &id, &len))
			got++;
	}
	return got;
}

/*
 * With reads and writes in flight the driver is asked not to kick; what
 * it adds meanwhile is taken when they complete, and a completion that
 * finds nothing new asks for kicks again. Never with a FLUSH in flight,
 * nor on a disk whose requests take long.
 */
START_TEST(kicks_held_while_busy)
{
	struct drv_buf rd[3] = {
		{ HDR, 16, false }, { DATA, 4096, true }, { STATUS, 1, true },
	};
	struct drv_buf fl[2] = { { HDR + 0x100, 16, false },
				 { STATUS + 1, 1, true } };
	char line[PATH_MAX + 256];

	open_blk(false, BLK_CACHE_WRITEBACK, "");
	/* The page cache against a kick's work: fast, whatever this
	 * machine's timing. */
	b->q[0].kick_ns = 1000000000;	/* 1 s */
	put_le32(drv_mem(&d, HDR), T_IN);
	put_le64(drv_mem(&d, HDR + 8), 0);
	drv_add(&d, rd, 3);
	virtio_kick(&b->vdev, 0);
	ck_assert_uint_eq(b->q[0].inflight, 1);
	ck_assert_uint_eq(used_flags(), 1);
	/* Added without a kick: taken when the first read completes; the
	 * first read's interrupt waits for it, one tells of both. */
	drv_add(&d, rd, 3);
	ck_assert_uint_eq(wait_used(2), 2);
	ck_assert_uint_eq(b->stats.reads, 2);
	ck_assert_uint_eq(b->vdev.kicks, 1);
	ck_assert_uint_eq(b->vdev.interrupts, 1);
	ck_assert_uint_eq(b->stats.irqs_held, 1);
	ck_assert(!b->q[0].irq_owed);
	ck_assert_uint_eq(used_flags(), 0);
	ck_assert(!b->vdev.vq[0].kicks_held);
	virtio_blk_stats_line(b, line, sizeof(line));
	ck_assert_msg(strstr(line, "; reads and writes take "), "%s", line);
	ck_assert_msg(strstr(line, " us, a kick "), "%s", line);
	/* A FLUSH among them: kicks stay wanted. */
	put_le32(drv_mem(&d, HDR + 0x100), T_FLUSH);
	drv_add(&d, rd, 3);
	drv_add(&d, fl, 2);
	virtio_kick(&b->vdev, 0);
	ck_assert_uint_eq(b->q[0].inflight, 2);
	ck_assert_uint_eq(used_flags(), 0);
	ck_assert_uint_eq(wait_used(2), 2);
	ck_assert_uint_eq(b->q[0].slow_inflight, 0);
	/* A disk whose reads and writes take long: kicks stay wanted. */
	b->q[0].service_ns = 1000000000;	/* 1 s */
	b->q[0].kick_ns = 1000;			/* 1 us */
	drv_add(&d, rd, 3);
	virtio_kick(&b->vdev, 0);
	ck_assert_uint_eq(b->q[0].inflight, 1);
	ck_assert_uint_eq(used_flags(), 0);
	ck_assert_uint_eq(wait_used(1), 1);
}
END_TEST

/*
 * A completion's interrupt held for a fast read still in flight waits at
 * most BLK_IRQ_HOLD_US: the read that stalls (40 ms here) does not hold
 * it back.
 */
START_TEST(interrupt_hold_bounded)
{
	struct drv_buf rd[3] = {
		{ HDR, 16, false }, { DATA, 4096, true }, { STATUS, 1, true },
	};
	uint16_t id;
	uint32_t len;
	unsigned int i;
	uint64_t t0;

	open_blk_delayed(40);
	memset(&inject, 0, sizeof(inject));
	b->q[0].kick_ns = 1000000000;	/* fast, whatever this machine's timing */
	put_le32(drv_mem(&d, HDR), T_IN);
	put_le64(drv_mem(&d, HDR + 8), 0);
	drv_add(&d, rd, 3);
	virtio_kick(&b->vdev, 0);
	/* The second 20 ms later: it ends 20 ms after the first. */
	t0 = mono_ns();
	while (mono_ns() - t0 < 20000000ULL)
		fake_dispatch(2);
	drv_add(&d, rd, 3);
	virtio_kick(&b->vdev, 0);
	for (i = 0; i < 200 && !drv_get_used(&d, &id, &len); i++)
		fake_dispatch(2);
	ck_assert_uint_lt(i, 200);
	ck_assert_uint_eq(b->q[0].inflight, 1);	/* the second, 20 ms to go */
	for (i = 0; i < 4 && !b->vdev.interrupts; i++)
		fake_dispatch(2);
	ck_assert_uint_eq(b->vdev.interrupts, 1);
	ck_assert_uint_eq(b->stats.irqs_held, 1);
	ck_assert_uint_eq(b->q[0].inflight, 1);
	ck_assert_uint_eq(wait_used(1), 1);
	ck_assert_uint_eq(b->vdev.interrupts, 2);
}
END_TEST

/*
 * A good request then a corrupt ring entry in one kick: the device needs
 * a reset, and the reset ends (status reads 0) once the good request,
 * submitted and not left in the submission queue, was done or cancelled:
 * the guest never saw it complete, so either is allowed.
 */
START_TEST(corrupt_after_good_request)
{
	struct drv_buf wr[3] = {
		{ HDR, 16, false }, { DATA, 4096, false }, { STATUS, 1, true },
	};
	uint8_t buf[4096];
	unsigned int i;

	open_blk(false, BLK_CACHE_WRITEBACK, "");
	put_le32(drv_mem(&d, HDR), T_OUT);
	put_le64(drv_mem(&d, HDR + 8), 16);
	memset(drv_mem(&d, DATA), 0xab, 4096);
	drv_add(&d, wr, 3);
	drv_set_avail_ring(&d, 1, 999);		/* no such descriptor */
	drv_set_avail_idx(&d, 2);
	virtio_kick(&b->vdev, 0);
	ck_assert(b->vdev.broken);
	pthread_mutex_lock(&b->vdev.lock);
	virtio_set_status(&b->vdev, 0);
	pthread_mutex_unlock(&b->vdev.lock);
	for (i = 0; i < 40 && virtio_read_status(&b->vdev); i++)
		fake_dispatch(50);
	ck_assert_uint_eq(b->q[0].inflight, 0);
	ck_assert_uint_eq(virtio_read_status(&b->vdev), 0);
	ck_assert_int_eq(pread(img_fd, buf, 4096, 16 * 512), 4096);
	ck_assert(buf[0] == 0xab || buf[0] == 16);	/* new or old data */
}
END_TEST

/*
 * Guest-chosen host memory is capped: misaligned 8 MiB writes on a
 * direct=on disk each need a bounce buffer; past BLK_BOUNCE_TOTAL a
 * request waits (kept, not failed) until completions free some, and all
 * complete with their data on the disk. A segment over size_max is
 * refused and logged, not served.
 */
START_TEST(bounce_memory_capped)
{
	const uint64_t len = BLK_BOUNCE_MAX;
	const unsigned int segs = BLK_BOUNCE_MAX / BLK_SIZE_MAX;
	struct drv_buf bufs[2 + BLK_BOUNCE_MAX / BLK_SIZE_MAX];
	unsigned int i, j, done = 0, tries;
	uint8_t got[16];
	uint16_t id;
	uint32_t ulen;
	uint8_t st;

	ck_assert_int_eq(ftruncate(img_fd, 64 << 20), 0);
	drv_fini(&d);
	drv_init(&d, 128, false, 0);
	direct = true;
	open_blk(false, BLK_CACHE_WRITEBACK, "");
	direct = false;
	memset(drv_mem(&d, DATA + 1), 0x6b, len);
	for (i = 0; i < 6; i++) {
		put_le32(drv_mem(&d, HDR + 32 * i), T_OUT);
		put_le32(drv_mem(&d, HDR + 32 * i + 4), 0);
		put_le64(drv_mem(&d, HDR + 32 * i + 8), i * (len / 512));
		bufs[0] = (struct drv_buf){ HDR + 32 * i, 16, false };
		/* size_max segments, misaligned: O_DIRECT needs a bounce. */
		for (j = 0; j < segs; j++)
			bufs[1 + j] = (struct drv_buf){ DATA + 1 + j * BLK_SIZE_MAX,
							BLK_SIZE_MAX, false };
		bufs[1 + segs] = (struct drv_buf){ STATUS + i, 1, true };
		*drv_mem(&d, STATUS + i) = 0xee;
		drv_add(&d, bufs, segs + 2);
	}
	b->vdev.vq[0].ready = true;
	/* A turn copies one 8 MiB request into its bounce buffer, then
	 * yields (VQ_TURN_BYTES); later turns take the next ones. */
	for (i = 1; i <= BLK_BOUNCE_TOTAL / len; i++) {
		virtio_kick(&b->vdev, 0);
		ck_assert_uint_eq(b->bounce_bytes, i * len);
	}
	virtio_kick(&b->vdev, 0);
	ck_assert_uint_eq(b->bounce_bytes, BLK_BOUNCE_TOTAL);
	ck_assert_ptr_nonnull(b->q[0].waiting);
	ck_assert_uint_eq(b->stats.bounce_waits, 1);
	for (tries = 0; done < 6 && tries < 200; tries++) {
		while (drv_get_used(&d, &id, &ulen))
			done++;
		ck_assert_uint_le(b->bounce_bytes, BLK_BOUNCE_TOTAL);
		fake_dispatch(50);
		virtio_kick(&b->vdev, 0);	/* the loop's later turns */
	}
	ck_assert_uint_eq(done, 6);
	ck_assert_uint_eq(b->bounce_bytes, 0);
	for (i = 0; i < 6; i++) {
		ck_assert_uint_eq(*drv_mem(&d, STATUS + i), 0);
		ck_assert_int_eq(pread(img_fd, got, sizeof(got),
				       (off_t)(i * len + len - 16)), 16);
		ck_assert_uint_eq(got[0], 0x6b);
	}
	/* size_max (1 MiB) negotiated: a 2 MiB segment is refused. */
	sync_ring();
	ck_assert_int_eq(run(T_IN, 0, 2 << 20, true, &st), 1);
	ck_assert_uint_eq(st, S_IOERR);
	ck_assert_uint_eq(b->stats.too_large, 1);
	ck_assert_uint_eq(b->vdev.violations[VIOL_REQUEST_LAYOUT], 1);
}
END_TEST

/*
 * queues=2: VIRTIO_BLK_F_MQ and num_queues 2 offered; a request on queue
 * 1 is served by queue 1's io_uring and completes on queue 1's used
 * ring; the exit line says which queue did the work.
 */
START_TEST(two_queues)
{
	struct drv_buf bufs[3] = {
		{ HDR, 16, false }, { DATA, 4096, true }, { STATUS, 1, true },
	};
	struct drv q1;
	char line[PATH_MAX + 512];
	uint8_t c[2], st;
	uint16_t id;
	uint32_t len;
	unsigned int i;

	queues = 2;
	open_blk(false, BLK_CACHE_WRITEBACK, "");
	queues = 0;
	ck_assert(b->vdev.offered & (1ULL << 12));
	virtio_config_access(&b->vdev, 34, c, 2, false);
	ck_assert_uint_eq(get_le16(c), 2);
	ck_assert_uint_eq(b->vdev.ops->num_queues, 2);
	drv_init_shared(&q1, &d, 0x300000, 16, false, 0);
	b->vdev.vq[1] = q1.vq;
	b->vdev.vq[1].max_size = BLK_QUEUE_SIZE;
	b->vdev.vq[1].ready = true;
	put_le32(drv_mem(&d, HDR), T_IN);
	put_le64(drv_mem(&d, HDR + 8), 3);
	*drv_mem(&d, STATUS) = 0xee;
	drv_add(&q1, bufs, 3);
	virtio_kick(&b->vdev, 1);
	for (i = 0; i < 100 && !drv_get_used(&q1, &id, &len); i++)
		fake_dispatch(50);
	ck_assert_uint_eq(len, 4097);
	ck_assert_uint_eq(*drv_mem(&d, STATUS), 0);
	ck_assert_uint_eq(drv_mem(&d, DATA)[0], 3);	/* sector 3's pattern */
	ck_assert_uint_eq(drv_used_idx(&d), 0);		/* nothing on queue 0 */
	ck_assert_uint_eq(b->q[1].taken, 1);
	ck_assert_uint_eq(b->q[0].taken, 0);
	virtio_blk_stats_line(b, line, sizeof(line));
	ck_assert_msg(strstr(line, "; by queue (requests/wakeups): 0/0 1/1"),
		      "%s", line);
	/* A kick for a queue the disk does not have: nothing happens. */
	virtio_kick(&b->vdev, 5);

	/* queue@1: faults on queue 1 only; queue 0 is left alone. */
	ck_assert_int_lt(virtio_blk_class.set_faults(&b->vdev,
			 "queue@2+ioerr%100", 0, line, sizeof(line)), 0);
	ck_assert_ptr_nonnull(strstr(line, "2 queues (0-1)"));
	ck_assert_int_eq(virtio_blk_class.set_faults(&b->vdev,
			 "queue@1+ioerr%100", 0, line, sizeof(line)), 0);
	*drv_mem(&d, STATUS) = 0xee;
	drv_add(&q1, bufs, 3);
	virtio_kick(&b->vdev, 1);
	for (i = 0; i < 100 && !drv_get_used(&q1, &id, &len); i++)
		fake_dispatch(50);
	ck_assert_uint_eq(*drv_mem(&d, STATUS), S_IOERR);
	b->vdev.vq[0].ready = true;
	run(T_IN, 3, 512, true, &st);
	ck_assert_uint_eq(st, 0);
	ck_assert_uint_eq(b->vdev.injected, 1);
	drv_fini(&q1);
}
END_TEST

/*
 * iothread=on: completions are taken on the disk's I/O thread, without
 * the event loop (no fake_dispatch here); the exit line says so.
 */
START_TEST(iothread_completes)
{
	struct drv_buf bufs[3] = {
		{ HDR, 16, false }, { DATA, 4096, true }, { STATUS, 1, true },
	};
	char line[PATH_MAX + 512];
	uint16_t id;
	uint32_t len = 0;
	unsigned int i;
	bool got = false;

	iothread = true;
	open_blk(false, BLK_CACHE_WRITEBACK, "");
	iothread = false;
	put_le32(drv_mem(&d, HDR), T_IN);
	put_le64(drv_mem(&d, HDR + 8), 5);
	*drv_mem(&d, STATUS) = 0xee;
	drv_add(&d, bufs, 3);
	b->vdev.vq[0].ready = true;
	virtio_kick(&b->vdev, 0);
	for (i = 0; i < 200 && !got; i++) {
		pthread_mutex_lock(&b->vdev.lock);
		got = drv_get_used(&d, &id, &len);
		pthread_mutex_unlock(&b->vdev.lock);
		if (!got)
			usleep(10000);
	}
	ck_assert(got);
	ck_assert_uint_eq(len, 4097);
	ck_assert_uint_eq(*drv_mem(&d, STATUS), 0);
	ck_assert_uint_eq(drv_mem(&d, DATA)[0], 5);
	ck_assert_uint_ge(b->q[0].wakeups, 1);
	virtio_blk_stats_line(b, line, sizeof(line));
	ck_assert_msg(strstr(line, "; I/O thread: "), "%s", line);
}
END_TEST

START_TEST(config_space)
{
	uint8_t c[60];

	open_blk(false, BLK_CACHE_WRITEBACK, "");
	virtio_config_access(&b->vdev, 0, c, 8, false);
	ck_assert_uint_eq(get_le64(c), IMG_SECTORS);
	virtio_config_access(&b->vdev, 12, c, 4, false);
	ck_assert_uint_eq(get_le32(c), BLK_SEG_MAX);
	virtio_config_access(&b->vdev, 32, c, 1, false);
	ck_assert_uint_eq(c[0], 1);			/* writeback */
	c[0] = 0;
	virtio_config_access(&b->vdev, 32, c, 1, true);
	ck_assert_uint_eq(b->wce, 0);
	/* Past the end: reads 0. */
	memset(c, 0xaa, 8);
	virtio_config_access(&b->vdev, 58, c, 4, false);
	ck_assert_uint_eq(c[0], 0);
}
END_TEST

START_TEST(open_errors)
{
	struct blk_config c = { .cache = BLK_CACHE_WRITEBACK };
	struct virtio_opts o = { .transport = VIRTIO_PCI };
	struct virtio_blk *x = calloc(1, sizeof(*x));
	char err[256];

	strcpy(c.path, "/nonexistent/disk.img");
	ck_assert_int_eq(virtio_blk_init(x, &c, &d.gm, &o, &fake, err, sizeof(err)),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/disk.img"));
	virtio_blk_fini(x);
	/* The same image twice: the lock says no. */
	strcpy(c.path, img);
	open_blk(false, BLK_CACHE_WRITEBACK, "");
	memset(x, 0, sizeof(*x));
	ck_assert_int_ne(virtio_blk_init(x, &c, &d.gm, &o, &fake, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "already in use"));
	virtio_blk_fini(x);
	free(x);
}
END_TEST

Suite *blk_suite(void)
{
	Suite *s = suite_create("blk");
	TCase *tc = tcase_create("requests");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, write_then_read);
	tcase_add_test(tc, fault_injection);
	tcase_add_test(tc, fault_injection_seeded);
	tcase_add_test(tc, completion_faults);
	tcase_add_test(tc, capacity_fault);
	tcase_add_test(tc, interrupt_faults);
	tcase_add_test(tc, bounds_and_lengths);
	tcase_add_test(tc, read_only_disk);
	tcase_add_test(tc, get_id);
	tcase_add_test(tc, flush_and_unknown);
	tcase_add_test(tc, discard_and_write_zeroes);
	tcase_add_test(tc, malformed_chains);
	tcase_add_test(tc, reset_during_io);
	tcase_add_test(tc, kicks_held_while_busy);
	tcase_add_test(tc, interrupt_hold_bounded);
	tcase_add_test(tc, corrupt_after_good_request);
	tcase_add_test(tc, config_space);
	tcase_add_test(tc, bounce_memory_capped);
	tcase_add_test(tc, two_queues);
	tcase_add_test(tc, iothread_completes);
	tcase_add_test(tc, open_errors);
	suite_add_tcase(s, tc);
	return s;
}
