/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-rng (device ID 4): one queue; each buffer's writable part is
 * filled from getrandom(2), up to 64 KiB per request, straight into guest
 * memory (nothing is allocated per request).
 *
 * A buffer is never returned empty: Linux's driver does not post another
 * after an empty one. If the host's entropy pool is not ready yet, the
 * request waits; one process-wide helper thread blocks on getrandom() and
 * wakes the waiting devices through their eventfds when the pool is ready.
 * Each kick serves at most a ring's worth of buffers, then yields.
 */
#ifndef VIREO_VIRTIO_RNG_H
#define VIREO_VIRTIO_RNG_H

#include <pthread.h>

#include "../virtio/virtio.h"
#include "../vmm/irq.h"
#include "../vmm/loop.h"
#include "vdev.h"

#define RNG_MAX_REQUEST (64 * 1024)
#define RNG_MAX_WAITING 16	/* devices waiting for the host's pool */

struct virtio_rng {
	struct virtio_dev vdev;
	struct vq_elem elem;
	bool elem_pending;		/* popped, waiting for entropy */
	struct vm_notify notify;
	struct ev_handler ready_h;	/* the host pool became ready */
	bool ready_watched;
	uint64_t requests;
	uint64_t bytes;
};

extern const struct virtio_dev_ops virtio_rng_ops;
extern const struct vdev_class virtio_rng_class;

int virtio_rng_init(struct virtio_rng *r, const struct guest_mem *gm,
		    const struct virtio_opts *opts,
		    const struct vm_notify *notify);
void virtio_rng_fini(struct virtio_rng *r);

#endif
