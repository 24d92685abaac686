// SPDX-License-Identifier: GPL-2.0
#include "vdpa-dev.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../vmm/loop.h"
#include "../vmm/util.h"
#include "../vmm/sandbox.h"

#define VDPA_QUEUE_SIZE		256	/* what the guest gets at most */

static void vd_config_read(struct virtio_dev *d, uint32_t off, uint8_t *buf,
			   uint32_t len)
{
	struct vdpa_dev *v = d->priv;

	memcpy(buf, v->config + off, len);
}

static void vd_config_write(struct virtio_dev *d, uint32_t off,
			    const uint8_t *buf, uint32_t len)
{
	struct vdpa_dev *v = d->priv;
	const struct vdpa_dev_spec *s = v->spec;

	if (off < s->writable_off || off + len > s->writable_off + s->writable_len)
		return;
	if (vhost_vdpa_set_config(&v->vp, off, buf, len) == 0)
		memcpy(v->config + off, buf, len);
}

/* The device failed a step: the guest's device needs a reset. */
static void vd_fail(struct vdpa_dev *v, const char *step, int ret)
{
	pr_err("%s %s: %s: %s; the device needs a reset", v->ops.name,
	       v->vp.path, step, ret == -ERANGE ? "guest RAM lies outside the "
	       "I/O addresses the device can reach" : strerror(-ret));
	v->failures++;
	vhost_vdpa_reset(&v->vp);
	v->started = false;
}

/* ---- a device that stops answering ---------------------------------------- */

static void watch_arm(struct vdpa_dev *v, unsigned int ms)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (v->watch_h.fd >= 0)
		timerfd_settime(v->watch_h.fd, 0, &its, NULL);
}

static void watch_stop(struct vdpa_dev *v)
{
	unsigned int q;

	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vq_track_fini(&v->track[q]);
	watch_arm(v, 0);
}

static int watch_start(struct vdpa_dev *v)
{
	unsigned int q;
	int ret;

	for (q = 0; q < v->ops.num_queues; q++) {
		const struct virtq *vq = &v->vdev.vq[q];

		if (!vq->ready || vq->packed)
			continue;	/* packed: not tracked */
		ret = vq_track_init(&v->track[q], vq);
		if (ret)
			return ret;
		v->used_then[q] = v->track[q].used_seen;
	}
	v->stall_ms = 0;
	v->watch_ms = VDPA_TRACK_MIN_MS * 10;
	watch_arm(v, v->watch_ms);
	return 0;
}

static void *reset_main(void *opaque)
{
	struct vdpa_dev *v = opaque;

	sandbox_thread(SB_WORKER);
	/* May wait long: a VDUSE device asks its daemon (gone?) first. */
	vhost_vdpa_reset(&v->vp);
	__atomic_store_n(&v->reset_finished, true, __ATOMIC_RELEASE);
	eventfd_signal(v->gone_h.fd);
	return NULL;
}

/* The reset thread is done, or is waited for now (lock held). */
static void reset_join(struct vdpa_dev *v)
{
	if (v->reset_running)
		pthread_join(v->reset_thread, NULL);
	v->reset_running = false;
}

/*
 * Reset the device on the reset thread (lock held); on_gone follows. One
 * still running (the device went away) is waited for first: each reset
 * the guest asks for is a reset the device does.
 */
static void reset_async(struct vdpa_dev *v)
{
	reset_join(v);
	__atomic_store_n(&v->reset_finished, false, __ATOMIC_RELEASE);
	if (pthread_create(&v->reset_thread, NULL, reset_main, v) == 0)
		v->reset_running = true;
	else
		reset_main(v);
}

static void go_gone(struct vdpa_dev *v, unsigned int waiting)
{
	pr_err("%s %s: no request completed in %u s with %u waiting: the vDPA "
	       "device stopped answering (its daemon gone?); vireo takes its "
	       "queues back and fails what it held", v->ops.name, v->vp.path,
	       v->stall_limit_ms / 1000, waiting);
	v->gone = true;
	v->failures++;
	reset_async(v);
}

