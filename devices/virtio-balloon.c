// SPDX-License-Identifier: GPL-2.0
#include "virtio-balloon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../vmm/opts.h"
#include "../vmm/util.h"

#define VIRTIO_ID_BALLOON		5
#define VIRTIO_BALLOON_F_STATS_VQ	1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM	2
#define VIRTIO_BALLOON_F_REPORTING	5

#define PAGE				((uint64_t)4096)
#define PFN_CHUNK			256
#define STAT_SIZE			10
#define CFG_SIZE			8

#define BIT(n)				(1ULL << (n))

/* ---- inflate / deflate ------------------------------------------------ */

static void release(struct virtio_balloon *b, uint8_t *hva, uint64_t len,
		    uint64_t *counter)
{
	long ret = gm_discard(b->vdev.gm, hva, len);

	if (ret < 0)
		b->count.discard_errors++;
	else
		*counter += (uint64_t)ret;
}

/*
 * Release the pages of an inflate buffer, merging neighbours, from where
 * w stands until done or the budget is spent; true when done.
 */
static bool inflate(struct virtio_balloon *b, struct balloon_work *w,
		    struct vq_budget *budget)
{
	uint8_t buf[PFN_CHUNK * 4];
	uint8_t *run = NULL;
	uint64_t run_len = 0;
	size_t n, i;
	bool done = false;

	while (!vq_budget_spent(budget)) {
		n = vq_elem_read(&w->elem, w->off, buf, sizeof(buf));
		if (n < 4) {
			done = true;
			break;
		}
		for (i = 0; i + 4 <= n; i += 4) {
			uint64_t gpa = (uint64_t)get_le32(buf + i) * PAGE;
			uint8_t *hva = gm_ptr(b->vdev.gm, gpa, PAGE);

			if (!hva) {
				b->count.ignored++;
				continue;
			}
			b->count.inflated++;
			if (run && hva == run + run_len) {
				run_len += PAGE;
				continue;
			}
			if (run)
				release(b, run, run_len, &b->count.released);
			run = hva;
			run_len = PAGE;
		}
		vq_budget_spend(budget, n / 4 * PAGE);
		w->off += n - n % 4;
		if (n < sizeof(buf)) {
			done = true;
			break;
		}
	}
	if (run)
		release(b, run, run_len, &b->count.released);
	return done;
}

static void deflate(struct virtio_balloon *b, const struct vq_elem *e)
{
	/* Nothing to do: a released page reads as zeros when next touched. */
	b->count.deflated += e->out_len / 4;
}

/*
 * Free page reports: each buffer is a free range of guest RAM, released
 * from where w stands within the budget; true when done.
 */
static bool report(struct virtio_balloon *b, struct balloon_work *w,
		   struct vq_budget *budget)
{
	const struct vq_elem *e = &w->elem;

	for (; w->iov < e->nr_out + e->nr_in; w->iov++, w->off = 0) {
		const struct iovec *v = &e->iov[w->iov];
		uint64_t len;

		if (vq_budget_spent(budget))
			return false;
		len = MIN(v->iov_len - w->off, budget->bytes);
		release(b, (uint8_t *)v->iov_base + w->off, len,
			&b->count.reported);
		vq_budget_spend(budget, len);
		w->off += len;
		if (w->off < v->iov_len)
			return false;
	}
	return true;
}

/* ---- statistics ----------------------------------------------------------- */

static void stats_take(struct virtio_balloon *b, const struct vq_elem *e)
{
	uint8_t buf[BALLOON_NR_TAGS * 2 * STAT_SIZE];
	size_t n = vq_elem_read(e, 0, buf, sizeof(buf)), i;

	/* At most 2 * BALLOON_NR_TAGS entries are read: bounded. */
	for (i = 0; i + STAT_SIZE <= n; i += STAT_SIZE) {
		uint16_t tag = get_le16(buf + i);

		if (tag >= BALLOON_NR_TAGS)
			continue;
		b->stats[tag] = get_le64(buf + i + 2);
		b->stats_seen |= 1u << tag;
	}
	b->stats_valid = true;
	b->stats_updates++;
}

