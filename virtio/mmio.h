/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-mmio transport (virtio 1.2 §4.2): version 2 (modern) and version
 * 1 (legacy, QueuePFN) register layouts in a 4 KiB window. Kicks reach
 * the event loop through a KVM ioeventfd on QueueNotify (datamatch = queue
 * index); the interrupt is a level-triggered GSI line that follows
 * InterruptStatus: raised with the first bit set, lowered when the
 * driver's InterruptACK clears the last (KVM_IRQ_LINE). An irqfd with
 * resample would cost a kworker injection and an event-loop wakeup per
 * interrupt; this costs one ioctl each way.
 */
#ifndef VIREO_VIRTIO_MMIO_H
#define VIREO_VIRTIO_MMIO_H

#include "../vmm/bus.h"
#include "../vmm/irq.h"
#include "../vmm/loop.h"
#include "virtio.h"

#define VIRTIO_MMIO_SIZE 0x200

struct virtio_mmio;

struct virtio_mmio_kick {
	struct ev_handler h;
	struct virtio_mmio *m;
	unsigned int q;
};

struct virtio_mmio_call {
	struct ev_handler h;
	struct virtio_mmio *m;
	unsigned int q;
	bool watched;
};

struct virtio_mmio {
	struct virtio_dev *d;
	bool legacy;
	uint64_t base;
	unsigned int gsi;
	struct vm_notify notify;
	uint32_t dfeat_sel;
	uint32_t gfeat_sel;
	uint32_t queue_sel;
	uint32_t irq_status;
	uint32_t page_size;			/* legacy */
	uint32_t align[VIRTIO_MAX_QUEUES];	/* legacy */
	uint32_t pfn[VIRTIO_MAX_QUEUES];	/* legacy */
	bool line_high;				/* as last set */
	struct virtio_mmio_kick kick[VIRTIO_MAX_QUEUES];
	unsigned int nr_kicks;			/* wired so far */
	struct virtio_mmio_call call[VIRTIO_MAX_QUEUES];
	unsigned int nr_calls;
};

/* The transport's registers as plain data (snapshots). */
struct virtio_mmio_state {
	uint32_t dfeat_sel, gfeat_sel, queue_sel, irq_status;
	uint32_t page_size;
	uint32_t align[VIRTIO_MAX_QUEUES];
	uint32_t pfn[VIRTIO_MAX_QUEUES];
};

extern const struct bus_ops virtio_mmio_ops;

/*
 * Bind d to a window at base raising gsi, and wire its notifications.
 * -errno (with everything already wired undone).
 */
int virtio_mmio_init(struct virtio_mmio *m, struct virtio_dev *d,
		     uint64_t base, unsigned int gsi, bool legacy,
		     const struct vm_notify *notify);
void virtio_mmio_fini(struct virtio_mmio *m);
void virtio_mmio_save(struct virtio_mmio *m, struct virtio_mmio_state *st);
/* After the device's own state: the line follows InterruptStatus. */
void virtio_mmio_restore(struct virtio_mmio *m,
			 const struct virtio_mmio_state *st);

#endif
