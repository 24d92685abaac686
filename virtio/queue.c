// SPDX-License-Identifier: GPL-2.0
#include "queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/util.h"
#include "violation.h"

/* Split ring layout (virtio 1.2 §2.7). */
#define SPLIT_AVAIL_FLAGS	0
#define SPLIT_AVAIL_IDX		2
#define SPLIT_AVAIL_RING	4
#define SPLIT_USED_FLAGS	0
#define SPLIT_USED_IDX		2
#define SPLIT_USED_RING		4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY	1

/* Packed event suppression (§2.8.10). */
#define EVENT_OFF_WRAP		0
#define EVENT_FLAGS		2
#define RING_EVENT_FLAGS_ENABLE	0
#define RING_EVENT_FLAGS_DISABLE 1
#define RING_EVENT_FLAGS_DESC	2

/*
 * One descriptor, as copied out of guest memory. The layouts differ:
 *   split  (struct vring_desc):        addr, len, flags, next
 *   packed (struct vring_packed_desc): addr, len, id, flags
 */
struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t id_or_next;	/* split: next; packed: buffer ID */
	uint16_t flags;
};

static inline uint16_t load16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static inline void store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

/* Copy one 16-byte descriptor out of guest memory: the only fetch. */
static inline void desc_copy(struct desc *d, const uint8_t *p, bool packed)
{
	uint8_t raw[16];

	memcpy(raw, p, sizeof(raw));
	d->addr = get_le64(raw);
	d->len = get_le32(raw + 8);
	if (packed) {
		d->id_or_next = get_le16(raw + 12);
		d->flags = get_le16(raw + 14);
	} else {
		d->flags = get_le16(raw + 12);
		d->id_or_next = get_le16(raw + 14);
	}
}

uint64_t vq_desc_bytes(uint16_t size, bool packed)
{
	(void)packed;
	return 16ULL * size;
}

uint64_t vq_driver_bytes(uint16_t size, bool packed)
{
	return packed ? 4 : 6 + 2ULL * size;	/* flags, idx, ring, used_event */
}

uint64_t vq_device_bytes(uint16_t size, bool packed)
{
	return packed ? 4 : 6 + 8ULL * size;	/* flags, idx, ring, avail_event */
}

static bool busy_test(const struct virtq *vq, uint16_t i)
{
	return vq->busy[i / 64] & (1ULL << (i % 64));
}

static void busy_set(struct virtq *vq, uint16_t i, bool on)
{
	if (on)
		vq->busy[i / 64] |= 1ULL << (i % 64);
	else
		vq->busy[i / 64] &= ~(1ULL << (i % 64));
}

static void *ring_part(const struct guest_mem *gm, uint64_t gpa, uint64_t len,
		       uint64_t align)
{
	if (!IS_ALIGNED(gpa, align))
		return NULL;
	return gm_ptr(gm, gpa, len);
}

/* Split rings: where the device asks for its next kick (EVENT_IDX). */
static uint16_t *split_avail_event(struct virtq *vq)
{
	return (uint16_t *)(vq->device + SPLIT_USED_RING + 8ULL * vq->size);
}

/*
 * Tell the driver whether to kick: split rings without EVENT_IDX by the
 * used ring's NO_NOTIFY flag, packed rings by the device event flags;
 * with EVENT_IDX, avail_event at the next buffer asks, and one behind
 * the buffers taken does not (the driver kicks when it crosses it).
 */
static void ask_for_kicks(struct virtq *vq, bool on)
{
	uint8_t *at;
	uint16_t v;

	if (vq->packed) {
		at = vq->device + EVENT_FLAGS;
		v = on ? RING_EVENT_FLAGS_ENABLE : RING_EVENT_FLAGS_DISABLE;
	} else if (!vq->event_idx) {
		at = vq->device + SPLIT_USED_FLAGS;
		v = on ? 0 : VRING_USED_F_NO_NOTIFY;
	} else {
		at = (uint8_t *)split_avail_event(vq);
		v = (uint16_t)(vq->last_avail - !on);
	}
	store16(at, v);
	gm_mark_dirty(vq->gm, at, 2);
}

