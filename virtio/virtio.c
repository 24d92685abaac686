// SPDX-License-Identifier: GPL-2.0
#include "virtio.h"

#include <errno.h>
#include <string.h>

#include "../vmm/util.h"

void virtio_dev_init(struct virtio_dev *d, const struct virtio_dev_ops *ops,
		     void *priv, const struct guest_mem *gm,
		     const struct virtio_opts *opts)
{
	unsigned int i;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->ops = ops;
	d->priv = priv;
	d->gm = gm;
	d->modern = opts->transport != VIRTIO_MMIO_LEGACY;
	d->offered = ops->features & ~opts->no_features;
	if (!opts->no_event_idx)
		d->offered |= 1ULL << VIRTIO_F_EVENT_IDX;
	if (!opts->no_indirect)
		d->offered |= 1ULL << VIRTIO_F_INDIRECT_DESC;
	if (d->modern) {
		d->offered |= 1ULL << VIRTIO_F_VERSION_1;
		if (opts->packed)
			d->offered |= 1ULL << VIRTIO_F_RING_PACKED;
	}
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		d->vq[i].max_size = i < ops->num_queues ? ops->queue_size : 0;
		vq_reset(&d->vq[i]);
	}
}

void virtio_dev_destroy(struct virtio_dev *d)
{
	pthread_mutex_destroy(&d->lock);
}

uint32_t virtio_device_features(const struct virtio_dev *d, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(d->offered >> (32 * sel)) : 0;
}

uint32_t virtio_driver_features(const struct virtio_dev *d, uint32_t sel)
{
	return sel < 2 ? (uint32_t)(d->acked >> (32 * sel)) : 0;
}

void virtio_set_driver_features(struct virtio_dev *d, uint32_t sel,
				uint32_t val)
{
	uint64_t mask;

	if (sel > 1)
		return;
	if (d->status & (VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK)) {
		virtio_violation(d, VIOL_FEATURES_AFTER_FEATURES_OK, -1,
				 "driver features[%u] = %#x written with status "
				 "%#x", sel, val, d->status);
		return;
	}
	mask = 0xffffffffULL << (32 * sel);
	d->acked = (d->acked & ~mask) | ((uint64_t)val << (32 * sel));
}

/*
 * Stop the queues and take back those served outside vireo; pause: for a
 * pause or snapshot (a broken device is left as it is).
 */
static void virtio_deactivate(struct virtio_dev *d, bool pause)
{
	unsigned int q;

	if ((d->status & VIRTIO_STATUS_DRIVER_OK) && d->ops->deactivate &&
	    !(pause && d->broken))
		d->ops->deactivate(d, pause);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (!(d->external & (1U << q)))
			continue;
		d->external &= ~(1U << q);
		if (d->tops && d->tops->queue_external)
			d->tops->queue_external(d->transport, q, false);
	}
}

static void virtio_reset(struct virtio_dev *d)
{
	uint8_t old = d->status;
	unsigned int i;

	virtio_deactivate(d, false);
	if (d->resetting && d->ops->reset_wait)
		d->ops->reset_wait(d);		/* a reset over a reset */
	d->resetting = false;
	if (d->ops->reset && d->ops->reset(d)) {
		d->resetting = true;
		d->reset_status = old ? old : VIRTIO_STATUS_ACKNOWLEDGE;
	}
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vq_reset(&d->vq[i]);
	d->status = 0;
	d->acked = 0;
	d->broken = false;
	d->quiesced = false;
}

static bool features_ok(const struct virtio_dev *d)
{
	if (d->acked & ~d->offered)
		return false;
	if (d->modern && !(d->acked & (1ULL << VIRTIO_F_VERSION_1)))
		return false;
	return true;
}