static void on_watch(struct ev_handler *h, uint32_t events)
{
	struct vdpa_dev *v = container_of(h, struct vdpa_dev, watch_h);
	unsigned int q, moved = 0, smallest = VQ_MAX_SIZE, waiting = 0;
	bool progress = false;
	uint64_t n;

	(void)events;
	if (read(h->fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&v->vdev.lock);
	if (!v->started || v->gone) {
		pthread_mutex_unlock(&v->vdev.lock);
		return;
	}
	for (q = 0; q < v->ops.num_queues; q++) {
		struct vq_track *t = &v->track[q];

		if (!t->out)
			continue;
		moved = MAX(moved, vq_track_scan(t, &v->vdev.vq[q]));
		smallest = MIN(smallest, (unsigned int)t->size);
		waiting += (uint16_t)(t->avail_seen - t->used_seen);
		if (t->used_seen != v->used_then[q])
			progress = true;
		v->used_then[q] = t->used_seen;
	}
	if (progress || !waiting)
		v->stall_ms = 0;
	else
		v->stall_ms += v->watch_ms;
	if (moved > smallest / 4)
		v->watch_ms = MAX(v->watch_ms / 2, (unsigned int)VDPA_TRACK_MIN_MS);
	else if (!moved)
		v->watch_ms = MIN(v->watch_ms * 2, (unsigned int)VDPA_TRACK_MAX_MS);
	if (v->stall_ms >= v->stall_limit_ms)
		go_gone(v, waiting);
	else
		watch_arm(v, v->watch_ms);
	pthread_mutex_unlock(&v->vdev.lock);
}

/* Complete a request vireo cannot serve: the class's failure status. */
static void fail_request(struct vdpa_dev *v, unsigned int q)
{
	struct vq_elem *e = &v->elem;
	uint32_t written = 0;

	if (v->spec->fail_status >= 0 && e->nr_in) {
		const struct iovec *last = &e->iov[e->nr_out + e->nr_in - 1];

		((uint8_t *)last->iov_base)[last->iov_len - 1] =
			(uint8_t)v->spec->fail_status;
		written = 1;
	}
	vq_push(&v->vdev.vq[q], e, written);
	v->failed++;
}

/* The device is reset: fail what it held, serve the queues here. */
static void on_gone(struct ev_handler *h, uint32_t events)
{
	struct vdpa_dev *v = container_of(h, struct vdpa_dev, gone_h);
	struct virtio_dev *d = &v->vdev;
	uint64_t before;
	unsigned int q;
	int n;

	(void)events;
	eventfd_drain(h->fd);
	pthread_mutex_lock(&d->lock);
	if (v->reset_running &&
	    !__atomic_load_n(&v->reset_finished, __ATOMIC_ACQUIRE)) {
		/* A wakeup from a thread already joined: the next one's
		 * own comes when it is done. */
		pthread_mutex_unlock(&d->lock);
		return;
	}
	reset_join(v);
	if (v->stopping) {
		/* A driver reset: the device has done it. */
		v->stopping = false;
		virtio_reset_done(d);
	}
	if (!v->gone || !v->started) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	v->started = false;
	before = v->failed;
	for (q = 0; q < v->ops.num_queues; q++) {
		if (!d->vq[q].ready)
			continue;
		n = vhost_fail_in_flight(d, q, &v->track[q], &v->elem,
					 v->spec->fail_status);
		if (n < 0) {
			pr_err("%s %s: what queue %u held could not be told "
			       "apart; the device needs a reset", v->ops.name,
			       v->vp.path, q);
			virtio_dev_broken(d);
		} else {
			v->failed += (uint64_t)n;
		}
		virtio_queue_set_internal(d, q);
	}
	watch_stop(v);
	pr_err("%s %s: %llu requests it held failed%s; new ones fail until the "
	       "guest resets the device", v->ops.name, v->vp.path,
	       (unsigned long long)(v->failed - before),
	       v->spec->fail_status >= 0 ? " with an I/O error" : "");
	/* What came meanwhile. */
	for (q = 0; q < v->ops.num_queues; q++)
		if (d->vq[q].ready && virtio_dev_running(d))
			d->ops->queue_kick(d, q);
	pthread_mutex_unlock(&d->lock);
}

/* Only after the device went away: every request fails. */
static void vd_queue_kick(struct virtio_dev *d, unsigned int q)
{
	struct vdpa_dev *v = d->priv;
	struct virtq *vq = &d->vq[q];
	bool pushed = false;
	int ret;

	if (!v->gone || v->started)
		return;
	while ((ret = vq_pop(vq, &v->elem)) > 0) {
		fail_request(v, q);
		pushed = true;
	}
	if (ret < 0)
		virtio_dev_broken(d);
	if (pushed)
		virtio_queue_notify(d, q);
}

static int vd_activate(struct virtio_dev *d, const struct virtio_activation *a)
{
	struct vdpa_dev *v = d->priv;
	struct vhost *h = &v->vp.v;
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		     VIRTIO_STATUS_FEATURES_OK;
	char why[256];
	unsigned int q;
	int ret;

	for (q = 0; q < a->nr_queues; q++) {
		if (a->q[q].vq->ready && a->q[q].kick_fd < 0) {
			pr_err("%s %s: queue %u has no notification eventfd "
			       "(the vDPA device needs one)", v->ops.name,
			       v->vp.path, q);
			return -ENOTSUP;
		}
	}
	reset_join(v);		/* the device's last reset is done */
	vhost_vdpa_reset(&v->vp);
	ret = h->ops->set_features(h, a->features);
	if (ret) {
		vd_fail(v, "the device refused the features the driver chose "
			"(FEATURES_OK)", ret);
		return ret;
	}
	ret = h->ops->set_mem_table(h, a->gm);
	if (ret) {
		vd_fail(v, "mapping guest memory into its IOTLB", ret);
		return ret;
	}
	ret = vhost_rings_start(h, a, 0, a->nr_queues, 0, NULL, why,
				sizeof(why));
	if (ret) {
		pr_err("%s", why);
		vd_fail(v, "setting up its rings", ret);
		return ret;
	}
	/* A reset forgets it (VDUSE does): set it again for this run. */
	ret = vhost_vdpa_set_config_call(&v->vp, v->config_h.fd);
	if (ret)
		pr_err("%s %s: config change notification: %s (changes of its "
		       "config will not reach the guest)", v->ops.name,
		       v->vp.path, strerror(-ret));
	ret = vhost_vdpa_set_status(&v->vp, st | VIRTIO_STATUS_DRIVER_OK);
	if (ret) {
		vd_fail(v, "DRIVER_OK", ret);
		return ret;
	}
	v->started = true;
	v->gone = false;
	if (watch_start(v))
		pr_err("%s %s: out of memory for in-flight tracking: a device "
		       "that stops answering will not be noticed", v->ops.name,
		       v->vp.path);
	for (q = 0; q < a->nr_queues; q++)
		if (a->q[q].vq->ready)
			virtio_queue_set_external(d, q);
	return 0;
}

static void vd_deactivate(struct virtio_dev *d, bool pause)
{
	struct vdpa_dev *v = d->priv;

	watch_stop(v);
	/* Gone: the reset thread resets it; the guest waits for that. */
	if (v->gone) {
		v->stopping = v->reset_running;
		v->started = false;
		return;
	}
	if (!v->started)
		return;
	/*
	 * A pause keeps the rings' state: suspended first (the device
	 * completes or keeps what it took), their bases read back, then
	 * reset; the resume starts the device again from those bases.
	 * Pausing is refused where the device cannot suspend.
	 */
	if (pause) {
		vhost_vdpa_suspend(&v->vp);
		vhost_rings_stop(&v->vp.v, d, 0, d->ops->num_queues, 0);
		vhost_vdpa_reset(&v->vp);
	} else {
		/*
		 * A driver reset keeps nothing; the device's reset may take
		 * long (VDUSE asks its daemon), so it runs on the reset
		 * thread and the guest reads status 0 once it is done.
		 */
		v->stopping = true;
		reset_async(v);
	}
	v->started = false;
}

static bool vd_reset(struct virtio_dev *d)
{
	struct vdpa_dev *v = d->priv;

	return v->stopping;
}

static void vd_reset_wait(struct virtio_dev *d)
{
	struct vdpa_dev *v = d->priv;

	reset_join(v);
	v->stopping = false;
}

static void on_config(struct ev_handler *h, uint32_t events)
{
	struct vdpa_dev *v = container_of(h, struct vdpa_dev, config_h);
	uint8_t cfg[VDPA_CONFIG_MAX], st = 0;

	(void)events;
	eventfd_drain(h->fd);
	pthread_mutex_lock(&v->vdev.lock);
	/* A device that gave up says so in its status, with this interrupt. */
	if (v->started && vhost_vdpa_get_status(&v->vp, &st) == 0 &&
	    (st & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))) {
		pr_err("%s %s: the vDPA device set %s in its status; the device "
		       "needs a reset", v->ops.name, v->vp.path,
		       st & VIRTIO_STATUS_FAILED ? "FAILED" : "NEEDS_RESET");
		v->failures++;
		virtio_dev_broken(&v->vdev);
	}
	if (vhost_vdpa_get_config(&v->vp, 0, cfg, v->spec->config_size) == 0 &&
	    memcmp(cfg, v->config, v->spec->config_size)) {
		memcpy(v->config, cfg, v->spec->config_size);
		v->config_changes++;
		virtio_config_changed(&v->vdev);
	}
	pthread_mutex_unlock(&v->vdev.lock);
}

