// SPDX-License-Identifier: GPL-2.0
/*
 * Virtqueue tests, split and packed (each test runs for both layouts):
 * normal traffic, notification suppression, EVENT_IDX wrap-around, and
 * every ring-level item of BAD-INPUTS.md (1-17).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "vmm/util.h"
#include "vring.h"

#define EV (1ULL << VIRTIO_F_EVENT_IDX)
#define IND (1ULL << VIRTIO_F_INDIRECT_DESC)

static struct drv d;
static struct vq_elem e;

static void pop_ok(void)
{
	ck_assert_int_eq(vq_pop(&d.vq, &e), 1);
}

static void pop_bad(void)
{
	ck_assert_int_eq(vq_pop(&d.vq, &e), -EBADMSG);
}

START_TEST(round_trip)
{
	bool packed = _i;
	struct drv_buf b[3] = {
		{ DRV_BUFS, 16, false },
		{ DRV_BUFS + 0x1000, 512, true },
		{ DRV_BUFS + 0x2000, 100, true },
	};
	uint16_t id;
	uint32_t len;
	int head;

	drv_init(&d, 8, packed, 0);
	memcpy(drv_mem(&d, DRV_BUFS), "header-bytes!!!", 16);
	ck_assert_int_eq(vq_pop(&d.vq, &e), 0);
	head = drv_add(&d, b, 3);
	pop_ok();
	ck_assert_uint_eq(e.id, head);
	ck_assert_uint_eq(e.nr_out, 1);
	ck_assert_uint_eq(e.nr_in, 2);
	ck_assert_uint_eq(e.out_len, 16);
	ck_assert_uint_eq(e.in_len, 612);
	ck_assert_uint_eq(e.ndesc, packed ? 3 : 1);
	{
		char hdr[16];

		ck_assert_uint_eq(vq_elem_read(&e, 0, hdr, 16), 16);
		ck_assert_str_eq(hdr, "header-bytes!!!");
		ck_assert_uint_eq(vq_elem_write(&e, 510, "XYZW", 4), 4);
		ck_assert_int_eq(memcmp(drv_mem(&d, DRV_BUFS + 0x1000 + 510), "XY", 2), 0);
		ck_assert_int_eq(memcmp(drv_mem(&d, DRV_BUFS + 0x2000), "ZW", 2), 0);
	}
	ck_assert_int_eq(vq_pop(&d.vq, &e), 0);
	ck_assert_int_eq(vq_push(&d.vq, &e, 600), 0);
	ck_assert(vq_should_notify(&d.vq));
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert_uint_eq(id, head);
	ck_assert_uint_eq(len, 600);
	ck_assert(!drv_get_used(&d, &id, &len));
	/* Pushing it twice is refused. */
	ck_assert_int_eq(vq_push(&d.vq, &e, 1), -EINVAL);
	drv_fini(&d);
}
END_TEST

/*
 * Unpop gives buffers back in reverse order (net RX that could not place a
 * frame); a driver adding more afterwards is still asked to kick; push_many
 * publishes a group at once. Laps make the packed wrap counter flip.
 */
START_TEST(unpop_and_push_many)
{
	bool packed = _i;
	struct drv_buf b = { DRV_BUFS, 64, true };
	struct vq_elem e2, e3;
	struct vq_elem *group[2];
	uint32_t lens[2] = { 10, 20 }, len;
	uint16_t id, lap;

	drv_init(&d, 4, packed, EV);
	for (lap = 0; lap < 5; lap++) {
		drv_add(&d, &b, 1);
		drv_add(&d, &b, 1);
		pop_ok();
		ck_assert_int_eq(vq_pop(&d.vq, &e2), 1);
		ck_assert_int_eq(vq_pop(&d.vq, &e3), 0);
		vq_unpop(&d.vq, &e2);
		vq_unpop(&d.vq, &e);
		ck_assert_uint_eq(d.vq.inflight, 0);
		if (!packed)	/* kick at the next buffer added */
			ck_assert_uint_eq(drv_avail_event(&d),
					  (uint16_t)(2 * lap + 2));
		/* The same buffers again, in order. */
		ck_assert_int_eq(vq_pop(&d.vq, &e3), 1);
		ck_assert_uint_eq(e3.id, e.id);
		ck_assert_int_eq(vq_pop(&d.vq, &e), 1);
		ck_assert_uint_eq(e.id, e2.id);
		group[0] = &e3;
		group[1] = &e;
		ck_assert_int_eq(vq_push_many(&d.vq, group, lens, 2), 0);
		ck_assert(drv_get_used(&d, &id, &len));
		ck_assert_uint_eq(id, e3.id);
		ck_assert_uint_eq(len, 10);
		ck_assert(drv_get_used(&d, &id, &len));
		ck_assert_uint_eq(id, e.id);
		ck_assert_uint_eq(len, 20);
		ck_assert(!drv_get_used(&d, &id, &len));
		ck_assert_int_eq(vq_push_many(&d.vq, group, lens, 1), -EINVAL);
	}
	drv_fini(&d);
}
END_TEST

