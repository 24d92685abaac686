// SPDX-License-Identifier: GPL-2.0
#include "blk-vhost-user.h"

#include <errno.h>
#include <linux/vhost_types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/util.h"

#define VIRTIO_ID_BLOCK		2
#define BIT(n)			(1ULL << (n))
#define F_SIZE_MAX		1
#define F_SEG_MAX		2
#define F_GEOMETRY		4
#define F_RO			5
#define F_BLK_SIZE		6
#define F_FLUSH			9
#define F_TOPOLOGY		10
#define F_CONFIG_WCE		11
#define F_MQ			12
#define F_DISCARD		13
#define F_WRITE_ZEROES		14
#define S_IOERR			1
#define CFG_WCE			32
#define CFG_NUM_QUEUES		34

/* The blk bits vireo passes between guest and backend. */
#define VBLK_FEATURES \
	(BIT(F_SIZE_MAX) | BIT(F_SEG_MAX) | BIT(F_GEOMETRY) | BIT(F_RO) | \
	 BIT(F_BLK_SIZE) | BIT(F_FLUSH) | BIT(F_TOPOLOGY) | \
	 BIT(F_CONFIG_WCE) | BIT(F_MQ) | BIT(F_DISCARD) | \
	 BIT(F_WRITE_ZEROES) | VHOST_RING_FEATURES)

static void vblk_config_read(struct virtio_dev *d, uint32_t off, uint8_t *buf,
			     uint32_t len)
{
	struct vhost_blk *b = d->priv;

	memcpy(buf, b->config + off, len);
}

static void vblk_config_write(struct virtio_dev *d, uint32_t off,
			      const uint8_t *buf, uint32_t len)
{
	struct vhost_blk *b = d->priv;

	/* The write-cache switch, as in-process disks: the backend's. */
	if (off != CFG_WCE || len != 1 || !(d->acked & BIT(F_CONFIG_WCE)))
		return;
	b->config[CFG_WCE] = buf[0] ? 1 : 0;
	vhost_user_set_config(&b->vu, off, buf, len);
}

/* ---- in-flight requests without the backend's help ----------------------- */

static void track_arm(struct vhost_blk *b, unsigned int ms)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	timerfd_settime(b->track_h.fd, 0, &its, NULL);
}

/* Scan often enough that no ring moves by its size in between. */
static void track_scan(struct vhost_blk *b)
{
	unsigned int q, moved = 0, smallest = VQ_MAX_SIZE;

	for (q = 0; q < b->ops.num_queues; q++) {
		if (!b->track[q].out)
			continue;
		moved = MAX(moved, vq_track_scan(&b->track[q], &b->vdev.vq[q]));
		smallest = MIN(smallest, (unsigned int)b->track[q].size);
	}
	if (moved > smallest / 4)
		b->track_ms = MAX(b->track_ms / 2, (unsigned int)VBLK_TRACK_MIN_MS);
	else if (!moved)
		b->track_ms = MIN(b->track_ms * 2, (unsigned int)VBLK_TRACK_MAX_MS);
}

