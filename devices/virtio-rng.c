// SPDX-License-Identifier: GPL-2.0
#include "virtio-rng.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "../vmm/util.h"
#include "../vmm/sandbox.h"

#define VIRTIO_ID_RNG 4

/*
 * Fill the writable part of e with random bytes. Returns the count, 0 if
 * the host pool is not initialised yet (EAGAIN) before anything was read.
 */
static uint32_t rng_fill(const struct vq_elem *e)
{
	uint64_t want = MIN(e->in_len, (uint64_t)RNG_MAX_REQUEST);
	uint32_t done = 0;
	unsigned int i;

	for (i = e->nr_out; i < e->nr_out + e->nr_in && done < want; i++) {
		uint8_t *p = e->iov[i].iov_base;
		size_t len = MIN(e->iov[i].iov_len, want - done), got = 0;

		while (got < len) {
			ssize_t n = getrandom(p + got, len - got, GRND_NONBLOCK);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return done + (uint32_t)got;
			got += (size_t)n;
		}
		done += (uint32_t)got;
	}
	return done;
}

/*
 * One process-wide waiter blocks until the host's pool is ready, then
 * wakes the devices registered with it. It holds no device pointer of its
 * own: a device that goes away (restart) unregisters first.
 */
static pthread_mutex_t waiter_lock = PTHREAD_MUTEX_INITIALIZER;
static struct virtio_rng *waiting[RNG_MAX_WAITING];
static bool waiter_running;

static void *entropy_waiter(void *arg)
{
	unsigned int i;
	uint8_t b;

	(void)arg;
	while (getrandom(&b, 1, 0) < 0 && errno == EINTR)
		;
	sandbox_thread(SB_WORKER);
	pthread_mutex_lock(&waiter_lock);
	for (i = 0; i < RNG_MAX_WAITING; i++) {
		if (waiting[i])
			eventfd_signal(waiting[i]->ready_h.fd);
		waiting[i] = NULL;
	}
	waiter_running = false;
	pthread_mutex_unlock(&waiter_lock);
	return NULL;
}

static void wait_for_entropy(struct virtio_rng *r)
{
	pthread_attr_t attr;
	pthread_t t;
	unsigned int i, free_slot = RNG_MAX_WAITING;

	pthread_mutex_lock(&waiter_lock);
	for (i = 0; i < RNG_MAX_WAITING; i++) {
		if (waiting[i] == r)
			goto out;
		if (!waiting[i] && free_slot == RNG_MAX_WAITING)
			free_slot = i;
	}
	if (free_slot == RNG_MAX_WAITING)
		goto out;
	waiting[free_slot] = r;
	if (!waiter_running) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (!pthread_create(&t, &attr, entropy_waiter, NULL))
			waiter_running = true;
		pthread_attr_destroy(&attr);
	}
out:
	pthread_mutex_unlock(&waiter_lock);
}

static void stop_waiting(struct virtio_rng *r)
{
	unsigned int i;

	pthread_mutex_lock(&waiter_lock);
	for (i = 0; i < RNG_MAX_WAITING; i++)
		if (waiting[i] == r)
			waiting[i] = NULL;
	pthread_mutex_unlock(&waiter_lock);
}

static void rng_process(struct virtio_rng *r)
{
	struct virtio_dev *d = &r->vdev;
	struct virtq *vq = &d->vq[0];
	struct vq_budget budget;
	bool pushed = false;
	int ret = 1;

	vq_budget_init(&budget, vq->size, VQ_TURN_BYTES);
	for (;;) {
		uint32_t n;

		if (!vq_budget_take(&budget)) {
			/* A turn's worth; the rest on the next one. */
			virtio_kick_later(d, 0);
			break;
		}
		if (!r->elem_pending) {
			ret = vq_pop(vq, &r->elem);
			if (ret <= 0)
				break;
			virtio_check_layout(d, 0, &r->elem, VQ_DEVICE_WRITES);
			r->elem_pending = true;
		}
		n = r->elem.in_len ? rng_fill(&r->elem) : 0;
		if (r->elem.in_len && !n) {
			/* No entropy yet: keep the request until there is. */
			wait_for_entropy(r);
			break;
		}
		vq_budget_spend(&budget, n);
		vq_push(vq, &r->elem, n);
		r->elem_pending = false;
		pushed = true;
		r->requests++;
		r->bytes += n;
	}
	if (ret < 0) {
		virtio_dev_broken(d);
		return;
	}
	if (pushed)
		virtio_queue_notify(d, 0);
}

