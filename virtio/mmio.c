// SPDX-License-Identifier: GPL-2.0
#include "mmio.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../vmm/util.h"

#define REG_MAGIC		0x000
#define REG_VERSION		0x004
#define REG_DEVICE_ID		0x008
#define REG_VENDOR_ID		0x00c
#define REG_DEVICE_FEATURES	0x010
#define REG_DEVICE_FEATURES_SEL	0x014
#define REG_DRIVER_FEATURES	0x020
#define REG_DRIVER_FEATURES_SEL	0x024
#define REG_GUEST_PAGE_SIZE	0x028	/* legacy */
#define REG_QUEUE_SEL		0x030
#define REG_QUEUE_NUM_MAX	0x034
#define REG_QUEUE_NUM		0x038
#define REG_QUEUE_ALIGN		0x03c	/* legacy */
#define REG_QUEUE_PFN		0x040	/* legacy */
#define REG_QUEUE_READY		0x044
#define REG_QUEUE_NOTIFY	0x050
#define REG_INTERRUPT_STATUS	0x060
#define REG_INTERRUPT_ACK	0x064
#define REG_STATUS		0x070
#define REG_QUEUE_DESC_LOW	0x080
#define REG_QUEUE_DESC_HIGH	0x084
#define REG_QUEUE_DRIVER_LOW	0x090
#define REG_QUEUE_DRIVER_HIGH	0x094
#define REG_QUEUE_DEVICE_LOW	0x0a0
#define REG_QUEUE_DEVICE_HIGH	0x0a4
#define REG_CONFIG_GENERATION	0x0fc
#define REG_CONFIG		0x100

#define MAGIC			0x74726976	/* "virt" */
#define VENDOR_ID		0x4f524956	/* "VIRO" */
#define INT_VRING		1
#define INT_CONFIG		2

/* The line follows InterruptStatus; called with the device lock held. */
static void mmio_update_line(struct virtio_mmio *m)
{
	bool high = m->irq_status != 0;

	if (high == m->line_high)
		return;
	m->line_high = high;
	m->notify.ops->irq_line(m->notify.ctx, m->gsi, high);
}

static void mmio_interrupt(void *opaque, int source)
{
	struct virtio_mmio *m = opaque;

	m->irq_status |= source == VIRTIO_CONFIG_IRQ ? INT_CONFIG : INT_VRING;
	mmio_update_line(m);
}

/* Work left over from a bounded turn: run the queue again, later. */
static void mmio_kick_later(void *opaque, unsigned int q)
{
	struct virtio_mmio *m = opaque;

	if (q < m->nr_kicks)
		eventfd_signal(m->kick[q].h.fd);
}

static void mmio_kick(struct ev_handler *h, uint32_t events)
{
	struct virtio_mmio_kick *k = container_of(h, struct virtio_mmio_kick, h);

	(void)events;
	virtio_kick_fd(k->m->d, k->q, h->fd);
}

/* A queue served outside vireo signalled its call fd. */
static void mmio_call(struct ev_handler *h, uint32_t events)
{
	struct virtio_mmio_call *c = container_of(h, struct virtio_mmio_call, h);
	struct virtio_dev *d = c->m->d;

	(void)events;
	eventfd_drain(h->fd);
	pthread_mutex_lock(&d->lock);
	if ((d->external & (1U << c->q)) && virtio_dev_running(d)) {
		d->interrupts++;
		mmio_interrupt(c->m, (int)c->q);
	}
	pthread_mutex_unlock(&d->lock);
}

static void mmio_queue_fds(void *opaque, unsigned int q, int *kick, int *call)
{
	struct virtio_mmio *m = opaque;

	*kick = q < m->nr_kicks ? m->kick[q].h.fd : -1;
	*call = q < m->nr_calls ? m->call[q].h.fd : -1;
}

