/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Virtqueues: one API over the split and packed layouts (virtio 1.2
 * §2.7, §2.8), from the device's side.
 *
 *  - vq_enable() validates the ring geometry once (size, alignment, every
 *    part inside guest RAM) and caches host pointers to it.
 *  - vq_pop() takes the next available buffer: each descriptor is copied
 *    once, then checked (index, loops, length, direction order, indirect
 *    rules, RAM bounds) and turned into an iovec list: device-readable
 *    entries first (out), then device-writable ones (in). A head or buffer
 *    ID reused while in flight is corruption.
 *  - vq_push() returns a buffer with the number of bytes written.
 *  - vq_should_notify() applies EVENT_IDX / event suppression.
 *
 * Any corruption makes vq_pop() return -EBADMSG; the device must then mark
 * itself DEVICE_NEEDS_RESET (virtio_dev_broken()). Nothing here touches
 * memory outside the ring parts and the buffers the guest described.
 */
#ifndef VIREO_VQ_H
#define VIREO_VQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "../vmm/mem.h"

#define VQ_MAX_SIZE	32768	/* the packed ring's limit, and ours */
#define VQ_MAX_IOV	256	/* descriptors per buffer vireo accepts */
#define VQ_MAX_LEN	0xffffffffULL	/* a buffer's total bytes (u32) */

/* Descriptor flags, shared by both layouts. */
#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4
#define VRING_PACKED_F_AVAIL	(1 << 7)
#define VRING_PACKED_F_USED	(1 << 15)

/* Feature bits the queue code acts on. */
#define VIRTIO_F_INDIRECT_DESC	28
#define VIRTIO_F_EVENT_IDX	29
#define VIRTIO_F_VERSION_1	32
#define VIRTIO_F_RING_PACKED	34

/* One buffer taken from the ring. */
struct vq_elem {
	uint16_t id;		/* split: head index; packed: buffer ID */
	uint16_t ndesc;		/* ring slots it used (packed) */
	unsigned int nr_out;	/* iov[0 .. nr_out): device-readable */
	unsigned int nr_in;	/* iov[nr_out .. nr_out + nr_in): writable */
	uint64_t out_len;
	uint64_t in_len;
	uint8_t bad;		/* why the walker refused it (enum viol_kind) */
	struct iovec iov[VQ_MAX_IOV];
};

struct virtq {
	/* Set by the transport while the queue is disabled. */
	uint16_t size;
	/* Why the last -EBADMSG (enum viol_kind), for the violation log. */
	uint8_t bad;
	uint16_t max_size;
	uint64_t desc_gpa;
	uint64_t driver_gpa;	/* split: avail ring; packed: driver events */
	uint64_t device_gpa;	/* split: used ring; packed: device events */

	/*
	 * Set by the device (kept across enable and reset): it takes
	 * buffers until vq_pop() finds none before it waits for a kick, so
	 * with EVENT_IDX the driver is asked to kick only once the ring was
	 * seen empty, not at every buffer while the device works through it
	 * (split rings).
	 */
	bool lazy_kicks;

	/* Valid while ready. */
	bool ready;
	bool packed;
	bool event_idx;
	bool indirect;
	bool kicks_held;	/* vq_hold_kicks() in force */
	const struct guest_mem *gm;
	uint8_t *desc;
	uint8_t *driver;
	uint8_t *device;

	/* Device-side ring state. */
	uint16_t last_avail;	/* split: avail idx; packed: ring position */
	bool avail_wrap;
	uint16_t used_idx;	/* split: used idx; packed: ring position */
	bool used_wrap;
	uint16_t signalled_used;	/* split: used idx at the last check */
	bool signalled_valid;
	uint32_t unsignalled;	/* packed: descriptors used since then */
	uint16_t inflight;	/* buffers popped and not yet pushed */
	uint64_t busy[VQ_MAX_SIZE / 64];	/* in flight, by head or ID */
};

/*
 * A queue as plain data (snapshots, migration): the geometry the driver
 * wrote and the device's positions in the ring. Taken from a quiet queue
 * (nothing in flight); vq_restore() validates it like vq_enable() does.
 */
struct vq_state {
	uint16_t size;
	uint8_t ready;
	uint8_t avail_wrap;
	uint8_t used_wrap;
	uint8_t pad;
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t pad2[3];
	uint64_t desc_gpa;
	uint64_t driver_gpa;
	uint64_t device_gpa;
};

