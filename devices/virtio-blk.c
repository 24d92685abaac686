// SPDX-License-Identifier: GPL-2.0
#include "virtio-blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/opts.h"
#include "blk-vhost-user.h"
#include "../vmm/util.h"

#define VIRTIO_ID_BLOCK			2

#define VIRTIO_BLK_F_SIZE_MAX		1
#define VIRTIO_BLK_F_SEG_MAX		2
#define VIRTIO_BLK_F_RO			5
#define VIRTIO_BLK_F_BLK_SIZE		6
#define VIRTIO_BLK_F_FLUSH		9
#define VIRTIO_BLK_F_CONFIG_WCE		11
#define VIRTIO_BLK_F_MQ			12
#define VIRTIO_BLK_F_DISCARD		13
#define VIRTIO_BLK_F_WRITE_ZEROES	14

#define T_IN			0
#define T_OUT			1
#define T_FLUSH			4
#define T_GET_ID		8
#define T_DISCARD		11
#define T_WRITE_ZEROES		13

#define S_OK			0
#define S_IOERR			1
#define S_UNSUPP		2

#define SECTOR			512ULL
#define HDR_LEN			16
#define GET_ID_LEN		20
#define SEG_LEN			16
#define WZ_UNMAP		1
#define DIRECT_ALIGN		4096

#define CFG_SIZE		60

#define BIT(n)			(1ULL << (n))

/*
 * Starting a request returns a status (S_*, >= 0: complete it now),
 * REQ_SUBMITTED (io_uring owns it) or REQ_DROP (nothing can be said).
 */
#define REQ_SUBMITTED		(-1)
#define REQ_DROP		(-2)
#define REQ_WAIT		(-3)	/* for bounce memory: b->waiting */

static bool negotiated(const struct virtio_blk *b, unsigned int bit)
{
	return b->vdev.acked & BIT(bit);
}

/* ---- config space ------------------------------------------------------ */

static void blk_config_read(struct virtio_dev *d, uint32_t off, uint8_t *buf,
			    uint32_t len)
{
	struct virtio_blk *b = d->priv;
	uint8_t c[CFG_SIZE];

	memset(c, 0, sizeof(c));
	put_le64(c + 0, b->capacity);
	put_le32(c + 8, BLK_SIZE_MAX);
	put_le32(c + 12, BLK_SEG_MAX);
	put_le32(c + 20, SECTOR);			/* blk_size */
	c[32] = b->wce;					/* writeback */
	put_le16(c + 34, (uint16_t)b->nr_queues);	/* num_queues */
	put_le32(c + 36, BLK_MAX_DISCARD_SECTORS);
	put_le32(c + 40, BLK_MAX_DISCARD_SEG);
	put_le32(c + 44, 8);				/* 4 KiB alignment */
	put_le32(c + 48, BLK_MAX_DISCARD_SECTORS);
	put_le32(c + 52, BLK_MAX_DISCARD_SEG);
	c[56] = 1;					/* may unmap */
	memcpy(buf, c + off, len);
}

static void blk_config_write(struct virtio_dev *d, uint32_t off,
			     const uint8_t *buf, uint32_t len)
{
	struct virtio_blk *b = d->priv;

	/* Only the write-cache switch is writable, and only if negotiated. */
	if (off == 32 && len == 1 && negotiated(b, VIRTIO_BLK_F_CONFIG_WCE))
		b->wce = buf[0] ? 1 : 0;
}

/* ---- requests ---------------------------------------------------------- */

static struct blk_req *req_get(struct blk_queue *q)
{
	unsigned int i;

	for (i = 0; i < BLK_QUEUE_SIZE; i++) {
		struct blk_req *r = &q->reqs[i];

		if (!r->busy) {
			r->busy = true;
			r->blk = q->blk;
			r->q = q;
			r->pending = 0;
			r->error = 0;
			r->bounce = NULL;
			r->bounce_len = 0;
			r->stale = false;
			r->niov = 0;
			r->used = 0;
			r->len = 0;
			return r;
		}
	}
	return NULL;
}

static void req_put(struct blk_req *r)
{
	if (r->bounce)
		r->blk->bounce_bytes -= r->bounce_len;
	free(r->bounce);
	r->bounce = NULL;
	r->busy = false;
}

/*
 * Copy len bytes' worth of iovecs from part (readable or writable) of the
 * element, starting skip bytes in. The iovecs point into guest memory.
 */
static void req_take_iov(struct blk_req *r, bool writable, uint64_t skip,
			 uint64_t len)
{
	const struct vq_elem *e = &r->elem;
	unsigned int i = writable ? e->nr_out : 0;
	unsigned int end = writable ? e->nr_out + e->nr_in : e->nr_out;

	r->niov = 0;
	for (; i < end && len; i++) {
		uint64_t n = e->iov[i].iov_len;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		n = MIN(n - skip, len);
		r->iov[r->niov].iov_base = (uint8_t *)e->iov[i].iov_base + skip;
		r->iov[r->niov].iov_len = n;
		r->niov++;
		len -= n;
		skip = 0;
	}
}

static bool in_range(const struct virtio_blk *b, uint64_t sector,
		     uint64_t sectors)
{
	uint64_t end;

	return !add_overflows(sector, sectors, &end) && end <= b->capacity;
}

static bool needs_bounce(const struct blk_req *r)
{
	unsigned int i;

	if (!r->blk->cfg.direct)
		return false;
	for (i = 0; i < r->niov; i++)
		if ((uintptr_t)r->iov[i].iov_base % DIRECT_ALIGN ||
		    r->iov[i].iov_len % DIRECT_ALIGN)
			return true;
	return false;
}

/* Writes are made stable one by one unless the guest will FLUSH. */
static bool write_needs_dsync(const struct virtio_blk *b)
{
	if (b->cfg.cache != BLK_CACHE_WRITEBACK)
		return false;	/* O_DSYNC (writethrough) or unsafe */
	if (!negotiated(b, VIRTIO_BLK_F_FLUSH))
		return true;
	return negotiated(b, VIRTIO_BLK_F_CONFIG_WCE) && !b->wce;
}

/*
 * Hand the queued operations to the kernel. A refusal (out of memory,
 * say) leaves them queued: the next turn tries again, and the failure is
 * counted, never lost.
 */
static void blk_submit(struct blk_queue *q)
{
	struct virtio_blk *b = q->blk;
	int ret;

	if (!io_uring_sq_ready(&q->ring))
		return;
	do
		ret = io_uring_submit(&q->ring);
	while (ret == -EINTR);
	if (ret >= 0)
		return;
	if (!b->stats.submit_errors++)
		pr_err("blk %s: io_uring would not take requests (%s); "
		       "trying again", b->cfg.path, strerror(-ret));
	virtio_kick_later(&b->vdev, q->idx);
}

/* An sqe for operation op of r (counted as pending), or NULL. */
static struct io_uring_sqe *sqe_for(struct blk_req *r, struct blk_op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->q->ring);

	if (!sqe) {
		/* The ring holds a queue's worth; submit to make room. */
		blk_submit(r->q);
		sqe = io_uring_get_sqe(&r->q->ring);
	}
	if (sqe) {
		op->r = r;
		io_uring_sqe_set_data(sqe, op);
		r->pending++;
	}
	return sqe;
}

static int start_rw(struct virtio_blk *b, struct blk_req *r, bool write)
{
	struct io_uring_sqe *sqe;
	const struct iovec *iov = r->iov;
	unsigned int niov = r->niov;

	if (r->len % SECTOR || !in_range(b, r->sector, r->len / SECTOR))
		return S_IOERR;
	if (write && b->cfg.readonly)
		return S_IOERR;
	if (r->len == 0)
		return S_OK;
	if (needs_bounce(r)) {
		if (r->len > BLK_BOUNCE_MAX)
			return S_IOERR;
		/* The guest chooses how much: a cap per disk, then wait. */
		if (b->bounce_bytes &&
		    b->bounce_bytes + r->len > BLK_BOUNCE_TOTAL &&
		    !b->bounce_force)
			return REQ_WAIT;
		if (posix_memalign(&r->bounce, DIRECT_ALIGN, r->len))
			return S_IOERR;
		r->bounce_len = r->len;
		b->bounce_bytes += r->len;
		if (write) {
			uint64_t done = 0;
			unsigned int i;

			for (i = 0; i < niov; i++) {
				memcpy((uint8_t *)r->bounce + done,
				       iov[i].iov_base, iov[i].iov_len);
				done += iov[i].iov_len;
			}
		}
		r->bounce_iov.iov_base = r->bounce;
		r->bounce_iov.iov_len = r->len;
		iov = &r->bounce_iov;
		niov = 1;
	}
	sqe = sqe_for(r, &r->ops[0]);
	if (!sqe)
		return S_IOERR;
	if (write) {
		io_uring_prep_writev(sqe, b->fd, iov, niov, r->sector * SECTOR);
		if (write_needs_dsync(b))
			sqe->rw_flags = RWF_DSYNC;
	} else {
		io_uring_prep_readv(sqe, b->fd, iov, niov, r->sector * SECTOR);
	}
	return REQ_SUBMITTED;
}