int vq_enable(struct virtq *vq, const struct guest_mem *gm, uint64_t features)
{
	bool packed = features & (1ULL << VIRTIO_F_RING_PACKED);
	uint16_t n = vq->size;

	vq_disable(vq);
	if (n == 0 || n > vq->max_size || n > VQ_MAX_SIZE)
		return -EINVAL;
	/* Split rings index with a mask; packed rings may be any size. */
	if (!packed && (n & (n - 1)))
		return -EINVAL;
	vq->desc = ring_part(gm, vq->desc_gpa, vq_desc_bytes(n, packed), 16);
	vq->driver = ring_part(gm, vq->driver_gpa, vq_driver_bytes(n, packed),
			       packed ? 4 : 2);
	vq->device = ring_part(gm, vq->device_gpa, vq_device_bytes(n, packed), 4);
	if (!vq->desc || !vq->driver || !vq->device) {
		vq->desc = vq->driver = vq->device = NULL;
		return -EINVAL;
	}
	vq->gm = gm;
	vq->packed = packed;
	vq->event_idx = features & (1ULL << VIRTIO_F_EVENT_IDX);
	vq->indirect = features & (1ULL << VIRTIO_F_INDIRECT_DESC);
	vq->last_avail = vq->used_idx = vq->signalled_used = 0;
	vq->avail_wrap = vq->used_wrap = true;
	vq->signalled_valid = false;
	vq->unsignalled = 0;
	vq->inflight = 0;
	memset(vq->busy, 0, sizeof(vq->busy));
	/* The first buffer kicks, whatever the ring memory held before. */
	ask_for_kicks(vq, true);
	vq->ready = true;
	return 0;
}

void vq_save(const struct virtq *vq, struct vq_state *s)
{
	memset(s, 0, sizeof(*s));
	s->size = vq->size;
	s->ready = vq->ready;
	s->desc_gpa = vq->desc_gpa;
	s->driver_gpa = vq->driver_gpa;
	s->device_gpa = vq->device_gpa;
	if (!vq->ready)
		return;
	s->last_avail = vq->last_avail;
	s->used_idx = vq->used_idx;
	s->avail_wrap = vq->avail_wrap;
	s->used_wrap = vq->used_wrap;
}

int vq_restore(struct virtq *vq, const struct guest_mem *gm, uint64_t features,
	       const struct vq_state *s)
{
	vq_disable(vq);
	vq->size = s->size;
	vq->desc_gpa = s->desc_gpa;
	vq->driver_gpa = s->driver_gpa;
	vq->device_gpa = s->device_gpa;
	if (!s->ready)
		return 0;
	if (vq_enable(vq, gm, features))
		return -EINVAL;
	if (vq->packed) {
		if (s->last_avail >= vq->size || s->used_idx >= vq->size) {
			vq_disable(vq);
			return -EINVAL;
		}
		vq->avail_wrap = s->avail_wrap;
		vq->used_wrap = s->used_wrap;
	} else if (load16(vq->device + SPLIT_USED_IDX) != s->used_idx ||
		   (uint16_t)(load16(vq->driver + SPLIT_AVAIL_IDX) -
			      s->last_avail) > vq->size) {
		/* The memory and the state disagree: not one snapshot. */
		vq_disable(vq);
		return -EINVAL;
	}
	vq->last_avail = s->last_avail;
	vq->used_idx = s->used_idx;
	vq->signalled_valid = false;
	ask_for_kicks(vq, true);
	return 0;
}

void vq_disable(struct virtq *vq)
{
	vq->ready = false;
	vq->kicks_held = false;
	vq->desc = vq->driver = vq->device = NULL;
	vq->inflight = 0;
}

