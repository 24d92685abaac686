// SPDX-License-Identifier: GPL-2.0
#include "pci.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../vmm/util.h"

#define VIRTIO_PCI_VENDOR	0x1af4
#define VIRTIO_PCI_DEVICE_BASE	0x1040
#define VIRTIO_PCI_SUBSYS_ID	0x1100
#define CAP_VNDR		0x09
#define CAP_MSIX		0x11
#define CFG_COMMON		1
#define CFG_NOTIFY		2
#define CFG_ISR			3
#define CFG_DEVICE		4
#define CFG_PCI			5
#define MSIX_CTRL_ENABLE	0x8000
#define MSIX_CTRL_MASKALL	0x4000
#define MSIX_VEC_MASKED		1
#define ISR_QUEUE		1
#define ISR_CONFIG		2

/* Common configuration fields (struct virtio_pci_common_cfg). */
#define CC_DFSELECT		0x00
#define CC_DF			0x04
#define CC_GFSELECT		0x08
#define CC_GF			0x0c
#define CC_MSIX_CONFIG		0x10
#define CC_NUM_QUEUES		0x12
#define CC_STATUS		0x14
#define CC_CFG_GENERATION	0x15
#define CC_Q_SELECT		0x16
#define CC_Q_SIZE		0x18
#define CC_Q_MSIX		0x1a
#define CC_Q_ENABLE		0x1c
#define CC_Q_NOFF		0x1e
#define CC_Q_DESCLO		0x20
#define CC_Q_DESCHI		0x24
#define CC_Q_AVAILLO		0x28
#define CC_Q_AVAILHI		0x2c
#define CC_Q_USEDLO		0x30
#define CC_Q_USEDHI		0x34
#define CC_Q_NDATA		0x38
#define CC_Q_RESET		0x3a
#define CC_SIZE			0x3c

static struct virtio_pci *to_vpci(struct pci_func *f)
{
	return container_of(f, struct virtio_pci, f);
}

static uint16_t msix_ctrl(const struct virtio_pci *p)
{
	return (uint16_t)(p->f.cfg[VPCI_CAP_MSIX + 2] |
			  p->f.cfg[VPCI_CAP_MSIX + 3] << 8);
}

static bool intx_disabled(const struct virtio_pci *p)
{
	return p->f.cfg[PCI_COMMAND + 1] & (PCI_CMD_INTX_DISABLE >> 8);
}

static bool msix_enabled(const struct virtio_pci *p)
{
	return msix_ctrl(p) & MSIX_CTRL_ENABLE;
}

/* ---- interrupts -------------------------------------------------------- */

/* Vector v's GSI, with its route as the table says; -errno. */
static int vector_prepare(struct virtio_pci *p, unsigned int v)
{
	const struct vm_notify_ops *ops = p->notify.ops;
	struct virtio_pci_vector *vec = &p->vec[v];

	if (vec->gsi < 0) {
		int gsi = ops->msi_alloc(p->notify.ctx);

		if (gsi < 0)
			return gsi;
		vec->gsi = gsi;
		vec->route_dirty = true;
		vec->irqfd_wired = false;
	}
	if (vec->route_dirty) {
		int ret = ops->msi_route(p->notify.ctx, (unsigned int)vec->gsi,
					 (uint64_t)vec->addr_hi << 32 | vec->addr_lo,
					 vec->data);

		if (ret)
			return ret;
		vec->route_dirty = false;
	}
	return 0;
}

/* Deliver vector v; if the KVM plumbing fails, leave it pending. */
static void msix_fire(struct virtio_pci *p, unsigned int v)
{
	const struct vm_notify_ops *ops = p->notify.ops;
	struct virtio_pci_vector *vec = &p->vec[v];

	/* The GSI is kept for good, even if wiring fails. */
	if (vector_prepare(p, v))
		goto pending;
	if (!vec->irqfd_wired) {
		if (ops->irqfd(p->notify.ctx, vec->fd, (unsigned int)vec->gsi,
			       -1, true))
			goto pending;
		vec->irqfd_wired = true;
	}
	eventfd_signal(vec->fd);
	return;
pending:
	p->pba |= 1U << v;
}

static bool vector_masked(const struct virtio_pci *p, unsigned int v)
{
	return (msix_ctrl(p) & MSIX_CTRL_MASKALL) ||
	       (p->vec[v].ctrl & MSIX_VEC_MASKED);
}

