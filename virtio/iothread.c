// SPDX-License-Identifier: GPL-2.0
#include "iothread.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/sandbox.h"
#include "../vmm/util.h"
#include "virtio.h"

static void on_stop(struct ev_handler *h, uint32_t events)
{
	struct iothread *t = container_of(h, struct iothread, stop_h);

	(void)events;
	eventfd_drain(h->fd);
	if (atomic_load(&t->stopping))
		t->loop.stop = true;
}

static void *iothread_main(void *arg)
{
	struct iothread *t = arg;

	pthread_setname_np(pthread_self(), t->name);
	while (!t->loop.stop) {
		sandbox_thread(SB_IO);
		if (ev_run_once(&t->loop, -1) < 0)
			break;
	}
	return NULL;
}

int iothread_start(struct iothread *t, const char *name)
{
	int ret;

	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->stop_h.fd = -1;
	ret = ev_init(&t->loop);
	if (ret)
		return ret;
	t->stop_h.fn = on_stop;
	t->stop_h.fd = eventfd_new();
	if (t->stop_h.fd < 0)
		ret = t->stop_h.fd;
	if (!ret)
		ret = ev_add(&t->loop, &t->stop_h, EPOLLIN);
	if (!ret && pthread_create(&t->thread, NULL, iothread_main, t))
		ret = -EAGAIN;
	if (ret) {
		if (t->stop_h.fd >= 0)
			close(t->stop_h.fd);
		ev_fini(&t->loop);
		return ret;
	}
	t->started = true;
	return 0;
}

void iothread_stop(struct iothread *t)
{
	if (!t->started)
		return;
	atomic_store(&t->stopping, true);
	eventfd_signal(t->stop_h.fd);
	pthread_join(t->thread, NULL);
	close(t->stop_h.fd);
	ev_fini(&t->loop);
	t->started = false;
}

uint64_t iothread_cpu_ns(const struct iothread *t)
{
	struct timespec ts;
	clockid_t c;

	if (!t->started || pthread_getcpuclockid(t->thread, &c) ||
	    clock_gettime(c, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void on_kick(struct ev_handler *h, uint32_t events)
{
	struct iothread_queue *iq = container_of(h, struct iothread_queue, h);

	(void)events;
	eventfd_drain(h->fd);
	iq->kicks++;
	virtio_kick_handed(iq->d, iq->q);
}

int iothread_take_queue(struct iothread *t, struct iothread_queue *iq,
			struct virtio_dev *d, unsigned int q, int kick_fd)
{
	int ret;

	if (kick_fd < 0)
		return -ENOTSUP;	/* no ioeventfd: the vCPU kicks */
	iq->d = d;
	iq->q = q;
	iq->t = t;
	iq->h.fn = on_kick;
	iq->h.fd = kick_fd;
	virtio_queue_set_external(d, q);
	ret = ev_add(&t->loop, &iq->h, EPOLLIN);
	if (ret) {
		virtio_queue_set_internal(d, q);
		return ret;
	}
	iq->watched = true;
	/* Buffers posted before now (or while it was the loop's): look. */
	eventfd_signal(kick_fd);
	return 0;
}

void iothread_drop_queue(struct iothread_queue *iq)
{
	if (!iq->watched)
		return;
	ev_del(&iq->t->loop, &iq->h);
	iq->watched = false;
}