void vq_describe(const struct virtq *vq, char *buf, size_t len)
{
	if (!len)
		return;
	if (!vq->ready) {
		snprintf(buf, len, "off");
	} else if (vq->packed) {
		snprintf(buf, len, "packed, taken to %u%s, used to %u%s, %u in "
			 "flight", vq->last_avail, vq->avail_wrap ? "w" : "",
			 vq->used_idx, vq->used_wrap ? "w" : "",
			 vq->inflight);
	} else if (vq->event_idx) {
		snprintf(buf, len, "avail %u, taken %u, used %u, %u in flight, "
			 "used_event %u, avail_event %u", load16(vq->driver + 2),
			 vq->last_avail, load16(vq->device + 2), vq->inflight,
			 load16(vq->driver + 4 + 2u * vq->size),
			 load16(vq->device + 4 + 8u * vq->size));
	} else {
		snprintf(buf, len, "avail %u, taken %u, used %u, %u in flight, "
			 "avail flags %#x, used flags %#x",
			 load16(vq->driver + 2), vq->last_avail,
			 load16(vq->device + 2), vq->inflight, load16(vq->driver),
			 load16(vq->device));
	}
}

void vq_reset(struct virtq *vq)
{
	uint16_t max = vq->max_size;

	vq_disable(vq);
	vq->size = max;
	vq->max_size = max;
	vq->desc_gpa = vq->driver_gpa = vq->device_gpa = 0;
}

/* Append one guest buffer to e, in the order the rules allow. */
/* Say why a buffer is malformed (the driver-violation log) and fail. */
static int elem_bad(struct vq_elem *e, enum viol_kind k)
{
	e->bad = (uint8_t)k;
	return -EBADMSG;
}

static __attribute__((cold, noinline)) int bad(struct virtq *vq, int k)
{
	vq->bad = (uint8_t)k;
	return -EBADMSG;
}

/* 0, or -EBADMSG with e->bad saying why (an enum viol_kind). */
static int elem_add(const struct virtq *vq, struct vq_elem *e,
		    const struct desc *d)
{
	bool write = d->flags & VRING_DESC_F_WRITE;
	struct iovec *iov;
	void *p;

	/* A readable part after a writable one is a malformed buffer. */
	if (!write && e->nr_in)
		return elem_bad(e, VIOL_READ_AFTER_WRITE);
	if (d->len == 0)
		return 0;		/* nothing to map; never loops */
	if (e->nr_out + e->nr_in == VQ_MAX_IOV)
		return elem_bad(e, VIOL_CHAIN_TOO_LONG);
	p = gm_ptr(vq->gm, d->addr, d->len);
	if (!p)
		return elem_bad(e, VIOL_DESC_OUTSIDE_RAM);	/* wraps, spans a hole */
	if (write) {
		if (e->in_len + d->len > VQ_MAX_LEN)
			return elem_bad(e, VIOL_BUFFER_TOO_LARGE);
		e->in_len += d->len;
		iov = &e->iov[e->nr_out + e->nr_in++];
	} else {
		if (e->out_len + d->len > VQ_MAX_LEN)
			return elem_bad(e, VIOL_BUFFER_TOO_LARGE);
		e->out_len += d->len;
		iov = &e->iov[e->nr_out++];
	}
	iov->iov_base = p;
	iov->iov_len = d->len;
	return 0;
}

/*
 * An indirect table: len a non-zero multiple of 16, at most 65535
 * entries (and no more than we accept), inside RAM, no nested indirect.
 * Split tables chain with NEXT; packed tables are sequential.
 */