static void vpci_interrupt(void *opaque, int source)
{
	struct virtio_pci *p = opaque;
	uint16_t v;

	if (!msix_enabled(p)) {
		p->isr |= source == VIRTIO_CONFIG_IRQ ? ISR_CONFIG : ISR_QUEUE;
		if (p->intx_wired && !intx_disabled(p))
			eventfd_signal(p->intx_fd);
		return;
	}
	v = source == VIRTIO_CONFIG_IRQ ? p->config_vector :
					  p->queue_vector[source];
	if (v >= p->nvec)
		return;				/* NO_VECTOR: no interrupt */
	if (vector_masked(p, v))
		p->pba |= 1U << v;		/* pending until unmasked */
	else
		msix_fire(p, v);
}

/* Deliver what became pending while masked. */
static void msix_unmasked(struct virtio_pci *p)
{
	unsigned int v;

	if (!msix_enabled(p))
		return;
	for (v = 0; v < p->nvec; v++) {
		if ((p->pba & (1U << v)) && !vector_masked(p, v)) {
			p->pba &= ~(1U << v);
			msix_fire(p, v);
		}
	}
}

/* ---- call fds of queues served outside vireo ------------------------------ */

static void call_watch(struct virtio_pci *p, struct virtio_pci_call *c, bool on)
{
	const struct vm_notify_ops *ops = p->notify.ops;

	if (on && !c->watched) {
		c->watched = !ops->watch(p->notify.ctx, &c->h);
	} else if (!on && c->watched) {
		ops->unwatch(p->notify.ctx, &c->h);
		c->watched = false;
	}
}

/*
 * Deliver queue q's call fd the cheapest way its vector allows: straight
 * to KVM, or through vireo (relay). Called whenever that may change.
 */
static void call_sync(struct virtio_pci *p, unsigned int q)
{
	const struct vm_notify_ops *ops = p->notify.ops;
	struct virtio_pci_call *c = &p->call[q];
	bool ext = p->d->external & (1U << q);
	uint16_t v = p->queue_vector[q];
	int gsi = -1;

	if (q >= p->nr_calls)
		return;
	if (ext && msix_enabled(p) && v < p->nvec && !vector_masked(p, v) &&
	    !vector_prepare(p, v))
		gsi = p->vec[v].gsi;
	if (c->gsi >= 0 && c->gsi != gsi) {
		ops->irqfd(p->notify.ctx, c->h.fd, (unsigned int)c->gsi, -1,
			   false);
		c->gsi = -1;
	}
	if (gsi >= 0 && c->gsi < 0) {
		/* KVM injects at once what the fd holds when it is assigned. */
		call_watch(p, c, false);
		if (!ops->irqfd(p->notify.ctx, c->h.fd, (unsigned int)gsi, -1,
				true))
			c->gsi = gsi;
	}
	if (c->gsi < 0)
		call_watch(p, c, ext);
	if (!ext)
		eventfd_drain(c->h.fd);		/* nothing stale for later */
}

static void calls_sync(struct virtio_pci *p)
{
	unsigned int q;

	if (!p->d->external)
		return;
	for (q = 0; q < p->nr_calls; q++)
		call_sync(p, q);
}

/* A relayed call: the queue's vector is masked, off, or INTx is in use. */
static void vpci_call(struct ev_handler *h, uint32_t events)
{
	struct virtio_pci_call *c = container_of(h, struct virtio_pci_call, h);
	struct virtio_dev *d = c->p->d;

	(void)events;
	eventfd_drain(h->fd);
	pthread_mutex_lock(&d->lock);
	if ((d->external & (1U << c->q)) && virtio_dev_running(d)) {
		d->interrupts++;
		vpci_interrupt(c->p, (int)c->q);
	}
	pthread_mutex_unlock(&d->lock);
}

static void vpci_queue_fds(void *opaque, unsigned int q, int *kick, int *call)
{
	struct virtio_pci *p = opaque;

	*kick = q < p->nr_kicks ? p->kick[q].h.fd : -1;
	*call = q < p->nr_calls ? p->call[q].h.fd : -1;
}

static void vpci_queue_external(void *opaque, unsigned int q, bool external)
{
	struct virtio_pci *p = opaque;
	const struct vm_notify_ops *ops = p->notify.ops;

	if (q >= p->nr_kicks)
		return;
	/* The backend reads the kick fd now; vireo must not drain it. */
	if (external)
		ops->unwatch(p->notify.ctx, &p->kick[q].h);
	else
		ops->watch(p->notify.ctx, &p->kick[q].h);
	call_sync(p, q);
}

static void vpci_kick_later(void *opaque, unsigned int q)
{
	struct virtio_pci *p = opaque;

	if (q < p->nr_kicks)
		eventfd_signal(p->kick[q].h.fd);
}