/* Hand the held stats buffer back: the driver refills it. */
static void stats_request(struct virtio_balloon *b)
{
	if (!b->stats_held || !virtio_dev_running(&b->vdev))
		return;
	b->stats_held = false;
	vq_push(&b->vdev.vq[b->stats_q], &b->stats_elem, 0);
	virtio_queue_notify(&b->vdev, (unsigned int)b->stats_q);
}

static void on_timer(struct ev_handler *h, uint32_t events)
{
	struct virtio_balloon *b = container_of(h, struct virtio_balloon, timer_h);
	uint64_t ticks;

	(void)events;
	if (read(h->fd, &ticks, sizeof(ticks)) < 0)
		return;
	pthread_mutex_lock(&b->vdev.lock);
	stats_request(b);
	pthread_mutex_unlock(&b->vdev.lock);
}

/* ---- the device ------------------------------------------------------- */

static void balloon_kick(struct virtio_dev *d, unsigned int q)
{
	struct virtio_balloon *b = d->priv;
	struct virtq *vq = &d->vq[q];
	struct vq_budget budget;
	bool pushed = false;
	int ret = 0;

	if ((int)q == b->stats_q) {
		if (b->stats_held)
			return;		/* one buffer in flight at a time */
		ret = vq_pop(vq, &b->stats_elem);
		if (ret > 0) {
			virtio_check_layout(d, q, &b->stats_elem,
					    VQ_DEVICE_READS);
			stats_take(b, &b->stats_elem);
			b->stats_held = true;
		}
		if (ret < 0)
			virtio_dev_broken(d);
		return;
	}
	vq_budget_init(&budget, vq->size, VQ_TURN_DISCARD);
	if (q == 1 || (q != 0 && (int)q != b->report_q)) {
		/* Deflate: nothing to do per buffer but count it. */
		while (vq_budget_take(&budget) &&
		       (ret = vq_pop(vq, &b->elem)) > 0) {
			virtio_check_layout(d, q, &b->elem, VQ_DEVICE_READS);
			if (q == 1)
				deflate(b, &b->elem);
			vq_push(vq, &b->elem, 0);
			pushed = true;
		}
	} else {
		struct balloon_work *w = &b->work[q == 0 ? 0 : 1];

		for (;;) {
			if (!w->pending) {
				if (!vq_budget_take(&budget))
					break;
				ret = vq_pop(vq, &w->elem);
				if (ret <= 0)
					break;
				/* Free page reports come in device-writable
				 * buffers (Linux adds them as in-buffers). */
				virtio_check_layout(d, q, &w->elem,
						    q == 0 ? VQ_DEVICE_READS :
						    VQ_DEVICE_WRITES);
				w->pending = true;
				w->iov = 0;
				w->off = 0;
			}
			if (!(q == 0 ? inflate(b, w, &budget) :
				       report(b, w, &budget)))
				break;		/* the rest on a later turn */
			w->pending = false;
			vq_push(vq, &w->elem, 0);
			pushed = true;
		}
	}
	if (ret < 0) {
		virtio_dev_broken(d);
		return;
	}
	if (pushed)
		virtio_queue_notify(d, q);
	if (vq_budget_spent(&budget))
		virtio_kick_later(d, q);
}

static int balloon_activate(struct virtio_dev *d,
			    const struct virtio_activation *a)
{
	struct virtio_balloon *b = d->priv;
	int next = 2;

	/* Queues exist in order for the features negotiated. */
	b->stats_q = (d->acked & BIT(VIRTIO_BALLOON_F_STATS_VQ)) ? next++ : -1;
	b->report_q = (d->acked & BIT(VIRTIO_BALLOON_F_REPORTING)) ? next++ : -1;
	return 0;
}

/* Pause: the held stats buffer goes back; the driver's is refilled after. */
static void balloon_deactivate(struct virtio_dev *d, bool pause)
{
	struct virtio_balloon *b = d->priv;

	unsigned int i;

	if (pause && b->stats_held && b->stats_q >= 0) {
		vq_unpop(&d->vq[b->stats_q], &b->stats_elem);
		b->stats_held = false;
	}
	/* A buffer half done goes back whole: releasing again is harmless. */
	for (i = 0; pause && i < ARRAY_SIZE(b->work); i++) {
		int q = i == 0 ? 0 : b->report_q;

		if (b->work[i].pending && q >= 0)
			vq_unpop(&d->vq[q], &b->work[i].elem);
		b->work[i].pending = false;
	}
}