/* The report on a VM stopped by a signal: the ring's indexes in words. */
START_TEST(describe)
{
	bool ev = _i;
	struct drv_buf b = { DRV_BUFS, 16, false };
	char line[256];

	drv_init(&d, 8, false, ev ? EV : 0);
	vq_describe(&d.vq, line, sizeof(line));
	ck_assert_str_eq(line, ev ?
		"avail 0, taken 0, used 0, 0 in flight, used_event 0, avail_event 0" :
		"avail 0, taken 0, used 0, 0 in flight, avail flags 0, used flags 0");
	drv_add(&d, &b, 1);
	drv_add(&d, &b, 1);
	pop_ok();
	if (ev)
		drv_set_used_event(&d, 7);
	vq_describe(&d.vq, line, sizeof(line));
	ck_assert_str_eq(line, ev ?
		"avail 2, taken 1, used 0, 1 in flight, used_event 7, avail_event 1" :
		"avail 2, taken 1, used 0, 1 in flight, avail flags 0, used flags 0");
	ck_assert_int_eq(vq_push(&d.vq, &e, 0), 0);
	vq_describe(&d.vq, line, 20);	/* cut short, still a string */
	ck_assert_uint_eq(strlen(line), 19);
	vq_describe(&d.vq, line, sizeof(line));
	ck_assert_ptr_nonnull(strstr(line, "taken 1, used 1, 0 in flight"));
	vq_disable(&d.vq);
	vq_describe(&d.vq, line, sizeof(line));
	ck_assert_str_eq(line, "off");
	drv_fini(&d);
}
END_TEST

/* Many laps round the ring: indices wrap, the wrap counters flip. */
START_TEST(many_laps)
{
	bool packed = _i;
	struct drv_buf b[2] = {
		{ DRV_BUFS, 8, false },
		{ DRV_BUFS + 0x100, 8, true },
	};
	unsigned int round;
	uint16_t id;
	uint32_t len;

	drv_init(&d, 4, packed, EV);
	for (round = 0; round < 70000; round++) {
		int head = drv_add(&d, b, 1 + (round % 2));

		pop_ok();
		ck_assert_uint_eq(e.id, head);
		ck_assert_int_eq(vq_push(&d.vq, &e, round % 2 ? 8 : 0), 0);
		ck_assert(drv_get_used(&d, &id, &len));
		ck_assert_uint_eq(id, head);
		ck_assert_uint_eq(len, round % 2 ? 8 : 0);
	}
	drv_fini(&d);
}
END_TEST

START_TEST(out_of_order_completion)
{
	bool packed = _i;
	struct drv_buf one = { DRV_BUFS, 8, true };
	struct drv_buf three[3] = {
		{ DRV_BUFS, 8, false }, { DRV_BUFS + 8, 8, false },
		{ DRV_BUFS + 16, 8, true },
	};
	struct vq_elem *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	uint16_t id;
	uint32_t len;
	int ha, hb;

	drv_init(&d, 8, packed, 0);
	ha = drv_add(&d, three, 3);
	hb = drv_add(&d, &one, 1);
	ck_assert_int_eq(vq_pop(&d.vq, a), 1);
	ck_assert_int_eq(vq_pop(&d.vq, b), 1);
	ck_assert_int_eq(vq_push(&d.vq, b, 8), 0);	/* second finishes first */
	ck_assert_int_eq(vq_push(&d.vq, a, 8), 0);
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert_uint_eq(id, hb);
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert_uint_eq(id, ha);
	/* The ring keeps working after the skip. */
	hb = drv_add(&d, &one, 1);
	ck_assert_int_eq(vq_pop(&d.vq, b), 1);
	ck_assert_uint_eq(b->id, hb);
	free(a);
	free(b);
	drv_fini(&d);
}
END_TEST