static void intx_resample(struct ev_handler *h, uint32_t events)
{
	struct virtio_pci *p = container_of(h, struct virtio_pci, intx_resample);

	(void)events;
	eventfd_drain(h->fd);
	pthread_mutex_lock(&p->d->lock);
	if (p->isr && !msix_enabled(p) && !intx_disabled(p))
		eventfd_signal(p->intx_fd);
	pthread_mutex_unlock(&p->d->lock);
}

static void vpci_kick(struct ev_handler *h, uint32_t events)
{
	struct virtio_pci_kick *k = container_of(h, struct virtio_pci_kick, h);

	(void)events;
	virtio_kick_fd(k->p->d, k->q, h->fd);
}

/* Put the notify ioeventfds where BAR 0 now decodes (or nowhere). */
static void notify_follow_bar(struct virtio_pci *p)
{
	const struct vm_notify_ops *ops = p->notify.ops;
	uint32_t base = pci_bar_base(&p->f, 0);
	unsigned int q;

	base = base ? base + VPCI_NOTIFY : 0;
	if (base == p->notify_base)
		return;
	for (q = 0; q < p->nr_kicks; q++) {
		int fd = p->kick[q].h.fd;

		if (p->notify_base)
			ops->ioeventfd(p->notify.ctx, fd,
				       p->notify_base + VPCI_NOTIFY_MULT * q, 2,
				       false, -1, false);
		if (base)
			ops->ioeventfd(p->notify.ctx, fd,
				       base + VPCI_NOTIFY_MULT * q, 2, false, -1,
				       true);
	}
	p->notify_base = base;
}

/* ---- BAR 0 ------------------------------------------------------------- */

static void vpci_reset_transport(struct virtio_pci *p)
{
	unsigned int q;

	p->isr = 0;
	p->pba = 0;		/* nothing from before the reset is delivered */
	p->queue_sel = 0;
	p->config_vector = VIRTIO_NO_VECTOR;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		p->queue_vector[q] = VIRTIO_NO_VECTOR;
}

static uint16_t valid_vector(const struct virtio_pci *p, uint16_t v)
{
	return v < p->nvec ? v : VIRTIO_NO_VECTOR;
}

/* A vector the driver chose: past the table is its error (NO_VECTOR). */
static uint16_t checked_vector(struct virtio_pci *p, uint16_t v, int q)
{
	if (v != VIRTIO_NO_VECTOR && v >= p->nvec)
		virtio_violation(p->d, VIOL_MSIX_VECTOR, q, "vector %u for %s; "
				 "the MSI-X table has %u", v,
				 q < 0 ? "config changes" : "the queue", p->nvec);
	return valid_vector(p, v);
}

static uint64_t common_read(struct virtio_pci *p, uint64_t off, unsigned int len)
{
	struct virtio_dev *d = p->d;
	unsigned int q = p->queue_sel;
	bool valid_q = q < d->ops->num_queues;
	struct virtq *vq = valid_q ? &d->vq[q] : NULL;

	switch (off | (uint64_t)len << 16) {
	case CC_DFSELECT | 4 << 16:
		return p->dfeat_sel;
	case CC_DF | 4 << 16:
		return virtio_device_features(d, p->dfeat_sel);
	case CC_GFSELECT | 4 << 16:
		return p->gfeat_sel;
	case CC_GF | 4 << 16:
		return virtio_driver_features(d, p->gfeat_sel);
	case CC_MSIX_CONFIG | 2 << 16:
		return p->config_vector;
	case CC_NUM_QUEUES | 2 << 16:
		return d->ops->num_queues;
	case CC_STATUS | 1 << 16:
		return virtio_read_status(d);
	case CC_CFG_GENERATION | 1 << 16:
		return d->config_gen;
	case CC_Q_SELECT | 2 << 16:
		return p->queue_sel;
	case CC_Q_SIZE | 2 << 16:
		return valid_q ? vq->size : 0;
	case CC_Q_MSIX | 2 << 16:
		return valid_q ? p->queue_vector[q] : VIRTIO_NO_VECTOR;
	case CC_Q_ENABLE | 2 << 16:
		return valid_q && vq->ready;
	case CC_Q_NOFF | 2 << 16:
		return valid_q ? q : 0;
	case CC_Q_DESCLO | 4 << 16:
		return valid_q ? (uint32_t)vq->desc_gpa : 0;
	case CC_Q_DESCHI | 4 << 16:
		return valid_q ? (uint32_t)(vq->desc_gpa >> 32) : 0;
	case CC_Q_AVAILLO | 4 << 16:
		return valid_q ? (uint32_t)vq->driver_gpa : 0;
	case CC_Q_AVAILHI | 4 << 16:
		return valid_q ? (uint32_t)(vq->driver_gpa >> 32) : 0;
	case CC_Q_USEDLO | 4 << 16:
		return valid_q ? (uint32_t)vq->device_gpa : 0;
	case CC_Q_USEDHI | 4 << 16:
		return valid_q ? (uint32_t)(vq->device_gpa >> 32) : 0;
	case CC_Q_NDATA | 2 << 16:
		return valid_q ? q : 0;
	}
	return 0;	/* unknown field or wrong width */
}