static bool balloon_reset(struct virtio_dev *d)
{
	struct virtio_balloon *b = d->priv;

	b->stats_held = false;
	b->work[0].pending = b->work[1].pending = false;
	b->actual = 0;
	return false;
}

static void balloon_config_read(struct virtio_dev *d, uint32_t off,
				uint8_t *buf, uint32_t len)
{
	struct virtio_balloon *b = d->priv;
	uint8_t cfg[CFG_SIZE];

	put_le32(cfg, b->num_pages);
	put_le32(cfg + 4, b->actual);
	memcpy(buf, cfg + off, len);
}

static void balloon_config_write(struct virtio_dev *d, uint32_t off,
				 const uint8_t *buf, uint32_t len)
{
	struct virtio_balloon *b = d->priv;
	uint8_t cfg[CFG_SIZE];

	/* Only "actual" is the driver's to write. */
	put_le32(cfg, b->num_pages);
	put_le32(cfg + 4, b->actual);
	memcpy(cfg + off, buf, len);
	b->actual = get_le32(cfg + 4);
}

static const struct virtio_dev_ops balloon_ops_template = {
	.name = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.queue_size = BALLOON_QUEUE_SIZE,
	.config_size = CFG_SIZE,
	.pci_class = 0x050000,		/* memory controller, RAM */
	.features = BIT(VIRTIO_BALLOON_F_STATS_VQ),
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.activate = balloon_activate,
	.deactivate = balloon_deactivate,
	.reset = balloon_reset,
	.queue_kick = balloon_kick,
};

void virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes)
{
	uint64_t pages = MIN(bytes, b->vdev.gm->ram_size) / PAGE;

	b->num_pages = (uint32_t)pages;
	virtio_config_changed(&b->vdev);
}

void virtio_balloon_report(struct virtio_balloon *b, struct balloon_report *r)
{
	pthread_mutex_lock(&b->vdev.lock);
	memset(r, 0, sizeof(*r));
	r->target_pages = b->num_pages;
	r->actual_pages = b->actual;
	r->seen = b->stats_seen;
	r->updates = b->stats_updates;
	memcpy(r->stat, b->stats, sizeof(r->stat));
	r->count = b->count;
	stats_request(b);		/* fresher values next time */
	pthread_mutex_unlock(&b->vdev.lock);
}

int virtio_balloon_set_period(struct virtio_balloon *b, unsigned int period)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = period },
		.it_value = { .tv_sec = period },
	};

	pthread_mutex_lock(&b->vdev.lock);
	if (b->timer_h.fd < 0) {
		b->timer_h.fd = timerfd_create(CLOCK_MONOTONIC,
					       TFD_NONBLOCK | TFD_CLOEXEC);
		b->timer_h.fn = on_timer;
		if (b->timer_h.fd >= 0 &&
		    !b->notify.ops->watch(b->notify.ctx, &b->timer_h))
			b->timer_watched = true;
	}
	if (b->timer_h.fd < 0 || !b->timer_watched ||
	    timerfd_settime(b->timer_h.fd, 0, &its, NULL)) {
		pthread_mutex_unlock(&b->vdev.lock);
		return -EIO;
	}
	b->cfg.stats_period = period;
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