static int start_flush(struct virtio_blk *b, struct blk_req *r)
{
	struct io_uring_sqe *sqe;

	if (b->cfg.cache == BLK_CACHE_UNSAFE || b->cfg.readonly)
		return S_OK;
	sqe = sqe_for(r, &r->ops[0]);
	if (!sqe)
		return S_IOERR;
	io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
	return REQ_SUBMITTED;
}

static int start_get_id(struct virtio_blk *b, struct blk_req *r)
{
	uint8_t id[GET_ID_LEN];
	uint64_t done = 0;
	unsigned int i;

	/* Shorter than the 20-byte ID: refused, nothing written. */
	if (r->len < GET_ID_LEN)
		return S_IOERR;
	memset(id, 0, sizeof(id));
	memcpy(id, b->cfg.serial, strlen(b->cfg.serial));
	for (i = 0; i < r->niov && done < GET_ID_LEN; i++) {
		uint64_t n = MIN(r->iov[i].iov_len, GET_ID_LEN - done);

		memcpy(r->iov[i].iov_base, id + done, n);
		done += n;
	}
	r->used += GET_ID_LEN;
	return S_OK;
}

/* DISCARD and WRITE_ZEROES: an array of {sector, num_sectors, flags}. */
static int start_ranges(struct virtio_blk *b, struct blk_req *r)
{
	bool zeroes = r->type == T_WRITE_ZEROES;
	uint8_t segs[BLK_MAX_DISCARD_SEG * SEG_LEN];
	uint64_t nseg = (r->elem.out_len - HDR_LEN) / SEG_LEN, i;

	if (!negotiated(b, zeroes ? VIRTIO_BLK_F_WRITE_ZEROES :
				    VIRTIO_BLK_F_DISCARD))
		return S_UNSUPP;
	if (b->cfg.readonly)
		return S_IOERR;
	if ((r->elem.out_len - HDR_LEN) % SEG_LEN || nseg == 0 ||
	    nseg > BLK_MAX_DISCARD_SEG)
		return S_IOERR;
	/* Copied once; the guest may change its copy meanwhile. */
	vq_elem_read(&r->elem, HDR_LEN, segs, nseg * SEG_LEN);
	for (i = 0; i < nseg; i++) {
		uint64_t sector = get_le64(segs + i * SEG_LEN);
		uint32_t num = get_le32(segs + i * SEG_LEN + 8);
		uint32_t flags = get_le32(segs + i * SEG_LEN + 12);

		if (flags & ~(zeroes ? WZ_UNMAP : 0))
			return S_UNSUPP;
		if (num > BLK_MAX_DISCARD_SECTORS || !in_range(b, sector, num))
			return S_IOERR;
	}
	for (i = 0; i < nseg; i++) {
		uint64_t sector = get_le64(segs + i * SEG_LEN);
		uint32_t num = get_le32(segs + i * SEG_LEN + 8);
		uint32_t flags = get_le32(segs + i * SEG_LEN + 12);
		struct blk_op *op = &r->ops[i];
		bool punch = !zeroes || (flags & WZ_UNMAP) || b->no_zero_range;
		struct io_uring_sqe *sqe;

		if (!num)
			continue;
		/* A hole reads back as zeroes, and gives the space back. */
		op->off = sector * SECTOR;
		op->len = num * SECTOR;
		op->mode = FALLOC_FL_KEEP_SIZE | (punch ? FALLOC_FL_PUNCH_HOLE :
							  FALLOC_FL_ZERO_RANGE);
		sqe = sqe_for(r, op);
		if (!sqe) {
			r->error = -EIO;
			break;
		}
		io_uring_prep_fallocate(sqe, b->fd, op->mode, op->off, op->len);
	}
	return r->pending ? REQ_SUBMITTED : (r->error ? S_IOERR : S_OK);
}

static void req_push(struct virtio_blk *b, struct blk_req *r, int status)
{
	struct virtio_dev *d = &b->vdev;

	if (!d->broken) {
		*r->status = (uint8_t)status;
		vq_push(&d->vq[r->q->idx], &r->elem, r->used);
	}
	req_put(r);
}

/*
 * inject=burst, reorder: the completions queue q holds go to the guest
 * now (push), in the order they ended or the reverse; or, after a reset,
 * nowhere. True if any was pushed.
 */
static bool blk_release_held(struct blk_queue *q, bool push)
{
	struct virtio_blk *b = q->blk;
	unsigned int i, n = q->nr_held;
	bool reverse = b->cfg.inject.hold_reverse;

	if (n > 1)
		virtio_injected(&b->vdev, (int)q->idx, "queue %u: %u completions "
				"given back at once%s", q->idx, n,
				reverse ? ", last first" : "");
	q->nr_held = 0;
	for (i = 0; i < n; i++) {
		struct blk_req *r = q->held[reverse ? n - 1 - i : i];

		if (push)
			req_push(b, r, r->held_status);
		else
			req_put(r);
	}
	return push && n;
}

/* Arm queue q's timer (an io_uring timeout) for us; false if it cannot. */
static bool blk_timer(struct blk_queue *q, struct blk_op *op,
		      struct __kernel_timespec *ts, uint64_t us)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe)
		return false;
	ts->tv_sec = (long long)(us / 1000000);
	ts->tv_nsec = (long long)(us % 1000000) * 1000LL;
	io_uring_prep_timeout(sqe, ts, 0, 0);
	io_uring_sqe_set_data(sqe, op);
	return true;
}

#define BLK_HOLD_MS	10	/* burst, reorder: a completion waits at most */

/*
 * inject=burst@N, reorder@N: keep r's completion until N are held or
 * BLK_HOLD_MS passed. True if kept.
 */
static bool blk_hold(struct virtio_blk *b, struct blk_req *r, int status)
{
	struct blk_queue *q = r->q;
	unsigned int n = b->cfg.inject.hold;

	if (!b->cfg.inject.on || n < 2 || b->vdev.broken ||
	    !virtio_fault_queue(&b->cfg.inject.irq, q->idx))
		return false;
	r->held_status = (uint8_t)status;
	q->held[q->nr_held++] = r;
	if (q->nr_held >= n || q->nr_held == BLK_QUEUE_SIZE) {
		blk_release_held(q, true);
		return true;
	}
	if (!q->flush_armed) {
		q->flush_op.r = NULL;
		if (blk_timer(q, &q->flush_op, &q->flush_ts,
			      BLK_HOLD_MS * 1000ULL)) {
			q->flush_armed = true;
			blk_submit(q);
		} else {
			blk_release_held(q, true);	/* no timer: no wait */
		}
	}
	return true;
}

static void req_complete(struct virtio_blk *b, struct blk_req *r, int status)
{
	if (status == S_IOERR)
		b->stats.io_errors++;
	else if (status == S_UNSUPP)
		b->stats.unsupported++;
	if (!blk_hold(b, r, status))
		req_push(b, r, status);
}

/*
 * inject=delay@MS, delayrand@MS: request r (in io_uring now) also waits
 * for a timeout; it completes when both have ended.
 */
static void blk_delay(struct virtio_blk *b, struct blk_req *r)
{
	const struct blk_inject *in = &b->cfg.inject;
	unsigned int ms = in->delay_ms;

	if (!in->on || !ms || r->type == T_GET_ID ||
	    !virtio_fault_queue(&in->irq, r->q->idx))
		return;
	if (in->delay_rand)
		ms = (unsigned int)(inject_rand(&b->rng) % (ms + 1ULL));
	r->delay_op.r = r;
	r->delay_op.len = 0;
	if (!blk_timer(r->q, &r->delay_op, &r->delay_ts, ms * 1000ULL))
		return;
	r->pending++;
	virtio_injected(&b->vdev, (int)r->q->idx, "request %llu (type %u): "
			"completion delayed %u ms (%s@%u)",
			(unsigned long long)b->requests, r->type, ms,
			in->delay_rand ? "delayrand" : "delay", in->delay_ms);
}

/* ---- fault injection --------------------------------------------------- */