bool vdpa_dev_is(const struct virtio_dev *d)
{
	return d->ops->activate == vd_activate;
}

const char *vdpa_dev_cannot_pause(struct virtio_dev *d)
{
	struct vdpa_dev *v = d->priv;

	if (!vdpa_dev_is(d) || vhost_vdpa_can_suspend(&v->vp))
		return NULL;
	return "its vDPA device cannot suspend its rings (no "
	       "VHOST_BACKEND_F_SUSPEND), so its state cannot be kept";
}

void vdpa_dev_destroy(struct virtio_dev *d)
{
	struct vdpa_dev *v = d->priv;

	reset_join(v);
	watch_stop(v);
	if (v->config_watched)
		v->notify.ops->unwatch(v->notify.ctx, &v->config_h);
	if (v->watch_watched)
		v->notify.ops->unwatch(v->notify.ctx, &v->watch_h);
	if (v->gone_watched)
		v->notify.ops->unwatch(v->notify.ctx, &v->gone_h);
	vhost_vdpa_close(&v->vp);
	if (v->config_h.fd >= 0)
		close(v->config_h.fd);
	if (v->watch_h.fd >= 0)
		close(v->watch_h.fd);
	if (v->gone_h.fd >= 0)
		close(v->gone_h.fd);
	virtio_dev_destroy(&v->vdev);
	free(v);
}

