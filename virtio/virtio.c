// SPDX-License-Identifier: GPL-2.0
#include "virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../vmm/irq.h"
#include "../vmm/loop.h"
#include "../vmm/util.h"

/* Interrupt faults (the end of this file). */
struct virtio_irq_state {
	struct virtio_dev *d;
	struct virtio_irq_faults f;
	struct vm_notify notify;
	struct ev_handler hold_h;	/* one-shot: held interrupts go out */
	struct ev_handler spur_h;	/* every spurious_ms */
	bool hold_watched, spur_watched, hold_armed;
	uint32_t pending;		/* queues with an interrupt held */
	unsigned int count[VIRTIO_MAX_QUEUES];	/* coalesced since the last */
};

static void irq_flush(struct virtio_dev *d);
static bool irq_hold(struct virtio_dev *d, unsigned int q);

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

/* A reset: notifications written before it are void (virtio_kick_fd). */
static void drain_kicks(struct virtio_dev *d)
{
	unsigned int q;

	for (q = 0; d->tops && d->tops->queue_fds && q < d->ops->num_queues;
	     q++) {
		int kick = -1, call = -1;

		d->tops->queue_fds(d->transport, q, &kick, &call);
		if (kick >= 0)
			eventfd_drain(kick);
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
	drain_kicks(d);
	if (d->irqf) {
		d->irqf->pending = 0;
		memset(d->irqf->count, 0, sizeof(d->irqf->count));
	}
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

/*
 * The fields of each device type's configuration (virtio 1.2, 5.x): a
 * driver of a modern device accesses each with its own width (4.1.3.1,
 * 4.2.2.2), a 64-bit one also as two 32-bit halves; a byte array byte by
 * byte. Padding and fields not listed are not checked.
 */
struct cfg_field {
	uint8_t off, size, count;
	const char *name;
};

static const struct cfg_field net_fields[] = {
	{ 0, 1, 6, "mac" }, { 6, 2, 1, "status" },
	{ 8, 2, 1, "max_virtqueue_pairs" }, { 10, 2, 1, "mtu" },
	{ 12, 4, 1, "speed" }, { 16, 1, 1, "duplex" },
	{ 17, 1, 1, "rss_max_key_size" },
	{ 18, 2, 1, "rss_max_indirection_table_length" },
	{ 20, 4, 1, "supported_hash_types" }, { 0, 0, 0, NULL },
};

static const struct cfg_field blk_fields[] = {
	{ 0, 8, 1, "capacity" }, { 8, 4, 1, "size_max" },
	{ 12, 4, 1, "seg_max" }, { 16, 2, 1, "geometry.cylinders" },
	{ 18, 1, 1, "geometry.heads" }, { 19, 1, 1, "geometry.sectors" },
	{ 20, 4, 1, "blk_size" }, { 24, 1, 1, "physical_block_exp" },
	{ 25, 1, 1, "alignment_offset" }, { 26, 2, 1, "min_io_size" },
	{ 28, 4, 1, "opt_io_size" }, { 32, 1, 1, "writeback" },
	{ 34, 2, 1, "num_queues" }, { 36, 4, 1, "max_discard_sectors" },
	{ 40, 4, 1, "max_discard_seg" },
	{ 44, 4, 1, "discard_sector_alignment" },
	{ 48, 4, 1, "max_write_zeroes_sectors" },
	{ 52, 4, 1, "max_write_zeroes_seg" },
	{ 56, 1, 1, "write_zeroes_may_unmap" },
	{ 60, 4, 1, "max_secure_erase_sectors" },
	{ 64, 4, 1, "max_secure_erase_seg" },
	{ 68, 4, 1, "secure_erase_sector_alignment" }, { 0, 0, 0, NULL },
};

static const struct cfg_field console_fields[] = {
	{ 0, 2, 1, "cols" }, { 2, 2, 1, "rows" }, { 4, 4, 1, "max_nr_ports" },
	{ 8, 4, 1, "emerg_wr" }, { 0, 0, 0, NULL },
};

static const struct cfg_field balloon_fields[] = {
	{ 0, 4, 1, "num_pages" }, { 4, 4, 1, "actual" },
	{ 8, 4, 1, "free_page_hint_cmd_id" }, { 12, 4, 1, "poison_val" },
	{ 0, 0, 0, NULL },
};

static const struct cfg_field *cfg_fields(uint32_t device_id)
{
	switch (device_id) {
	case 1: return net_fields;
	case 2: return blk_fields;
	case 3: return console_fields;
	case 5: return balloon_fields;
	}
	return NULL;
}

/* An access of len bytes at off: fine, or the field it gets wrong. */
static const struct cfg_field *cfg_bad_width(uint32_t device_id,
					     uint64_t off, uint32_t len)
{
	const struct cfg_field *f = cfg_fields(device_id);

	for (; f && f->size; f++) {
		uint64_t end = (uint64_t)f->off + (uint64_t)f->size * f->count;
		uint64_t rel;

		if (off + len <= f->off || off >= end)
			continue;	/* not this field */
		rel = off - f->off;
		if (off < f->off || off + len > end)
			return f;	/* begins before it, or runs past it */
		if (len == f->size && rel % f->size == 0)
			return NULL;
		if (f->size == 8 && len == 4 && rel % 4 == 0)
			return NULL;	/* a 64-bit field's halves */
		return f;
	}
	return NULL;
}

void virtio_config_access(struct virtio_dev *d, uint64_t off, uint8_t *buf,
			  uint32_t len, bool write)
{
	const struct cfg_field *f;

	if (off > d->ops->config_size || len > d->ops->config_size - off) {
		virtio_violation(d, VIOL_CONFIG_RANGE, -1, "config %s of %u "
				 "bytes at %#llx; the device's config has %u",
				 write ? "write" : "read", len,
				 (unsigned long long)off, d->ops->config_size);
		if (!write)
			memset(buf, 0, len);
		return;
	}
	/* Legacy virtio-mmio drivers read it byte by byte, as they may. */
	if (d->modern && (f = cfg_bad_width(d->ops->device_id, off, len)))
		virtio_violation(d, VIOL_CONFIG_WIDTH, -1, "config %s of %u "
				 "bytes at %#llx; the field %s at %#x is %u "
				 "bytes wide", write ? "write" : "read", len,
				 (unsigned long long)off, f->name, f->off,
				 f->size);
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
		irq_flush(d);	/* a held interrupt is not left behind */
		d->quiesced = true;
	}
	pthread_mutex_unlock(&d->lock);
}

bool virtio_dev_quiesce_async(struct virtio_dev *d, void (*done)(void *ctx),
			      void *ctx)
{
	bool pending = false;

	pthread_mutex_lock(&d->lock);
	if (!d->quiesced) {
		d->pause_done_fn = done;
		d->pause_done_ctx = ctx;
		d->pause_async = true;
		virtio_deactivate(d, true);
		d->pause_async = false;
		irq_flush(d);
		d->quiesced = true;
		pending = d->pause_pending;
	}
	pthread_mutex_unlock(&d->lock);
	return pending;
}

void virtio_pause_done(struct virtio_dev *d)
{
	if (!d->pause_pending)
		return;
	d->pause_pending = false;
	if (d->pause_done_fn)
		d->pause_done_fn(d->pause_done_ctx);
}

void virtio_stop_settled(struct virtio_dev *d, bool *resetting, bool *pausing)
{
	if (*resetting)
		virtio_reset_done(d);
	*resetting = false;
	if (*pausing)
		virtio_pause_done(d);
	*pausing = false;
}

void virtio_dev_settle(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	if (d->pause_pending && d->ops->pause_wait)
		d->ops->pause_wait(d);
	d->pause_pending = false;
	pthread_mutex_unlock(&d->lock);
}

void virtio_dev_unquiesce(struct virtio_dev *d)
{
	struct virtio_activation a;
	unsigned int q;

	pthread_mutex_lock(&d->lock);
	if (d->quiesced) {
		d->quiesced = false;
		d->pause_pending = false;	/* the bases come first */
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

bool virtio_check_layout(struct virtio_dev *d, unsigned int q,
			 const struct vq_elem *e, enum vq_layout want)
{
	bool reads = want == VQ_DEVICE_READS;

	if (reads ? !e->in_len : !e->out_len)
		return true;
	virtio_violation(d, VIOL_REQUEST_LAYOUT, (int)q,
			 "queue %u: a buffer of %llu device-readable and %llu "
			 "device-writable bytes; %s's device only %s on it",
			 q, (unsigned long long)e->out_len,
			 (unsigned long long)e->in_len, d->ops->name,
			 reads ? "reads" : "writes");
	return false;
}

static void kick_locked(struct virtio_dev *d, unsigned int q)
{
	if (q < d->ops->num_queues && d->vq[q].ready && virtio_dev_running(d) &&
	    d->ops->queue_kick && !(d->external & (1U << q))) {
		d->kicks++;
		d->ops->queue_kick(d, q);
	}
}

/*
 * A kick on queue q's eventfd fd, read under the lock: a reset drains the
 * kick fds under it too, so a kick written before the reset is either
 * served before it or gone, and one that finds the queue disabled was
 * written while it was: the driver's violation. A queue handed to
 * someone else meanwhile (an I/O thread, a vhost backend: the transport
 * stopped watching its fd) keeps the kick for its new owner.
 */
void virtio_kick_fd(struct virtio_dev *d, unsigned int q, int fd)
{
	uint64_t n = 0;

	pthread_mutex_lock(&d->lock);
	if ((q < VIRTIO_MAX_QUEUES && (d->external & (1U << q))) ||
	    read(fd, &n, sizeof(n)) != sizeof(n) || !n) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	if (q < d->ops->num_queues && !d->vq[q].ready && !d->resetting)
		virtio_violation(d, VIOL_NOTIFY_DISABLED, (int)q,
				 "a notification for queue %u, which is not "
				 "enabled (status %#x)", q, d->status);
	kick_locked(d, q);
	pthread_mutex_unlock(&d->lock);
}

void virtio_kick(struct virtio_dev *d, unsigned int q)
{
	pthread_mutex_lock(&d->lock);
	kick_locked(d, q);
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
	if (d->irqf && irq_hold(d, q))
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

/* ---- interrupt faults (inject=irqlate, irqcoalesce, irqspurious) ------- */

#define IRQ_COALESCE_MS	10	/* a coalesced interrupt waits at most this */

int virtio_irq_fault_rule(struct virtio_irq_faults *f, const char *rule)
{
	static const struct {
		const char *name;
		size_t off;
		unsigned int min, max;
	} rules[] = {
		{ "irqlate@", offsetof(struct virtio_irq_faults, late_ms), 1, 10000 },
		{ "irqcoalesce@", offsetof(struct virtio_irq_faults, coalesce), 2, 1024 },
		{ "irqspurious@", offsetof(struct virtio_irq_faults, spurious_ms), 1, 3600000 },
	};
	unsigned int i, v;
	int used = 0;

	if (sscanf(rule, "queue@%u%n", &v, &used) == 1) {
		if (rule[used] || v >= VIRTIO_MAX_QUEUES)
			return -1;
		f->one_queue = true;
		f->queue = v;
		return 1;
	}
	for (i = 0; i < ARRAY_SIZE(rules); i++) {
		size_t l = strlen(rules[i].name);

		if (strncmp(rule, rules[i].name, l))
			continue;
		if (sscanf(rule + l, "%u%n", &v, &used) != 1 ||
		    rule[l + (size_t)used] || v < rules[i].min ||
		    v > rules[i].max)
			return -1;
		*(unsigned int *)((char *)f + rules[i].off) = v;
		return 1;
	}
	return 0;
}

static void timer_arm(int fd, unsigned int ms, bool periodic)
{
	struct itimerspec it = { 0 };

	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (periodic)
		it.it_interval = it.it_value;
	timerfd_settime(fd, 0, &it, NULL);
}

/* The held interrupts go out now (d->lock held). */
static void irq_flush(struct virtio_dev *d)
{
	struct virtio_irq_state *s = d->irqf;
	unsigned int q;

	if (!s)
		return;
	for (q = 0; s->pending && q < d->ops->num_queues; q++) {
		if (!(s->pending & (1U << q)))
			continue;
		s->pending &= ~(1U << q);
		if (!virtio_dev_running(d))
			continue;
		d->interrupts++;
		if (d->tops)
			d->tops->interrupt(d->transport, (int)q);
	}
	memset(s->count, 0, sizeof(s->count));
}

/* Queue q's interrupt is due: hold it back (true) or let it go now. */
static bool irq_hold(struct virtio_dev *d, unsigned int q)
{
	struct virtio_irq_state *s = d->irqf;
	unsigned int ms = s->f.late_ms;

	if (!virtio_fault_queue(&s->f, q))
		return false;
	if (s->f.coalesce) {
		if (++s->count[q] < s->f.coalesce) {
			virtio_injected(d, (int)q, "queue %u: interrupt %u of "
					"%u coalesced (irqcoalesce@%u)", q,
					s->count[q], s->f.coalesce,
					s->f.coalesce);
			ms = ms ? ms : IRQ_COALESCE_MS;
			goto hold;
		}
		s->count[q] = 0;
	}
	if (!ms) {
		s->pending &= ~(1U << q);	/* goes now, with this one */
		return false;
	}
	virtio_injected(d, (int)q, "queue %u: interrupt held for up to %u ms "
			"(irqlate@%u)", q, ms, ms);
hold:
	s->pending |= 1U << q;
	if (!s->hold_armed) {
		timer_arm(s->hold_h.fd, ms, false);
		s->hold_armed = true;
	}
	return true;
}

static void on_irq_hold(struct ev_handler *h, uint32_t events)
{
	struct virtio_irq_state *s = container_of(h, struct virtio_irq_state,
						  hold_h);
	uint64_t n;

	(void)events;
	if (read(h->fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&s->d->lock);
	s->hold_armed = false;
	irq_flush(s->d);
	pthread_mutex_unlock(&s->d->lock);
}

static void on_irq_spurious(struct ev_handler *h, uint32_t events)
{
	struct virtio_irq_state *s = container_of(h, struct virtio_irq_state,
						  spur_h);
	struct virtio_dev *d = s->d;
	unsigned int q;
	uint64_t n;

	(void)events;
	if (read(h->fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&d->lock);
	for (q = 0; virtio_dev_running(d) && q < d->ops->num_queues; q++) {
		/* (an I/O thread's queues are "external" but vireo's) */
		if (!d->vq[q].ready || !virtio_fault_queue(&s->f, q))
			continue;
		virtio_injected(d, (int)q, "queue %u: a spurious interrupt "
				"(irqspurious@%u)", q, s->f.spurious_ms);
		d->interrupts++;
		if (d->tops)
			d->tops->interrupt(d->transport, (int)q);
	}
	pthread_mutex_unlock(&d->lock);
}

static int irq_timer(struct virtio_irq_state *s, struct ev_handler *h,
		     void (*fn)(struct ev_handler *, uint32_t), bool *watched)
{
	int ret;

	if (*watched)
		return 0;
	h->fn = fn;
	h->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (h->fd < 0)
		return -errno;
	ret = s->notify.ops->watch(s->notify.ctx, h);
	if (ret) {
		close(h->fd);
		h->fd = -1;
		return ret;
	}
	*watched = true;
	return 0;
}

static void irq_state_free(struct virtio_irq_state *s)
{
	if (s->hold_watched) {
		s->notify.ops->unwatch(s->notify.ctx, &s->hold_h);
		close(s->hold_h.fd);
	}
	if (s->spur_watched) {
		s->notify.ops->unwatch(s->notify.ctx, &s->spur_h);
		close(s->spur_h.fd);
	}
	free(s);
}

int virtio_irq_faults_set(struct virtio_dev *d, const struct virtio_irq_faults *f,
			  const struct vm_notify *notify, char *err,
			  size_t errlen)
{
	struct virtio_irq_state *s = d->irqf;
	int ret;

	if (!f->late_ms && !f->coalesce && !f->spurious_ms) {	/* queue@ alone */
		if (s) {
			irq_flush(d);
			d->irqf = NULL;
			irq_state_free(s);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->d = d;
		s->notify = *notify;
	}
	ret = irq_timer(s, &s->hold_h, on_irq_hold, &s->hold_watched);
	if (!ret && f->spurious_ms)
		ret = irq_timer(s, &s->spur_h, on_irq_spurious, &s->spur_watched);
	if (ret) {
		errf(err, errlen, "%s: interrupt faults need a timer: %s",
		     d->ops->name, strerror(-ret));
		if (!d->irqf)
			irq_state_free(s);
		return ret;
	}
	s->f = *f;
	if (s->spur_watched)
		timer_arm(s->spur_h.fd, f->spurious_ms, true);	/* 0: off */
	d->irqf = s;
	irq_flush(d);		/* what the old rules held goes now */
	return 0;
}

void virtio_irq_faults_free(struct virtio_dev *d)
{
	if (d->irqf)
		irq_state_free(d->irqf);
	d->irqf = NULL;
}