/* A fault to answer request r with (a status), or -1 for none. */
static int blk_inject(struct virtio_blk *b, struct blk_req *r)
{
	const struct blk_inject *in = &b->cfg.inject;
	struct virtio_dev *d = &b->vdev;
	bool rw = r->type == T_IN || r->type == T_OUT;
	uint64_t last_sector, n;

	if (!virtio_fault_queue(&in->irq, r->q->idx))
		return -1;		/* queue@N: another queue's */
	n = ++b->requests;		/* @N counts this queue's */
	if (!in->on)
		return -1;
	if (in->reset_at == n) {
		virtio_injected(d, (int)r->q->idx, "request %llu: DEVICE_NEEDS_RESET",
				(unsigned long long)n);
		virtio_dev_broken(d);
		return S_IOERR;		/* not pushed: the device is broken */
	}
	if (in->unsupp_at == n) {
		virtio_injected(d, (int)r->q->idx, "request %llu (type %u): UNSUPP",
				(unsigned long long)n, r->type);
		return S_UNSUPP;
	}
	if (in->ioerr_at == n) {
		virtio_injected(d, (int)r->q->idx, "request %llu (type %u): IOERR (the Nth)",
				(unsigned long long)n, r->type);
		return S_IOERR;
	}
	last_sector = r->sector + (r->len ? (r->len - 1) / 512 : 0);
	if (rw && in->last >= in->first && r->sector <= in->last &&
	    last_sector >= in->first) {
		virtio_injected(d, (int)r->q->idx, "request %llu: %s of sectors %llu-%llu: "
				"IOERR (sectors %llu-%llu)",
				(unsigned long long)n,
				r->type == T_IN ? "read" : "write",
				(unsigned long long)r->sector,
				(unsigned long long)last_sector,
				(unsigned long long)in->first,
				(unsigned long long)in->last);
		return S_IOERR;
	}
	if (in->ioerr_pct && inject_rand(&b->rng) % 100 < in->ioerr_pct) {
		virtio_injected(d, (int)r->q->idx, "request %llu (type %u): IOERR (%u%%, "
				"seed %llu)", (unsigned long long)n, r->type,
				in->ioerr_pct, (unsigned long long)in->seed);
		return S_IOERR;
	}
	return -1;
}

/*
 * size_max, once negotiated, is a promise: no data segment is larger
 * (virtio 1.2, 5.2.6.1). One that is gets an error, not gigabytes of work.
 */
static bool within_size_max(struct virtio_blk *b, const struct blk_req *r)
{
	unsigned int i;

	if (!negotiated(b, VIRTIO_BLK_F_SIZE_MAX))
		return true;
	for (i = 0; i < r->niov; i++) {
		if (r->iov[i].iov_len <= BLK_SIZE_MAX)
			continue;
		b->stats.too_large++;
		virtio_violation(&b->vdev, VIOL_REQUEST_LAYOUT, (int)r->q->idx,
				 "a data segment of %zu bytes, over the "
				 "size_max of %u the device offered",
				 r->iov[i].iov_len, BLK_SIZE_MAX);
		return false;
	}
	return true;
}

/*
 * The request's layout (5.2.6): the header readable; a read's data and
 * GET_ID's answer writable; the data of everything else readable; the
 * status byte writable and last. Logged only: the request is served (or
 * refused) by its type as before.
 */
static void blk_check_layout(struct virtio_blk *b, const struct blk_req *r)
{
	const struct vq_elem *e = &r->elem;
	bool device_writes = r->type == T_IN || r->type == T_GET_ID;

	if (device_writes ? e->out_len == HDR_LEN : e->in_len == 1)
		return;
	virtio_violation(&b->vdev, VIOL_REQUEST_LAYOUT, (int)r->q->idx,
			 "a request of type %u with %llu readable and %llu "
			 "writable bytes: %s", r->type,
			 (unsigned long long)e->out_len,
			 (unsigned long long)e->in_len,
			 device_writes ? "readable data after the header, "
			 "where the device writes" : "writable data before "
			 "the status byte, where the device reads");
}

static int blk_start_type(struct virtio_blk *b, struct blk_req *r);