/* Why FEATURES_OK (or a legacy DRIVER_OK) is refused: the driver's doing. */
static void features_violation(struct virtio_dev *d)
{
	if (d->acked & ~d->offered)
		virtio_violation(d, VIOL_UNOFFERED_FEATURES, -1,
				 "acked %#llx, offered %#llx: %#llx not offered; "
				 "FEATURES_OK refused",
				 (unsigned long long)d->acked,
				 (unsigned long long)d->offered,
				 (unsigned long long)(d->acked & ~d->offered));
	else if (d->modern && !(d->acked & (1ULL << VIRTIO_F_VERSION_1)))
		virtio_violation(d, VIOL_NO_VERSION_1, -1,
				 "acked %#llx without VERSION_1 on a modern "
				 "device: FEATURES_OK refused",
				 (unsigned long long)d->acked);
}

static void build_activation(struct virtio_dev *d, struct virtio_activation *a)
{
	unsigned int q;

	memset(a, 0, sizeof(*a));
	a->gm = d->gm;
	a->features = d->acked;
	a->nr_queues = d->ops->num_queues;
	for (q = 0; q < a->nr_queues; q++) {
		a->q[q].vq = &d->vq[q];
		a->q[q].kick_fd = a->q[q].call_fd = -1;
		if (d->tops && d->tops->queue_fds)
			d->tops->queue_fds(d->transport, q, &a->q[q].kick_fd,
					   &a->q[q].call_fd);
	}
}

void virtio_queue_set_external(struct virtio_dev *d, unsigned int q)
{
	if (q >= d->ops->num_queues || (d->external & (1U << q)))
		return;
	d->external |= 1U << q;
	if (d->tops && d->tops->queue_external)
		d->tops->queue_external(d->transport, q, true);
}

void virtio_queue_set_internal(struct virtio_dev *d, unsigned int q)
{
	if (q >= d->ops->num_queues || !(d->external & (1U << q)))
		return;
	d->external &= ~(1U << q);
	if (d->tops && d->tops->queue_external)
		d->tops->queue_external(d->transport, q, false);
}

uint8_t virtio_read_status(const struct virtio_dev *d)
{
	return d->resetting ? d->reset_status : d->status;
}

void virtio_reset_done(struct virtio_dev *d)
{
	d->resetting = false;
}