START_TEST(indirect_buffers)
{
	bool packed = _i;
	struct drv_buf b[3] = {
		{ DRV_BUFS, 16, false },
		{ DRV_BUFS + 0x100, 32, true },
		{ DRV_BUFS + 0x200, 32, true },
	};
	uint16_t id;
	uint32_t len;
	int head;

	drv_init(&d, 8, packed, IND);
	head = drv_add_indirect(&d, b, 3);
	pop_ok();
	ck_assert_uint_eq(e.id, head);
	ck_assert_uint_eq(e.nr_out, 1);
	ck_assert_uint_eq(e.nr_in, 2);
	ck_assert_uint_eq(e.in_len, 64);
	ck_assert_uint_eq(e.ndesc, 1);
	ck_assert_int_eq(vq_push(&d.vq, &e, 64), 0);
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert_uint_eq(id, head);
	drv_fini(&d);
}
END_TEST

/* ---- BAD-INPUTS 1-2: geometry ------------------------------------------ */

static int try_enable(uint16_t size, uint64_t desc, uint64_t drv,
		      uint64_t dev, bool packed)
{
	d.vq.size = size;
	d.vq.desc_gpa = desc;
	d.vq.driver_gpa = drv;
	d.vq.device_gpa = dev;
	return vq_enable(&d.vq, &d.gm, packed ? 1ULL << VIRTIO_F_RING_PACKED : 0);
}

START_TEST(geometry_refused)
{
	bool packed = _i;
	uint64_t top = DRV_RAM;

	drv_init(&d, 8, packed, 0);
	/* Size 0, above the maximum. */
	ck_assert_int_eq(try_enable(0, DRV_DESC, DRV_DRIVER, DRV_DEVICE, packed), -EINVAL);
	ck_assert(!d.vq.ready);
	ck_assert_int_eq(try_enable(2048, DRV_DESC, DRV_DRIVER, DRV_DEVICE, packed), -EINVAL);
	/* Not a power of 2: refused for split, fine for packed. */
	ck_assert_int_eq(try_enable(6, DRV_DESC, DRV_DRIVER, DRV_DEVICE, packed),
			 packed ? 0 : -EINVAL);
	/* Misaligned parts. */
	ck_assert_int_eq(try_enable(8, DRV_DESC + 8, DRV_DRIVER, DRV_DEVICE, packed), -EINVAL);
	ck_assert_int_eq(try_enable(8, DRV_DESC, DRV_DRIVER + 1, DRV_DEVICE, packed), -EINVAL);
	ck_assert_int_eq(try_enable(8, DRV_DESC, DRV_DRIVER, DRV_DEVICE + 2, packed), -EINVAL);
	/* Outside RAM, and wrapping the address space. */
	ck_assert_int_eq(try_enable(8, top, DRV_DRIVER, DRV_DEVICE, packed), -EINVAL);
	ck_assert_int_eq(try_enable(8, 0xfffffffffffffff0ULL, DRV_DRIVER, DRV_DEVICE, packed), -EINVAL);
	ck_assert_int_eq(try_enable(8, DRV_DESC, 0xc0000000ULL, DRV_DEVICE, packed), -EINVAL);
	/* The descriptor table ending exactly at the top of RAM: fine... */
	ck_assert_int_eq(try_enable(8, top - 128, DRV_DRIVER, DRV_DEVICE, packed), 0);
	ck_assert(d.vq.ready);
	/* ...one descriptor further is not. */
	ck_assert_int_eq(try_enable(8, top - 112, DRV_DRIVER, DRV_DEVICE, packed), -EINVAL);
	ck_assert(!d.vq.ready);
	/* The driver area ending exactly at the top, and one step past. */
	ck_assert_int_eq(try_enable(8, DRV_DESC, top - vq_driver_bytes(8, packed),
				    DRV_DEVICE, packed), 0);
	ck_assert_int_eq(try_enable(8, DRV_DESC,
				    top - vq_driver_bytes(8, packed) + (packed ? 4 : 2),
				    DRV_DEVICE, packed), -EINVAL);
	drv_fini(&d);
}
END_TEST

/* ---- BAD-INPUTS 7, 8, 14, 15: indices, loops, reuse -------------------- */

START_TEST(split_avail_idx_jump)
{
	drv_init(&d, 8, false, 0);
	drv_set_avail_idx(&d, 9);		/* 9 available in a ring of 8 */
	pop_bad();
	drv_fini(&d);
}
END_TEST