static int blk_start(struct virtio_blk *b, struct blk_req *r)
{
	struct vq_elem *e = &r->elem;
	uint8_t hdr[HDR_LEN];
	struct iovec *last;
	int ret;

	/* A header in the readable part and a status byte at the end of the
	 * writable part are the minimum; without them nothing can be said. */
	if (e->out_len < HDR_LEN || e->in_len < 1) {
		b->stats.malformed++;
		virtio_violation(&b->vdev, VIOL_REQUEST_LAYOUT, (int)r->q->idx,
				 "a request of %llu readable and %llu writable "
				 "bytes; it needs a %u-byte readable header "
				 "and a writable status byte",
				 (unsigned long long)e->out_len,
				 (unsigned long long)e->in_len, HDR_LEN);
		return REQ_DROP;
	}
	vq_elem_read(e, 0, hdr, sizeof(hdr));	/* the only read of it */
	r->type = get_le32(hdr);
	blk_check_layout(b, r);
	r->sector = get_le64(hdr + 8);
	last = &e->iov[e->nr_out + e->nr_in - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->used = 1;
	/* Data bytes of a read or write (the rest set their own). */
	r->len = r->type == T_IN ? e->in_len - 1 :
		 r->type == T_OUT ? e->out_len - HDR_LEN : 0;
	ret = blk_inject(b, r);
	if (ret >= 0)
		return ret;
	ret = blk_start_type(b, r);
	if (ret == REQ_SUBMITTED)
		blk_delay(b, r);
	return ret;
}

/* Start request r by its type: a status, or REQ_SUBMITTED, REQ_WAIT. */
static int blk_start_type(struct virtio_blk *b, struct blk_req *r)
{
	struct vq_elem *e = &r->elem;

	switch (r->type) {
	case T_IN:
		req_take_iov(r, true, 0, r->len);
		b->stats.reads++;
		if (!within_size_max(b, r))
			return S_IOERR;
		return start_rw(b, r, false);
	case T_OUT:
		req_take_iov(r, false, HDR_LEN, r->len);
		b->stats.writes++;
		if (!within_size_max(b, r))
			return S_IOERR;
		return start_rw(b, r, true);
	case T_FLUSH:
		b->stats.flushes++;
		return start_flush(b, r);
	case T_GET_ID:
		r->len = e->in_len - 1;
		req_take_iov(r, true, 0, r->len);
		b->stats.get_ids++;
		return start_get_id(b, r);
	case T_DISCARD:
		b->stats.discards++;
		return start_ranges(b, r);
	case T_WRITE_ZEROES:
		b->stats.write_zeroes++;
		return start_ranges(b, r);
	}
	return S_UNSUPP;
}

static bool slow_type(uint32_t type)
{
	return type != T_IN && type != T_OUT;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A running mean over the last few samples. */
static void mean_add(uint64_t *mean, uint64_t sample)
{
	*mean = (uint64_t)((int64_t)*mean +
			   ((int64_t)sample - (int64_t)*mean) / 8);
}

/* Requests from before a reset still in flight on any queue? */
static bool blk_stale(const struct virtio_blk *b)
{
	unsigned int i;

	for (i = 0; i < b->nr_queues; i++)
		if (b->q[i].stale_inflight)
			return true;
	return false;
}

/*
 * What blk_start() said of r: complete it, drop it, or count it in
 * flight. False when it must wait for bounce memory (it is kept).
 */
static bool blk_started(struct blk_queue *q, struct blk_req *r, int ret,
			bool *pushed, bool *submit, uint64_t *t)
{
	struct virtio_blk *b = q->blk;
	struct virtq *vq = &b->vdev.vq[q->idx];

	if (ret == REQ_WAIT) {
		q->waiting = r;
		b->stats.bounce_waits++;
		return false;
	}
	if (ret == REQ_DROP) {
		vq_push(vq, &r->elem, 0);
		req_put(r);
		*pushed = true;
	} else if (ret >= 0) {
		req_complete(b, r, ret);
		*pushed = true;
	} else {
		if (!*t)
			*t = now_ns();
		r->start_ns = *t;
		q->inflight++;
		q->slow_inflight += slow_type(r->type);
		*submit = true;
	}
	return true;
}

/*
 * Start again the request that waited for bounce memory (a read or a
 * write: nothing else waits); false if it must wait on.
 */
static bool blk_restart_waiting(struct blk_queue *q, bool *pushed,
				bool *submit, uint64_t *t)
{
	struct blk_req *r = q->waiting;

	q->waiting = NULL;
	return blk_started(q, r, start_rw(q->blk, r, r->type == T_OUT),
			   pushed, submit, t);
}

/*
 * Fast reads and writes in flight, and nothing slow (see blk_pace_kicks);
 * those from before a reset that was given up on do not count.
 */
static bool blk_fast_inflight(const struct blk_queue *q)
{
	return q->inflight > q->stale_inflight && !q->slow_inflight &&
	       q->service_ns < BLK_HOLD_KICKS_RATIO * q->kick_ns;
}

/* Queue q's owed interrupt goes now, if the device runs. */
static void blk_irq_now(struct blk_queue *q)
{
	struct virtio_blk *b = q->blk;
	uint64_t sent = b->vdev.interrupts;

	/* A paused device owes it still: it goes with the next turn after
	 * the resume's kick. A reset forgets it. */
	if (!virtio_dev_running(&b->vdev))
		return;
	virtio_queue_notify(&b->vdev, q->idx);
	if (q->irq_held && b->vdev.interrupts != sent)
		b->stats.irqs_held++;
	q->irq_owed = false;
	q->irq_held = false;
}

/*
 * Interrupts are exits too, and each costs the guest more than a kick
 * costs vireo. While fast reads and writes are in flight (the kicks are
 * held for the same reason), what was pushed waits for them, so that
 * one interrupt tells the guest of the lot: the hold ends when the last
 * of them completes, when something slow is in flight, or after
 * BLK_IRQ_HOLD_US (a timer), whichever comes first. pushed: queue q's
 * used ring has new entries.
 */
static void blk_notify(struct blk_queue *q, bool pushed)
{
	struct virtio_blk *b = q->blk;

	q->irq_owed |= pushed;
	if (!q->irq_owed)
		return;
	if (blk_fast_inflight(q) && virtio_dev_running(&b->vdev)) {
		q->irq_op.r = NULL;
		if (!q->irq_armed &&
		    blk_timer(q, &q->irq_op, &q->irq_ts, BLK_IRQ_HOLD_US)) {
			q->irq_armed = true;
			blk_submit(q);
		}
		if (q->irq_armed) {
			q->irq_held = true;
			return;
		}
	}
	blk_irq_now(q);
}

/*
 * Start the requests queue q holds (the one waiting for bounce memory
 * first); true if there were any. Work per turn is bounded: a ring's
 * worth of requests and a turn's worth of bytes copied into bounce
 * buffers, the rest on the next turn.
 */
static bool blk_take(struct blk_queue *q)
{
	struct virtio_blk *b = q->blk;
	struct virtio_dev *d = &b->vdev;
	struct virtq *vq = &d->vq[q->idx];
	struct vq_budget budget;
	bool pushed = false, submit = false, took = false;
	uint64_t t = 0;

	vq_budget_init(&budget, vq->size, VQ_TURN_BYTES);
	if (q->waiting) {
		struct blk_req *r = q->waiting;

		if (!blk_restart_waiting(q, &pushed, &submit, &t))
			goto out;
		vq_budget_spend(&budget, r->bounce_len);
		took = true;
	}
	for (;;) {
		struct blk_req *r;
		int ret;

		if (!vq_budget_take(&budget)) {
			/* Requests that fail at once free their slot at once:
			 * bound the work per turn, continue on the next one. */
			virtio_kick_later(d, q->idx);
			break;
		}
		r = req_get(q);
		if (!r)
			break;
		ret = vq_pop(vq, &r->elem);
		if (ret <= 0) {
			req_put(r);
			if (ret < 0)
				virtio_dev_broken(d);
			break;
		}
		took = true;
		q->taken++;
		if (!blk_started(q, r, blk_start(b, r), &pushed, &submit, &t))
			break;
		vq_budget_spend(&budget, r->bounce_len);
	}
out:
	if (submit || io_uring_sq_ready(&q->ring))
		blk_submit(q);
	blk_notify(q, pushed);
	return took;
}

/*
 * Kicks are exits. While reads and writes are in flight, their completions
 * make vireo look at the ring again (blk_done()), so the driver can be
 * asked not to kick for the requests it adds meanwhile; one of them then
 * waits until the next completion. Requests the guest runs side by side
 * are thereby made to take turns, so kicks are held only
 *  - while the disk is fast next to a kick: its reads and writes took less
 *    than BLK_HOLD_KICKS_RATIO times vireo's own work for a kick (which
 *    leaves out the guest's exit and the wakeup, so a full kick costs
 *    more): page cache, not a SATA SSD or a network disk. Both are
 *    measured, as the ratio holds on any host, nested or not;
 *  - while the guest keeps adding: a completion that finds nothing new
 *    asks for kicks again;
 *  - never while a FLUSH, DISCARD or WRITE_ZEROES is in flight.
 * Each queue decides for itself.
 */
static void blk_pace_kicks(struct blk_queue *q, bool took)
{
	struct virtio_blk *b = q->blk;
	struct virtq *vq = &b->vdev.vq[q->idx];

	if (!virtio_dev_running(&b->vdev) || !vq->ready)
		return;
	if (blk_fast_inflight(q) && (took || !vq->kicks_held)) {
		vq_hold_kicks(vq);
		return;
	}
	if (!vq->kicks_held)
		return;
	vq_release_kicks(vq);
	blk_take(q);	/* what came while kicks were held */
}

static void blk_kick(struct virtio_dev *d, unsigned int qi)
{
	struct virtio_blk *b = d->priv;
	struct blk_queue *q;
	uint64_t t0 = now_ns();
	bool took;

	if (qi >= b->nr_queues)
		return;
	q = &b->q[qi];
	took = blk_take(q);
	if (took)
		mean_add(&q->kick_ns, now_ns() - t0);
	blk_pace_kicks(q, took);
}

/*
 * Zeroing without unmapping, on a file system that cannot (tmpfs): punch
 * a hole instead, which reads back as zeroes. True if resubmitted.
 */
static bool retry_as_hole(struct blk_queue *q, struct blk_op *op, int res,
			  bool push)
{
	struct virtio_blk *b = q->blk;
	struct io_uring_sqe *sqe;

	if (res != -EOPNOTSUPP || !(op->mode & FALLOC_FL_ZERO_RANGE) || !push)
		return false;
	b->no_zero_range = true;
	sqe = io_uring_get_sqe(&q->ring);
	if (!sqe)
		return false;
	op->mode = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
	io_uring_prep_fallocate(sqe, b->fd, op->mode, op->off, op->len);
	io_uring_sqe_set_data(sqe, op);
	blk_submit(q);
	return true;
}

/*
 * One finished io_uring operation of queue q, seen at time now; true when
 * its request completed.
 */
static bool blk_cqe(struct blk_queue *q, struct io_uring_cqe *cqe, bool push,
		    uint64_t now)
{
	struct virtio_blk *b = q->blk;
	struct blk_op *op = io_uring_cqe_get_data(cqe);
	struct blk_req *r;
	int res = cqe->res;

	if (!op)
		return false;		/* a reset's cancel request */
	if (op == &q->flush_op) {	/* inject=burst, reorder: time's up */
		q->flush_armed = false;
		return blk_release_held(q, push);
	}
	if (op == &q->irq_op) {		/* an interrupt held long enough */
		q->irq_armed = false;
		if (q->irq_owed && push)
			blk_irq_now(q);
		return false;
	}
	r = op->r;
	if (r->stale)
		push = false;		/* from before a reset: no ring now */
	if (op == &r->delay_op)
		;			/* inject=delay: -ETIME is its end */
	else if (retry_as_hole(q, op, res, push))
		return false;	/* still pending, under its new form */
	else if (res < 0 && !r->error)
		r->error = res;
	else if ((r->type == T_IN || r->type == T_OUT) &&
		 (uint64_t)res != r->len && !r->error)
		r->error = -EIO;	/* short transfer */
	if (--r->pending)
		return false;
	q->inflight--;
	q->slow_inflight -= slow_type(r->type);
	if (r->stale && !--q->stale_inflight && !blk_stale(b))
		virtio_reset_done(&b->vdev);
	if (!push) {
		req_put(r);
		return false;
	}
	if (!r->error && r->type == T_IN) {
		if (r->bounce) {
			uint64_t done = 0;
			unsigned int i;

			for (i = 0; i < r->niov; i++) {
				memcpy(r->iov[i].iov_base,
				       (uint8_t *)r->bounce + done,
				       r->iov[i].iov_len);
				done += r->iov[i].iov_len;
			}
		}
		r->used += (uint32_t)r->len;
		b->stats.bytes_read += r->len;
	} else if (!r->error && r->type == T_OUT) {
		b->stats.bytes_written += r->len;
	}
	if (!slow_type(r->type))
		mean_add(&q->service_ns, now - r->start_ns);
	req_complete(b, r, r->error ? S_IOERR : S_OK);
	return true;
}

static void blk_done(struct ev_handler *h, uint32_t events)
{
	struct blk_queue *q = container_of(h, struct blk_queue, done_h);
	struct virtio_blk *b = q->blk;
	struct io_uring_cqe *cqe;
	uint64_t now;

	(void)events;
	eventfd_drain(h->fd);
	pthread_mutex_lock(&b->vdev.lock);
	b->stats.wakeups++;
	q->wakeups++;
	now = now_ns();
	/* Owed as each completes: a hold's timer among them then sends
	 * the interrupt for all pushed before it. */
	while (io_uring_peek_cqe(&q->ring, &cqe) == 0) {
		if (blk_cqe(q, cqe, true, now))
			q->irq_owed = true;
		io_uring_cqe_seen(&q->ring, cqe);
	}
	/* Requests added without a kick while kicks were held, or one
	 * that waited for bounce memory a completion freed (on any queue:
	 * bounce memory is the disk's). Then the interrupt for what
	 * completed, or its hold if what was just taken is fast. */
	if (virtio_dev_running(&b->vdev)) {
		unsigned int i;

		if (b->vdev.vq[q->idx].kicks_held || q->waiting)
			blk_pace_kicks(q, blk_take(q));
		for (i = 0; i < b->nr_queues; i++)
			if (&b->q[i] != q && b->q[i].waiting)
				blk_take(&b->q[i]);
	}
	blk_notify(q, false);
	pthread_mutex_unlock(&b->vdev.lock);
}

/*
 * Wait for queue q's operations in flight, each wait bounded by secs;
 * until: all (all), or only those from before a reset. Completions go to
 * the guest if push. False when the disk did not answer in time.
 */
static bool blk_wait(struct blk_queue *q, bool all, bool push,
		     unsigned int secs, bool *pushed)
{
	struct io_uring_cqe *cqe;

	while (all ? q->inflight : q->stale_inflight) {
		struct __kernel_timespec ts = { .tv_sec = secs };
		int ret = io_uring_wait_cqe_timeout(&q->ring, &cqe, &ts);

		if (ret == -EINTR)
			continue;
		if (ret)
			return false;
		*pushed |= blk_cqe(q, cqe, push, now_ns());
		io_uring_cqe_seen(&q->ring, cqe);
	}
	return true;
}

/*
 * Going away: wait out what is in flight, nothing reaches the guest. A
 * disk that does not answer within 5 s is left to the kernel (closing
 * the ring ends its operations), so that vireo still exits.
 */
static void blk_drain(struct blk_queue *q)
{
	bool pushed = false;

	if (!blk_wait(q, true, false, 5, &pushed))
		pr_err("blk %s: %u requests still in flight after 5 s; "
		       "leaving them to the kernel", q->blk->cfg.path,
		       q->inflight);
	blk_release_held(q, false);
}

/*
 * Pause: wait for what is in flight and complete it to the guest, so the
 * rings alone hold the disk's state; ask for kicks again.
 */
static void blk_deactivate(struct virtio_dev *d, bool pause)
{
	struct virtio_blk *b = d->priv;
	unsigned int i;

	/* The I/O thread gives the queues back (the core re-wires them). */
	for (i = 0; b->cfg.iothread && i < b->nr_queues; i++)
		iothread_drop_queue(&b->iq[i]);
	if (!pause)
		return;
	for (i = 0; i < b->nr_queues; i++) {
		struct blk_queue *q = &b->q[i];
		bool pushed = false;

		/* One waiting for bounce memory goes now: the ring must hold
		 * it either done or not taken, and it was taken. */
		if (q->waiting) {
			bool submit = false;
			uint64_t t = 0;

			b->bounce_force = true;
			blk_restart_waiting(q, &pushed, &submit, &t);
			b->bounce_force = false;
		}
		/* Anything still in the submission ring goes first; then
		 * each wait is bounded, so a stuck disk cannot hang the
		 * pause for good. */
		blk_submit(q);
		if (!blk_wait(q, true, true, 10, &pushed))
			pr_err("blk %s: %u requests still in flight after 10 s; "
			       "pausing without them", b->cfg.path, q->inflight);
		pushed |= blk_release_held(q, true);
		/* A held interrupt goes too: a still machine owes none. */
		q->irq_owed |= pushed;
		if (q->irq_owed)
			blk_irq_now(q);
		if (d->vq[q->idx].kicks_held)
			vq_release_kicks(&d->vq[q->idx]);
	}
}

/*
 * DRIVER_OK (or a resume): with iothread=on the queues go to the I/O
 * thread, which then takes their kicks (and their completions, watched
 * there from the start). A queue without a kick fd stays the loop's.
 */
static int blk_activate(struct virtio_dev *d, const struct virtio_activation *a)
{
	struct virtio_blk *b = d->priv;
	unsigned int i;

	for (i = 0; b->cfg.iothread && i < b->nr_queues && i < a->nr_queues; i++)
		if (a->q[i].vq->ready)
			iothread_take_queue(&b->iot, &b->iq[i], d, i,
					    a->q[i].kick_fd);
	return 0;
}

/*
 * Status 0 while requests are in flight: this runs on a vCPU (or the
 * loop) with the device lock held, so it must not wait for the disk.
 * What is in flight is cancelled where io_uring can and marked stale: its
 * completions end it without touching the (gone) rings, and the last one
 * says the reset is done (virtio_reset_done). Until then the driver reads
 * a non-zero status.
 */
static bool blk_reset(struct virtio_dev *d)
{
	struct virtio_blk *b = d->priv;
	bool busy = false;
	unsigned int i, j;

	b->wce = b->cfg.cache != BLK_CACHE_WRITETHROUGH;
	for (i = 0; i < b->nr_queues; i++) {
		struct blk_queue *q = &b->q[i];
		struct io_uring_sqe *sqe;

		if (q->waiting)
			req_put(q->waiting);	/* its ring went with it */
		q->waiting = NULL;
		q->irq_owed = false;	/* the ring it was for is gone */
		q->irq_held = false;
		blk_release_held(q, false);
		if (!q->inflight)
			continue;
		for (j = 0; j < BLK_QUEUE_SIZE; j++)
			if (q->reqs[j].busy)
				q->reqs[j].stale = true;
		q->stale_inflight = q->inflight;
		busy = true;
		sqe = io_uring_get_sqe(&q->ring);
		if (sqe) {
			io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
			io_uring_sqe_set_data(sqe, NULL);
			blk_submit(q);
		}
	}
	b->stats.async_resets += busy;
	return busy;
}

/* The driver re-initialises without waiting: end the stale requests now
 * (bounded: a disk that never answers is left behind, and its late
 * completions are still dropped). */
static void blk_reset_wait(struct virtio_dev *d)
{
	struct virtio_blk *b = d->priv;
	unsigned int i;

	for (i = 0; i < b->nr_queues; i++) {
		bool pushed = false;

		if (!blk_wait(&b->q[i], false, true, 5, &pushed))
			pr_err("blk %s: %u requests from before a reset still "
			       "in flight after 5 s; going on without them",
			       b->cfg.path, b->q[i].stale_inflight);
	}
}

const struct virtio_dev_ops virtio_blk_ops = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.queue_size = BLK_QUEUE_SIZE,
	.config_size = CFG_SIZE,
	.pci_class = 0x018000,		/* mass storage, other */
	.features = BIT(VIRTIO_BLK_F_SIZE_MAX) | BIT(VIRTIO_BLK_F_SEG_MAX) |
		    BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH) |
		    BIT(VIRTIO_BLK_F_CONFIG_WCE) | BIT(VIRTIO_BLK_F_DISCARD) |
		    BIT(VIRTIO_BLK_F_WRITE_ZEROES),
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.deactivate = blk_deactivate,
	.reset = blk_reset,
	.reset_wait = blk_reset_wait,
	.queue_kick = blk_kick,
};

