/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One epoll loop with typed handlers: each source embeds a struct
 * ev_handler and gets its own callback (container_of to reach its owner).
 */
#ifndef VIREO_LOOP_H
#define VIREO_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct ev_handler {
	void (*fn)(struct ev_handler *h, uint32_t events);
	int fd;
};

struct ev_loop {
	int epfd;
	bool stop;
};

int ev_init(struct ev_loop *loop);
void ev_fini(struct ev_loop *loop);
/* Watch h->fd for events (EPOLLIN, ...). -errno. */
int ev_add(struct ev_loop *loop, struct ev_handler *h, uint32_t events);
int ev_mod(struct ev_loop *loop, struct ev_handler *h, uint32_t events);
void ev_del(struct ev_loop *loop, struct ev_handler *h);
/* Dispatch events until a handler sets loop->stop. */
int ev_run(struct ev_loop *loop);
/* Wait up to timeout_ms (-1: forever) once; returns events dispatched. */
int ev_run_once(struct ev_loop *loop, int timeout_ms);

struct vm_notify;
/*
 * A vm_notify whose watch/unwatch/rewatch use loop and whose KVM parts
 * fail (-ENOTSUP): for what runs before there is a VM (the API socket).
 */
void loop_notifier_init(struct vm_notify *n, struct ev_loop *loop);

/* Create a non-blocking eventfd; -errno. */
int eventfd_new(void);
void eventfd_signal(int fd);
void eventfd_drain(int fd);

#endif