START_TEST(split_bad_indices_and_loops)
{
	struct drv_buf b[2] = { { DRV_BUFS, 8, false }, { DRV_BUFS + 8, 8, true } };

	drv_init(&d, 8, false, 0);
	/* Head out of range. */
	drv_set_avail_ring(&d, 0, 8);
	drv_set_avail_idx(&d, 1);
	pop_bad();
	drv_fini(&d);

	drv_init(&d, 8, false, 0);
	/* A chain whose next points back at itself. */
	drv_add(&d, b, 2);
	put_le16(drv_desc(&d, 1) + 12, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE);
	put_le16(drv_desc(&d, 1) + 14, 0);
	pop_bad();
	drv_fini(&d);

	drv_init(&d, 8, false, 0);
	/* next out of range. */
	drv_add(&d, b, 2);
	put_le16(drv_desc(&d, 0) + 14, 200);
	pop_bad();
	drv_fini(&d);

	drv_init(&d, 8, false, 0);
	/* Zero-length descriptors looping: stopped after size steps. */
	drv_add(&d, b, 2);
	put_le32(drv_desc(&d, 0) + 8, 0);
	put_le32(drv_desc(&d, 1) + 8, 0);
	put_le16(drv_desc(&d, 1) + 12, VRING_DESC_F_NEXT);
	put_le16(drv_desc(&d, 1) + 14, 0);
	pop_bad();
	drv_fini(&d);
}
END_TEST

START_TEST(head_reused_while_in_flight)
{
	bool packed = _i;
	struct drv_buf b = { DRV_BUFS, 8, true };

	drv_init(&d, 8, packed, 0);
	drv_add(&d, &b, 1);
	pop_ok();
	if (packed) {
		/* The driver makes buffer ID 0 available again. */
		d.next_id = 0;
		drv_add(&d, &b, 1);
	} else {
		drv_set_avail_ring(&d, 1, 0);
		drv_set_avail_idx(&d, 2);
	}
	pop_bad();
	drv_fini(&d);
}
END_TEST

START_TEST(outstanding_work_is_bounded)
{
	bool packed = _i;
	struct drv_buf b = { DRV_BUFS, 8, true };
	unsigned int i;

	drv_init(&d, 4, packed, 0);
	for (i = 0; i < 4; i++) {
		drv_add(&d, &b, 1);
		pop_ok();
	}
	/*
	 * Nothing pushed back, and the driver publishes a fifth buffer
	 * reusing a busy head/ID: with every slot in flight the device takes
	 * nothing more (without the cap this would be a corrupt ring).
	 */
	if (!packed) {
		drv_set_avail_ring(&d, 4, 0);
		drv_set_avail_idx(&d, 5);
	} else {
		drv_add(&d, &b, 1);		/* slot 0 again, new wrap, ID 0 */
	}
	ck_assert_int_eq(vq_pop(&d.vq, &e), 0);
	ck_assert_uint_eq(d.vq.inflight, 4);
	drv_fini(&d);
}
END_TEST

/* ---- BAD-INPUTS 9: indirect ------------------------------------------- */

static void indirect_case(bool packed, uint64_t features, uint32_t len,
			  uint16_t extra, bool nested, uint64_t addr, bool ok)
{
	struct drv_buf b[2] = { { DRV_BUFS, 16, false }, { DRV_BUFS + 64, 16, true } };
	uint8_t *ind;

	drv_init(&d, 8, packed, features);
	drv_add_indirect(&d, b, 2);
	ind = packed ? drv_desc(&d, 0) : drv_desc(&d, 0);
	if (len != 32)
		put_le32(ind + 8, len);
	if (addr)
		put_le64(ind, addr);
	if (extra) {
		uint16_t *fl = (uint16_t *)(ind + (packed ? 14 : 12));

		*fl |= extra;
	}
	if (nested)	/* an entry of the table that is itself indirect */
		put_le16(drv_mem(&d, DRV_INDIRECT + 16) + (packed ? 14 : 12),
			 VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE);
	ck_assert_int_eq(vq_pop(&d.vq, &e), ok ? 1 : -EBADMSG);
	drv_fini(&d);
}

START_TEST(indirect_rules)
{
	bool packed = _i;

	indirect_case(packed, IND, 32, 0, false, 0, true);
	indirect_case(packed, 0, 32, 0, false, 0, false);	/* not negotiated */
	indirect_case(packed, IND, 24, 0, false, 0, false);	/* len % 16 */
	indirect_case(packed, IND, 0, 0, false, 0, false);	/* empty table */
	indirect_case(packed, IND, 65536 * 16, 0, false, 0, false); /* > 65535 */
	indirect_case(packed, IND, 32, 0, true, 0, false);	/* nested */
	indirect_case(packed, IND, 32, 0, false, DRV_RAM - 16, false); /* table past RAM */
	if (!packed)	/* INDIRECT together with NEXT */
		indirect_case(packed, IND, 32, VRING_DESC_F_NEXT, false, 0, false);
}
END_TEST

