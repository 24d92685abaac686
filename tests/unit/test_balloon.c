// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-balloon: inflated PFNs are released (the page reads zeros), PFNs
 * outside RAM or overflowing are ignored and counted (BAD-INPUTS 21), the
 * stats buffer is parsed with a bound and handed back on request, free
 * page reports release their ranges, and the target and report the API uses.
 */
#include <stdlib.h>
#include <string.h>

#include "devices/virtio-balloon.h"
#include "fakevmm.h"
#include "unit.h"
#include "vmm/util.h"
#include "vring.h"

#define F_STATS		(1ULL << 1)
#define F_REPORTING	(1ULL << 5)

/* Queues: inflate 0, deflate 1, stats 2, reporting 3. */
static struct drv q[4];
static struct virtio_balloon *b;

static void start(void)
{
	struct balloon_config cfg = { .free_page_reporting = true };
	struct virtio_opts o = { .transport = VIRTIO_MMIO };
	char err[256];

	memset(&vmm, 0, sizeof(vmm));
	drv_init_queues(q, 4, 64);
	b = calloc(1, sizeof(*b));
	ck_assert_int_eq(virtio_balloon_init(b, &cfg, &q[0].gm, &o, &fake, err,
					     sizeof(err)), 0);
	fake_driver_ok(&b->vdev, q, 4, F_STATS | F_REPORTING);
	ck_assert_int_eq(b->vdev.ops->activate(&b->vdev, NULL), 0);
}

static void stop(void)
{

	virtio_balloon_fini(b);
	free(b);
	drv_fini_queues(q, 4);
}

/* A page of guest RAM filled with a pattern. */
static void dirty(uint64_t gpa)
{
	memset(drv_mem(&q[0], gpa), 0x5a, 4096);
}

static bool zero(uint64_t gpa)
{
	const uint8_t *p = drv_mem(&q[0], gpa);
	unsigned int i;

	for (i = 0; i < 4096; i++)
		if (p[i])
			return false;
	return true;
}

START_TEST(inflate_releases_pages_and_ignores_bad_pfns)
{
	struct drv_buf pfns = { DRV_BUFS, 5 * 4, false };
	uint8_t *list;
	uint16_t id;
	uint32_t len;

	start();
	list = drv_mem(&q[0], DRV_BUFS);
	dirty(0x400000);
	dirty(0x401000);
	dirty(0x403000);
	put_le32(list, 0x400);			/* 0x400000 */
	put_le32(list + 4, 0x401);		/* its neighbour: merged */
	put_le32(list + 8, 0x403);
	put_le32(list + 12, DRV_RAM >> 12);	/* just past RAM */
	put_le32(list + 16, 0xffffffff);	/* far outside */
	drv_add(&q[0], &pfns, 1);
	virtio_kick(&b->vdev, 0);
	ck_assert(drv_get_used(&q[0], &id, &len));
	ck_assert(zero(0x400000));
	ck_assert(zero(0x401000));
	ck_assert(zero(0x403000));
	ck_assert_uint_eq(b->count.inflated, 3);
	ck_assert_uint_eq(b->count.ignored, 2);
	ck_assert_uint_eq(b->count.released, 3 * 4096);
	ck_assert(!b->vdev.broken);
	stop();
}
END_TEST

START_TEST(stats_parsed_bounded_and_requested)
{
	/* 40 entries, more than vireo reads: tag 4 (free) and 5 (total). */
	struct drv_buf sb = { DRV_BUFS, 40 * 10, false };
	struct balloon_report r;
	uint16_t id;
	uint32_t len;
	unsigned int i;
	uint8_t *p;

	start();
	p = drv_mem(&q[0], DRV_BUFS);
	for (i = 0; i < 40; i++) {
		put_le16(p + 10 * i, (uint16_t)(i == 0 ? 4 : i == 1 ? 5 : 300 + i));
		put_le64(p + 10 * i + 2, i == 0 ? 1000 : 2000);
	}
	drv_add(&q[2], &sb, 1);
	virtio_kick(&b->vdev, 2);
	ck_assert(!drv_get_used(&q[2], &id, &len));	/* held */
	virtio_balloon_report(b, &r);
	ck_assert(r.seen & (1u << 4) && r.seen & (1u << 5));
	ck_assert_uint_eq(r.stat[4], 1000);	/* free */
	ck_assert_uint_eq(r.stat[5], 2000);	/* total */
	/* The request handed the buffer back for fresh values. */
	ck_assert(drv_get_used(&q[2], &id, &len));
	stop();
}
END_TEST

