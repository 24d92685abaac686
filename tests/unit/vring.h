/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A mock virtio driver for unit tests: it lays out split or packed rings
 * in fake guest memory and adds/collects buffers the way Linux's
 * virtio_ring does, so the device-side queue code can be exercised and
 * broken on purpose.
 */
#ifndef VIREO_TEST_VRING_H
#define VIREO_TEST_VRING_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/queue.h"

#define DRV_RAM		(32u << 20)	/* fake RAM: 32 MiB at 0 (lazily backed) */
#define DRV_DESC	0x10000ULL
#define DRV_DRIVER	0x80000ULL
#define DRV_DEVICE	0xa0000ULL
#define DRV_INDIRECT	0xc0000ULL
#define DRV_BUFS	0x100000ULL	/* data buffers from here */

struct drv_buf {
	uint64_t addr;
	uint32_t len;
	bool write;
};

struct drv {
	struct guest_mem gm;
	bool owns_mem;
	uint64_t desc_gpa, driver_gpa, device_gpa;
	struct virtq vq;
	bool packed;
	uint16_t size;
	/* split */
	uint16_t avail_idx;
	uint16_t free_head;
	uint16_t next[VQ_MAX_SIZE];
	/* packed */
	uint16_t next_avail;
	bool avail_wrap;
	uint16_t next_used;
	bool used_wrap;
	uint16_t chain_len[VQ_MAX_SIZE];	/* by buffer ID */
	uint16_t next_id;
	/* both */
	uint16_t last_used;
	uint16_t id_head[VQ_MAX_SIZE];
};

/* Fake RAM, rings at the DRV_* addresses, the queue enabled. */
void drv_init(struct drv *d, uint16_t size, bool packed, uint64_t features);
/* Another queue in the same memory as owner, its rings from base on. */
void drv_init_shared(struct drv *d, const struct drv *owner, uint64_t base,
		     uint16_t size, bool packed, uint64_t features);
void drv_fini(struct drv *d);
/* nq split queues of size entries: q[0] owns the memory, the rest share it. */
void drv_init_queues(struct drv *q, unsigned int nq, uint16_t size);
void drv_fini_queues(struct drv *q, unsigned int nq);
uint8_t *drv_mem(struct drv *d, uint64_t gpa);

/* Add one buffer made of n parts; returns its head (split) or ID (packed). */
int drv_add(struct drv *d, const struct drv_buf *b, unsigned int n);
/* Add a buffer through an indirect table of n parts. */
int drv_add_indirect(struct drv *d, const struct drv_buf *b, unsigned int n);
/* Collect one used buffer: true with its id and len, false if none. */
bool drv_get_used(struct drv *d, uint16_t *id, uint32_t *len);

/* Split ring fields, for tests that corrupt them. */
uint8_t *drv_desc(struct drv *d, uint16_t i);
void drv_set_avail_idx(struct drv *d, uint16_t idx);
void drv_set_avail_ring(struct drv *d, uint16_t slot, uint16_t head);
void drv_set_used_event(struct drv *d, uint16_t ev);
uint16_t drv_avail_event(struct drv *d);
uint16_t drv_used_idx(struct drv *d);
/* Packed: driver event suppression. */
void drv_set_driver_event(struct drv *d, uint16_t off_wrap, uint16_t flags);

#endif
