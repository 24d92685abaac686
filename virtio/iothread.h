/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An I/O thread: its own epoll loop serving a device's queues away from
 * the event loop. The activation context hands it the queues (their kick
 * fds, as it would to a vhost backend: virtio_queue_set_external), and
 * the device's own completion sources are watched there too. All work
 * still happens under the device's lock, so a pause, reset or snapshot
 * (which take that lock and quiesce the device) sees the thread idle:
 * it parks on the lock, and a quiesced device ignores its kicks.
 */
#ifndef VIREO_IOTHREAD_H
#define VIREO_IOTHREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../vmm/loop.h"

struct virtio_dev;

struct iothread {
	pthread_t thread;
	struct ev_loop loop;
	struct ev_handler stop_h;
	bool started;
	atomic_bool stopping;
	char name[16];
};

/* A queue served by an I/O thread: its kick fd, watched there. */
struct iothread_queue {
	struct ev_handler h;
	struct virtio_dev *d;
	unsigned int q;
	struct iothread *t;
	bool watched;
	uint64_t kicks;			/* kicks it took */
};

int iothread_start(struct iothread *t, const char *name);
/* Stop and join (nothing may be watched by it afterwards). */
void iothread_stop(struct iothread *t);
/* Its CPU time so far, in ns (0 if unknown). */
uint64_t iothread_cpu_ns(const struct iothread *t);

/*
 * From activate(), d->lock held: take queue q (kick_fd from the
 * activation) off the transport and serve it on t. -errno: not taken
 * (the queue stays the event loop's).
 */
int iothread_take_queue(struct iothread *t, struct iothread_queue *iq,
			struct virtio_dev *d, unsigned int q, int kick_fd);
/* From deactivate(): stop serving it (the core hands it back). */
void iothread_drop_queue(struct iothread_queue *iq);

#endif