/* ---- setup ------------------------------------------------------------- */

int virtio_blk_lock(struct virtio_blk *b, bool take, char *err, size_t errlen)
{
	const struct blk_config *c = &b->cfg;

	/* What the page cache holds goes to the disk before another
	 * process (maybe on another host) takes it over. */
	if (!take) {
		if (!c->readonly && fdatasync(b->fd) < 0) {
			int ret = -errno;

			errf(err, errlen, "--disk '%s': flushing it before the "
			     "hand-over: %s", c->path, strerror(errno));
			return ret;
		}
		return flock(b->fd, LOCK_UN) < 0 ? -errno : 0;
	}
	if (flock(b->fd, (c->readonly ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0) {
		int ret = -errno;

		errf(err, errlen, "--disk '%s': already in use (locked by "
		     "another process or another --disk)", c->path);
		return ret;
	}
	return 0;
}

static int blk_open(struct virtio_blk *b, char *err, size_t errlen)
{
	const struct blk_config *c = &b->cfg;
	int flags = (c->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	uint64_t size;
	struct stat st;
	int ret;

	if (c->cache == BLK_CACHE_WRITETHROUGH)
		flags |= O_DSYNC;
	if (c->direct)
		flags |= O_DIRECT;
	b->fd = open(c->path, flags);
	if (b->fd < 0) {
		ret = -errno;
		if (errno == EINVAL && c->direct)
			errf(err, errlen, "--disk '%s': direct=on is not "
			     "supported by its file system", c->path);
		else if ((errno == EACCES || errno == EROFS) && !c->readonly)
			errf(err, errlen, "--disk '%s': %s (add readonly=on to "
			     "use it read-only)", c->path, strerror(errno));
		else
			errf(err, errlen, "--disk '%s': %s", c->path,
			     strerror(errno));
		return ret;
	}
	if (fstat(b->fd, &st) < 0) {
		ret = -errno;
		errf(err, errlen, "--disk '%s': %s", c->path, strerror(errno));
		return ret;
	}
	if (S_ISREG(st.st_mode)) {
		b->is_file = true;
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &size) < 0) {
			ret = -errno;
			errf(err, errlen, "--disk '%s': cannot get its size: %s",
			     c->path, strerror(errno));
			return ret;
		}
	} else {
		errf(err, errlen, "--disk '%s': not a regular file or block "
		     "device", c->path);
		return -EINVAL;
	}
	/* Two VMs writing one image would corrupt it. */
	if (!c->unlocked) {
		ret = virtio_blk_lock(b, true, err, errlen);
		if (ret)
			return ret;
	}
	b->capacity = size / SECTOR;
	b->file_capacity = b->capacity;
	if (!b->capacity) {
		errf(err, errlen, "--disk '%s': smaller than one 512-byte sector",
		     c->path);
		return -EINVAL;
	}
	if (size % SECTOR)
		pr_err("--disk '%s': %llu bytes is not a multiple of 512; the "
		       "guest sees %llu sectors and the last %llu bytes are left "
		       "alone", c->path, (unsigned long long)size,
		       (unsigned long long)b->capacity,
		       (unsigned long long)(size % SECTOR));
	return 0;
}

/* Queue q's requests, io_uring and completion eventfd. */
static int blk_queue_init(struct virtio_blk *b, unsigned int idx, char *err,
			  size_t errlen)
{
	/* Completions never overflow: room for every operation the ring's
	 * requests can have in flight (a discard has one per segment). */
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE,
		/* the worst case, inject=delay's and burst's timers, and
		 * the interrupt hold's */
		.cq_entries = BLK_QUEUE_SIZE * BLK_MAX_DISCARD_SEG +
			      BLK_QUEUE_SIZE + 2,
	};
	struct blk_queue *q = &b->q[idx];
	int ret;

	q->blk = b;
	q->idx = idx;
	q->reqs = calloc(BLK_QUEUE_SIZE, sizeof(*q->reqs));
	if (!q->reqs)
		return -ENOMEM;
	ret = io_uring_queue_init_params(BLK_QUEUE_SIZE, &q->ring, &p);
	if (ret) {
		errf(err, errlen, "--disk '%s': cannot set up io_uring: %s "
		     "(vireo's disks need it)", b->cfg.path, strerror(-ret));
		return ret;
	}
	q->ring_ready = true;
	q->done_h.fn = blk_done;
	q->done_h.fd = eventfd_new();
	if (q->done_h.fd < 0)
		return q->done_h.fd;
	ret = io_uring_register_eventfd(&q->ring, q->done_h.fd);
	if (!ret)
		ret = b->cfg.iothread ? ev_add(&b->iot.loop, &q->done_h, EPOLLIN) :
			b->notify.ops->watch(b->notify.ctx, &q->done_h);
	if (ret) {
		errf(err, errlen, "--disk '%s': %s", b->cfg.path, strerror(-ret));
		return ret;
	}
	q->done_watched = true;
	return 0;
}

