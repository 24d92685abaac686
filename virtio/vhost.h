/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost: a device's queues served outside vireo, through the kick and call
 * eventfds of the activation context (virtio.h). One interface, struct
 * vhost_ops, over the backends:
 *  - vhost-kernel.c: the kernel's vhost (/dev/vhost-net), ioctls;
 *  - vhost-user.c: a backend process on a unix socket (vhost-user
 *    protocol), guest memory shared as the memfd itself;
 *  - vhost-vdpa.c: a vDPA device (/dev/vhost-vdpa-N), guest memory
 *    mapped through its IOTLB.
 * A device class keeps its config space and feature policy; the backend
 * carries the data path only. Rings are numbered as the backend numbers
 * them; a device maps its queues onto them (vhost-net: one backend per
 * queue pair, rings 0 and 1).
 *
 * Every call returns 0 or -errno. A backend that fails or goes away never
 * takes vireo down: the device decides what the guest sees.
 */
#ifndef VIREO_VHOST_H
#define VIREO_VHOST_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmm/mem.h"
#include "virtio.h"

/* Feature bits of the ring layer that a backend must support itself. */
#define VHOST_RING_FEATURES \
	((1ULL << VIRTIO_F_INDIRECT_DESC) | (1ULL << VIRTIO_F_EVENT_IDX) | \
	 (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_PACKED))

struct vhost;

/* Where a ring is, as host virtual addresses (and guest-physical ones,
 * for backends behind an IOTLB); with log, the backend also logs its
 * writes to the used ring at guest address log_gpa. */
struct vhost_ring_addr {
	uint64_t desc, avail, used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint64_t log_gpa;
	bool log;
};

struct vhost_ops {
	int (*get_features)(struct vhost *v, uint64_t *features);
	int (*set_features)(struct vhost *v, uint64_t features);
	int (*set_mem_table)(struct vhost *v, const struct guest_mem *gm);
	int (*set_vring_num)(struct vhost *v, unsigned int ring, unsigned int num);
	int (*set_vring_addr)(struct vhost *v, unsigned int ring,
			      const struct vhost_ring_addr *addr);
	/* base: see vhost_ring_base(). */
	int (*set_vring_base)(struct vhost *v, unsigned int ring, uint32_t base);
	/* Stops the ring and returns where it stopped. */
	int (*get_vring_base)(struct vhost *v, unsigned int ring, uint32_t *base);
	int (*set_vring_kick)(struct vhost *v, unsigned int ring, int fd);
	int (*set_vring_call)(struct vhost *v, unsigned int ring, int fd);
	int (*set_vring_err)(struct vhost *v, unsigned int ring, int fd);
	/* Optional: rings start disabled until enabled (vhost-user). */
	int (*set_vring_enable)(struct vhost *v, unsigned int ring, bool on);
	/*
	 * Optional: the backend logs the guest pages it writes into log, a
	 * bitmap by guest-physical page (bit gpa / 4096); NULL stops it.
	 * Logging also needs VHOST_F_LOG_ALL in the features and each
	 * ring's addresses set again with log (vhost_rings_log()).
	 */
	int (*set_log_base)(struct vhost *v, uint64_t *log);
};

struct vhost {
	const struct vhost_ops *ops;
	char name[160];			/* for messages: "vhost-net" */
	bool log;			/* rings are started logging */
};

/*
 * The base of a ring as backends take it: split rings, the next avail
 * index; packed rings, avail position | wrap << 15, and the used
 * position | wrap << 15 in the high half.
 */
uint32_t vhost_ring_base(const struct virtq *vq);
/* Put a base back into the queue (after get_vring_base). */
void vhost_ring_set_base(struct virtq *vq, uint32_t base);

/*
 * Hand queues [first, first + n) of an activation to backend rings
 * [ring, ring + n): number, addresses, base, kick and call fds, error fd
 * (err_fds[i] or -1), and enable. Memory table and features are the
 * caller's (they are per backend, not per ring). Queues not ready are
 * skipped. -errno with err naming the step that failed.
 */
int vhost_rings_start(struct vhost *v, const struct virtio_activation *a,
		      unsigned int first, unsigned int n, unsigned int ring,
		      const int *err_fds, char *err, size_t errlen);
/*
 * Stop them again; their state goes back into the queues. A backend that
 * cannot answer leaves the queue as the guest's memory says (used index
 * for the next avail). -errno if any ring failed.
 */
int vhost_rings_stop(struct vhost *v, struct virtio_dev *d, unsigned int first,
		     unsigned int n, unsigned int ring);

/*
 * The dirty log backends write during a migration (a bit per guest page,
 * in 64-bit words): shared memory, the newest one known (one never
 * freed stays mapped: a backend may still write it). vhost_log_fd: its fd
 * and length (for SET_LOG_BASE), -1 if log is not it.
 */
uint64_t *vhost_log_alloc(size_t words);
void vhost_log_free(uint64_t *log);
int vhost_log_fd(const uint64_t *log, uint64_t *len);

/*
 * Start (log != NULL) or stop the backend logging its writes into log
 * (see set_log_base) on the ready queues [first, first + n) served by its
 * rings [ring, ring + n), while they run; features are what the backend
 * was given (VHOST_F_LOG_ALL is added or dropped here). -ENOTSUP if the
 * backend cannot log; -errno with err.
 */
int vhost_rings_log(struct vhost *v, struct virtio_dev *d, uint64_t *log,
		    uint64_t features, unsigned int first, unsigned int n,
		    unsigned int ring, char *err, size_t errlen);
/*
 * A backend's features at a start, with a migration under way (log, else
 * NULL): the log first, then the features with VHOST_F_LOG_ALL. -errno.
 */
int vhost_start_features(struct vhost *v, uint64_t *log, uint64_t features);
/*
 * The queues [first, first + n) of a were just handed to a backend: all
 * are marked external; each ready one is kicked once (what came while
 * nobody served it), and on a resume (a->resume) a ready split ring's
 * completions since its ring stopped, which came without an interrupt,
 * get one.
 */
void vhost_queues_handed(struct virtio_dev *d,
			 const struct virtio_activation *a, unsigned int first,
			 unsigned int n);

/*
 * A backend went away holding requests of queue q (split rings) that it
 * will never complete: complete each now, with status (>= 0) in its last
 * writable byte (blk: VIRTIO_BLK_S_IOERR), and tell the guest; the queue
 * then stands after everything made available. t says what is in flight
 * (scanned often enough); elem is scratch. How many were failed, or -1
 * if that cannot be known (packed rings, a lost count).
 */
int vhost_fail_in_flight(struct virtio_dev *d, unsigned int q,
			 struct vq_track *t, struct vq_elem *elem, int status);

/* The used index the device last published (split rings), from memory. */
uint16_t vhost_used_idx(const struct virtq *vq);

#endif