START_TEST(indirect_not_first)
{
	/* Split: an indirect descriptor chained after a direct one. */
	struct drv_buf b[2] = { { DRV_BUFS, 16, false }, { DRV_INDIRECT, 32, false } };

	drv_init(&d, 8, false, IND);
	drv_add(&d, b, 2);
	put_le16(drv_desc(&d, 1) + 12, VRING_DESC_F_INDIRECT);
	pop_bad();
	drv_fini(&d);
}
END_TEST

/* ---- BAD-INPUTS 10-13: buffers ---------------------------------------- */

static void buffer_case(bool packed, struct drv_buf *b, unsigned int n, int want)
{
	drv_init(&d, 8, packed, 0);
	drv_add(&d, b, n);
	ck_assert_int_eq(vq_pop(&d.vq, &e), want);
	drv_fini(&d);
}

START_TEST(buffer_rules)
{
	bool packed = _i;
	struct drv_buf outside = { DRV_RAM - 4, 8, true };
	struct drv_buf wraps = { 0xfffffffffffffff8ULL, 16, true };
	struct drv_buf mmio = { 0xfee00000, 4, true };
	struct drv_buf exact = { DRV_RAM - 8, 8, true };
	struct drv_buf zero[2] = { { DRV_BUFS, 0, false }, { DRV_BUFS, 8, true } };
	struct drv_buf order[2] = { { DRV_BUFS, 8, true }, { DRV_BUFS + 8, 8, false } };

	buffer_case(packed, &outside, 1, -EBADMSG);
	buffer_case(packed, &wraps, 1, -EBADMSG);
	buffer_case(packed, &mmio, 1, -EBADMSG);
	buffer_case(packed, &exact, 1, 1);
	buffer_case(packed, order, 2, -EBADMSG);	/* readable after writable */
	buffer_case(packed, zero, 2, 1);		/* zero length: skipped */
	ck_assert_uint_eq(e.nr_out, 0);
	ck_assert_uint_eq(e.nr_in, 1);
}
END_TEST

START_TEST(buffer_spanning_a_hole)
{
	struct drv_buf span = { 0x3ff8, 16, true };
	uint8_t *base;

	/* Two RAM regions with a hole between, like the 3-4 GiB gap. */
	drv_init(&d, 8, false, 0);
	base = d.gm.r[0].hva;
	d.gm.nr = 2;
	d.gm.r[1] = d.gm.r[0];
	d.gm.r[0].size = 0x4000;
	d.gm.r[1].gpa = 0x5000;
	d.gm.r[1].hva = base + 0x5000;
	d.gm.r[1].size = DRV_RAM - 0x5000;
	d.vq.desc_gpa = 0x1000;
	d.vq.driver_gpa = 0x2000;
	d.vq.device_gpa = 0x3000;
	d.vq.size = 8;
	ck_assert_int_eq(vq_enable(&d.vq, &d.gm, 0), 0);
	/* Drive the ring at its new place by hand. */
	put_le64(drv_mem(&d, 0x1000), span.addr);
	put_le32(drv_mem(&d, 0x1000 + 8), span.len);
	put_le16(drv_mem(&d, 0x1000 + 12), VRING_DESC_F_WRITE);
	put_le16(drv_mem(&d, 0x2000 + 4), 0);
	put_le16(drv_mem(&d, 0x2000 + 2), 1);
	pop_bad();
	d.gm.nr = 1;
	d.gm.r[0].size = DRV_RAM;
	drv_fini(&d);
}
END_TEST

START_TEST(totals_over_4g)
{
	bool packed = _i;
	struct drv_buf *b = calloc(VQ_MAX_IOV, sizeof(*b));
	unsigned int i;

	/* 256 descriptors aliasing one 16 MiB buffer: 4 GiB in total. */
	for (i = 0; i < VQ_MAX_IOV; i++)
		b[i] = (struct drv_buf){ 16u << 20, 16u << 20, true };
	drv_init(&d, 256, packed, 0);
	drv_add(&d, b, VQ_MAX_IOV);
	pop_bad();
	drv_fini(&d);
	/* One less is fine: 4 GiB - 16 MiB. */
	drv_init(&d, 256, packed, 0);
	drv_add(&d, b, VQ_MAX_IOV - 1);
	pop_ok();
	ck_assert_uint_eq(e.in_len, (uint64_t)(VQ_MAX_IOV - 1) << 24);
	drv_fini(&d);
	free(b);
}
END_TEST