static int walk_indirect(struct virtq *vq, struct vq_elem *e,
			 const struct desc *ind)
{
	const uint8_t *table;
	uint32_t n, i, count = 0;
	struct desc d;
	int ret;

	if (!vq->indirect)
		return bad(vq, VIOL_INDIRECT_NO_FEATURE);
	if (ind->flags & VRING_DESC_F_NEXT)
		return bad(vq, VIOL_INDIRECT_NEXT);
	if (ind->len == 0 || ind->len % 16)
		return bad(vq, VIOL_INDIRECT_SIZE);
	n = ind->len / 16;
	if (n > 65535)
		return bad(vq, VIOL_INDIRECT_SIZE);
	table = gm_ptr(vq->gm, ind->addr, ind->len);
	if (!table)
		return bad(vq, VIOL_DESC_OUTSIDE_RAM);
	i = 0;
	for (;;) {
		if (++count > n)
			return bad(vq, VIOL_DESC_LOOP);	/* inside the table */
		desc_copy(&d, table + 16ULL * i, vq->packed);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return bad(vq, VIOL_INDIRECT_NESTED);
		ret = elem_add(vq, e, &d);
		if (ret)
			return bad(vq, e->bad);
		if (vq->packed) {
			if (++i == n)
				return 0;
			continue;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.id_or_next;
		if (i >= n)
			return bad(vq, VIOL_DESC_INDEX);
	}
}

static void elem_init(struct vq_elem *e)
{
	e->nr_out = e->nr_in = 0;
	e->out_len = e->in_len = 0;
	e->ndesc = 1;
}

/* ---- split ------------------------------------------------------------ */

static uint16_t split_used_event(const struct virtq *vq)
{
	return load16(vq->driver + SPLIT_AVAIL_RING + 2ULL * vq->size);
}

static int split_walk(struct virtq *vq, uint16_t head, struct vq_elem *e)
{
	uint32_t count = 0;
	uint16_t i = head;
	struct desc d;
	int ret;

	for (;;) {
		if (++count > vq->size)
			return bad(vq, VIOL_DESC_LOOP);	/* looped chain */
		desc_copy(&d, vq->desc + 16ULL * i, false);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			/* Only as the whole buffer: the head, alone. */
			if (i != head || count != 1)
				return bad(vq, VIOL_INDIRECT_NEXT);
			return walk_indirect(vq, e, &d);
		}
		ret = elem_add(vq, e, &d);
		if (ret)
			return bad(vq, e->bad);
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.id_or_next;
		if (i >= vq->size)
			return bad(vq, VIOL_DESC_INDEX);
	}
}

static int split_pop(struct virtq *vq, struct vq_elem *e)
{
	uint16_t avail, pending, head;
	int ret;

	avail = load16(vq->driver + SPLIT_AVAIL_IDX);
	pending = (uint16_t)(avail - vq->last_avail);
	if (pending == 0 && vq->event_idx && !vq->kicks_held) {
		/*
		 * Ask for a kick at the next buffer, then look again: the
		 * driver may have added one before it saw our avail_event.
		 */
		ask_for_kicks(vq, true);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail = load16(vq->driver + SPLIT_AVAIL_IDX);
		pending = (uint16_t)(avail - vq->last_avail);
	}
	if (pending == 0)
		return 0;
	if (pending > vq->size)
		return bad(vq, VIOL_AVAIL_JUMP);	/* more than the ring holds */
	head = load16(vq->driver + SPLIT_AVAIL_RING +
		      2ULL * (vq->last_avail & (vq->size - 1)));
	if (head >= vq->size)
		return bad(vq, VIOL_DESC_INDEX);
	if (busy_test(vq, head))
		return bad(vq, VIOL_HEAD_IN_FLIGHT);
	elem_init(e);
	ret = split_walk(vq, head, e);
	if (ret)
		return ret;
	e->id = head;
	busy_set(vq, head, true);
	vq->inflight++;
	vq->last_avail++;
	if (vq->event_idx && !vq->lazy_kicks && !vq->kicks_held)
		ask_for_kicks(vq, true);
	return 1;
}

static void split_push(struct virtq *vq, const struct vq_elem *e,
		       uint32_t written)
{
	uint8_t *slot = vq->device + SPLIT_USED_RING +
			8ULL * (vq->used_idx & (vq->size - 1));

	put_le32(slot, e->id);
	put_le32(slot + 4, written);
	vq->used_idx++;
	store16(vq->device + SPLIT_USED_IDX, vq->used_idx);
	gm_mark_dirty(vq->gm, slot, 8);
	gm_mark_dirty(vq->gm, vq->device + SPLIT_USED_IDX, 2);
}

/* What the device wrote into a buffer, for diff snapshots (if tracking). */
static void elem_dirty(const struct virtq *vq, const struct vq_elem *e)
{
	unsigned int i;

	if (!vq->gm || !vq->gm->dirty)
		return;
	for (i = e->nr_out; i < e->nr_out + e->nr_in; i++)
		gm_mark_dirty(vq->gm, e->iov[i].iov_base, e->iov[i].iov_len);
}

int vq_chain_at(struct virtq *vq, uint16_t head, struct vq_elem *e)
{
	if (!vq->ready || vq->packed)
		return -ENOTSUP;
	if (head >= vq->size)
		return -EBADMSG;
	elem_init(e);
	e->id = head;
	return split_walk(vq, head, e);
}