void virtio_set_status(struct virtio_dev *d, uint8_t val)
{
	uint8_t old, added;
	unsigned int i;

	if (val == 0) {
		virtio_reset(d);
		return;
	}
	if (d->resetting) {
		/* Initialising again before status read 0: end it now. */
		if (d->ops->reset_wait)
			d->ops->reset_wait(d);
		d->resetting = false;
	}
	old = d->status;
	/* The device owns NEEDS_RESET; the driver cannot clear bits. */
	val = (uint8_t)((val & ~VIRTIO_STATUS_NEEDS_RESET) |
			(old & VIRTIO_STATUS_NEEDS_RESET));
	if ((old & ~val) != 0) {
		virtio_violation(d, VIOL_STATUS_CLEARED, -1, "status %#x written "
				 "over %#x without a reset", val, old);
		return;
	}
	added = val & ~old;
	if ((added & VIRTIO_STATUS_FEATURES_OK) && !features_ok(d)) {
		features_violation(d);
		val &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((added & VIRTIO_STATUS_DRIVER_OK) && d->modern &&
	    !(val & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_violation(d, VIOL_DRIVER_OK_NO_FEATURES_OK, -1,
				 "status %#x: DRIVER_OK without FEATURES_OK "
				 "(ignored)", val);
		val &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	}
	/* Legacy drivers never say FEATURES_OK: check at DRIVER_OK. */
	if ((val & added & VIRTIO_STATUS_DRIVER_OK) && !features_ok(d)) {
		features_violation(d);
		val &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	}
	d->status = val;
	if (!(val & added & VIRTIO_STATUS_DRIVER_OK))
		return;
	if (d->ops->activate) {
		struct virtio_activation a;

		build_activation(d, &a);
		if (d->ops->activate(d, &a) < 0) {
			virtio_dev_broken(d);
			return;
		}
	}
	/*
	 * Drivers may post (and kick) before DRIVER_OK (Linux's virtio-rng
	 * does in probe); a kick seen before now was dropped: look again.
	 */
	for (i = 0; i < d->ops->num_queues; i++)
		if (d->vq[i].ready && d->ops->queue_kick &&
		    virtio_dev_running(d) && !(d->external & (1U << i)))
			d->ops->queue_kick(d, i);
}

bool virtio_queue_reg(struct virtio_dev *d, unsigned int q, const char *reg,
		      uint32_t val)
{
	if (virtio_queue_writable(d, q))
		return true;
	if (q >= d->ops->num_queues)
		virtio_violation(d, VIOL_QUEUE_WRITE_LIVE, (int)q, "%s = %#x "
				 "written for queue %u; the device has %u", reg,
				 val, q, d->ops->num_queues);
	else
		virtio_violation(d, VIOL_QUEUE_WRITE_LIVE, (int)q, "%s = %#x "
				 "written while the queue is %s (ignored)", reg,
				 val, d->vq[q].ready ? "enabled" : "live");
	return false;
}

bool virtio_queue_writable(const struct virtio_dev *d, unsigned int q)
{
	return q < d->ops->num_queues && !d->vq[q].ready &&
	       !(d->status & VIRTIO_STATUS_DRIVER_OK);
}

bool virtio_queue_enable(struct virtio_dev *d, unsigned int q)
{
	if (!virtio_queue_writable(d, q))
		return q < d->ops->num_queues && d->vq[q].ready;
	/* Modern drivers set queues up after FEATURES_OK. */
	if (d->modern && !(d->status & VIRTIO_STATUS_FEATURES_OK))
		return false;
	/* Legacy has no FEATURES_OK: unoffered bits must not take effect. */
	if (d->acked & ~d->offered)
		return false;
	return vq_enable(&d->vq[q], d->gm, d->acked & d->offered) == 0;
}

void virtio_config_access(struct virtio_dev *d, uint64_t off, uint8_t *buf,
			  uint32_t len, bool write)
{
	if (off > d->ops->config_size || len > d->ops->config_size - off) {
		virtio_violation(d, VIOL_CONFIG_RANGE, -1, "config %s of %u "
				 "bytes at %#llx; the device's config has %u",
				 write ? "write" : "read", len,
				 (unsigned long long)off, d->ops->config_size);
		if (!write)
			memset(buf, 0, len);
		return;
	}
	if (write) {
		if (d->ops->config_write)
			d->ops->config_write(d, (uint32_t)off, buf, len);
	} else if (d->ops->config_read) {
		d->ops->config_read(d, (uint32_t)off, buf, len);
	} else {
		memset(buf, 0, len);
	}
}

bool virtio_dev_running(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) && !d->broken &&
	       !d->quiesced;
}

/* ---- pause, snapshot, restore -------------------------------------------- */

void virtio_dev_quiesce(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	if (!d->quiesced) {
		virtio_deactivate(d, true);
		d->quiesced = true;
	}
	pthread_mutex_unlock(&d->lock);
}

void virtio_dev_unquiesce(struct virtio_dev *d)
{
	struct virtio_activation a;
	unsigned int q;

	pthread_mutex_lock(&d->lock);
	if (d->quiesced) {
		d->quiesced = false;
		if ((d->status & VIRTIO_STATUS_DRIVER_OK) && !d->broken &&
		    d->ops->activate) {
			build_activation(d, &a);
			a.resume = true;
			if (d->ops->activate(d, &a) < 0)
				virtio_dev_broken(d);
		}
		/* Whatever the driver added meanwhile. */
		for (q = 0; q < d->ops->num_queues; q++)
			if (d->vq[q].ready && d->ops->queue_kick &&
			    virtio_dev_running(d) && !(d->external & (1U << q)))
				d->ops->queue_kick(d, q);
	}
	pthread_mutex_unlock(&d->lock);
}

void virtio_dev_save(struct virtio_dev *d, struct virtio_state *s)
{
	unsigned int q;

	pthread_mutex_lock(&d->lock);
	memset(s, 0, sizeof(*s));
	s->status = d->status;
	s->config_gen = d->config_gen;
	s->broken = d->broken;
	s->nr_queues = (uint8_t)d->ops->num_queues;
	s->offered = d->offered;
	s->acked = d->acked;
	for (q = 0; q < d->ops->num_queues; q++)
		vq_save(&d->vq[q], &s->q[q]);
	pthread_mutex_unlock(&d->lock);
}

int virtio_dev_restore(struct virtio_dev *d, const struct virtio_state *s,
		       char *err, size_t errlen)
{
	const uint8_t known = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			      VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK |
			      VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED;
	unsigned int q;
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	if (s->nr_queues != d->ops->num_queues) {
		errf(err, errlen, "%s: %u queues saved, the device has %u",
		     d->ops->name, s->nr_queues, d->ops->num_queues);
		ret = -EINVAL;
		goto out;
	}
	if (s->acked & ~d->offered) {
		errf(err, errlen, "%s: the saved driver features %#llx include "
		     "some the device does not offer (%#llx)", d->ops->name,
		     (unsigned long long)s->acked,
		     (unsigned long long)d->offered);
		ret = -EINVAL;
		goto out;
	}
	if (s->status & ~known) {
		errf(err, errlen, "%s: status %#x has unknown bits", d->ops->name,
		     s->status);
		ret = -EINVAL;
		goto out;
	}
	d->acked = s->acked;
	d->status = s->status;
	d->config_gen = s->config_gen;
	d->broken = s->broken || (s->status & VIRTIO_STATUS_NEEDS_RESET);
	for (q = 0; q < d->ops->num_queues && !ret; q++) {
		if (vq_restore(&d->vq[q], d->gm, d->acked & d->offered, &s->q[q])) {
			errf(err, errlen, "%s: queue %u: its ring (size %u at "
			     "%#llx) is not valid in this guest's memory",
			     d->ops->name, q, s->q[q].size,
			     (unsigned long long)s->q[q].desc_gpa);
			ret = -EINVAL;
		}
	}
	d->quiesced = true;
out:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void virtio_kick(struct virtio_dev *d, unsigned int q)
{
	pthread_mutex_lock(&d->lock);
	if (q < d->ops->num_queues && d->vq[q].ready && virtio_dev_running(d) &&
	    d->ops->queue_kick && !(d->external & (1U << q))) {
		d->kicks++;
		d->ops->queue_kick(d, q);
	}
	pthread_mutex_unlock(&d->lock);
}

void virtio_kick_handed(struct virtio_dev *d, unsigned int q)
{
	pthread_mutex_lock(&d->lock);
	if (q < d->ops->num_queues && d->vq[q].ready && virtio_dev_running(d) &&
	    d->ops->queue_kick) {
		d->kicks++;
		d->ops->queue_kick(d, q);
	}
	pthread_mutex_unlock(&d->lock);
}

void virtio_kick_later(struct virtio_dev *d, unsigned int q)
{
	if (d->tops && d->tops->kick_later)
		d->tops->kick_later(d->transport, q);
}

void virtio_queue_notify(struct virtio_dev *d, unsigned int q)
{
	if (!virtio_dev_running(d) || !vq_should_notify(&d->vq[q]))
		return;
	d->interrupts++;
	if (d->tops)
		d->tops->interrupt(d->transport, (int)q);
}

void virtio_dev_broken(struct virtio_dev *d)
{
	unsigned int q;

	if (d->broken)
		return;
	d->broken = true;
	/* What the descriptor walker found wrong is the driver's doing. */
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct virtq *vq = &d->vq[q];

		if (!vq->bad)
			continue;
		virtio_violation(d, (enum viol_kind)vq->bad, (int)q,
				 "queue %u of size %u%s: the device needs a reset",
				 q, vq->size, vq->packed ? " (packed)" : "");
		vq->bad = 0;
	}
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	if ((d->status & VIRTIO_STATUS_DRIVER_OK) && d->tops)
		d->tops->interrupt(d->transport, VIRTIO_CONFIG_IRQ);
}

void virtio_config_changed(struct virtio_dev *d)
{
	d->config_gen++;
	if ((d->status & VIRTIO_STATUS_DRIVER_OK) && d->tops)
		d->tops->interrupt(d->transport, VIRTIO_CONFIG_IRQ);
}