static void on_track(struct ev_handler *h, uint32_t events)
{
	struct vhost_blk *b = container_of(h, struct vhost_blk, track_h);
	uint64_t v;

	(void)events;
	if (read(h->fd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&b->vdev.lock);
	if (b->started) {
		track_scan(b);
		track_arm(b, b->track_ms);
	}
	pthread_mutex_unlock(&b->vdev.lock);
}

static void track_stop(struct vhost_blk *b)
{
	unsigned int q;

	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vq_track_fini(&b->track[q]);
	if (b->track_h.fd >= 0)
		track_arm(b, 0);
}

static int track_start(struct vhost_blk *b)
{
	unsigned int q;
	int ret;

	for (q = 0; q < b->ops.num_queues; q++) {
		if (!b->vdev.vq[q].ready)
			continue;
		if (b->vdev.vq[q].packed)
			continue;	/* not tracked: a loss needs a reset */
		ret = vq_track_init(&b->track[q], &b->vdev.vq[q]);
		if (ret)
			return ret;
	}
	b->track_ms = VBLK_TRACK_MIN_MS * 10;
	track_arm(b, b->track_ms);
	return 0;
}

/*
 * The backend died with requests in flight it cannot resubmit: complete
 * each with IOERR, so the guest sees the failure instead of waiting for
 * ever. false if they cannot be known.
 */
static bool fail_in_flight(struct vhost_blk *b, unsigned int q)
{
	int n = vhost_fail_in_flight(&b->vdev, q, &b->track[q], &b->elem,
				     S_IOERR);

	if (n < 0)
		return false;
	b->failed += (uint64_t)n;
	return true;
}

/* ---- the backend's rings --------------------------------------------------- */

static bool has_inflight(const struct vhost_blk *b)
{
	return vhost_user_has(&b->vu, VU_PROTOCOL_F_INFLIGHT_SHMFD);
}

static int vblk_start(struct vhost_blk *b, const struct virtio_activation *a)
{
	struct vhost *v = &b->vu.v;
	uint64_t need = a->features & VBLK_FEATURES & ~BIT(F_RO);
	char why[256];
	int ret;

	if (!b->vu.up)
		return -ENOTCONN;
	if (need & ~b->vu.features) {
		snprintf(why, sizeof(why), "the backend lacks features the "
			 "driver uses (%#llx)",
			 (unsigned long long)(need & ~b->vu.features));
		vhost_user_drop(&b->vu, why);
		return -ENOTSUP;
	}
	/* A migration under way: the backend logs what it writes. */
	ret = vhost_start_features(v, b->log, a->features & b->vu.features);
	if (!ret)
		ret = v->ops->set_mem_table(v, a->gm);
	if (!ret && has_inflight(b)) {
		if (b->inflight_fd < 0)
			ret = vhost_user_get_inflight(&b->vu, b->ops.num_queues,
						      a->q[0].vq->size,
						      &b->inflight,
						      &b->inflight_fd);
		if (!ret)
			ret = vhost_user_set_inflight(&b->vu, &b->inflight,
						      b->inflight_fd);
	}
	if (!ret)
		ret = vhost_rings_start(v, a, 0, b->ops.num_queues, 0, NULL, why,
					sizeof(why));
	if (ret)
		return ret;
	b->started = true;
	if (!has_inflight(b) && track_start(b)) {
		vhost_user_drop(&b->vu, "out of memory for in-flight tracking");
		b->started = false;
		return -ENOMEM;
	}
	vhost_queues_handed(&b->vdev, a, 0, b->ops.num_queues);
	return 0;
}

static int vblk_activate(struct virtio_dev *d, const struct virtio_activation *a)
{
	struct vhost_blk *b = d->priv;

	/* A pause's bases still to come are taken first. */
	vhost_user_settle(&b->vu);
	b->pausing = false;
	/* Without a backend, requests wait for one (the rings are kept). */
	if (a)
		vblk_start(b, a);
	return 0;
}

static void vblk_deactivate(struct virtio_dev *d, bool pause)
{
	struct vhost_blk *b = d->priv;

	/*
	 * The backend completes what it took either way. Paused: the bases
	 * are the state to keep, fetched now, or (an API pause) as the
	 * replies come, the pause done when they are in. A reset keeps
	 * nothing: the replies are read on the event loop and the reset is
	 * done when they are in (vblk_settled), the vCPU does not wait.
	 */
	if (b->started && b->vu.up && pause && d->pause_async)
		b->pausing = d->pause_pending =
			vhost_user_stop_async(&b->vu, d, 0, b->ops.num_queues,
					      0, true);
	else if (b->started && b->vu.up && pause)
		vhost_rings_stop(&b->vu.v, d, 0, b->ops.num_queues, 0);
	else if (b->started && b->vu.up)
		b->stopping = vhost_user_stop_async(&b->vu, d, 0,
						    b->ops.num_queues, 0, false);
	b->started = false;
	track_stop(b);
}

static bool vblk_reset(struct virtio_dev *d)
{
	struct vhost_blk *b = d->priv;

	return b->stopping;
}

static void vblk_reset_wait(struct virtio_dev *d)
{
	struct vhost_blk *b = d->priv;

	vhost_user_settle(&b->vu);
	b->stopping = false;
}

static void vblk_pause_wait(struct virtio_dev *d)
{
	struct vhost_blk *b = d->priv;

	vhost_user_settle(&b->vu);
	b->pausing = false;
}

static void vblk_settled(void *opaque)
{
	struct vhost_blk *b = opaque;

	virtio_stop_settled(&b->vdev, &b->stopping, &b->pausing);
}

static void vblk_restart(struct vhost_blk *b)
{
	struct virtio_dev *d = &b->vdev;
	struct virtio_activation a;
	unsigned int q;

	memset(&a, 0, sizeof(a));
	a.gm = d->gm;
	a.features = d->acked;
	a.nr_queues = d->ops->num_queues;
	for (q = 0; q < a.nr_queues; q++) {
		a.q[q].vq = &d->vq[q];
		a.q[q].kick_fd = a.q[q].call_fd = -1;
		if (d->tops && d->tops->queue_fds)
			d->tops->queue_fds(d->transport, q, &a.q[q].kick_fd,
					   &a.q[q].call_fd);
	}
	vblk_start(b, &a);
}

static void vblk_up(void *opaque)
{
	struct vhost_blk *b = opaque;

	if (virtio_dev_running(&b->vdev) && !b->started)
		vblk_restart(b);
}

static void vblk_down(void *opaque)
{
	struct vhost_blk *b = opaque;
	struct virtio_dev *d = &b->vdev;
	unsigned int q;

	if (!b->started)
		return;
	b->started = false;
	for (q = 0; q < b->ops.num_queues; q++) {
		struct virtq *vq = &d->vq[q];

		if (!vq->ready)
			continue;
		if (has_inflight(b)) {
			/* The next backend resubmits from its region. */
			vhost_ring_set_base(vq, vhost_used_idx(vq));
			b->resubmitted_by_backend++;
			continue;
		}
		if (!fail_in_flight(b, q)) {
			pr_err("blk %s: the requests in flight when the backend "
			       "went away could not be told apart; the device "
			       "needs a reset", b->cfg.vhost_user);
			virtio_dev_broken(d);
			break;
		}
		vhost_ring_set_base(vq, vq->last_avail);
	}
	track_stop(b);
}

/* ---- migration --------------------------------------------------------- */

/*
 * What a migration target builds the device from while the backend is
 * still the source's (and a snapshot's restore checks): the backend's
 * features and config as this process negotiated them.
 */
struct vblk_saved {
	uint32_t magic;
	uint32_t nq;
	uint64_t features;
	uint64_t protocol;
	uint32_t queue_num;
	uint8_t config[VBLK_CFG_SIZE];
};

#define VBLK_SAVED_MAGIC	0x31425556u	/* "VUB1" */

static int vblk_backend_fits(struct vhost_blk *b, char *err, size_t errlen);

size_t blk_vhost_user_save(struct virtio_dev *d, uint8_t *buf, size_t max)
{
	struct vhost_blk *b = d->priv;
	struct vblk_saved sv;

	if (max < sizeof(sv))
		return 0;
	memset(&sv, 0, sizeof(sv));
	sv.magic = VBLK_SAVED_MAGIC;
	sv.nq = b->ops.num_queues;
	sv.features = b->vu.features;
	sv.protocol = b->vu.protocol;
	sv.queue_num = b->vu.queue_num;
	memcpy(sv.config, b->config, sizeof(sv.config));
	memcpy(buf, &sv, sizeof(sv));
	return sizeof(sv);
}

static int vblk_saved_parse(struct vblk_saved *sv, const uint8_t *buf,
			    size_t len, char *err, size_t errlen)
{
	if (len != sizeof(*sv)) {
		errf(err, errlen, "blk vhost-user: a saved state of %zu bytes, "
		     "want %zu", len, sizeof(*sv));
		return -EINVAL;
	}
	memcpy(sv, buf, sizeof(*sv));
	if (sv->magic != VBLK_SAVED_MAGIC || !sv->nq ||
	    sv->nq > VIRTIO_MAX_QUEUES) {
		errf(err, errlen, "blk vhost-user: a saved state that is not "
		     "one (magic %#x, %u queues)", sv->magic, sv->nq);
		return -EINVAL;
	}
	return 0;
}

int blk_vhost_user_restore(struct virtio_dev *d, const uint8_t *buf,
			   size_t len, char *err, size_t errlen)
{
	struct vhost_blk *b = d->priv;
	struct vblk_saved sv;

	if (!len)
		return 0;	/* a state from before vireo kept one */
	if (vblk_saved_parse(&sv, buf, len, err, errlen))
		return -EINVAL;
	if (sv.nq != b->ops.num_queues) {
		errf(err, errlen, "blk vhost-user %s: the device had %u queues "
		     "and is now built with %u (the backend changed?)",
		     b->cfg.vhost_user, sv.nq, b->ops.num_queues);
		return -EINVAL;
	}
	/* (the driver's features were restored just before) */
	return b->vu.up ? vblk_backend_fits(b, err, errlen) : 0;
}

int blk_vhost_user_log(struct virtio_dev *d, uint64_t *log, char *err,
		       size_t errlen)
{
	struct vhost_blk *b = d->priv;

	if (log && vhost_user_can_log(&b->vu, err, errlen))
		return -ENOTSUP;
	b->log = log;
	if (!b->started || !b->vu.up)
		return 0;	/* vblk_start() sets it up */
	return vhost_rings_log(&b->vu.v, d, log, d->acked & b->vu.features, 0,
			       b->ops.num_queues, 0, err, errlen);
}

/* Does the (re)connected backend have what the guest's driver uses? */
static int vblk_backend_fits(struct vhost_blk *b, char *err, size_t errlen)
{
	uint64_t need = b->vdev.acked & VBLK_FEATURES & ~BIT(F_RO);

	if (need & ~b->vu.features) {
		errf(err, errlen, "vhost-user %s: the backend now lacks features "
		     "the guest's driver uses (%#llx)", b->cfg.vhost_user,
		     (unsigned long long)(need & ~b->vu.features));
		return -ENOTSUP;
	}
	if (b->ops.num_queues > 1 && b->vu.queue_num &&
	    b->vu.queue_num < b->ops.num_queues) {
		errf(err, errlen, "vhost-user %s: the backend now has %u queues; "
		     "the device has %u", b->cfg.vhost_user, b->vu.queue_num,
		     b->ops.num_queues);
		return -ENOTSUP;
	}
	return 0;
}

int blk_vhost_user_lock(struct virtio_dev *d, bool take, char *err,
			size_t errlen)
{
	struct vhost_blk *b = d->priv;
	int ret;

	if (!take)
		return vhost_user_hand_over(&b->vu, d, b->ops.num_queues, err,
					    errlen);
	if (!b->vu.parked)
		return 0;
	ret = vhost_user_take_back(&b->vu, err, errlen);
	/* (A target's driver features come with the state: restore.) */
	return ret ? ret : vblk_backend_fits(b, err, errlen);
}

const char *blk_vhost_user_cannot_move(struct virtio_dev *d, bool local)
{
	struct vhost_blk *b = d->priv;

	return vhost_user_cannot_move(b->cfg.server, d->acked, local);
}

static const struct vhost_user_hooks vblk_hooks = {
	.up = vblk_up,
	.down = vblk_down,
	.settled = vblk_settled,
};

static const struct virtio_dev_ops vblk_ops_template = {
	.name = "blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = 1,
	.queue_size = 256,
	.config_size = VBLK_CFG_SIZE,
	.pci_class = 0x018000,		/* mass storage, other */
	.features = VBLK_FEATURES & ~VHOST_RING_FEATURES & ~BIT(F_RO),
	.config_read = vblk_config_read,
	.config_write = vblk_config_write,
	.activate = vblk_activate,
	.deactivate = vblk_deactivate,
	.reset = vblk_reset,
	.reset_wait = vblk_reset_wait,
	.pause_wait = vblk_pause_wait,
};

bool blk_vhost_user_is(const struct virtio_dev *d)
{
	return d->ops->activate == vblk_activate;
}

void blk_vhost_user_destroy(struct virtio_dev *d)
{
	struct vhost_blk *b = d->priv;

	track_stop(b);
	if (b->track_watched)
		b->notify.ops->unwatch(b->notify.ctx, &b->track_h);
	if (b->track_h.fd >= 0)
		close(b->track_h.fd);
	if (b->vu_open)
		vhost_user_fini(&b->vu);
	if (b->inflight_fd >= 0)
		close(b->inflight_fd);
	virtio_dev_destroy(&b->vdev);
	free(b);
}

/* A migration target's device, from the source's state; not connected. */
static int vblk_init_incoming(struct vhost_blk *b, const uint8_t *saved,
			      size_t saved_len, uint64_t want, char *err,
			      size_t errlen)
{
	struct vblk_saved sv;
	int ret;

	if (b->cfg.server) {
		errf(err, errlen, "--disk vhost-user=%s: a migration target "
		     "cannot wait for a backend to connect (server=on)",
		     b->cfg.vhost_user);
		return -ENOTSUP;
	}
	if (!saved_len) {
		errf(err, errlen, "--disk vhost-user=%s: the migration stream "
		     "has no state for it (a source vireo that cannot migrate "
		     "vhost-user disks)", b->cfg.vhost_user);
		return -EINVAL;
	}
	ret = vblk_saved_parse(&sv, saved, saved_len, err, errlen);
	if (ret)
		return ret;
	ret = vhost_user_init_parked(&b->vu, b->cfg.vhost_user, want,
				     &b->notify, &b->vdev.lock, &vblk_hooks, b,
				     err, errlen);
	if (ret)
		return ret;
	b->vu_open = true;
	b->vu.features = sv.features;
	b->vu.protocol = sv.protocol & want;
	b->vu.queue_num = sv.queue_num;
	memcpy(b->config, sv.config, sizeof(b->config));
	return 0;
}

struct virtio_dev *blk_vhost_user_create(const struct blk_config *cfg,
					 const struct virtio_opts *opts,
					 const struct guest_mem *gm,
					 const struct vm_notify *notify,
					 bool incoming, const uint8_t *saved,
					 size_t saved_len, char *err,
					 size_t errlen)
{
	struct vhost_blk *b = calloc(1, sizeof(*b));
	uint64_t want = BIT(VU_PROTOCOL_F_MQ) | BIT(VU_PROTOCOL_F_REPLY_ACK) |
			BIT(VU_PROTOCOL_F_CONFIG) |
			BIT(VU_PROTOCOL_F_INFLIGHT_SHMFD) |
			BIT(VU_PROTOCOL_F_LOG_SHMFD);
	uint16_t nq = 1;
	int ret;

	if (!b) {
		errf(err, errlen, "--disk: out of memory");
		return NULL;
	}
	b->cfg = *cfg;
	b->notify = *notify;
	b->inflight_fd = -1;
	b->ops = vblk_ops_template;
	/* The lock the backend's hooks take must exist first. */
	virtio_dev_init(&b->vdev, &b->ops, b, gm, opts);
	b->track_h.fn = on_track;
	b->track_h.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (b->track_h.fd < 0 || notify->ops->watch(notify->ctx, &b->track_h)) {
		errf(err, errlen, "--disk vhost-user=%s: timer: %s",
		     cfg->vhost_user, strerror(errno));
		goto fail;
	}
	b->track_watched = true;
	if (incoming) {
		if (vblk_init_incoming(b, saved, saved_len, want, err, errlen))
			goto fail;
	} else {
		ret = vhost_user_init(&b->vu, cfg->vhost_user, cfg->server,
				      want, notify, &b->vdev.lock, &vblk_hooks,
				      b, err, errlen);
		if (ret)
			goto fail;
		b->vu_open = true;
	}
	if (!incoming && (!vhost_user_has(&b->vu, VU_PROTOCOL_F_CONFIG) ||
	    vhost_user_get_config(&b->vu, 0, b->config, VBLK_CFG_SIZE))) {
		errf(err, errlen, "--disk vhost-user=%s: the backend does not "
		     "give its disk's configuration (CONFIG protocol feature)",
		     cfg->vhost_user);
		goto fail;
	}
	if (b->vu.features & BIT(F_MQ))
		nq = get_le16(b->config + CFG_NUM_QUEUES);
	if (b->vu.queue_num)
		nq = (uint16_t)MIN(nq, b->vu.queue_num);
	nq = (uint16_t)MAX(1, MIN(nq, (uint16_t)VIRTIO_MAX_QUEUES));
	put_le16(b->config + CFG_NUM_QUEUES, nq);
	b->ops.num_queues = nq;
	for (ret = 0; ret < nq; ret++)
		b->vdev.vq[ret].max_size = b->ops.queue_size;
	b->vdev.offered &= b->vu.features & VBLK_FEATURES;
	if (nq == 1)
		b->vdev.offered &= ~BIT(F_MQ);
	if (cfg->readonly)
		b->vdev.offered |= BIT(F_RO);
	return &b->vdev;
fail:
	blk_vhost_user_destroy(&b->vdev);
	return NULL;
}

/* ---- the same disk from a vDPA device ------------------------------------ */

static uint16_t vdpa_blk_queues(const uint8_t *config, uint64_t features,
				uint32_t nr_vqs)
{
	(void)nr_vqs;
	return features & BIT(F_MQ) ? get_le16(config + CFG_NUM_QUEUES) : 1;
}

const struct vdpa_dev_spec blk_vdpa_spec = {
	.what = "disk",
	.device_id = VIRTIO_ID_BLOCK,
	.features = VBLK_FEATURES & ~VHOST_RING_FEATURES,
	.config_size = VBLK_CFG_SIZE,
	.queues = vdpa_blk_queues,
	.writable_off = CFG_WCE,
	.writable_len = 1,
	.fail_status = S_IOERR,
};

void blk_vhost_user_stats(struct virtio_dev *d, char *buf, size_t len)
{
	struct vhost_blk *b = d->priv;
	char slow[96];

	snprintf(buf, len, "blk vhost-user %s: backend %s, lost %llu times, "
		 "back %llu times; %llu requests in flight at a loss failed "
		 "with IOERR%s; %llu kicks and %llu interrupts relayed by vireo; "
		 "handed to another process %llu times (waiting %llu ms for "
		 "%llu requests the backend had taken)%s",
		 b->cfg.vhost_user, b->vu.parked ? "handed over" :
		 b->vu.up ? "connected" : "gone",
		 (unsigned long long)b->vu.losses,
		 (unsigned long long)b->vu.reconnects,
		 (unsigned long long)b->failed,
		 has_inflight(b) ? " (the backend keeps an inflight region)" :
				   "",
		 (unsigned long long)d->kicks,
		 (unsigned long long)d->interrupts,
		 (unsigned long long)b->vu.handovers,
		 (unsigned long long)b->vu.handover_ms,
		 (unsigned long long)b->vu.handover_waited,
		 vhost_user_slowest(&b->vu, slow, sizeof(slow)));
}