START_TEST(chain_longer_than_we_accept)
{
	bool packed = _i;
	struct drv_buf *b = calloc(VQ_MAX_IOV + 1, sizeof(*b));
	unsigned int i;

	for (i = 0; i <= VQ_MAX_IOV; i++)
		b[i] = (struct drv_buf){ DRV_BUFS + 8 * i, 8, true };
	drv_init(&d, 512 > 1024 ? 1024 : 512, packed, 0);
	drv_add(&d, b, VQ_MAX_IOV + 1);
	pop_bad();
	drv_fini(&d);
	free(b);
}
END_TEST

/* ---- BAD-INPUTS 17: packed flags -------------------------------------- */

START_TEST(packed_flag_combinations)
{
	struct drv_buf b[2] = { { DRV_BUFS, 8, false }, { DRV_BUFS + 8, 8, true } };
	uint16_t *f1;

	/* AVAIL == USED on the head: a used descriptor, nothing available. */
	drv_init(&d, 8, true, 0);
	drv_add(&d, b, 1);
	*(uint16_t *)(drv_desc(&d, 0) + 14) |= VRING_PACKED_F_USED;
	ck_assert_int_eq(vq_pop(&d.vq, &e), 0);
	drv_fini(&d);

	/* Chain whose second descriptor is not available: corrupt. */
	drv_init(&d, 8, true, 0);
	drv_add(&d, b, 2);
	f1 = (uint16_t *)(drv_desc(&d, 1) + 14);
	*f1 = (uint16_t)((*f1 & ~VRING_PACKED_F_AVAIL) | VRING_PACKED_F_USED);
	pop_bad();
	drv_fini(&d);

	/* Buffer ID out of range. */
	drv_init(&d, 8, true, 0);
	drv_add(&d, b, 1);
	put_le16(drv_desc(&d, 0) + 12, 8);
	pop_bad();
	drv_fini(&d);
}
END_TEST

/* ---- notifications ---------------------------------------------------- */

START_TEST(split_no_interrupt_flag)
{
	struct drv_buf b = { DRV_BUFS, 8, true };

	drv_init(&d, 8, false, 0);
	put_le16(drv_mem(&d, DRV_DRIVER), 1);		/* NO_INTERRUPT */
	drv_add(&d, &b, 1);
	pop_ok();
	vq_push(&d.vq, &e, 8);
	ck_assert(!vq_should_notify(&d.vq));
	put_le16(drv_mem(&d, DRV_DRIVER), 0);
	drv_add(&d, &b, 1);
	pop_ok();
	vq_push(&d.vq, &e, 8);
	ck_assert(vq_should_notify(&d.vq));
	drv_fini(&d);
}
END_TEST

START_TEST(split_event_idx_wraps_at_64k)
{
	struct drv_buf b = { DRV_BUFS, 8, true };
	unsigned int i, notified = 0;
	uint16_t id;
	uint32_t len;

	drv_init(&d, 8, false, EV);
	/* Ask to be told only when used idx passes 65535 (one lap of 2^16). */
	drv_set_used_event(&d, 65535);
	for (i = 0; i < 70000; i++) {
		drv_add(&d, &b, 1);
		pop_ok();
		/* Kick suppression: the device wants a kick at the next index. */
		ck_assert_uint_eq(drv_avail_event(&d), (uint16_t)(i + 1));
		vq_push(&d.vq, &e, 8);
		if (vq_should_notify(&d.vq)) {
			notified++;
			/* The first is always sent; then only crossing 65535. */
			ck_assert(i == 0 || (uint16_t)(i + 1) == 0);
		}
		ck_assert(drv_get_used(&d, &id, &len));
	}
	ck_assert_uint_eq(notified, 2);
	drv_fini(&d);
}
END_TEST

/* Would a driver that moved avail idx from old to new kick (EVENT_IDX)? */
static bool driver_kicks(uint16_t old, uint16_t new_idx)
{
	return vq_need_event(drv_avail_event(&d), new_idx, old);
}

/*
 * lazy_kicks: the driver is asked for a kick only once the device found
 * the ring empty, not at every buffer it takes; without it, at the next
 * buffer after each one taken. A ring whose memory held an old
 * avail_event still kicks at its first buffer.
 */