int vq_push_id(struct virtq *vq, uint16_t id, uint32_t written)
{
	struct vq_elem e = { .id = id };

	if (!vq->ready || vq->packed)
		return -ENOTSUP;
	if (id >= vq->size)
		return -EINVAL;
	split_push(vq, &e, written);
	return 0;
}

int vq_track_init(struct vq_track *t, const struct virtq *vq)
{
	memset(t, 0, sizeof(*t));
	t->size = vq->size;
	t->avail_seen = vq->last_avail;
	t->used_seen = load16(vq->device + SPLIT_USED_IDX);
	t->out = calloc(vq->size ? vq->size : 1, 1);
	return t->out ? 0 : -ENOMEM;
}

void vq_track_fini(struct vq_track *t)
{
	free(t->out);
	t->out = NULL;
}

unsigned int vq_track_scan(struct vq_track *t, const struct virtq *vq)
{
	uint16_t avail, used, n_avail, n_used, i;

	if (!t->out || !vq->ready || vq->packed || vq->size != t->size)
		return 0;
	avail = load16(vq->driver + SPLIT_AVAIL_IDX);
	used = load16(vq->device + SPLIT_USED_IDX);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	n_avail = (uint16_t)(avail - t->avail_seen);
	n_used = (uint16_t)(used - t->used_seen);
	/* Entries overwritten before they were seen: the count is gone. */
	if (n_avail > t->size || n_used > t->size)
		t->lost = true;
	for (i = 0; i < n_avail && i < t->size; i++) {
		uint16_t pos = (uint16_t)(t->avail_seen + i) & (t->size - 1);
		uint16_t head = load16(vq->driver + SPLIT_AVAIL_RING + 2ULL * pos);

		if (head < t->size && t->out[head] < UINT8_MAX)
			t->out[head]++;
	}
	for (i = 0; i < n_used && i < t->size; i++) {
		uint16_t pos = (uint16_t)(t->used_seen + i) & (t->size - 1);
		uint32_t id = get_le32(vq->device + SPLIT_USED_RING + 8ULL * pos);

		if (id < t->size && t->out[id])
			t->out[id]--;
	}
	t->avail_seen = avail;
	t->used_seen = used;
	return (unsigned int)n_avail + n_used;
}

static bool split_should_notify(struct virtq *vq)
{
	uint16_t old = vq->signalled_used, new_idx = vq->used_idx;
	bool valid = vq->signalled_valid;

	/* The used index must be visible before the driver's fields are read. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(vq->driver + SPLIT_AVAIL_FLAGS) &
			 VRING_AVAIL_F_NO_INTERRUPT);
	vq->signalled_used = new_idx;
	vq->signalled_valid = true;
	return !valid || vq_need_event(split_used_event(vq), new_idx, old);
}

/* ---- packed ----------------------------------------------------------- */

static bool packed_is_avail(uint16_t flags, bool wrap)
{
	bool avail = flags & VRING_PACKED_F_AVAIL;
	bool used = flags & VRING_PACKED_F_USED;

	return avail == wrap && used != wrap;
}

static int packed_pop(struct virtq *vq, struct vq_elem *e)
{
	uint16_t pos = vq->last_avail, id = 0, flags;
	bool wrap = vq->avail_wrap;
	uint32_t count = 0;
	struct desc d;
	int ret;

	flags = load16(vq->desc + 16ULL * pos + 14);
	if (!packed_is_avail(flags, wrap))
		return 0;
	elem_init(e);
	for (;;) {
		if (++count > vq->size)
			return bad(vq, VIOL_CHAIN_TOO_LONG);
		/* After the acquire load of flags above (head) or here. */
		desc_copy(&d, vq->desc + 16ULL * pos, true);
		if (!packed_is_avail(d.flags, wrap))
			return bad(vq, VIOL_PACKED_FLAGS);	/* part not available */
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if (count != 1)
				return bad(vq, VIOL_INDIRECT_NEXT);
			ret = walk_indirect(vq, e, &d);
		} else {
			ret = elem_add(vq, e, &d);
			if (ret)
				return bad(vq, e->bad);
		}
		if (ret)
			return ret;
		id = d.id_or_next;	/* the last descriptor's ID counts */
		if (++pos == vq->size) {
			pos = 0;
			wrap = !wrap;
		}
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	}
	if (id >= vq->size)
		return bad(vq, VIOL_DESC_INDEX);
	if (busy_test(vq, id))
		return bad(vq, VIOL_HEAD_IN_FLIGHT);	/* reused in flight */
	e->id = id;
	e->ndesc = (uint16_t)count;
	busy_set(vq, id, true);
	vq->inflight++;
	vq->last_avail = pos;
	vq->avail_wrap = wrap;
	return 1;
}

