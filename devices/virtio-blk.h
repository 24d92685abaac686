/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-blk (device ID 2) on a raw image file or block device. The format
 * is never probed: the file is the disk.
 *
 * Requests: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES. Data moves
 * between the image and guest memory through io_uring (the iovecs point
 * into guest RAM: no copy); completions arrive on an eventfd in the event
 * loop. Neither vCPUs nor the loop block on I/O. In-flight requests are
 * bounded by the queue size and drained on reset. While reads and writes
 * are in flight on a disk that is fast next to what a kick costs, and the
 * guest keeps adding requests, it is asked not to kick: their completions
 * make vireo look at the ring.
 *
 * Durability (virtio 1.2 §5.2.6.2):
 *  - cache=writeback: writes complete when the file has them; a completed
 *    FLUSH means every earlier completed write is on stable storage
 *    (fdatasync). If the driver does not negotiate FLUSH, or turns the
 *    write cache off (CONFIG_WCE), each write is made stable (RWF_DSYNC)
 *    before it completes.
 *  - cache=writethrough: every write is stable before it completes.
 *  - cache=unsafe: FLUSH completes at once; explicit opt-in.
 *
 * Guest errors: a request with no header or no status byte is dropped
 * (used length 0) and counted; bad sectors, lengths, read-only writes and
 * short GET_ID buffers complete with IOERR; unknown types with UNSUPP.
 */
#ifndef VIREO_VIRTIO_BLK_H
#define VIREO_VIRTIO_BLK_H

#include <liburing.h>

#include "../virtio/virtio.h"
#include "../vmm/irq.h"
#include "../vmm/loop.h"
#include "vdev.h"
#include "../virtio/iothread.h"

#define BLK_QUEUE_SIZE		256
#define BLK_SEG_MAX		(VQ_MAX_IOV - 2)
#define BLK_SIZE_MAX		(1U << 20)
#define BLK_MAX_DISCARD_SEG	32
#define BLK_MAX_DISCARD_SECTORS	(1U << 22)	/* 2 GiB per segment */
#define BLK_HOLD_KICKS_RATIO	4	/* see blk_pace_kicks() */
#define BLK_IRQ_HOLD_US		500	/* an interrupt waits at most (blk_notify) */
#define BLK_BOUNCE_MAX		(8U << 20)	/* O_DIRECT realignment */
#define BLK_BOUNCE_TOTAL	(32U << 20)	/* of it, per disk at once */
#define BLK_MAX_QUEUES		8
#define BLK_DEFAULT_QUEUES	4	/* default: one per vCPU up to this */

enum blk_cache {
	BLK_CACHE_WRITEBACK,	/* FLUSH makes completed writes stable */
	BLK_CACHE_WRITETHROUGH,	/* every write is stable before completion */
	BLK_CACHE_UNSAFE,	/* FLUSH does nothing */
};

#define BLK_SERIAL_LEN 20

/*
 * Fault injection (driver test mode): inject=RULE[+RULE...], each
 *   ioerr@N      request N (from 1) fails with VIRTIO_BLK_S_IOERR
 *   ioerr%P      each request fails with probability P percent
 *   ioerr:A-B    reads and writes touching sectors A..B fail
 *   unsupp@N     request N is answered VIRTIO_BLK_S_UNSUPP
 *   reset@N      at request N the device sets DEVICE_NEEDS_RESET
 *   delay@MS     each read, write and flush completes MS ms late at least
 *   delayrand@MS ... 0 to MS ms late, at random: they end out of order
 *   reorder@N    completions held until N are (or 10 ms passed), then
 *                given back in reverse order, with one interrupt
 *   burst@N      the same in order: completions come in bursts of N
 *   capacity@S   the disk shrinks to S sectors (a config change)
 *   irqlate@MS, irqcoalesce@N, irqspurious@MS: see virtio_irq_faults
 * seed=S makes the random ones repeat exactly.
 */
struct blk_inject {
	uint64_t ioerr_at, unsupp_at, reset_at;
	unsigned int ioerr_pct;
	uint64_t first, last;		/* sectors; last < first: none */
	unsigned int delay_ms;
	bool delay_rand;
	unsigned int hold;		/* reorder@N, burst@N: N */
	bool hold_reverse;		/* reorder */
	uint64_t capacity;		/* sectors; 0: the file's */
	struct virtio_irq_faults irq;
	uint64_t seed;
	bool on;
};

struct blk_config {
	char path[4096];
	bool readonly;
	char serial[BLK_SERIAL_LEN + 1];
	enum blk_cache cache;
	bool direct;
	char vhost_user[108];	/* or: a vhost-user backend's socket */
	char vhost_vdpa[108];	/* or: a vDPA device's /dev/vhost-vdpa-N */
	bool server;		/* vhost-user: vireo listens */
	bool unlocked;		/* (not an option) a migration target's: the
				 * source holds the lock until it pauses */
	struct blk_inject inject;
	unsigned int queues;	/* virtqueues (VIRTIO_BLK_F_MQ); 0: default */
	bool iothread;		/* queues served by an I/O thread */
};