static void blk_queue_fini(struct virtio_blk *b, struct blk_queue *q)
{
	if (q->ring_ready) {
		pthread_mutex_lock(&b->vdev.lock);
		blk_drain(q);
		pthread_mutex_unlock(&b->vdev.lock);
	}
	if (q->done_watched && !b->cfg.iothread)
		b->notify.ops->unwatch(b->notify.ctx, &q->done_h);
	q->done_watched = false;	/* an I/O thread's loop is gone */
	if (q->ring_ready)
		io_uring_queue_exit(&q->ring);
	q->ring_ready = false;
	if (q->done_h.fd >= 0)
		close(q->done_h.fd);
	q->done_h.fd = -1;
	free(q->reqs);
	q->reqs = NULL;
}

/*
 * inject=capacity@S can shrink the disk, not grow it past its file;
 * queue@N names one of its queues.
 */
static int blk_check_faults(struct virtio_blk *b, const struct blk_inject *in,
			    char *err, size_t errlen)
{
	if (in->irq.one_queue && in->irq.queue >= b->nr_queues) {
		errf(err, errlen, "--disk '%s': inject=queue@%u: the disk has "
		     "%u queue%s (0-%u)", b->cfg.path, in->irq.queue,
		     b->nr_queues, b->nr_queues > 1 ? "s" : "",
		     b->nr_queues - 1);
		return -EINVAL;
	}
	if (in->capacity <= b->file_capacity)
		return 0;
	errf(err, errlen, "--disk '%s': inject=capacity@%llu: the disk has "
	     "%llu sectors; a fault can shrink it, not grow it", b->cfg.path,
	     (unsigned long long)in->capacity,
	     (unsigned long long)b->file_capacity);
	return -EINVAL;
}

/*
 * The rules that change the device rather than a request take effect:
 * capacity (a config change the driver is told of) and the interrupt
 * faults. With d->lock held, or before the device runs.
 */
static int blk_apply_faults(struct virtio_blk *b, char *err, size_t errlen)
{
	const struct blk_inject *in = &b->cfg.inject;
	uint64_t cap = in->capacity ? in->capacity : b->file_capacity;

	if (cap != b->capacity) {
		virtio_injected(&b->vdev, -1, "capacity %llu -> %llu sectors "
				"(capacity@), a config change",
				(unsigned long long)b->capacity,
				(unsigned long long)cap);
		b->capacity = cap;
		virtio_config_changed(&b->vdev);
	}
	return virtio_irq_faults_set(&b->vdev, &in->irq, &b->notify, err,
				     errlen);
}