static void packed_advance_used(struct virtq *vq, uint16_t ndesc)
{
	vq->used_idx = (uint16_t)(vq->used_idx + ndesc);
	if (vq->used_idx >= vq->size) {
		vq->used_idx = (uint16_t)(vq->used_idx - vq->size);
		vq->used_wrap = !vq->used_wrap;
	}
	vq->unsignalled += ndesc;
}

static void packed_push(struct virtq *vq, const struct vq_elem *e,
			uint32_t written)
{
	uint8_t *slot = vq->desc + 16ULL * vq->used_idx;
	uint16_t flags = vq->used_wrap ?
			 (VRING_PACKED_F_AVAIL | VRING_PACKED_F_USED) : 0;

	if (written)
		flags |= VRING_DESC_F_WRITE;
	put_le32(slot + 8, written);
	put_le16(slot + 12, e->id);
	store16(slot + 14, flags);
	packed_advance_used(vq, e->ndesc);
}

/*
 * Packed positions run modulo the ring size, so the 16-bit vq_need_event()
 * cannot be used on them: a lap between two checks would look like no
 * progress and the driver would never hear of buffers it waits for.
 * Count instead on a lap of 2 * size, where (position, wrap counter) is
 * one number, and compare against how many descriptors were used since
 * the last check.
 */
static bool packed_should_notify(struct virtq *vq)
{
	uint32_t since = vq->unsignalled, lap2 = 2U * vq->size;
	bool valid = vq->signalled_valid;
	uint32_t new_pos, event_pos;
	uint16_t flags, off_wrap;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = load16(vq->driver + EVENT_FLAGS) & 3;
	vq->signalled_valid = true;
	vq->unsignalled = 0;
	if (flags == RING_EVENT_FLAGS_DISABLE)
		return false;
	if (flags != RING_EVENT_FLAGS_DESC || !vq->event_idx || !valid)
		return true;
	if (since >= vq->size)
		return true;	/* a whole lap: the event position was passed */
	off_wrap = load16(vq->driver + EVENT_OFF_WRAP);
	new_pos = vq->used_idx + (vq->used_wrap ? 0 : vq->size);
	event_pos = (off_wrap & 0x7fffU) % vq->size +
		    ((off_wrap >> 15) ? 0 : vq->size);
	/* Was a descriptor used at event_pos, in [new - since, new)? */
	return (new_pos + lap2 - event_pos - 1) % lap2 < since;
}

/* ---- common ----------------------------------------------------------- */

int vq_pop(struct virtq *vq, struct vq_elem *e)
{
	if (!vq->ready)
		return 0;
	/* Outstanding work is bounded by the ring (and the busy bitmap). */
	if (vq->inflight >= vq->size)
		return 0;
	return vq->packed ? packed_pop(vq, e) : split_pop(vq, e);
}

int vq_push(struct virtq *vq, const struct vq_elem *e, uint32_t written)
{
	if (!vq->ready || e->id >= vq->size || !busy_test(vq, e->id))
		return -EINVAL;
	busy_set(vq, e->id, false);
	vq->inflight--;
	if (written > e->in_len)
		written = (uint32_t)e->in_len;
	elem_dirty(vq, e);
	if (vq->packed) {
		packed_push(vq, e, written);
		gm_mark_dirty(vq->gm, vq->desc, vq_desc_bytes(vq->size, true));
	} else {
		split_push(vq, e, written);
	}
	return 0;
}