void vq_save(const struct virtq *vq, struct vq_state *s);
/*
 * The saved queue back: its geometry through vq_enable()'s checks, then
 * its positions (a split ring's used index must be the one in memory).
 * -EINVAL, the queue disabled, if anything does not hold.
 */
int vq_restore(struct virtq *vq, const struct guest_mem *gm, uint64_t features,
	       const struct vq_state *s);

/*
 * Validate the geometry written by the driver and start using the queue.
 * features: the negotiated feature bits. Returns 0 or -EINVAL (the queue
 * stays disabled).
 */
int vq_enable(struct virtq *vq, const struct guest_mem *gm, uint64_t features);
/* Forget the ring: back to the disabled state (configuration kept). */
void vq_disable(struct virtq *vq);
/* vq_disable() and clear the configuration (device reset). */
void vq_reset(struct virtq *vq);
/*
 * The ring as it stands, in words, for the report on a VM stopped by a
 * signal (what a hung guest was waiting for): split: the avail and used
 * idx in guest memory, what vireo took, the buffers in flight, the event
 * indexes (or the flags); packed: vireo's positions.
 */
void vq_describe(const struct virtq *vq, char *buf, size_t len);

/* 1: a buffer in *e; 0: none available; -EBADMSG: the ring is corrupt. */
int vq_pop(struct virtq *vq, struct vq_elem *e);
/* Return e with written bytes. -EINVAL if e is not in flight (a bug). */
int vq_push(struct virtq *vq, const struct vq_elem *e, uint32_t written);
/*
 * Give back the buffer popped last (not used after all): the next pop
 * returns it again. Buffers must be given back in reverse pop order.
 */
void vq_unpop(struct virtq *vq, const struct vq_elem *e);
/*
 * Return n buffers at once (one received packet spread over several):
 * the driver sees them all or none of them.
 */
int vq_push_many(struct virtq *vq, struct vq_elem *const *e,
		 const uint32_t *written, unsigned int n);
/*
 * A device with buffers in flight, which will look at the ring again when
 * they complete, may ask the driver not to kick meanwhile: after
 * vq_hold_kicks(), vq_pop() finding the ring empty no longer asks for a
 * kick. vq_release_kicks() asks again; the device must then pop until
 * the ring is empty, since buffers added while kicks were held came
 * without one.
 */
void vq_hold_kicks(struct virtq *vq);
void vq_release_kicks(struct virtq *vq);
/*
 * For rings someone else served (a vhost backend that went away): the
 * chain at head, read as vq_pop() would (no in-flight bookkeeping), and a
 * used entry for it. Split rings only: -EBADMSG for a bad chain, -ENOTSUP
 * for packed rings. vq->used_idx must be where the ring's memory says.
 */
int vq_chain_at(struct virtq *vq, uint16_t head, struct vq_elem *e);
int vq_push_id(struct virtq *vq, uint16_t id, uint32_t written);

/*
 * Which buffers of a split ring served by someone else are in flight,
 * counted from the rings alone: each scan adds the heads made available
 * and subtracts those used since the last one. Exact as long as neither
 * ring moved by more than its size between scans; t->lost says it did.
 */
struct vq_track {
	uint16_t avail_seen, used_seen;
	uint16_t size;
	bool lost;
	uint8_t *out;			/* per head: in flight */
};

/* Start from the queue's state: nothing in flight. -ENOMEM. */
int vq_track_init(struct vq_track *t, const struct virtq *vq);
void vq_track_fini(struct vq_track *t);
/* Catch up with both rings; returns how many entries moved. */
unsigned int vq_track_scan(struct vq_track *t, const struct virtq *vq);

/* After pushes: does the driver want a used buffer notification now? */
bool vq_should_notify(struct virtq *vq);

/* Copy between a buffer's readable / writable parts and host memory. */
size_t vq_elem_read(const struct vq_elem *e, size_t off, void *dst,
		    size_t len);
size_t vq_elem_write(const struct vq_elem *e, size_t off, const void *src,
		     size_t len);

/* Bytes of ring memory each part needs (for tests and transports). */
uint64_t vq_desc_bytes(uint16_t size, bool packed);
uint64_t vq_driver_bytes(uint16_t size, bool packed);
uint64_t vq_device_bytes(uint16_t size, bool packed);

/* vring_need_event() of the spec: did [old, new) cross event? */
static inline bool vq_need_event(uint16_t event, uint16_t new_idx,
				 uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

#endif
