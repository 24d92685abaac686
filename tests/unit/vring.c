// SPDX-License-Identifier: GPL-2.0
#include "vring.h"

/*
 * Ring layouts come from the kernel's UAPI header, not from vireo's own
 * reading of the spec: the mock must not share the device's mistakes.
 */
#include <linux/virtio_ring.h>
#include <stddef.h>
#include <string.h>

#include <stdio.h>
#include <stdlib.h>

#include "unit.h"
#include "vmm/util.h"

/* Also used by the benchmark, outside check's runner: no ck_assert. */
#define require(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__,	\
				__LINE__, #cond);			\
			abort();					\
		}							\
	} while (0)

uint8_t *drv_mem(struct drv *d, uint64_t gpa)
{
	return gm_ptr(&d->gm, gpa, 1);
}

static void drv_setup(struct drv *d, uint16_t size, bool packed,
		      uint64_t features)
{
	unsigned int i;

	d->size = size;
	d->packed = packed;
	d->avail_wrap = d->used_wrap = true;
	for (i = 0; i < size; i++)
		d->next[i] = (uint16_t)(i + 1);
	d->vq.max_size = 1024;
	d->vq.size = size;
	d->vq.desc_gpa = d->desc_gpa;
	d->vq.driver_gpa = d->driver_gpa;
	d->vq.device_gpa = d->device_gpa;
	if (packed)
		features |= 1ULL << VIRTIO_F_RING_PACKED;
	require(vq_enable(&d->vq, &d->gm, features) == 0);
}

void drv_init(struct drv *d, uint16_t size, bool packed, uint64_t features)
{
	memset(d, 0, sizeof(*d));
	test_mem_init(&d->gm, 0, DRV_RAM);
	d->owns_mem = true;
	d->desc_gpa = DRV_DESC;
	d->driver_gpa = DRV_DRIVER;
	d->device_gpa = DRV_DEVICE;
	drv_setup(d, size, packed, features);
}

void drv_init_shared(struct drv *d, const struct drv *owner, uint64_t base,
		     uint16_t size, bool packed, uint64_t features)
{
	memset(d, 0, sizeof(*d));
	d->gm = owner->gm;
	d->desc_gpa = base;
	d->driver_gpa = base + 0x1000;
	d->device_gpa = base + 0x2000;
	drv_setup(d, size, packed, features);
}

void drv_fini(struct drv *d)
{
	if (d->owns_mem)
		test_mem_fini(&d->gm);
}

void drv_init_queues(struct drv *q, unsigned int nq, uint16_t size)
{
	unsigned int i;

	drv_init(&q[0], size, false, 0);
	for (i = 1; i < nq; i++)
		drv_init_shared(&q[i], &q[0], 0x200000 + 0x10000ULL * i, size,
				false, 0);
}

void drv_fini_queues(struct drv *q, unsigned int nq)
{
	while (nq--)
		drv_fini(&q[nq]);
}

uint8_t *drv_desc(struct drv *d, uint16_t i)
{
	return drv_mem(d, d->desc_gpa + 16ULL * i);
}

/* A split descriptor (struct vring_desc). */
static void desc_write(uint8_t *p, uint64_t addr, uint32_t len, uint16_t next,
		       uint16_t flags)
{
	struct vring_desc *v = (struct vring_desc *)p;

	v->addr = addr;
	v->len = len;
	v->next = next;
	__atomic_store_n(&v->flags, flags, __ATOMIC_RELEASE);
}

/* A packed descriptor (struct vring_packed_desc), flags published last. */
static void pdesc_write(uint8_t *p, uint64_t addr, uint32_t len, uint16_t id,
			uint16_t flags)
{
	struct vring_packed_desc *v = (struct vring_packed_desc *)p;

	v->addr = addr;
	v->len = len;
	v->id = id;
	__atomic_store_n(&v->flags, flags, __ATOMIC_RELEASE);
}

static struct vring_avail *avail(struct drv *d)
{
	return (struct vring_avail *)drv_mem(d, d->driver_gpa);
}

static struct vring_used *used(struct drv *d)
{
	return (struct vring_used *)drv_mem(d, d->device_gpa);
}

void drv_set_avail_idx(struct drv *d, uint16_t idx)
{
	__atomic_store_n(&avail(d)->idx, idx, __ATOMIC_RELEASE);
}

void drv_set_avail_ring(struct drv *d, uint16_t slot, uint16_t head)
{
	avail(d)->ring[slot % d->size] = head;
}

void drv_set_used_event(struct drv *d, uint16_t ev)
{
	avail(d)->ring[d->size] = ev;		/* vring_used_event() */
}

uint16_t drv_avail_event(struct drv *d)
{
	/* vring_avail_event(): right after used->ring[num]. */
	return *(uint16_t *)&used(d)->ring[d->size];
}

uint16_t drv_used_idx(struct drv *d)
{
	return __atomic_load_n(&used(d)->idx, __ATOMIC_ACQUIRE);
}

void drv_set_driver_event(struct drv *d, uint16_t off_wrap, uint16_t flags)
{
	struct vring_packed_desc_event *ev =
		(struct vring_packed_desc_event *)drv_mem(d, d->driver_gpa);

	ev->off_wrap = off_wrap;
	ev->flags = flags;
}

