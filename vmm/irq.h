/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interrupts and notifications as devices and transports see them.
 *
 * struct irq_line: a legacy interrupt line driven from device emulation
 * (the UART, on the vCPU thread): vireo wires it to the in-kernel irqchip.
 *
 * struct vm_notify: what virtio transports need so that kicks and
 * interrupts bypass vireo's threads: KVM ioeventfds for guest kicks,
 * irqfds for interrupts (GSI lines, with resample for level-triggered
 * ones), MSI routes, and the event loop to watch eventfds; and a line
 * driven directly (virtio-mmio's level interrupt, raised and lowered as
 * its InterruptStatus changes). vmm/irq.c
 * implements it on KVM; unit tests provide fakes. Calls return 0 or
 * -errno.
 */
#ifndef VIREO_IRQ_H
#define VIREO_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct irq_line {
	void (*set)(void *opaque, unsigned int gsi, bool level);
	void *opaque;
	unsigned int gsi;
};

static inline void irq_line_set(const struct irq_line *l, bool level)
{
	if (l->set)
		l->set(l->opaque, l->gsi, level);
}

struct ev_handler;

struct vm_notify_ops {
	/* Guest writes of len bytes at addr (PIO or MMIO) signal fd; with
	 * datamatch >= 0, only writes of that value. */
	int (*ioeventfd)(void *ctx, int fd, uint64_t addr, unsigned int len,
			 bool pio, int64_t datamatch, bool assign);
	/* Signalling fd raises gsi. resample_fd >= 0: level-triggered, the
	 * line stays up until the guest's EOI, then resample_fd fires. */
	int (*irqfd)(void *ctx, int fd, unsigned int gsi, int resample_fd,
		     bool assign);
	/* A GSI for an MSI route (>= 24); msi_route() points it. */
	int (*msi_alloc)(void *ctx);
	int (*msi_route)(void *ctx, unsigned int gsi, uint64_t addr,
			 uint32_t data);
	/* Watch or stop watching h->fd (EPOLLIN) on the event loop. */
	int (*watch)(void *ctx, struct ev_handler *h);
	void (*unwatch)(void *ctx, struct ev_handler *h);
	/* Change what a watched fd waits for (EPOLLIN, EPOLLOUT, or 0). */
	int (*rewatch)(void *ctx, struct ev_handler *h, uint32_t events);
	/* Drive a GSI line from this thread (level: it stays as set). */
	int (*irq_line)(void *ctx, unsigned int gsi, bool level);
};

struct vm_notify {
	const struct vm_notify_ops *ops;
	void *ctx;
};

#endif