static void mmio_queue_external(void *opaque, unsigned int q, bool external)
{
	struct virtio_mmio *m = opaque;
	const struct vm_notify_ops *ops = m->notify.ops;
	struct virtio_mmio_call *c = &m->call[q];

	if (q >= m->nr_kicks || q >= m->nr_calls)
		return;
	if (external) {
		/* The backend reads the kick fd now; vireo must not drain it. */
		ops->unwatch(m->notify.ctx, &m->kick[q].h);
		c->watched = !ops->watch(m->notify.ctx, &c->h);
	} else {
		ops->watch(m->notify.ctx, &m->kick[q].h);
		if (c->watched)
			ops->unwatch(m->notify.ctx, &c->h);
		c->watched = false;
		eventfd_drain(c->h.fd);
	}
}

static const struct virtio_transport_ops mmio_transport_ops = {
	.interrupt = mmio_interrupt,
	.kick_later = mmio_kick_later,
	.queue_fds = mmio_queue_fds,
	.queue_external = mmio_queue_external,
};

static void set_addr(uint64_t *addr, bool high, uint32_t v)
{
	if (high)
		*addr = (*addr & 0xffffffffULL) | ((uint64_t)v << 32);
	else
		*addr = (*addr & ~0xffffffffULL) | v;
}

/* Legacy: the ring lives at QueuePFN * GuestPageSize, in one block. */
static void legacy_set_pfn(struct virtio_mmio *m, unsigned int q, uint32_t pfn)
{
	struct virtio_dev *d = m->d;
	struct virtq *vq = &d->vq[q];
	uint64_t avail_end, align = m->align[q];

	if (pfn == 0) {
		if (!(d->status & VIRTIO_STATUS_DRIVER_OK))
			vq_disable(vq);
		m->pfn[q] = 0;
		return;
	}
	if (!virtio_queue_writable(d, q) || !m->page_size ||
	    (m->page_size & (m->page_size - 1)) || !align ||
	    (align & (align - 1)))
		return;
	vq->desc_gpa = (uint64_t)pfn * m->page_size;
	vq->driver_gpa = vq->desc_gpa + 16ULL * vq->size;
	/* flags, idx, ring[num], used_event */
	avail_end = vq->driver_gpa + 2ULL * (3 + vq->size);
	vq->device_gpa = ALIGN_UP(avail_end, align);
	if (virtio_queue_enable(d, q))
		m->pfn[q] = pfn;
}

static uint32_t mmio_reg_read(struct virtio_mmio *m, uint64_t off)
{
	struct virtio_dev *d = m->d;
	unsigned int q = m->queue_sel;
	bool valid_q = q < d->ops->num_queues;

	switch (off) {
	case REG_MAGIC:
		return MAGIC;
	case REG_VERSION:
		return m->legacy ? 1 : 2;
	case REG_DEVICE_ID:
		return d->ops->device_id;
	case REG_VENDOR_ID:
		return VENDOR_ID;
	case REG_DEVICE_FEATURES:
		return virtio_device_features(d, m->dfeat_sel);
	case REG_QUEUE_NUM_MAX:
		return valid_q ? d->vq[q].max_size : 0;
	case REG_QUEUE_READY:
		return !m->legacy && valid_q && d->vq[q].ready;
	case REG_QUEUE_PFN:
		return m->legacy && valid_q ? m->pfn[q] : 0;
	case REG_INTERRUPT_STATUS:
		return m->irq_status;
	case REG_STATUS:
		return virtio_read_status(d);
	case REG_CONFIG_GENERATION:
		return m->legacy ? 0 : d->config_gen;
	}
	return 0;
}