struct virtio_blk;
struct blk_queue;
struct blk_req;

/* One io_uring operation of a request (its user_data). */
struct blk_op {
	struct blk_req *r;
	uint64_t off;
	uint64_t len;
	int mode;			/* fallocate mode */
};

struct blk_req {
	struct virtio_blk *blk;
	struct blk_queue *q;
	struct vq_elem elem;
	bool busy;
	uint32_t type;
	uint8_t *status;		/* in guest memory */
	uint64_t sector;
	uint64_t len;			/* data bytes */
	uint32_t used;			/* bytes written into the guest */
	unsigned int pending;		/* io_uring operations outstanding */
	int error;			/* first failure among them */
	uint64_t start_ns;		/* when it was submitted */
	unsigned int niov;
	struct iovec iov[VQ_MAX_IOV];	/* the data part only */
	void *bounce;			/* O_DIRECT realignment buffer */
	uint64_t bounce_len;
	bool stale;			/* from before a reset: never pushed */
	struct iovec bounce_iov;
	struct blk_op ops[BLK_MAX_DISCARD_SEG];
	struct blk_op delay_op;		/* inject=delay: an io_uring timeout */
	struct __kernel_timespec delay_ts;
	uint8_t held_status;		/* inject=burst, reorder: its answer */
};

struct blk_stats {
	uint64_t reads, writes, flushes, discards, write_zeroes, get_ids;
	uint64_t bytes_read, bytes_written;
	uint64_t io_errors, unsupported, malformed;
	uint64_t wakeups;		/* completion events handled */
	uint64_t irqs_held;		/* interrupts that waited (blk_notify) */
	uint64_t bounce_waits;		/* requests that waited for bounce room */
	uint64_t too_large;		/* segments over size_max, refused */
	uint64_t submit_errors;		/* io_uring_submit() refusals */
	uint64_t async_resets;		/* resets with requests in flight */
};

/*
 * One virtqueue and what serves it: its own io_uring (so queues never
 * share a submission ring), completion eventfd, requests and counters.
 */
struct blk_queue {
	struct virtio_blk *blk;
	unsigned int idx;		/* the virtqueue's index */
	struct io_uring ring;
	bool ring_ready;
	struct ev_handler done_h;	/* io_uring completions */
	bool done_watched;
	struct blk_req *reqs;		/* BLK_QUEUE_SIZE of them */
	unsigned int inflight;
	unsigned int slow_inflight;	/* of them: not reads or writes */
	unsigned int stale_inflight;	/* of them: from before a reset */
	struct blk_req *waiting;	/* for bounce memory to free up */
	uint64_t service_ns;		/* reads and writes take this long */
	uint64_t kick_ns;		/* a kick's work takes this long */
	uint64_t taken;			/* requests taken from this queue */
	uint64_t wakeups;		/* completion events handled */
	/* inject=burst, reorder: completions held, and their timer */
	struct blk_req *held[BLK_QUEUE_SIZE];
	unsigned int nr_held;
	struct blk_op flush_op;		/* an io_uring timeout; r is NULL */
	struct __kernel_timespec flush_ts;
	bool flush_armed;
	/* an interrupt held for more completions (blk_notify), its timer */
	bool irq_owed;
	bool irq_held;			/* the owed one waited */
	bool irq_armed;
	struct blk_op irq_op;		/* an io_uring timeout; r is NULL */
	struct __kernel_timespec irq_ts;
};

struct virtio_blk {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops;	/* the class's, with num_queues */
	struct blk_config cfg;
	int fd;
	bool is_file;
	uint64_t capacity;		/* sectors */
	uint8_t wce;			/* config writeback field */
	bool no_zero_range;		/* the file system lacks ZERO_RANGE */
	uint64_t file_capacity;		/* sectors, before inject=capacity */
	struct vm_notify notify;
	unsigned int nr_queues;
	struct blk_queue q[BLK_MAX_QUEUES];
	struct iothread iot;		/* with iothread=on */
	struct iothread_queue iq[BLK_MAX_QUEUES];
	uint64_t bounce_bytes;		/* realignment buffers held */
	bool bounce_force;		/* pause: start the waiting one anyway */
	struct blk_stats stats;
	uint64_t requests;		/* taken, for inject=...@N */
	uint64_t rng;			/* inject's xorshift state */
};

extern const struct virtio_dev_ops virtio_blk_ops;
extern const struct vdev_class virtio_blk_class;

/* Open the image and set up I/O; err names the file on failure. */
int virtio_blk_init(struct virtio_blk *b, const struct blk_config *cfg,
		    const struct guest_mem *gm, const struct virtio_opts *opts,
		    const struct vm_notify *notify, char *err, size_t errlen);
void virtio_blk_fini(struct virtio_blk *b);
/* Take (or drop) the image's lock: one writer or many readers. -errno
 * with err saying it is in use. */
int virtio_blk_lock(struct virtio_blk *b, bool take, char *err, size_t errlen);
/* One line of counters, for the user on exit. */
void virtio_blk_stats_line(struct virtio_blk *b, char *buf, size_t len);

#endif