static void rng_kick(struct virtio_dev *d, unsigned int q)
{
	(void)q;
	rng_process(d->priv);
}

static bool rng_reset(struct virtio_dev *d)
{
	struct virtio_rng *r = d->priv;

	r->elem_pending = false;	/* the ring is gone with the reset */
	return false;
}

static void rng_ready(struct ev_handler *h, uint32_t events)
{
	struct virtio_rng *r = container_of(h, struct virtio_rng, ready_h);

	(void)events;
	eventfd_drain(h->fd);
	virtio_kick(&r->vdev, 0);
}

/* Pause: the buffer waiting for entropy goes back to the ring. */
static void rng_deactivate(struct virtio_dev *d, bool pause)
{
	struct virtio_rng *r = d->priv;

	if (pause && r->elem_pending) {
		vq_unpop(&d->vq[0], &r->elem);
		r->elem_pending = false;
		stop_waiting(r);
	}
}

const struct virtio_dev_ops virtio_rng_ops = {
	.name = "rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_size = 256,
	.config_size = 0,
	.pci_class = 0xff0000,		/* unclassified device */
	.features = 0,
	.deactivate = rng_deactivate,
	.reset = rng_reset,
	.queue_kick = rng_kick,
};

int virtio_rng_init(struct virtio_rng *r, const struct guest_mem *gm,
		    const struct virtio_opts *opts,
		    const struct vm_notify *notify)
{
	int ret;

	memset(r, 0, sizeof(*r));
	virtio_dev_init(&r->vdev, &virtio_rng_ops, r, gm, opts);
	r->notify = *notify;
	r->ready_h.fd = -1;
	r->ready_h.fn = rng_ready;
	r->ready_h.fd = eventfd_new();
	if (r->ready_h.fd < 0)
		return r->ready_h.fd;
	ret = notify->ops->watch(notify->ctx, &r->ready_h);
	if (ret)
		return ret;
	r->ready_watched = true;
	return 0;
}

void virtio_rng_fini(struct virtio_rng *r)
{
	if (r->ready_watched)
		r->notify.ops->unwatch(r->notify.ctx, &r->ready_h);
	r->ready_watched = false;
	stop_waiting(r);
	if (r->ready_h.fd >= 0)
		close(r->ready_h.fd);
	r->ready_h.fd = -1;
	virtio_dev_destroy(&r->vdev);
}

static struct virtio_dev *rng_create(const void *cfg,
				     const struct virtio_opts *opts,
				     const struct vdev_env *env, char *err,
				     size_t errlen)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));
	int ret;

	(void)cfg;
	if (!r) {
		errf(err, errlen, "rng: out of memory");
		return NULL;
	}
	ret = virtio_rng_init(r, env->gm, opts, &env->notify);
	if (ret) {
		errf(err, errlen, "cannot set up the rng device: %s",
		     strerror(-ret));
		virtio_rng_fini(r);
		free(r);
		return NULL;
	}
	return &r->vdev;
}

static void rng_destroy(struct virtio_dev *d)
{
	struct virtio_rng *r = d->priv;

	virtio_rng_fini(r);
	free(r);
}

static int rng_parse_key(void *cfg, const char *opt, const char *key,
			 const char *val, char *err, size_t errlen)
{
	(void)cfg; (void)opt; (void)key; (void)val; (void)err; (void)errlen;
	return 0;	/* no keys of its own */
}

const struct vdev_class virtio_rng_class = {
	.name = "rng",
	.keys = "",
	.parse_key = rng_parse_key,
	.create = rng_create,
	.destroy = rng_destroy,
};