int virtio_blk_init(struct virtio_blk *b, const struct blk_config *cfg,
		    const struct guest_mem *gm, const struct virtio_opts *opts,
		    const struct vm_notify *notify, char *err, size_t errlen)
{
	unsigned int i;
	int ret;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	for (i = 0; i < BLK_MAX_QUEUES; i++)
		b->q[i].done_h.fd = -1;
	b->cfg = *cfg;
	b->rng = cfg->inject.seed ? cfg->inject.seed : 1;
	b->notify = *notify;
	b->nr_queues = cfg->queues ? MIN(cfg->queues, BLK_MAX_QUEUES) : 1;
	b->ops = virtio_blk_ops;
	b->ops.num_queues = b->nr_queues;
	if (b->nr_queues > 1)
		b->ops.features |= BIT(VIRTIO_BLK_F_MQ);
	virtio_dev_init(&b->vdev, &b->ops, b, gm, opts);
	ret = blk_open(b, err, errlen);
	if (ret)
		return ret;
	/* Instance features: read-only disks say so and cannot discard. */
	if (cfg->readonly)
		b->vdev.offered |= BIT(VIRTIO_BLK_F_RO);
	if (cfg->readonly || !b->is_file)
		b->vdev.offered &= ~(BIT(VIRTIO_BLK_F_DISCARD) |
				     BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	b->wce = cfg->cache != BLK_CACHE_WRITETHROUGH;
	if (cfg->iothread) {
		ret = iothread_start(&b->iot, "blk-io");
		if (ret) {
			errf(err, errlen, "--disk '%s': cannot start its I/O "
			     "thread: %s", cfg->path, strerror(-ret));
			b->cfg.iothread = false;
			return ret;
		}
	}
	for (i = 0; i < b->nr_queues; i++) {
		ret = blk_queue_init(b, i, err, errlen);
		if (ret)
			return ret;
	}
	ret = blk_check_faults(b, &cfg->inject, err, errlen);
	return ret ? ret : blk_apply_faults(b, err, errlen);
}

void virtio_blk_fini(struct virtio_blk *b)
{
	unsigned int i;

	/* Its loop first: nothing runs there while the queues go. */
	if (b->cfg.iothread)
		iothread_stop(&b->iot);
	for (i = 0; i < BLK_MAX_QUEUES; i++)
		if (b->q[i].blk)
			blk_queue_fini(b, &b->q[i]);
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	virtio_irq_faults_free(&b->vdev);
	virtio_dev_destroy(&b->vdev);
}

void virtio_blk_stats_line(struct virtio_blk *b, char *buf, size_t len)
{
	const struct blk_stats *s = &b->stats;
	uint64_t service = 0, kick = 0;
	unsigned int i;
	size_t n;

	for (i = 0; i < b->nr_queues; i++) {
		service += b->q[i].service_ns;
		kick += b->q[i].kick_ns;
	}
	n = (size_t)snprintf(buf, len, "blk %s: %llu reads %llu bytes, %llu "
		 "writes %llu bytes, %llu flushes, %llu discards, %llu "
		 "write-zeroes; %llu I/O errors, %llu unsupported, %llu "
		 "malformed; %llu kicks, %llu interrupts (%llu of them held "
		 "for more completions), %llu completion wakeups; reads and "
		 "writes take %llu us, a kick %llu us",
		 b->cfg.path,
		 (unsigned long long)s->reads,
		 (unsigned long long)s->bytes_read,
		 (unsigned long long)s->writes,
		 (unsigned long long)s->bytes_written,
		 (unsigned long long)s->flushes,
		 (unsigned long long)s->discards,
		 (unsigned long long)s->write_zeroes,
		 (unsigned long long)s->io_errors,
		 (unsigned long long)s->unsupported,
		 (unsigned long long)s->malformed,
		 (unsigned long long)b->vdev.kicks,
		 (unsigned long long)b->vdev.interrupts,
		 (unsigned long long)s->irqs_held,
		 (unsigned long long)s->wakeups,
		 (unsigned long long)(service / b->nr_queues / 1000),
		 (unsigned long long)(kick / b->nr_queues / 1000));
	/* Where the work went: requests and completion wakeups by queue. */
	for (i = 0; b->nr_queues > 1 && i < b->nr_queues && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%llu/%llu",
				      i ? " " : "; by queue (requests/wakeups): ",
				      (unsigned long long)b->q[i].taken,
				      (unsigned long long)b->q[i].wakeups);
	if (b->cfg.iothread && n < len) {
		uint64_t kicks = 0;

		for (i = 0; i < b->nr_queues; i++)
			kicks += b->iq[i].kicks;
		snprintf(buf + n, len - n, "; I/O thread: %llu kicks, %llu ms "
			 "CPU", (unsigned long long)kicks,
			 (unsigned long long)(iothread_cpu_ns(&b->iot) / 1000000));
	}
}

/* ---- the class ----------------------------------------------------------- */

/* inject=RULE[+RULE...]: see struct blk_inject. 1, or -1 with err. */
static int blk_parse_inject(struct blk_inject *in, const char *opt,
			    const char *val, char *err, size_t errlen)
{
	char buf[256], *rule, *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", val) >= (int)sizeof(buf)) {
		errf(err, errlen, "%s: inject= is too long", opt);
		return -1;
	}
	in->first = 1;
	in->last = 0;
	for (rule = strtok_r(buf, "+", &save); rule;
	     rule = strtok_r(NULL, "+", &save)) {
		unsigned long long a = 0, z = 0;
		unsigned int pct = 0;
		int used = 0;

		if (sscanf(rule, "ioerr@%llu%n", &a, &used) == 1 &&
		    !rule[used] && a) {
			in->ioerr_at = a;
		} else if (sscanf(rule, "unsupp@%llu%n", &a, &used) == 1 &&
			   !rule[used] && a) {
			in->unsupp_at = a;
		} else if (sscanf(rule, "reset@%llu%n", &a, &used) == 1 &&
			   !rule[used] && a) {
			in->reset_at = a;
		} else if (sscanf(rule, "ioerr%%%u%n", &pct, &used) == 1 &&
			   !rule[used] && pct >= 1 && pct <= 100) {
			in->ioerr_pct = pct;
		} else if (sscanf(rule, "ioerr:%llu-%llu%n", &a, &z, &used) == 2 &&
			   !rule[used] && a <= z) {
			in->first = a;
			in->last = z;
		} else if (sscanf(rule, "delay@%u%n", &pct, &used) == 1 &&
			   !rule[used] && pct >= 1 && pct <= 10000) {
			in->delay_ms = pct;
			in->delay_rand = false;
		} else if (sscanf(rule, "delayrand@%u%n", &pct, &used) == 1 &&
			   !rule[used] && pct >= 1 && pct <= 10000) {
			in->delay_ms = pct;
			in->delay_rand = true;
		} else if ((sscanf(rule, "reorder@%u%n", &pct, &used) == 1 ||
			    sscanf(rule, "burst@%u%n", &pct, &used) == 1) &&
			   !rule[used] && pct >= 2 && pct <= BLK_QUEUE_SIZE) {
			in->hold = pct;
			in->hold_reverse = rule[0] == 'r';
		} else if (sscanf(rule, "capacity@%llu%n", &a, &used) == 1 &&
			   !rule[used] && a) {
			in->capacity = a;
		} else if (virtio_irq_fault_rule(&in->irq, rule) > 0) {
			;
		} else {
			errf(err, errlen, "%s: inject rule '%s' is not one of "
			     "ioerr@N, ioerr%%P (1-100), ioerr:FIRST-LAST "
			     "(sectors), unsupp@N, reset@N (N from 1), "
			     "delay@MS, delayrand@MS (1-10000), reorder@N, "
			     "burst@N (2-%u), capacity@SECTORS, irqlate@MS "
			     "(1-10000), irqcoalesce@N (2-1024), "
			     "irqspurious@MS, queue@N (only queue N); join "
			     "rules with +",
			     opt, rule, BLK_QUEUE_SIZE);
			return -1;
		}
	}
	in->on = true;
	return 1;
}

static int blk_parse_key(void *cfg, const char *opt, const char *key,
			 const char *val, char *err, size_t errlen)
{
	static const char *const caches[] = { "writeback", "writethrough",
					      "unsafe" };
	struct blk_config *b = cfg;
	int choice;

	if (!strcmp(key, "path"))
		return opt_string(opt, "the path", val, b->path,
				  sizeof(b->path), err, errlen) ? -1 : 1;
	if (!strcmp(key, "readonly"))
		return opt_on_off(opt, val, &b->readonly, err, errlen) ? -1 : 1;
	if (!strcmp(key, "vhost-user"))
		return opt_string(opt, "the socket path", val, b->vhost_user,
				  sizeof(b->vhost_user), err, errlen) ? -1 : 1;
	if (!strcmp(key, "vhost-vdpa"))
		return opt_string(opt, "the vhost-vdpa device", val,
				  b->vhost_vdpa, sizeof(b->vhost_vdpa), err,
				  errlen) ? -1 : 1;
	if (!strcmp(key, "server"))
		return opt_on_off(opt, val, &b->server, err, errlen) ? -1 : 1;
	if (!strcmp(key, "direct"))
		return opt_on_off(opt, val, &b->direct, err, errlen) ? -1 : 1;
	if (!strcmp(key, "inject"))
		return blk_parse_inject(&b->inject, opt, val, err, errlen);
	if (!strcmp(key, "iothread"))
		return opt_on_off(opt, val, &b->iothread, err, errlen) ? -1 : 1;
	if (!strcmp(key, "queues")) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(val, &end, 10);
		if (!*val || *end || errno || v < 1 || v > BLK_MAX_QUEUES) {
			errf(err, errlen, "%s: queues '%s' is not a number from "
			     "1 to %d", opt, val, BLK_MAX_QUEUES);
			return -1;
		}
		b->queues = (unsigned int)v;
		return 1;
	}
	if (!strcmp(key, "seed")) {
		unsigned long long v;
		char *end;

		errno = 0;
		v = strtoull(val, &end, 0);
		if (!*val || *end || errno) {
			errf(err, errlen, "%s: seed '%s' is not a number", opt,
			     val);
			return -1;
		}
		b->inject.seed = v;
		return 1;
	}
	if (!strcmp(key, "serial")) {
		if (strlen(val) > BLK_SERIAL_LEN) {
			errf(err, errlen, "%s '%s' is longer than %d characters",
			     opt, val, BLK_SERIAL_LEN);
			return -1;
		}
		strcpy(b->serial, val);
		return 1;
	}
	if (!strcmp(key, "cache")) {
		if (opt_choice(opt, val, caches, 3, &choice, err, errlen))
			return -1;
		b->cache = (enum blk_cache)choice;
		return 1;
	}
	return 0;
}

