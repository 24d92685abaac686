// SPDX-License-Identifier: GPL-2.0
#include "vhost.h"

#include <errno.h>
#include <linux/vhost_types.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../vmm/loop.h"
#include "../vmm/util.h"

/*
 * The dirty log of a migration (one per process): in a memfd, so that a
 * vhost-user backend maps the same bitmap (SET_LOG_BASE with its fd).
 */
static struct {
	uint64_t *bits;
	size_t len;
	int fd;
} shared_log = { .fd = -1 };

uint64_t *vhost_log_alloc(size_t words)
{
	size_t len = (words ? words : 1) * 8;
	void *p;
	int fd;

	/* One left behind (a backend might still write it) stays mapped. */
	shared_log.bits = NULL;
	len = (len + 4095) & ~(size_t)4095;
	fd = memfd_create("vireo-dirty-log", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)len)) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	shared_log.bits = p;
	shared_log.len = len;
	shared_log.fd = fd;
	return p;
}

void vhost_log_free(uint64_t *log)
{
	if (!log || log != shared_log.bits)
		return;
	munmap(shared_log.bits, shared_log.len);
	close(shared_log.fd);
	shared_log.bits = NULL;
	shared_log.len = 0;
	shared_log.fd = -1;
}

int vhost_log_fd(const uint64_t *log, uint64_t *len)
{
	if (!log || log != shared_log.bits)
		return -1;
	*len = shared_log.len;
	return shared_log.fd;
}

uint32_t vhost_ring_base(const struct virtq *vq)
{
	if (!vq->packed)
		return vq->last_avail;
	return (uint32_t)(vq->last_avail | (uint32_t)vq->avail_wrap << 15) |
	       (uint32_t)(vq->used_idx | (uint32_t)vq->used_wrap << 15) << 16;
}

uint16_t vhost_used_idx(const struct virtq *vq)
{
	/* struct vring_used: flags, idx, ... */
	return vq->device ? __atomic_load_n((const uint16_t *)vq->device + 1,
					    __ATOMIC_ACQUIRE) : 0;
}

void vhost_ring_set_base(struct virtq *vq, uint32_t base)
{
	vq->inflight = 0;
	memset(vq->busy, 0, sizeof(vq->busy));
	if (!vq->packed) {
		vq->last_avail = (uint16_t)base;
		vq->used_idx = vhost_used_idx(vq);
		return;
	}
	vq->last_avail = base & 0x7fff;
	vq->avail_wrap = base & 0x8000;
	vq->used_idx = (base >> 16) & 0x7fff;
	vq->used_wrap = base & 0x80000000u;
}

static void ring_addr(const struct vhost *v, const struct virtq *vq,
		      struct vhost_ring_addr *addr)
{
	addr->desc = (uint64_t)(uintptr_t)vq->desc;
	addr->avail = (uint64_t)(uintptr_t)vq->driver;
	addr->used = (uint64_t)(uintptr_t)vq->device;
	addr->desc_gpa = vq->desc_gpa;
	addr->avail_gpa = vq->driver_gpa;
	addr->used_gpa = vq->device_gpa;
	addr->log_gpa = vq->device_gpa;
	addr->log = v->log;
}

int vhost_rings_log(struct vhost *v, struct virtio_dev *d, uint64_t *log,
		    uint64_t features, unsigned int first, unsigned int n,
		    unsigned int ring, char *err, size_t errlen)
{
	const struct vhost_ops *ops = v->ops;
	const char *step = "SET_LOG_BASE";
	unsigned int i = 0;
	int ret;

	if (!ops->set_log_base) {
		errf(err, errlen, "%s cannot log what it writes to guest memory",
		     v->name);
		return -ENOTSUP;
	}
	v->log = log != NULL;
	if (log)
		features |= 1ULL << VHOST_F_LOG_ALL;
	/* Logging on: the log first; off: the rings and features first. */
	ret = log ? ops->set_log_base(v, log) : 0;
	if (!ret) {
		step = "SET_FEATURES";
		ret = ops->set_features(v, features);
	}
	for (i = 0; !ret && i < n && first + i < d->ops->num_queues; i++) {
		const struct virtq *vq = &d->vq[first + i];
		struct vhost_ring_addr addr;

		if (!vq->ready)
			continue;
		ring_addr(v, vq, &addr);
		step = "SET_VRING_ADDR";
		ret = ops->set_vring_addr(v, ring + i, &addr);
	}
	if (!ret && !log) {
		step = "SET_LOG_BASE";
		ret = ops->set_log_base(v, NULL);
	}
	if (ret)
		errf(err, errlen, "%s: %s%s: %s", v->name, step,
		     log ? " (starting its dirty log)" : " (stopping its dirty log)",
		     strerror(-ret));
	return ret;
}

