// SPDX-License-Identifier: GPL-2.0
/*
 * Notification plumbing on KVM: ioeventfds, irqfds (with resample for
 * level-triggered lines) and the GSI routing table. KVM's routing ioctl
 * replaces the whole table, so the default irqchip routes of GSIs 0-23
 * are kept in it next to the MSI routes vireo adds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>

#include "loop.h"
#include "util.h"
#include "vm.h"

#define IOAPIC_PINS	24
#define MSI_GSI_FIRST	IOAPIC_PINS
#define MAX_ROUTES	1024

static int notify_ioeventfd(void *ctx, int fd, uint64_t addr, unsigned int len,
			    bool pio, int64_t datamatch, bool assign)
{
	struct vm *vm = ctx;
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = len,
		.fd = fd,
	};

	if (pio)
		io.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (datamatch >= 0) {
		io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		io.datamatch = (uint64_t)datamatch;
	}
	if (!assign)
		io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

static int notify_irqfd(void *ctx, int fd, unsigned int gsi, int resample_fd,
			bool assign)
{
	struct vm *vm = ctx;
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

	if (!assign)
		irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
	else if (resample_fd >= 0) {
		irqfd.flags = KVM_IRQFD_FLAG_RESAMPLE;
		irqfd.resamplefd = (uint32_t)resample_fd;
	}
	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

/* The table KVM starts with: GSI n on PIC pin n%8 (n < 16) and IOAPIC pin n. */
static int routes_init(struct vm *vm)
{
	struct kvm_irq_routing *r;
	unsigned int gsi;

	r = calloc(1, sizeof(*r) + MAX_ROUTES * sizeof(r->entries[0]));
	if (!r)
		return -ENOMEM;
	for (gsi = 0; gsi < IOAPIC_PINS; gsi++) {
		struct kvm_irq_routing_entry *e = &r->entries[r->nr++];

		e->gsi = gsi;
		e->type = KVM_IRQ_ROUTING_IRQCHIP;
		e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e->u.irqchip.pin = gsi;
		if (gsi >= 16)
			continue;
		e = &r->entries[r->nr++];
		e->gsi = gsi;
		e->type = KVM_IRQ_ROUTING_IRQCHIP;
		e->u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
						 KVM_IRQCHIP_PIC_SLAVE;
		e->u.irqchip.pin = gsi % 8;
	}
	vm->routes = r;
	return 0;
}

static int notify_msi_alloc(void *ctx)
{
	struct vm *vm = ctx;
	int gsi = -ENOSPC;

	pthread_mutex_lock(&vm->routes_lock);
	if (vm->next_msi_gsi < MSI_GSI_FIRST)
		vm->next_msi_gsi = MSI_GSI_FIRST;
	if (vm->next_msi_gsi < MAX_ROUTES - 64)
		gsi = (int)vm->next_msi_gsi++;
	pthread_mutex_unlock(&vm->routes_lock);
	return gsi;
}

static int notify_msi_route(void *ctx, unsigned int gsi, uint64_t addr,
			    uint32_t data)
{
	struct vm *vm = ctx;
	struct kvm_irq_routing_entry *e = NULL, saved;
	unsigned int i, nr;
	bool added = false;
	int ret = 0;

	pthread_mutex_lock(&vm->routes_lock);
	if (!vm->routes)
		ret = routes_init(vm);
	if (ret)
		goto out;
	for (i = 0; i < vm->routes->nr; i++)
		if (vm->routes->entries[i].gsi == gsi)
			e = &vm->routes->entries[i];
	nr = vm->routes->nr;
	if (!e) {
		if (nr == MAX_ROUTES) {
			ret = -ENOSPC;
			goto out;
		}
		e = &vm->routes->entries[vm->routes->nr++];
		added = true;
	}
	saved = *e;
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = (uint32_t)addr;
	e->u.msi.address_hi = (uint32_t)(addr >> 32);
	e->u.msi.data = data;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, vm->routes) < 0) {
		/* Put the table back: one bad entry must not block the rest. */
		ret = -errno;
		*e = saved;
		if (added)
			vm->routes->nr = nr;
	}
out:
	pthread_mutex_unlock(&vm->routes_lock);
	return ret;
}

static int notify_watch(void *ctx, struct ev_handler *h)
{
	struct vm *vm = ctx;

	return ev_add(vm->loop, h, EPOLLIN);
}

static void notify_unwatch(void *ctx, struct ev_handler *h)
{
	struct vm *vm = ctx;

	ev_del(vm->loop, h);
}

static int notify_rewatch(void *ctx, struct ev_handler *h, uint32_t events)
{
	struct vm *vm = ctx;

	return ev_mod(vm->loop, h, events);
}

static int notify_irq_line(void *ctx, unsigned int gsi, bool level)
{
	return vm_irq_line(ctx, gsi, level);
}

static const struct vm_notify_ops kvm_notify_ops = {
	.ioeventfd = notify_ioeventfd,
	.irqfd = notify_irqfd,
	.msi_alloc = notify_msi_alloc,
	.msi_route = notify_msi_route,
	.watch = notify_watch,
	.unwatch = notify_unwatch,
	.rewatch = notify_rewatch,
	.irq_line = notify_irq_line,
};

struct vm_notify vm_notifier(struct vm *vm)
{
	struct vm_notify n = { &kvm_notify_ops, vm };

	return n;
}