START_TEST(split_lazy_kicks)
{
	struct drv_buf b = { DRV_BUFS, 8, true };
	uint16_t i;

	drv_init(&d, 8, false, EV);
	/* Stale ring memory from before: enabling again starts afresh. */
	put_le16(d.vq.device + 4 + 8 * 8, 0x1234);	/* avail_event */
	ck_assert(!driver_kicks(0, 1));
	d.vq.lazy_kicks = true;
	ck_assert_int_eq(vq_enable(&d.vq, d.vq.gm, EV), 0);
	ck_assert(driver_kicks(0, 1));
	for (i = 0; i < 3; i++)
		drv_add(&d, &b, 1);
	pop_ok();
	pop_ok();
	pop_ok();
	/* Not yet found empty: a new buffer does not kick. */
	ck_assert_uint_eq(drv_avail_event(&d), 0);
	ck_assert(!driver_kicks(3, 4));
	drv_add(&d, &b, 1);
	pop_ok();
	ck_assert_int_eq(vq_pop(&d.vq, &e), 0);
	/* Found empty: the next buffer kicks. */
	ck_assert_uint_eq(drv_avail_event(&d), 4);
	ck_assert(driver_kicks(4, 5));
	drv_fini(&d);

	/* The default: a kick at the next buffer after each one taken. */
	drv_init(&d, 8, false, EV);
	for (i = 0; i < 3; i++)
		drv_add(&d, &b, 1);
	pop_ok();
	ck_assert_uint_eq(drv_avail_event(&d), 1);
	ck_assert(driver_kicks(3, 4) == false);
	pop_ok();
	pop_ok();
	ck_assert(driver_kicks(3, 4));
	drv_fini(&d);
}
END_TEST

/* Would a driver adding one buffer at avail index old kick? (mode 2: packed) */
static bool driver_would_kick(int mode, uint16_t old)
{
	if (mode == 2)	/* device event flags: 1 is DISABLE */
		return get_le16(drv_mem(&d, DRV_DEVICE + 2)) != 1;
	if (mode == 0)	/* used ring flags: 1 is NO_NOTIFY */
		return !(get_le16(drv_mem(&d, DRV_DEVICE)) & 1);
	return vq_need_event(drv_avail_event(&d), (uint16_t)(old + 1), old);
}

/*
 * vq_hold_kicks() / vq_release_kicks() on each layout (0: split, 1: split
 * with EVENT_IDX, 2: packed): no kick asked for while held, not even when
 * the ring is found empty; asked again on release and on a new enable.
 */
START_TEST(kicks_held)
{
	int mode = _i;
	uint64_t f = (mode == 1 ? EV : 0) |
		     (mode == 2 ? 1ULL << VIRTIO_F_RING_PACKED : 0);
	struct drv_buf b = { DRV_BUFS, 8, true };
	struct vq_elem e2;

	drv_init(&d, 8, mode == 2, mode == 1 ? EV : 0);
	/* Ring memory that said "no kicks" before: a new enable asks. */
	put_le16(drv_mem(&d, DRV_DEVICE), 1);
	put_le16(drv_mem(&d, DRV_DEVICE + 2), 1);
	ck_assert_int_eq(vq_enable(&d.vq, d.vq.gm, f), 0);
	ck_assert(driver_would_kick(mode, 0));
	drv_add(&d, &b, 1);
	pop_ok();
	vq_hold_kicks(&d.vq);
	ck_assert(d.vq.kicks_held);
	ck_assert(!driver_would_kick(mode, 1));
	ck_assert_int_eq(vq_pop(&d.vq, &e2), 0);	/* found empty */
	ck_assert(!driver_would_kick(mode, 1));
	drv_add(&d, &b, 1);
	ck_assert_int_eq(vq_pop(&d.vq, &e2), 1);
	ck_assert_int_eq(vq_pop(&d.vq, &e2), 0);
	ck_assert(!driver_would_kick(mode, 2));
	vq_release_kicks(&d.vq);
	ck_assert(!d.vq.kicks_held);
	ck_assert(driver_would_kick(mode, 2));
	/* Held, then enabled anew (a reset): kicks are wanted again. */
	vq_hold_kicks(&d.vq);
	ck_assert_int_eq(vq_enable(&d.vq, d.vq.gm, f), 0);
	ck_assert(!d.vq.kicks_held);
	ck_assert(driver_would_kick(mode, 0));
	drv_fini(&d);
}
END_TEST