static void mmio_reg_write(struct virtio_mmio *m, uint64_t off, uint32_t v)
{
	struct virtio_dev *d = m->d;
	unsigned int q = m->queue_sel;
	struct virtq *vq = q < VIRTIO_MAX_QUEUES ? &d->vq[q] : NULL;

	switch (off) {
	case REG_DEVICE_FEATURES_SEL:
		m->dfeat_sel = v;
		break;
	case REG_DRIVER_FEATURES:
		virtio_set_driver_features(d, m->gfeat_sel, v);
		break;
	case REG_DRIVER_FEATURES_SEL:
		m->gfeat_sel = v;
		break;
	case REG_GUEST_PAGE_SIZE:
		if (m->legacy)
			m->page_size = v;
		break;
	case REG_QUEUE_SEL:
		m->queue_sel = v;
		break;
	case REG_QUEUE_NUM:
		if (virtio_queue_reg(d, q, "QueueNum", v) && v <= 0xffff)
			vq->size = (uint16_t)v;
		break;
	case REG_QUEUE_ALIGN:
		if (m->legacy && virtio_queue_reg(d, q, "QueueAlign", v))
			m->align[q] = v;
		break;
	case REG_QUEUE_PFN:
		if (m->legacy && q < d->ops->num_queues)
			legacy_set_pfn(m, q, v);
		break;
	case REG_QUEUE_READY:
		if (m->legacy || q >= d->ops->num_queues)
			break;
		if (v == 1)
			virtio_queue_enable(d, q);
		else if (v == 0 && !(d->status & VIRTIO_STATUS_DRIVER_OK))
			vq_disable(vq);
		break;
	case REG_QUEUE_NOTIFY:
		/* Normally absorbed by the ioeventfd; same path if not. */
		if (v < m->nr_kicks) {
			d->kicks += (d->external >> v) & 1;	/* relayed */
			eventfd_signal(m->kick[v].h.fd);
		} else {
			virtio_violation(d, VIOL_NOTIFY_BAD_QUEUE, (int)v,
					 "QueueNotify for queue %u; the device "
					 "has %u", v, d->ops->num_queues);
		}
		break;
	case REG_INTERRUPT_ACK:
		m->irq_status &= ~v;
		mmio_update_line(m);
		break;
	case REG_STATUS:
		virtio_set_status(d, (uint8_t)v);
		if (d->status == 0) {
			m->irq_status = 0;
			mmio_update_line(m);
			memset(m->pfn, 0, sizeof(m->pfn));
		}
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		if (!m->legacy && virtio_queue_reg(d, q, "QueueDesc", v))
			set_addr(&vq->desc_gpa, off == REG_QUEUE_DESC_HIGH, v);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		if (!m->legacy && virtio_queue_reg(d, q, "QueueDriver", v))
			set_addr(&vq->driver_gpa, off == REG_QUEUE_DRIVER_HIGH, v);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		if (!m->legacy && virtio_queue_reg(d, q, "QueueDevice", v))
			set_addr(&vq->device_gpa, off == REG_QUEUE_DEVICE_HIGH, v);
		break;
	}
}

static void mmio_read(void *opaque, uint64_t off, uint8_t *data,
		      unsigned int len)
{
	struct virtio_mmio *m = opaque;

	memset(data, 0, len);
	pthread_mutex_lock(&m->d->lock);
	if (off >= REG_CONFIG)
		virtio_config_access(m->d, off - REG_CONFIG, data, len, false);
	else if (len == 4 && IS_ALIGNED(off, 4))	/* registers: 32-bit only */
		put_le32(data, mmio_reg_read(m, off));
	pthread_mutex_unlock(&m->d->lock);
}

static void mmio_write(void *opaque, uint64_t off, const uint8_t *data,
		       unsigned int len)
{
	struct virtio_mmio *m = opaque;

	pthread_mutex_lock(&m->d->lock);
	if (off >= REG_CONFIG)
		virtio_config_access(m->d, off - REG_CONFIG, (uint8_t *)data,
				     len, true);
	else if (len == 4 && IS_ALIGNED(off, 4))
		mmio_reg_write(m, off, get_le32(data));
	pthread_mutex_unlock(&m->d->lock);
}

const struct bus_ops virtio_mmio_ops = {
	.read = mmio_read,
	.write = mmio_write,
};

int virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *d,
		     uint64_t base, unsigned int gsi, bool legacy,
		     const struct vm_notify *notify)
{
	const struct vm_notify_ops *ops = notify->ops;
	unsigned int q;
	int ret;

	memset(m, 0, sizeof(*m));
	m->d = d;
	m->legacy = legacy;
	m->base = base;
	m->gsi = gsi;
	m->notify = *notify;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		m->align[q] = 4096;
	d->tops = &mmio_transport_ops;
	d->transport = m;

	/* The line starts low (it may be left high by an earlier user). */
	ret = ops->irq_line(notify->ctx, gsi, false);
	if (ret)
		goto err;
	for (q = 0; q < d->ops->num_queues; q++) {
		struct virtio_mmio_kick *k = &m->kick[q];

		k->m = m;
		k->q = q;
		k->h.fn = mmio_kick;
		k->h.fd = eventfd_new();
		if (k->h.fd < 0) {
			ret = k->h.fd;
			goto err;
		}
		ret = ops->ioeventfd(notify->ctx, k->h.fd, base + REG_QUEUE_NOTIFY,
				     4, false, q, true);
		if (!ret)
			ret = ops->watch(notify->ctx, &k->h);
		if (ret) {
			ops->ioeventfd(notify->ctx, k->h.fd, base + REG_QUEUE_NOTIFY,
				       4, false, q, false);
			close(k->h.fd);
			goto err;
		}
		m->nr_kicks++;
	}
	for (q = 0; q < d->ops->num_queues; q++) {
		struct virtio_mmio_call *c = &m->call[q];

		c->m = m;
		c->q = q;
		c->h.fn = mmio_call;
		c->h.fd = eventfd_new();
		if (c->h.fd < 0) {
			ret = c->h.fd;
			goto err;
		}
		m->nr_calls++;
	}
	return 0;
err:
	virtio_mmio_fini(m);
	return ret;
}

void virtio_mmio_fini(struct virtio_mmio *m)
{
	const struct vm_notify_ops *ops = m->notify.ops;
	void *ctx = m->notify.ctx;

	while (m->nr_calls) {
		struct virtio_mmio_call *c = &m->call[--m->nr_calls];

		if (c->watched)
			ops->unwatch(ctx, &c->h);
		c->watched = false;
		close(c->h.fd);
	}
	while (m->nr_kicks) {
		struct virtio_mmio_kick *k = &m->kick[--m->nr_kicks];

		if (!(m->d->external & (1U << k->q)))
			ops->unwatch(ctx, &k->h);
		ops->ioeventfd(ctx, k->h.fd, m->base + REG_QUEUE_NOTIFY, 4, false,
			       k->q, false);
		close(k->h.fd);
	}
	if (m->line_high)
		ops->irq_line(ctx, m->gsi, false);
	m->line_high = false;
}

void virtio_mmio_save(struct virtio_mmio *m, struct virtio_mmio_state *st)
{
	pthread_mutex_lock(&m->d->lock);
	memset(st, 0, sizeof(*st));
	st->dfeat_sel = m->dfeat_sel;
	st->gfeat_sel = m->gfeat_sel;
	st->queue_sel = m->queue_sel;
	st->irq_status = m->irq_status;
	st->page_size = m->page_size;
	memcpy(st->align, m->align, sizeof(st->align));
	memcpy(st->pfn, m->pfn, sizeof(st->pfn));
	pthread_mutex_unlock(&m->d->lock);
}

void virtio_mmio_restore(struct virtio_mmio *m,
			 const struct virtio_mmio_state *st)
{
	pthread_mutex_lock(&m->d->lock);
	m->dfeat_sel = st->dfeat_sel;
	m->gfeat_sel = st->gfeat_sel;
	m->queue_sel = st->queue_sel;
	m->irq_status = st->irq_status & (INT_VRING | INT_CONFIG);
	m->page_size = st->page_size;
	memcpy(m->align, st->align, sizeof(m->align));
	memcpy(m->pfn, st->pfn, sizeof(m->pfn));
	m->line_high = false;
	m->notify.ops->irq_line(m->notify.ctx, m->gsi, false);
	mmio_update_line(m);
	pthread_mutex_unlock(&m->d->lock);
}