static int blk_config_check(const void *cfg, const char *opt, char *err,
			    size_t errlen)
{
	const struct blk_config *b = cfg;

	if (!!b->path[0] + !!b->vhost_user[0] + !!b->vhost_vdpa[0] != 1) {
		errf(err, errlen, "%s: path=FILE is required (or vhost-user="
		     "SOCKET for a disk served by a backend, or vhost-vdpa="
		     "/dev/vhost-vdpa-N for a vDPA device; one of the three)",
		     opt);
		return -1;
	}
	if ((b->vhost_user[0] || b->vhost_vdpa[0]) &&
	    (b->direct || b->serial[0] || b->cache != BLK_CACHE_WRITEBACK)) {
		errf(err, errlen, "%s: cache=, direct= and serial= are the %s's "
		     "to choose", opt,
		     b->vhost_user[0] ? "vhost-user backend" : "vDPA device");
		return -1;
	}
	if ((b->vhost_user[0] || b->vhost_vdpa[0]) && b->iothread) {
		errf(err, errlen, "%s: iothread= is for disks vireo serves "
		     "itself (path=FILE)", opt);
		return -1;
	}
	if ((b->vhost_user[0] || b->vhost_vdpa[0]) && b->queues) {
		errf(err, errlen, "%s: queues= is for disks vireo serves itself "
		     "(path=FILE); the %s has its own", opt,
		     b->vhost_user[0] ? "vhost-user backend" : "vDPA device");
		return -1;
	}
	if ((b->vhost_user[0] || b->vhost_vdpa[0]) && b->inject.on) {
		errf(err, errlen, "%s: inject= is for disks vireo serves itself "
		     "(path=FILE)", opt);
		return -1;
	}
	if (b->vhost_vdpa[0] && b->readonly) {
		errf(err, errlen, "%s: readonly= is the vDPA device's to choose "
		     "(export it read-only)", opt);
		return -1;
	}
	if (b->vhost_vdpa[0] && b->server) {
		errf(err, errlen, "%s: server=on is for vhost-user=SOCKET", opt);
		return -1;
	}
	if (b->server && !b->vhost_user[0]) {
		errf(err, errlen, "%s: server=on is for vhost-user=SOCKET", opt);
		return -1;
	}
	return 0;
}

static struct virtio_dev *blk_create(const void *cfg,
				     const struct virtio_opts *opts,
				     const struct vdev_env *env, char *err,
				     size_t errlen)
{
	const struct blk_config *c = cfg;
	struct blk_config uc;
	struct virtio_blk *b;
	int ret;

	if (c->vhost_user[0])
		return blk_vhost_user_create(c, opts, env->gm, &env->notify,
					     env->incoming, env->saved,
					     env->saved_len, err, errlen);
	if (c->vhost_vdpa[0])
		return vdpa_dev_create(c->vhost_vdpa, &blk_vdpa_spec, opts,
				       env->gm, &env->notify, NULL, err, errlen);
	b = calloc(1, sizeof(*b));
	if (!b) {
		errf(err, errlen, "--disk: out of memory");
		return NULL;
	}
	uc = *c;
	/* A migration target's disk is locked at the switch, by lock(). */
	uc.unlocked = c->unlocked || env->incoming;
	/* Default: a queue per vCPU, so that no two vCPUs share one. */
	if (!uc.queues)
		uc.queues = MAX(1U, MIN(env->nr_cpus, BLK_DEFAULT_QUEUES));
	ret = virtio_blk_init(b, &uc, env->gm, opts, &env->notify, err, errlen);
	if (ret) {
		virtio_blk_fini(b);
		free(b);
		return NULL;
	}
	return &b->vdev;
}

static void blk_destroy(struct virtio_dev *d)
{
	struct virtio_blk *b = d->priv;

	if (blk_vhost_user_is(d)) {
		blk_vhost_user_destroy(d);
		return;
	}
	if (vdpa_dev_is(d)) {
		vdpa_dev_destroy(d);
		return;
	}
	virtio_blk_fini(b);
	free(b);
}

static void blk_stats(struct virtio_dev *d, char *buf, size_t len)
{
	if (blk_vhost_user_is(d))
		blk_vhost_user_stats(d, buf, len);
	else if (vdpa_dev_is(d))
		vdpa_dev_stats(d, buf, len);
	else
		virtio_blk_stats_line(d->priv, buf, len);
}

/* The write-cache switch is the only state beyond the rings. */
static size_t blk_save(struct virtio_dev *d, uint8_t *buf, size_t max)
{
	if (blk_vhost_user_is(d))
		return blk_vhost_user_save(d, buf, max);
	if (vdpa_dev_is(d) || max < 1)
		return 0;
	buf[0] = ((struct virtio_blk *)d->priv)->wce;
	return 1;
}

static int blk_restore(struct virtio_dev *d, const uint8_t *buf, size_t len,
		       char *err, size_t errlen)
{
	if (blk_vhost_user_is(d))
		return blk_vhost_user_restore(d, buf, len, err, errlen);
	if (vdpa_dev_is(d))
		return 0;
	if (len != 1 || buf[0] > 1) {
		errf(err, errlen, "blk: a saved state of %zu bytes, want 1", len);
		return -EINVAL;
	}
	((struct virtio_blk *)d->priv)->wce = buf[0];
	return 0;
}

/* PUT /faults/ID: new inject= rules from the next request on. */
static int blk_set_faults(struct virtio_dev *d, const char *spec,
			  uint64_t seed, char *err, size_t errlen)
{
	struct blk_inject in = { 0 };
	struct virtio_blk *b = d->priv;

	if (blk_vhost_user_is(d) || vdpa_dev_is(d)) {
		errf(err, errlen, "blk: fault injection is for disks vireo "
		     "serves itself (path=FILE)");
		return -1;
	}
	if (spec[0] && blk_parse_inject(&in, "faults", spec, err, errlen) < 0)
		return -1;
	if (blk_check_faults(b, &in, err, errlen))
		return -1;
	in.seed = seed ? seed : b->cfg.inject.seed;
	b->cfg.inject = in;
	if (seed)
		b->rng = seed;
	b->requests = 0;		/* @N counts from now */
	return blk_apply_faults(b, err, errlen) ? -1 : 0;
}

static int blk_lock(struct virtio_dev *d, bool take, char *err, size_t errlen)
{
	if (blk_vhost_user_is(d))
		return blk_vhost_user_lock(d, take, err, errlen);
	if (vdpa_dev_is(d))
		return 0;
	return virtio_blk_lock(d->priv, take, err, errlen);
}

/* vireo's own disk writes guest memory where vireo tracks it. */
static int blk_dirty_log(struct virtio_dev *d, uint64_t *log, char *err,
			 size_t errlen)
{
	if (blk_vhost_user_is(d))
		return blk_vhost_user_log(d, log, err, errlen);
	if (vdpa_dev_is(d) && log) {
		errf(err, errlen, "a vDPA device's writes to guest memory "
		     "cannot be followed");
		return -ENOTSUP;
	}
	return 0;
}

static const char *blk_cannot_move(struct virtio_dev *d, bool local)
{
	return blk_vhost_user_is(d) ? blk_vhost_user_cannot_move(d, local) :
				      NULL;
}

const struct vdev_class virtio_blk_class = {
	.name = "blk",
	.option = "disk",
	.keys = "path, vhost-user, server, vhost-vdpa, readonly, serial, cache, "
		"direct, queues, iothread, inject, seed",
	.config_size = sizeof(struct blk_config),
	.parse_key = blk_parse_key,
	.config_check = blk_config_check,
	.create = blk_create,
	.set_faults = blk_set_faults,
	.destroy = blk_destroy,
	.stats_line = blk_stats,
	.save = blk_save,
	.restore = blk_restore,
	.lock = blk_lock,
	.dirty_log = blk_dirty_log,
	.cannot_move = blk_cannot_move,
	.cannot_pause = vdpa_dev_cannot_pause,
};