START_TEST(packed_event_suppression)
{
	struct drv_buf b = { DRV_BUFS, 8, true };
	uint16_t id;
	uint32_t len;
	unsigned int i;

	drv_init(&d, 4, true, EV);
	drv_set_driver_event(&d, 0, 1);			/* DISABLE */
	drv_add(&d, &b, 1);
	pop_ok();
	vq_push(&d.vq, &e, 8);
	ck_assert(!vq_should_notify(&d.vq));
	drv_get_used(&d, &id, &len);
	drv_set_driver_event(&d, 0, 0);			/* ENABLE */
	drv_add(&d, &b, 1);
	pop_ok();
	vq_push(&d.vq, &e, 8);
	ck_assert(vq_should_notify(&d.vq));
	drv_get_used(&d, &id, &len);
	/* DESC: notify when the used position reaches 1 on the next lap. */
	drv_set_driver_event(&d, 1 | 0 << 15, 2);
	for (i = 0; i < 4; i++) {
		bool want = i == 3;	/* positions 2, 3, 0(wrap), 1 */

		drv_add(&d, &b, 1);
		pop_ok();
		vq_push(&d.vq, &e, 8);
		ck_assert_msg(vq_should_notify(&d.vq) == want, "step %u", i);
		drv_get_used(&d, &id, &len);
	}
	drv_fini(&d);
}
END_TEST

/*
 * Packed positions wrap at the ring size: a device that uses a whole lap
 * (or more) between two checks must still see that it passed the event
 * the driver asked for (net RX under load used to miss it and stall).
 */
START_TEST(packed_event_after_full_lap)
{
	struct drv_buf b = { DRV_BUFS, 8, true };
	unsigned int step, i, n;
	uint16_t id;
	uint32_t len;

	for (step = 0; step < 3; step++) {
		drv_init(&d, 8, true, EV);
		drv_add(&d, &b, 1);
		pop_ok();
		vq_push(&d.vq, &e, 8);
		ck_assert(vq_should_notify(&d.vq));	/* first: always */
		drv_get_used(&d, &id, &len);
		/* Event at the next position (1, this lap). */
		drv_set_driver_event(&d, 1 | 1 << 15, 2);
		n = (unsigned int[]){ 8, 9, 15 }[step];
		for (i = 0; i < n; i++) {
			drv_add(&d, &b, 1);
			pop_ok();
			vq_push(&d.vq, &e, 8);
			drv_get_used(&d, &id, &len);
		}
		ck_assert_msg(vq_should_notify(&d.vq), "%u used", n);
		/* Nothing used since: no second notification. */
		ck_assert(!vq_should_notify(&d.vq));
		drv_fini(&d);
	}
}
END_TEST

Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("traffic");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, round_trip, 0, 2);
	tcase_add_loop_test(tc, describe, 0, 2);
	tcase_add_loop_test(tc, unpop_and_push_many, 0, 2);
	tcase_add_loop_test(tc, many_laps, 0, 2);
	tcase_add_loop_test(tc, out_of_order_completion, 0, 2);
	tcase_add_loop_test(tc, indirect_buffers, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad-inputs");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, geometry_refused, 0, 2);
	tcase_add_test(tc, split_avail_idx_jump);
	tcase_add_test(tc, split_bad_indices_and_loops);
	tcase_add_loop_test(tc, head_reused_while_in_flight, 0, 2);
	tcase_add_loop_test(tc, outstanding_work_is_bounded, 0, 2);
	tcase_add_loop_test(tc, indirect_rules, 0, 2);
	tcase_add_test(tc, indirect_not_first);
	tcase_add_loop_test(tc, buffer_rules, 0, 2);
	tcase_add_test(tc, buffer_spanning_a_hole);
	tcase_add_loop_test(tc, totals_over_4g, 0, 2);
	tcase_add_loop_test(tc, chain_longer_than_we_accept, 0, 2);
	tcase_add_test(tc, packed_flag_combinations);
	suite_add_tcase(s, tc);

	tc = tcase_create("notify");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, split_no_interrupt_flag);
	tcase_add_test(tc, split_event_idx_wraps_at_64k);
	tcase_add_test(tc, split_lazy_kicks);
	tcase_add_loop_test(tc, kicks_held, 0, 3);
	tcase_add_test(tc, packed_event_suppression);
	tcase_add_test(tc, packed_event_after_full_lap);
	suite_add_tcase(s, tc);
	return s;
}