struct virtio_dev *vdpa_dev_create(const char *path,
				   const struct vdpa_dev_spec *spec,
				   const struct virtio_opts *opts,
				   const struct guest_mem *gm,
				   const struct vm_notify *notify,
				   const struct vdpa_io *io, char *err,
				   size_t errlen)
{
	struct vdpa_dev *v = calloc(1, sizeof(*v));
	char kind[48];
	uint16_t nq;
	unsigned int q;
	int ret;

	if (!v) {
		errf(err, errlen, "--%s: out of memory", spec->what);
		return NULL;
	}
	v->spec = spec;
	v->notify = *notify;
	v->config_h.fd = v->watch_h.fd = v->gone_h.fd = -1;
	v->stall_limit_ms = VDPA_STALL_MS;
	v->ops.name = spec->what;
	if (vhost_vdpa_open(&v->vp, path, io, err, errlen)) {
		free(v);
		return NULL;
	}
	v->ops.name = !strcmp(spec->what, "disk") ? "blk" : spec->what;
	v->ops.device_id = spec->device_id;
	v->ops.config_size = spec->config_size;
	v->ops.features = spec->features & v->vp.features;
	v->ops.config_read = vd_config_read;
	v->ops.config_write = vd_config_write;
	v->ops.activate = vd_activate;
	v->ops.deactivate = vd_deactivate;
	v->ops.reset = vd_reset;
	v->ops.reset_wait = vd_reset_wait;
	v->ops.queue_kick = vd_queue_kick;
	v->ops.pci_class = spec->device_id == 2 ? 0x018000 : 0x020000;
	virtio_dev_init(&v->vdev, &v->ops, v, gm, opts);
	if (v->vp.device_id != spec->device_id) {
		errf(err, errlen, "%s is %s, not a %s", path,
		     vhost_vdpa_kind(v->vp.device_id, kind, sizeof(kind)),
		     spec->what);
		goto fail;
	}
	if (!(v->vp.features & (1ULL << VIRTIO_F_VERSION_1))) {
		errf(err, errlen, "%s: the vDPA device does not offer "
		     "VIRTIO_F_VERSION_1 (vhost-vdpa needs a modern device)",
		     path);
		goto fail;
	}
	if (v->vp.config_size < spec->config_size) {
		errf(err, errlen, "%s: its config space is %u bytes, a %s's "
		     "needs %u", path, v->vp.config_size, spec->what,
		     spec->config_size);
		goto fail;
	}
	ret = vhost_vdpa_get_config(&v->vp, 0, v->config, spec->config_size);
	if (ret) {
		errf(err, errlen, "%s: reading its config space: %s", path,
		     strerror(-ret));
		goto fail;
	}
	nq = spec->queues(v->config, v->vp.features, v->vp.nr_vqs);
	nq = (uint16_t)MAX(1, MIN(nq, MIN(v->vp.nr_vqs,
					  (uint32_t)VIRTIO_MAX_QUEUES)));
	v->ops.num_queues = nq;
	v->ops.queue_size = (uint16_t)MIN(v->vp.vring_max, VDPA_QUEUE_SIZE);
	for (q = 0; q < nq; q++)
		v->vdev.vq[q].max_size = v->ops.queue_size;
	/* Ring features too: only what the device itself does. */
	v->vdev.offered &= (spec->features | VHOST_RING_FEATURES) & v->vp.features;
	v->config_h.fn = on_config;
	v->config_h.fd = eventfd_new();
	if (v->config_h.fd < 0 ||
	    notify->ops->watch(notify->ctx, &v->config_h)) {
		errf(err, errlen, "--%s vhost-vdpa=%s: config eventfd: %s",
		     spec->what, path, strerror(errno));
		goto fail;
	}
	v->config_watched = true;
	v->watch_h.fn = on_watch;
	v->watch_h.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->watch_h.fd < 0 || notify->ops->watch(notify->ctx, &v->watch_h)) {
		errf(err, errlen, "--%s vhost-vdpa=%s: timer: %s", spec->what,
		     path, strerror(errno));
		goto fail;
	}
	v->watch_watched = true;
	v->gone_h.fn = on_gone;
	v->gone_h.fd = eventfd_new();
	if (v->gone_h.fd < 0 || notify->ops->watch(notify->ctx, &v->gone_h)) {
		errf(err, errlen, "--%s vhost-vdpa=%s: eventfd: %s", spec->what,
		     path, strerror(errno));
		goto fail;
	}
	v->gone_watched = true;
	ret = vhost_vdpa_set_config_call(&v->vp, v->config_h.fd);
	if (ret)
		pr_err("%s %s: config change notification: %s (changes of its "
		       "config will not reach the guest)", spec->what, path,
		       strerror(-ret));
	return &v->vdev;
fail:
	vdpa_dev_destroy(&v->vdev);
	return NULL;
}

void vdpa_dev_stats(struct virtio_dev *d, char *buf, size_t len)
{
	struct vdpa_dev *v = d->priv;

	snprintf(buf, len, "%s vhost-vdpa %s: %u queues of %u, %s%s; %llu config "
		 "changes passed on, %llu device failures, %llu requests failed "
		 "by vireo; %llu kicks and %llu interrupts relayed by vireo",
		 v->ops.name, v->vp.path, v->ops.num_queues, v->ops.queue_size,
		 vhost_vdpa_can_suspend(&v->vp) ? "can suspend" :
						   "cannot suspend",
		 v->gone ? ", stopped answering" : "",
		 (unsigned long long)v->config_changes,
		 (unsigned long long)v->failures,
		 (unsigned long long)v->failed,
		 (unsigned long long)d->kicks,
		 (unsigned long long)d->interrupts);
}
