// SPDX-License-Identifier: GPL-2.0
/* A fake VMM for unit tests: records what transports and devices wire. */
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "fakevmm.h"
#include "virtio/virtio.h"
#include "vring.h"

struct fake_vmm vmm;

static int f_ioeventfd(void *ctx, int fd, uint64_t addr, unsigned int len,
		       bool pio, int64_t dm, bool assign)
{
	(void)ctx; (void)fd; (void)len; (void)pio; (void)dm;
	vmm.ioeventfds += assign ? 1 : -1;
	if (assign)
		vmm.last_ioeventfd_addr = addr;
	return 0;
}

static int f_irqfd(void *ctx, int fd, unsigned int gsi, int resample, bool assign)
{
	(void)ctx;
	vmm.irqfds += assign ? 1 : -1;
	vmm.last_resample = resample;
	if (assign) {
		vmm.last_irqfd_fd = fd;
		vmm.last_irqfd_gsi = gsi;
	}
	return 0;
}

static int f_msi_alloc(void *ctx)
{
	(void)ctx;
	return vmm.next_gsi++;
}

static int f_msi_route(void *ctx, unsigned int gsi, uint64_t addr, uint32_t data)
{
	(void)ctx;
	vmm.msi_routes++;
	vmm.msi_addr[gsi % 64] = addr;
	vmm.msi_data[gsi % 64] = data;
	return 0;
}

static int f_watch(void *ctx, struct ev_handler *h)
{
	unsigned int i;

	(void)ctx;
	vmm.watched++;
	for (i = 0; i < 64; i++) {
		if (!vmm.handlers[i]) {
			vmm.handlers[i] = h;
			break;
		}
	}
	return 0;
}

static void f_unwatch(void *ctx, struct ev_handler *h)
{
	unsigned int i;

	(void)ctx;
	vmm.watched--;
	for (i = 0; i < 64; i++)
		if (vmm.handlers[i] == h)
			vmm.handlers[i] = NULL;
}

static int f_rewatch(void *ctx, struct ev_handler *h, uint32_t events)
{
	(void)ctx; (void)h; (void)events;
	return 0;
}

int fake_dispatch(int timeout_ms)
{
	struct pollfd pfd[64];
	struct ev_handler *hs[64];
	int n = 0, i, ran = 0;

	for (i = 0; i < 64; i++) {
		if (!vmm.handlers[i])
			continue;
		pfd[n].fd = vmm.handlers[i]->fd;
		pfd[n].events = POLLIN;
		hs[n++] = vmm.handlers[i];
	}
	if (poll(pfd, (nfds_t)n, timeout_ms) <= 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (pfd[i].revents & POLLIN) {
			hs[i]->fn(hs[i], POLLIN);
			ran++;
		}
	}
	return ran;
}

static int f_irq_line(void *ctx, unsigned int gsi, bool level)
{
	(void)ctx;
	vmm.line_sets++;
	vmm.line_level[gsi % 64] = level;
	return 0;
}

static const struct vm_notify_ops fake_ops = {
	f_ioeventfd, f_irqfd, f_msi_alloc, f_msi_route, f_watch, f_unwatch,
	f_rewatch, f_irq_line,
};
const struct vm_notify fake = { &fake_ops, NULL };

uint64_t fired(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

void fake_driver_ok(struct virtio_dev *dev, const struct drv *q,
		    unsigned int nq, uint64_t features)
{
	unsigned int i;

	dev->modern = true;
	dev->acked = features | (1ULL << VIRTIO_F_VERSION_1);
	for (i = 0; i < nq; i++) {
		dev->vq[i] = q[i].vq;
		dev->vq[i].ready = true;
	}
	dev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
}