START_TEST(free_page_report_releases_range)
{
	struct drv_buf r = { 0x600000, 8 * 4096, true };
	uint16_t id;
	uint32_t len;
	unsigned int i;

	start();
	for (i = 0; i < 8; i++)
		dirty(0x600000 + 4096ULL * i);
	dirty(0x608000);			/* not reported */
	drv_add(&q[3], &r, 1);
	virtio_kick(&b->vdev, 3);
	ck_assert(drv_get_used(&q[3], &id, &len));
	for (i = 0; i < 8; i++)
		ck_assert(zero(0x600000 + 4096ULL * i));
	ck_assert(!zero(0x608000));
	ck_assert_uint_eq(b->count.reported, 8 * 4096);
	stop();
}
END_TEST

/*
 * Worst cases: one inflate buffer of 255 aliased 16 MiB descriptors (a
 * billion PFNs) and one report buffer naming all RAM 255 times. A kick
 * does a turn's worth (VQ_TURN_DISCARD) and keeps its place; the buffer
 * is used only once all of it is done.
 */
START_TEST(huge_buffers_take_many_turns)
{
	struct drv_buf big[255];
	uint16_t id;
	uint32_t len;
	unsigned int i;

	start();
	for (i = 0; i < 255; i++)
		big[i] = (struct drv_buf){ 0x100000, 16u << 20, false };
	drv_add(&q[0], big, 255);
	virtio_kick(&b->vdev, 0);
	ck_assert(!drv_get_used(&q[0], &id, &len));
	ck_assert(b->work[0].pending);
	ck_assert_uint_eq(b->work[0].off, VQ_TURN_DISCARD / 4096 * 4);
	ck_assert_uint_eq(b->count.inflated + b->count.ignored,
			  VQ_TURN_DISCARD / 4096);
	virtio_kick(&b->vdev, 0);
	ck_assert_uint_eq(b->work[0].off, 2 * VQ_TURN_DISCARD / 4096 * 4);

	for (i = 0; i < 255; i++)
		big[i] = (struct drv_buf){ 0x100000, 16u << 20, true };
	drv_add(&q[3], big, 255);
	virtio_kick(&b->vdev, 3);
	ck_assert(!drv_get_used(&q[3], &id, &len));
	ck_assert_uint_eq(b->work[1].iov, VQ_TURN_DISCARD / (16u << 20));
	ck_assert_uint_le(b->count.reported, VQ_TURN_DISCARD);
	/* Enough turns finish it; the buffer is used once. */
	for (i = 0; i < 255 / (VQ_TURN_DISCARD >> 24) + 1; i++)
		virtio_kick(&b->vdev, 3);
	ck_assert(drv_get_used(&q[3], &id, &len));
	ck_assert(!b->work[1].pending);
	/* A pause gives the half-done inflate buffer back whole. */
	b->vdev.ops->deactivate(&b->vdev, true);
	ck_assert(!b->work[0].pending);
	stop();
}
END_TEST

START_TEST(target_and_report)
{
	struct balloon_report r;
	uint8_t cfg[4];

	start();
	virtio_balloon_set_target(b, 16 << 20);
	b->vdev.ops->config_read(&b->vdev, 0, cfg, 4);
	ck_assert_uint_eq(get_le32(cfg), 4096);
	/* More than the guest has: capped at its RAM. */
	virtio_balloon_set_target(b, 1ULL << 30);
	virtio_balloon_report(b, &r);
	ck_assert_uint_eq(r.target_pages, 8192);
	/* The driver writes "actual"; "num_pages" is the device's. */
	put_le32(cfg, 7);
	b->vdev.ops->config_write(&b->vdev, 4, cfg, 4);
	b->vdev.ops->config_write(&b->vdev, 0, cfg, 4);
	ck_assert_uint_eq(b->actual, 7);
	ck_assert_uint_eq(b->num_pages, 8192);
	stop();
}
END_TEST

Suite *balloon_suite(void)
{
	Suite *s = suite_create("balloon");
	TCase *tc = tcase_create("pages");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, inflate_releases_pages_and_ignores_bad_pfns);
	tcase_add_test(tc, stats_parsed_bounded_and_requested);
	tcase_add_test(tc, free_page_report_releases_range);
	tcase_add_test(tc, target_and_report);
	tcase_add_test(tc, huge_buffers_take_many_turns);
	suite_add_tcase(s, tc);
	return s;
}