static uint16_t packed_flags(struct drv *d, bool write, bool next)
{
	uint16_t f = write ? VRING_DESC_F_WRITE : 0;

	if (next)
		f |= VRING_DESC_F_NEXT;
	if (d->avail_wrap)
		f |= 1 << VRING_PACKED_DESC_F_AVAIL;
	else
		f |= 1 << VRING_PACKED_DESC_F_USED;
	return f;
}

static int packed_add(struct drv *d, const struct drv_buf *b, unsigned int n,
		      uint16_t extra_flags)
{
	uint16_t id = d->next_id, head = d->next_avail, head_flags = 0;
	unsigned int i;

	d->next_id = (uint16_t)((d->next_id + 1) % d->size);
	for (i = 0; i < n; i++) {
		uint16_t f = packed_flags(d, b[i].write, i + 1 < n) | extra_flags;
		struct vring_packed_desc *p =
			(struct vring_packed_desc *)drv_desc(d, d->next_avail);

		p->addr = b[i].addr;
		p->len = b[i].len;
		p->id = id;
		if (i == 0)
			head_flags = f;		/* published last */
		else
			__atomic_store_n(&p->flags, f, __ATOMIC_RELEASE);
		if (++d->next_avail == d->size) {
			d->next_avail = 0;
			d->avail_wrap = !d->avail_wrap;
		}
	}
	d->chain_len[id] = (uint16_t)n;
	__atomic_store_n(&((struct vring_packed_desc *)drv_desc(d, head))->flags,
			 head_flags, __ATOMIC_RELEASE);
	return id;
}

int drv_add(struct drv *d, const struct drv_buf *b, unsigned int n)
{
	uint16_t head = d->free_head, i = head, last = head;
	unsigned int k;

	if (d->packed)
		return packed_add(d, b, n, 0);
	for (k = 0; k < n; k++) {
		uint16_t f = b[k].write ? VRING_DESC_F_WRITE : 0;

		last = i;
		if (k + 1 < n)
			f |= VRING_DESC_F_NEXT;
		desc_write(drv_desc(d, i), b[k].addr, b[k].len,
			   k + 1 < n ? d->next[i] : 0, f);
		i = d->next[i];
	}
	d->free_head = d->next[last];
	drv_set_avail_ring(d, d->avail_idx, head);
	drv_set_avail_idx(d, ++d->avail_idx);
	return head;
}

int drv_add_indirect(struct drv *d, const struct drv_buf *b, unsigned int n)
{
	struct drv_buf ind = { DRV_INDIRECT, 16 * n, false };
	unsigned int k;

	for (k = 0; k < n; k++) {
		uint16_t f = b[k].write ? VRING_DESC_F_WRITE : 0;

		if (!d->packed && k + 1 < n)
			f |= VRING_DESC_F_NEXT;
		if (d->packed)
			pdesc_write(drv_mem(d, DRV_INDIRECT + 16ULL * k), b[k].addr,
				    b[k].len, 0, f);
		else
			desc_write(drv_mem(d, DRV_INDIRECT + 16ULL * k), b[k].addr,
				   b[k].len, (uint16_t)(k + 1), f);
	}
	if (d->packed)
		return packed_add(d, &ind, 1, VRING_DESC_F_INDIRECT);
	{
		uint16_t head = d->free_head;

		desc_write(drv_desc(d, head), ind.addr, ind.len, 0,
			   VRING_DESC_F_INDIRECT);
		d->free_head = d->next[head];
		drv_set_avail_ring(d, d->avail_idx, head);
		drv_set_avail_idx(d, ++d->avail_idx);
		return head;
	}
}

bool drv_get_used(struct drv *d, uint16_t *id, uint32_t *len)
{
	if (d->packed) {
		struct vring_packed_desc *p =
			(struct vring_packed_desc *)drv_desc(d, d->next_used);
		uint16_t f = __atomic_load_n(&p->flags, __ATOMIC_ACQUIRE);
		bool a = f & (1 << VRING_PACKED_DESC_F_AVAIL);
		bool u = f & (1 << VRING_PACKED_DESC_F_USED);

		if (a != u || u != d->used_wrap)
			return false;
		*id = p->id;
		*len = p->len;
		require(*id < d->size);
		d->next_used = (uint16_t)(d->next_used + d->chain_len[*id]);
		if (d->next_used >= d->size) {
			d->next_used = (uint16_t)(d->next_used - d->size);
			d->used_wrap = !d->used_wrap;
		}
		d->last_used++;
		return true;
	}
	if (drv_used_idx(d) == d->last_used)
		return false;
	{
		struct vring_used_elem *e = &used(d)->ring[d->last_used % d->size];
		struct vring_desc *v;
		uint16_t head, i;

		*id = (uint16_t)e->id;
		*len = e->len;
		require(*id < d->size);
		d->last_used++;
		/* Return the chain to the free list. */
		head = *id;
		for (i = head;; i = v->next) {
			v = (struct vring_desc *)drv_desc(d, i);
			if (!(v->flags & VRING_DESC_F_NEXT))
				break;
		}
		d->next[i] = d->free_head;
		d->free_head = head;
	}
	return true;
}