void vq_unpop(struct virtq *vq, const struct vq_elem *e)
{
	if (!vq->ready || e->id >= vq->size || !busy_test(vq, e->id))
		return;
	busy_set(vq, e->id, false);
	vq->inflight--;
	if (!vq->packed) {
		/*
		 * avail_event stays: moving it back would tell the driver
		 * its next buffers were already seen, and it would not kick.
		 */
		vq->last_avail--;
		return;
	}
	if (vq->last_avail < e->ndesc) {
		vq->last_avail = (uint16_t)(vq->last_avail + vq->size - e->ndesc);
		vq->avail_wrap = !vq->avail_wrap;
	} else {
		vq->last_avail = (uint16_t)(vq->last_avail - e->ndesc);
	}
}

int vq_push_many(struct virtq *vq, struct vq_elem *const *e,
		 const uint32_t *written, unsigned int n)
{
	uint16_t head_pos = vq->used_idx;
	bool head_wrap = vq->used_wrap;
	uint16_t split_idx = vq->used_idx;
	unsigned int i;

	if (!vq->ready)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (e[i]->id >= vq->size || !busy_test(vq, e[i]->id))
			return -EINVAL;
	for (i = 0; i < n; i++) {
		uint32_t w = MIN(written[i], (uint32_t)MIN(e[i]->in_len,
							    UINT32_MAX));

		busy_set(vq, e[i]->id, false);
		vq->inflight--;
		elem_dirty(vq, e[i]);
		if (!vq->packed) {
			uint8_t *slot = vq->device + SPLIT_USED_RING +
					8ULL * (split_idx++ & (vq->size - 1));

			put_le32(slot, e[i]->id);
			put_le32(slot + 4, w);
			continue;
		}
		if (i == 0) {
			/* The head's flags go last: the driver sees all. */
			uint8_t *slot = vq->desc + 16ULL * vq->used_idx;

			put_le32(slot + 8, w);
			put_le16(slot + 12, e[i]->id);
			packed_advance_used(vq, e[i]->ndesc);
		} else {
			packed_push(vq, e[i], w);
		}
	}
	gm_mark_dirty(vq->gm, vq->packed ? vq->desc : vq->device,
		      vq->packed ? vq_desc_bytes(vq->size, true) :
				   vq_device_bytes(vq->size, false));
	if (!vq->packed) {
		vq->used_idx = split_idx;
		store16(vq->device + SPLIT_USED_IDX, vq->used_idx);
	} else if (n) {
		uint16_t flags = head_wrap ?
				 (VRING_PACKED_F_AVAIL | VRING_PACKED_F_USED) : 0;

		if (written[0] && e[0]->in_len)
			flags |= VRING_DESC_F_WRITE;
		store16(vq->desc + 16ULL * head_pos + 14, flags);
	}
	return 0;
}

void vq_hold_kicks(struct virtq *vq)
{
	if (!vq->ready || vq->kicks_held)
		return;
	vq->kicks_held = true;
	ask_for_kicks(vq, false);
}

void vq_release_kicks(struct virtq *vq)
{
	if (!vq->ready || !vq->kicks_held)
		return;
	vq->kicks_held = false;
	ask_for_kicks(vq, true);
	/* Asked before the device looks at the ring again (vq_pop()). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool vq_should_notify(struct virtq *vq)
{
	if (!vq->ready)
		return false;
	return vq->packed ? packed_should_notify(vq) : split_should_notify(vq);
}

size_t vq_elem_read(const struct vq_elem *e, size_t off, void *dst, size_t len)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < e->nr_out && done < len; i++) {
		size_t n = e->iov[i].iov_len;

		if (off >= n) {
			off -= n;
			continue;
		}
		n = MIN(n - off, len - done);
		memcpy((uint8_t *)dst + done, (uint8_t *)e->iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vq_elem_write(const struct vq_elem *e, size_t off, const void *src,
		     size_t len)
{
	size_t done = 0;
	unsigned int i;

	for (i = e->nr_out; i < e->nr_out + e->nr_in && done < len; i++) {
		size_t n = e->iov[i].iov_len;

		if (off >= n) {
			off -= n;
			continue;
		}
		n = MIN(n - off, len - done);
		memcpy((uint8_t *)e->iov[i].iov_base + off, (const uint8_t *)src + done, n);
		done += n;
		off = 0;
	}
	return done;
}
