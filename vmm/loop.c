// SPDX-License-Identifier: GPL-2.0
#include "loop.h"

#include "irq.h"

#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int ev_init(struct ev_loop *loop)
{
	loop->stop = false;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epfd < 0 ? -errno : 0;
}

void ev_fini(struct ev_loop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
}

static int ev_ctl(struct ev_loop *loop, int op, struct ev_handler *h,
		  uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	return epoll_ctl(loop->epfd, op, h->fd, &ev) < 0 ? -errno : 0;
}

int ev_add(struct ev_loop *loop, struct ev_handler *h, uint32_t events)
{
	return ev_ctl(loop, EPOLL_CTL_ADD, h, events);
}

int ev_mod(struct ev_loop *loop, struct ev_handler *h, uint32_t events)
{
	return ev_ctl(loop, EPOLL_CTL_MOD, h, events);
}

void ev_del(struct ev_loop *loop, struct ev_handler *h)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, h->fd, NULL);
}

int ev_run_once(struct ev_loop *loop, int timeout_ms)
{
	struct epoll_event evs[16];
	int i, n = epoll_wait(loop->epfd, evs, 16, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n && !loop->stop; i++) {
		struct ev_handler *h = evs[i].data.ptr;

		h->fn(h, evs[i].events);
	}
	return n;
}

int ev_run(struct ev_loop *loop)
{
	while (!loop->stop) {
		int n = ev_run_once(loop, -1);

		if (n < 0)
			return n;
	}
	return 0;
}

int eventfd_new(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

void eventfd_signal(int fd)
{
	uint64_t one = 1;

	while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void eventfd_drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

static int ln_watch(void *ctx, struct ev_handler *h)
{
	return ev_add(ctx, h, EPOLLIN);
}

static void ln_unwatch(void *ctx, struct ev_handler *h)
{
	ev_del(ctx, h);
}

static int ln_rewatch(void *ctx, struct ev_handler *h, uint32_t events)
{
	return ev_mod(ctx, h, events);
}

static int ln_ioeventfd(void *ctx, int fd, uint64_t addr, unsigned int len,
			bool pio, int64_t datamatch, bool assign)
{
	(void)ctx; (void)fd; (void)addr; (void)len; (void)pio; (void)datamatch;
	(void)assign;
	return -ENOTSUP;
}

static int ln_irqfd(void *ctx, int fd, unsigned int gsi, int resample_fd,
		    bool assign)
{
	(void)ctx; (void)fd; (void)gsi; (void)resample_fd; (void)assign;
	return -ENOTSUP;
}

static int ln_msi_alloc(void *ctx)
{
	(void)ctx;
	return -ENOTSUP;
}

static int ln_msi_route(void *ctx, unsigned int gsi, uint64_t addr,
			uint32_t data)
{
	(void)ctx; (void)gsi; (void)addr; (void)data;
	return -ENOTSUP;
}

static int ln_irq_line(void *ctx, unsigned int gsi, bool level)
{
	(void)ctx; (void)gsi; (void)level;
	return -ENOTSUP;
}

static const struct vm_notify_ops loop_notify_ops = {
	.ioeventfd = ln_ioeventfd,
	.irqfd = ln_irqfd,
	.msi_alloc = ln_msi_alloc,
	.msi_route = ln_msi_route,
	.watch = ln_watch,
	.unwatch = ln_unwatch,
	.rewatch = ln_rewatch,
	.irq_line = ln_irq_line,
};

void loop_notifier_init(struct vm_notify *n, struct ev_loop *loop)
{
	n->ops = &loop_notify_ops;
	n->ctx = loop;
}