static void set_half(uint64_t *addr, bool high, uint32_t v)
{
	if (high)
		*addr = (*addr & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*addr = (*addr & ~0xffffffffULL) | v;
}

static void common_write(struct virtio_pci *p, uint64_t off, unsigned int len,
			 uint32_t v)
{
	struct virtio_dev *d = p->d;
	unsigned int q = p->queue_sel;
	struct virtq *vq = q < VIRTIO_MAX_QUEUES ? &d->vq[q] : NULL;

	switch (off | (uint64_t)len << 16) {
	case CC_DFSELECT | 4 << 16:
		p->dfeat_sel = v;
		break;
	case CC_GFSELECT | 4 << 16:
		p->gfeat_sel = v;
		break;
	case CC_GF | 4 << 16:
		virtio_set_driver_features(d, p->gfeat_sel, v);
		break;
	case CC_MSIX_CONFIG | 2 << 16:
		p->config_vector = checked_vector(p, (uint16_t)v, -1);
		break;
	case CC_STATUS | 1 << 16:
		virtio_set_status(d, (uint8_t)v);
		if (d->status == 0)
			vpci_reset_transport(p);
		break;
	case CC_Q_SELECT | 2 << 16:
		p->queue_sel = (uint16_t)v;
		break;
	case CC_Q_SIZE | 2 << 16:
		if (virtio_queue_reg(d, q, "queue_size", v))
			vq->size = (uint16_t)v;
		break;
	case CC_Q_MSIX | 2 << 16:
		if (q < d->ops->num_queues && !(d->status & VIRTIO_STATUS_DRIVER_OK))
			p->queue_vector[q] = checked_vector(p, (uint16_t)v, (int)q);
		else if (q >= d->ops->num_queues)
			virtio_queue_reg(d, q, "queue_msix_vector", v);
		break;
	case CC_Q_ENABLE | 2 << 16:
		if (v != 1)			/* 0 is not allowed */
			virtio_violation(d, VIOL_QUEUE_WRITE_LIVE, (int)q,
					 "queue_enable = %u (only 1 may be "
					 "written)", v);
		else if (virtio_queue_reg(d, q, "queue_enable", v))
			virtio_queue_enable(d, q);
		break;
	case CC_Q_DESCLO | 4 << 16:
	case CC_Q_DESCHI | 4 << 16:
		if (virtio_queue_reg(d, q, "queue_desc", v))
			set_half(&vq->desc_gpa, off == CC_Q_DESCHI, v);
		break;
	case CC_Q_AVAILLO | 4 << 16:
	case CC_Q_AVAILHI | 4 << 16:
		if (virtio_queue_reg(d, q, "queue_driver", v))
			set_half(&vq->driver_gpa, off == CC_Q_AVAILHI, v);
		break;
	case CC_Q_USEDLO | 4 << 16:
	case CC_Q_USEDHI | 4 << 16:
		if (virtio_queue_reg(d, q, "queue_device", v))
			set_half(&vq->device_gpa, off == CC_Q_USEDHI, v);
		break;
	}
}

static void msix_table_access(struct virtio_pci *p, uint64_t off, uint8_t *data,
			      unsigned int len, bool write)
{
	unsigned int v = (unsigned int)(off / 16), field = (unsigned int)(off % 16);
	struct virtio_pci_vector *vec;
	uint32_t *reg;
	bool was_masked;

	if (len == 8 && field % 8 == 0 && v < p->nvec) {
		/* A 64-bit access is two dword accesses. */
		msix_table_access(p, off, data, 4, write);
		msix_table_access(p, off + 4, data + 4, 4, write);
		return;
	}
	if (v >= p->nvec || len != 4 || field % 4) {
		if (!write)
			memset(data, 0, len);
		return;
	}
	vec = &p->vec[v];
	reg = field == 0 ? &vec->addr_lo : field == 4 ? &vec->addr_hi :
	      field == 8 ? &vec->data : &vec->ctrl;
	if (!write) {
		put_le32(data, *reg);
		return;
	}
	was_masked = vec->ctrl & MSIX_VEC_MASKED;
	if (field == 12) {
		vec->ctrl = get_le32(data) & MSIX_VEC_MASKED;
		if (was_masked != !!(vec->ctrl & MSIX_VEC_MASKED))
			calls_sync(p);
		if (was_masked && !(vec->ctrl & MSIX_VEC_MASKED))
			msix_unmasked(p);
		return;
	}
	*reg = get_le32(data);
	vec->route_dirty = true;
	calls_sync(p);		/* wired call fds follow the new message */
}

static void vpci_bar_access(struct virtio_pci *p, uint64_t off, uint8_t *data,
			    unsigned int len, bool write)
{
	struct virtio_dev *d = p->d;

	if (off < CC_SIZE) {
		if (write)
			common_write(p, off, len, (uint32_t)get_access(data, len));
		else
			put_access(data, len, common_read(p, off, len));
	} else if (off == VPCI_ISR) {
		if (!write) {
			memset(data, 0, len);
			data[0] = p->isr;	/* reading acknowledges */
			p->isr = 0;
		}
	} else if (off >= VPCI_DEVICE && off < VPCI_DEVICE + 0x1000) {
		virtio_config_access(d, off - VPCI_DEVICE, data, len, write);
	} else if (off >= VPCI_NOTIFY && off < VPCI_NOTIFY + 0x1000) {
		unsigned int q = (unsigned int)((off - VPCI_NOTIFY) / VPCI_NOTIFY_MULT);

		if (write && q < p->nr_kicks) {
			d->kicks += (d->external >> q) & 1;	/* relayed */
			eventfd_signal(p->kick[q].h.fd);
		} else if (write) {
			virtio_violation(d, VIOL_NOTIFY_BAD_QUEUE, (int)q,
					 "a notification at %#llx, for queue "
					 "%u; the device has %u",
					 (unsigned long long)off, q,
					 d->ops->num_queues);
		} else {
			memset(data, 0, len);
		}
	} else if (off >= VPCI_MSIX_TABLE && off < VPCI_MSIX_PBA) {
		msix_table_access(p, off - VPCI_MSIX_TABLE, data, len, write);
	} else if (off >= VPCI_MSIX_PBA && off < VPCI_MSIX_PBA + 8) {
		if (!write)
			put_access(data, len, (uint64_t)p->pba >> (8 * (off - VPCI_MSIX_PBA)));
	} else if (!write) {
		memset(data, 0, len);
	}
}

static void bar_read(struct pci_func *f, unsigned int bar, uint64_t off,
		     uint8_t *data, unsigned int len)
{
	if (bar == 0)
		vpci_bar_access(to_vpci(f), off, data, len, false);
}

static void bar_write(struct pci_func *f, unsigned int bar, uint64_t off,
		      const uint8_t *data, unsigned int len)
{
	if (bar == 0)
		vpci_bar_access(to_vpci(f), off, (uint8_t *)data, len, true);
}

/* ---- config space ------------------------------------------------------ */

/* VIRTIO_PCI_CAP_PCI_CFG: a window into the BARs through config space. */
static bool pci_cfg_window(struct virtio_pci *p, uint32_t *bar, uint32_t *off,
			   uint32_t *len)
{
	uint8_t *c = p->f.cfg + VPCI_CAP_PCI_CFG;

	*bar = c[4];
	*off = get_le32(c + 8);
	*len = get_le32(c + 12);
	return *bar == 0 && (*len == 1 || *len == 2 || *len == 4) &&
	       *off % *len == 0 && *off < VPCI_BAR_SIZE;
}

static bool touches(uint32_t off, uint32_t len, uint32_t at, uint32_t n)
{
	return off < at + n && at < off + len;
}

static void config_read(struct pci_func *f, uint32_t off, uint32_t len)
{
	struct virtio_pci *p = to_vpci(f);
	uint32_t bar, woff, wlen;

	if (touches(off, len, VPCI_CAP_PCI_CFG + 16, 4) &&
	    pci_cfg_window(p, &bar, &woff, &wlen))
		vpci_bar_access(p, woff, f->cfg + VPCI_CAP_PCI_CFG + 16, wlen,
				false);
}

static void config_written(struct pci_func *f, uint32_t off, uint32_t len)
{
	struct virtio_pci *p = to_vpci(f);
	uint32_t bar, woff, wlen;

	if (touches(off, len, PCI_COMMAND, 2) || touches(off, len, PCI_BAR0, 4))
		notify_follow_bar(p);
	if (touches(off, len, VPCI_CAP_MSIX + 2, 2)) {
		calls_sync(p);
		msix_unmasked(p);
	}
	if (touches(off, len, VPCI_CAP_PCI_CFG + 16, 4) &&
	    pci_cfg_window(p, &bar, &woff, &wlen))
		vpci_bar_access(p, woff, f->cfg + VPCI_CAP_PCI_CFG + 16, wlen,
				true);
}

static const struct pci_func_ops vpci_func_ops = {
	.bar_read = bar_read,
	.bar_write = bar_write,
	.config_written = config_written,
	.config_read = config_read,
};

static void vendor_cap(struct pci_func *f, uint8_t at, uint8_t next,
		       uint8_t len, uint8_t type, uint32_t offset,
		       uint32_t length)
{
	f->cfg[at] = CAP_VNDR;
	f->cfg[at + 1] = next;
	f->cfg[at + 2] = len;
	f->cfg[at + 3] = type;
	f->cfg[at + 4] = 0;		/* BAR 0 */
	pci_cfg_set32(f, at + 8, offset);
	pci_cfg_set32(f, at + 12, length);
}

static const struct virtio_transport_ops vpci_transport_ops = {
	.interrupt = vpci_interrupt,
	.kick_later = vpci_kick_later,
	.queue_fds = vpci_queue_fds,
	.queue_external = vpci_queue_external,
};

void virtio_pci_init(struct virtio_pci *p, struct virtio_dev *d,
		     uint32_t pci_class, const struct vm_notify *notify)
{
	struct pci_func *f = &p->f;
	uint8_t after_isr;
	unsigned int v;

	memset(p, 0, sizeof(*p));
	p->d = d;
	p->notify = *notify;
	p->nvec = d->ops->num_queues + 1u;
	p->intx_fd = p->intx_resample.fd = -1;
	for (v = 0; v < VIRTIO_MAX_QUEUES; v++)
		p->call[v].h.fd = p->call[v].gsi = -1;
	for (v = 0; v < VPCI_MAX_VECTORS; v++) {
		p->vec[v].fd = -1;
		p->vec[v].gsi = -1;
		p->vec[v].ctrl = MSIX_VEC_MASKED;
	}
	vpci_reset_transport(p);
	d->tops = &vpci_transport_ops;
	d->transport = p;

	f->ops = &vpci_func_ops;
	f->lock = &d->lock;
	f->bar_size[0] = VPCI_BAR_SIZE;
	pci_cfg_set16(f, PCI_VENDOR_ID, VIRTIO_PCI_VENDOR);
	pci_cfg_set16(f, PCI_DEVICE_ID,
		      (uint16_t)(VIRTIO_PCI_DEVICE_BASE + d->ops->device_id));
	pci_cfg_set16(f, PCI_STATUS, PCI_STATUS_CAP_LIST);
	pci_cfg_set32(f, PCI_REVISION, 1 | pci_class << 8);
	pci_cfg_set16(f, PCI_SUBSYS_VENDOR, VIRTIO_PCI_VENDOR);
	pci_cfg_set16(f, PCI_SUBSYS_ID, VIRTIO_PCI_SUBSYS_ID);
	f->cfg[PCI_CAP_PTR] = VPCI_CAP_COMMON;
	f->cfg[PCI_INT_PIN] = 1;		/* INTA */

	vendor_cap(f, VPCI_CAP_COMMON, VPCI_CAP_NOTIFY, 16, CFG_COMMON,
		   VPCI_COMMON, CC_SIZE);
	vendor_cap(f, VPCI_CAP_NOTIFY, VPCI_CAP_ISR, 20, CFG_NOTIFY, VPCI_NOTIFY,
		   VPCI_NOTIFY_MULT * d->ops->num_queues);
	pci_cfg_set32(f, VPCI_CAP_NOTIFY + 16, VPCI_NOTIFY_MULT);
	after_isr = d->ops->config_size ? VPCI_CAP_DEVICE : VPCI_CAP_PCI_CFG;
	vendor_cap(f, VPCI_CAP_ISR, after_isr, 16, CFG_ISR, VPCI_ISR, 4);
	if (d->ops->config_size)
		vendor_cap(f, VPCI_CAP_DEVICE, VPCI_CAP_PCI_CFG, 16, CFG_DEVICE,
			   VPCI_DEVICE, d->ops->config_size);
	vendor_cap(f, VPCI_CAP_PCI_CFG, VPCI_CAP_MSIX, 20, CFG_PCI, 0, 0);
	f->cfg[VPCI_CAP_MSIX] = CAP_MSIX;
	f->cfg[VPCI_CAP_MSIX + 1] = 0;
	pci_cfg_set16(f, VPCI_CAP_MSIX + 2, (uint16_t)(p->nvec - 1));
	pci_cfg_set32(f, VPCI_CAP_MSIX + 4, VPCI_MSIX_TABLE);	/* BIR 0 */
	pci_cfg_set32(f, VPCI_CAP_MSIX + 8, VPCI_MSIX_PBA);

	/* What the guest may write. */
	f->wmask[PCI_COMMAND] = PCI_CMD_MEM | PCI_CMD_MASTER;
	f->wmask[PCI_COMMAND + 1] = PCI_CMD_INTX_DISABLE >> 8;
	f->wmask[PCI_INT_LINE] = 0xff;
	f->wmask[VPCI_CAP_MSIX + 3] = (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL) >> 8;
	f->wmask[VPCI_CAP_PCI_CFG + 4] = 0xff;			/* bar */
	memset(f->wmask + VPCI_CAP_PCI_CFG + 8, 0xff, 12);	/* off, len, data */
}

int virtio_pci_wire(struct virtio_pci *p, unsigned int intx_gsi)
{
	const struct vm_notify_ops *ops = p->notify.ops;
	void *ctx = p->notify.ctx;
	unsigned int v, q;
	int ret;

	for (v = 0; v < p->nvec; v++) {
		p->vec[v].fd = eventfd_new();
		if (p->vec[v].fd < 0) {
			ret = p->vec[v].fd;
			goto err;
		}
	}
	p->intx_gsi = intx_gsi;
	p->f.cfg[PCI_INT_LINE] = (uint8_t)intx_gsi;
	p->intx_fd = eventfd_new();
	p->intx_resample.fd = eventfd_new();
	p->intx_resample.fn = intx_resample;
	if (p->intx_fd < 0 || p->intx_resample.fd < 0) {
		ret = -EMFILE;
		goto err;
	}
	ret = ops->irqfd(ctx, p->intx_fd, intx_gsi, p->intx_resample.fd, true);
	if (ret)
		goto err;
	p->intx_wired = true;
	ret = ops->watch(ctx, &p->intx_resample);
	if (ret)
		goto err;
	for (q = 0; q < p->d->ops->num_queues; q++) {
		struct virtio_pci_kick *k = &p->kick[q];

		k->p = p;
		k->q = q;
		k->h.fn = vpci_kick;
		k->h.fd = eventfd_new();
		if (k->h.fd < 0) {
			ret = k->h.fd;
			goto err;
		}
		ret = ops->watch(ctx, &k->h);
		if (ret) {
			close(k->h.fd);
			goto err;
		}
		p->nr_kicks++;
	}
	for (q = 0; q < p->d->ops->num_queues; q++) {
		struct virtio_pci_call *c = &p->call[q];

		c->p = p;
		c->q = q;
		c->h.fn = vpci_call;
		c->h.fd = eventfd_new();
		if (c->h.fd < 0) {
			ret = c->h.fd;
			goto err;
		}
		p->nr_calls++;
	}
	/* BARs come enabled, as firmware leaves them. */
	p->f.cfg[PCI_COMMAND] |= PCI_CMD_MEM | PCI_CMD_MASTER;
	pci_func_update_decode(&p->f);
	notify_follow_bar(p);
	return 0;
err:
	virtio_pci_fini(p);
	return ret;
}

void virtio_pci_fini(struct virtio_pci *p)
{
	const struct vm_notify_ops *ops = p->notify.ops;
	void *ctx = p->notify.ctx;
	unsigned int v;

	/* Stop decoding: drops the notify ioeventfds. */
	p->f.cfg[PCI_COMMAND] &= (uint8_t)~PCI_CMD_MEM;
	pci_func_update_decode(&p->f);
	notify_follow_bar(p);
	while (p->nr_calls) {
		struct virtio_pci_call *c = &p->call[--p->nr_calls];

		call_watch(p, c, false);
		if (c->gsi >= 0)
			ops->irqfd(ctx, c->h.fd, (unsigned int)c->gsi, -1, false);
		close(c->h.fd);
		c->h.fd = c->gsi = -1;
	}
	while (p->nr_kicks) {
		struct virtio_pci_kick *k = &p->kick[--p->nr_kicks];

		if (!(p->d->external & (1U << k->q)))
			ops->unwatch(ctx, &k->h);
		close(k->h.fd);
	}
	if (p->intx_wired) {
		ops->unwatch(ctx, &p->intx_resample);
		ops->irqfd(ctx, p->intx_fd, p->intx_gsi, p->intx_resample.fd, false);
		p->intx_wired = false;
	}
	if (p->intx_fd >= 0)
		close(p->intx_fd);
	if (p->intx_resample.fd >= 0)
		close(p->intx_resample.fd);
	p->intx_fd = p->intx_resample.fd = -1;
	for (v = 0; v < VIRTIO_MAX_QUEUES; v++)
		p->call[v].h.fd = p->call[v].gsi = -1;
	for (v = 0; v < VPCI_MAX_VECTORS; v++) {
		struct virtio_pci_vector *vec = &p->vec[v];

		if (vec->irqfd_wired)
			ops->irqfd(ctx, vec->fd, (unsigned int)vec->gsi, -1, false);
		vec->irqfd_wired = false;
		if (vec->fd >= 0)
			close(vec->fd);
		vec->fd = vec->gsi = -1;
	}
}

void virtio_pci_save(struct virtio_pci *p, struct virtio_pci_state *st)
{
	unsigned int v, q;

	pthread_mutex_lock(&p->d->lock);
	memset(st, 0, sizeof(*st));
	memcpy(st->cfg, p->f.cfg, sizeof(st->cfg));
	st->dfeat_sel = p->dfeat_sel;
	st->gfeat_sel = p->gfeat_sel;
	st->queue_sel = p->queue_sel;
	st->config_vector = p->config_vector;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		st->queue_vector[q] = p->queue_vector[q];
	st->isr = p->isr;
	st->pba = p->pba;
	st->nvec = p->nvec;
	for (v = 0; v < p->nvec; v++) {
		st->vec[v].addr_lo = p->vec[v].addr_lo;
		st->vec[v].addr_hi = p->vec[v].addr_hi;
		st->vec[v].data = p->vec[v].data;
		st->vec[v].ctrl = p->vec[v].ctrl;
	}
	pthread_mutex_unlock(&p->d->lock);
}

int virtio_pci_restore(struct virtio_pci *p, const struct virtio_pci_state *st,
		       char *err, size_t errlen)
{
	struct pci_func *f = &p->f;
	unsigned int i, v, q;
	int ret = 0;

	pthread_mutex_lock(&p->d->lock);
	if (st->nvec != p->nvec) {
		errf(err, errlen, "%s: %u MSI-X vectors saved, the device has %u",
		     p->d->ops->name, st->nvec, p->nvec);
		ret = -EINVAL;
		goto out;
	}
	/* Read-only bytes (IDs, capabilities) must be this device's; the
	 * BAR's low bits are fixed by its size. */
	for (i = 0; i < sizeof(st->cfg); i++) {
		uint8_t ro = (uint8_t)~f->wmask[i];

		if (i >= PCI_BAR0 && i < PCI_BAR0 + 4)
			continue;
		if ((st->cfg[i] & ro) != (f->cfg[i] & ro)) {
			errf(err, errlen, "%s: the saved PCI config space is not "
			     "this device's (byte %#x: %#x, here %#x)",
			     p->d->ops->name, i, st->cfg[i], f->cfg[i]);
			ret = -EINVAL;
			goto out;
		}
	}
	memcpy(f->cfg, st->cfg, sizeof(f->cfg));
	pci_cfg_set32(f, PCI_BAR0, get_le32(st->cfg + PCI_BAR0) &
		      ~(f->bar_size[0] - 1));
	p->dfeat_sel = st->dfeat_sel;
	p->gfeat_sel = st->gfeat_sel;
	p->queue_sel = st->queue_sel;
	p->config_vector = valid_vector(p, st->config_vector);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		p->queue_vector[q] = valid_vector(p, st->queue_vector[q]);
	p->isr = st->isr & (ISR_QUEUE | ISR_CONFIG);
	p->pba = st->pba & ((1U << p->nvec) - 1);
	for (v = 0; v < p->nvec; v++) {
		p->vec[v].addr_lo = st->vec[v].addr_lo;
		p->vec[v].addr_hi = st->vec[v].addr_hi;
		p->vec[v].data = st->vec[v].data;
		p->vec[v].ctrl = st->vec[v].ctrl & MSIX_VEC_MASKED;
		p->vec[v].route_dirty = true;
	}
	pci_func_update_decode(f);
	notify_follow_bar(p);
	/* A level INTx the guest had not acknowledged yet. */
	if (p->isr && !msix_enabled(p) && p->intx_wired && !intx_disabled(p))
		eventfd_signal(p->intx_fd);
out:
	pthread_mutex_unlock(&p->d->lock);
	return ret;
}