int virtio_balloon_init(struct virtio_balloon *b,
			const struct balloon_config *cfg,
			const struct guest_mem *gm,
			const struct virtio_opts *opts,
			const struct vm_notify *notify, char *err,
			size_t errlen)
{
	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	b->notify = *notify;
	b->stats_q = b->report_q = -1;
	b->timer_h.fd = -1;
	b->ops = balloon_ops_template;
	b->ops.num_queues = 3;
	if (cfg->deflate_on_oom)
		b->ops.features |= BIT(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	if (cfg->free_page_reporting) {
		b->ops.features |= BIT(VIRTIO_BALLOON_F_REPORTING);
		b->ops.num_queues++;
	}
	virtio_dev_init(&b->vdev, &b->ops, b, gm, opts);
	b->num_pages = (uint32_t)(MIN(cfg->target, gm->ram_size) / PAGE);
	if (cfg->stats_period) {
		struct itimerspec its = {
			.it_interval = { .tv_sec = cfg->stats_period },
			.it_value = { .tv_sec = cfg->stats_period },
		};

		b->timer_h.fd = timerfd_create(CLOCK_MONOTONIC,
					       TFD_NONBLOCK | TFD_CLOEXEC);
		b->timer_h.fn = on_timer;
		if (b->timer_h.fd < 0 ||
		    timerfd_settime(b->timer_h.fd, 0, &its, NULL) ||
		    notify->ops->watch(notify->ctx, &b->timer_h)) {
			errf(err, errlen, "--balloon: stats timer: %s",
			     strerror(errno));
			virtio_balloon_fini(b);
			return -EIO;
		}
		b->timer_watched = true;
	}
	return 0;
}

void virtio_balloon_fini(struct virtio_balloon *b)
{
	if (b->timer_watched)
		b->notify.ops->unwatch(b->notify.ctx, &b->timer_h);
	if (b->timer_h.fd >= 0)
		close(b->timer_h.fd);
	b->timer_watched = false;
	b->timer_h.fd = -1;
	if (b->ops.name)
		virtio_dev_destroy(&b->vdev);
	b->ops.name = NULL;
}

/* ---- the class ----------------------------------------------------------- */

static int balloon_parse_key(void *cfg, const char *opt, const char *key,
			     const char *val, char *err, size_t errlen)
{
	struct balloon_config *b = cfg;
	unsigned long v;

	if (!strcmp(key, "deflate_on_oom"))
		return opt_on_off(opt, val, &b->deflate_on_oom, err, errlen) ?
		       -1 : 1;
	if (!strcmp(key, "free_page_reporting"))
		return opt_on_off(opt, val, &b->free_page_reporting, err,
				  errlen) ? -1 : 1;
	if (!strcmp(key, "stats_period")) {
		if (opt_uint(opt, val, 0, 86400, &v, err, errlen))
			return -1;
		b->stats_period = (unsigned int)v;
		return 1;
	}
	if (!strcmp(key, "target"))
		return opt_size(opt, val, &b->target, err, errlen) ? -1 : 1;
	if (!strcmp(key, "socket")) {
		errf(err, errlen, "the balloon's control socket is gone: serve "
		     "the control API with --api-sock PATH and use 'vireo ctl "
		     "--api-sock PATH balloon SIZE' or 'balloon-stats'");
		return -1;
	}
	return 0;
}

static struct virtio_dev *balloon_create(const void *cfg,
					 const struct virtio_opts *opts,
					 const struct vdev_env *env, char *err,
					 size_t errlen)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));

	if (!b) {
		errf(err, errlen, "--balloon: out of memory");
		return NULL;
	}
	if (virtio_balloon_init(b, cfg, env->gm, opts, &env->notify, err,
				errlen)) {
		free(b);
		return NULL;
	}
	return &b->vdev;
}

static void balloon_destroy(struct virtio_dev *d)
{
	struct virtio_balloon *b = d->priv;

	virtio_balloon_fini(b);
	free(b);
}

/* The target and what the guest says it gave. */
static size_t balloon_save(struct virtio_dev *d, uint8_t *buf, size_t max)
{
	struct virtio_balloon *b = d->priv;

	if (max < 8)
		return 0;
	put_le32(buf, b->num_pages);
	put_le32(buf + 4, b->actual);
	return 8;
}

static int balloon_restore(struct virtio_dev *d, const uint8_t *buf,
			   size_t len, char *err, size_t errlen)
{
	struct virtio_balloon *b = d->priv;

	if (len != 8) {
		errf(err, errlen, "balloon: a saved state of %zu bytes, want 8",
		     len);
		return -EINVAL;
	}
	b->num_pages = get_le32(buf);
	b->actual = get_le32(buf + 4);
	return 0;
}

const struct vdev_class virtio_balloon_class = {
	.name = "balloon",
	.option = "balloon",
	.keys = "deflate_on_oom, free_page_reporting, stats_period, target",
	.once = true,
	.config_size = sizeof(struct balloon_config),
	.parse_key = balloon_parse_key,
	.create = balloon_create,
	.destroy = balloon_destroy,
	.save = balloon_save,
	.restore = balloon_restore,
};