int vhost_start_features(struct vhost *v, uint64_t *log, uint64_t features)
{
	int ret;

	v->log = log != NULL;
	ret = log ? v->ops->set_log_base(v, log) : 0;
	return ret ? ret : v->ops->set_features(v, features |
						(log ? 1ULL << VHOST_F_LOG_ALL : 0));
}

void vhost_queues_handed(struct virtio_dev *d,
			 const struct virtio_activation *a, unsigned int first,
			 unsigned int n)
{
	unsigned int q;

	for (q = first; q < first + n; q++) {
		struct virtq *vq = a->q[q].vq;

		virtio_queue_set_external(d, q);
		if (!vq->ready)
			continue;
		eventfd_signal(a->q[q].kick_fd);
		if (a->resume && !vq->packed) {
			vq->used_idx = vhost_used_idx(vq);
			vq->signalled_valid = false;
			virtio_queue_notify(d, q);
		}
	}
}

int vhost_rings_start(struct vhost *v, const struct virtio_activation *a,
		      unsigned int first, unsigned int n, unsigned int ring,
		      const int *err_fds, char *err, size_t errlen)
{
	const struct vhost_ops *ops = v->ops;
	const char *step = "";
	unsigned int i;
	int ret = 0;

	for (i = 0; i < n && first + i < a->nr_queues; i++) {
		const struct virtio_queue_ctx *qc = &a->q[first + i];
		const struct virtq *vq = qc->vq;
		struct vhost_ring_addr addr;
		unsigned int r = ring + i;

		if (!vq->ready)
			continue;
		ring_addr(v, vq, &addr);
		step = "SET_VRING_NUM";
		ret = ops->set_vring_num(v, r, vq->size);
		if (ret)
			break;
		/* The base before the addresses: backends compare the two. */
		step = "SET_VRING_BASE";
		ret = ops->set_vring_base(v, r, vhost_ring_base(vq));
		if (ret)
			break;
		step = "SET_VRING_ADDR";
		ret = ops->set_vring_addr(v, r, &addr);
		if (ret)
			break;
		step = "SET_VRING_KICK";
		ret = ops->set_vring_kick(v, r, qc->kick_fd);
		if (ret)
			break;
		step = "SET_VRING_CALL";
		ret = ops->set_vring_call(v, r, qc->call_fd);
		if (ret)
			break;
		if (err_fds && err_fds[i] >= 0 && ops->set_vring_err) {
			step = "SET_VRING_ERR";
			ret = ops->set_vring_err(v, r, err_fds[i]);
			if (ret)
				break;
		}
		if (ops->set_vring_enable) {
			step = "SET_VRING_ENABLE";
			ret = ops->set_vring_enable(v, r, true);
			if (ret)
				break;
		}
	}
	if (ret)
		errf(err, errlen, "%s: %s of ring %u: %s", v->name, step,
		     ring + i, strerror(-ret));
	return ret;
}

int vhost_rings_stop(struct vhost *v, struct virtio_dev *d, unsigned int first,
		     unsigned int n, unsigned int ring)
{
	unsigned int i;
	int ret = 0;

	for (i = 0; i < n && first + i < d->ops->num_queues; i++) {
		struct virtq *vq = &d->vq[first + i];
		uint32_t base;
		int r;

		if (!vq->ready)
			continue;
		if (v->ops->set_vring_enable)
			v->ops->set_vring_enable(v, ring + i, false);
		r = v->ops->get_vring_base(v, ring + i, &base);
		if (r) {
			/* What the guest has seen used is all that is known. */
			ret = r;
			base = vq->packed ? vhost_ring_base(vq) : vhost_used_idx(vq);
		}
		vhost_ring_set_base(vq, base);
	}
	return ret;
}

int vhost_fail_in_flight(struct virtio_dev *d, unsigned int q,
			 struct vq_track *t, struct vq_elem *elem, int status)
{
	struct virtq *vq = &d->vq[q];
	int failed = 0;
	uint16_t h;

	if (vq->packed || !t->out)
		return -1;
	vq_track_scan(t, vq);
	if (t->lost)
		return -1;
	vq->used_idx = vhost_used_idx(vq);
	for (h = 0; h < t->size; h++) {
		uint32_t written = 0;

		if (!t->out[h])
			continue;
		if (status >= 0 && vq_chain_at(vq, h, elem) == 0 && elem->nr_in) {
			const struct iovec *last = &elem->iov[elem->nr_out +
							      elem->nr_in - 1];

			((uint8_t *)last->iov_base)[last->iov_len - 1] =
				(uint8_t)status;
			written = 1;
		}
		vq_push_id(vq, h, written);
		t->out[h] = 0;
		failed++;
	}
	/* Everything made available before now is answered. */
	vq->last_avail = t->avail_seen;
	if (failed) {
		vq->signalled_valid = false;
		virtio_queue_notify(d, q);
	}
	return failed;
}
