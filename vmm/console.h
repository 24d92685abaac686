/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host side of the guest console: stdin/stdout, the terminal in raw
 * mode (restored on every exit path), and the Ctrl-A escape. Input flows
 * to one attached device with back-pressure: when the device is full,
 * stdin is no longer read until the device reports room.
 */
#ifndef VIREO_CONSOLE_H
#define VIREO_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "loop.h"

#define CONSOLE_ESCAPE 0x01	/* Ctrl-A */

struct console {
	int in_fd, out_fd;
	bool tty;
	bool raw;
	struct termios saved;
	struct ev_loop *loop;
	struct ev_handler in_h;		/* stdin */
	struct ev_handler wake_h;	/* the device has room again */
	bool in_watched;		/* stdin is in the epoll set */
	bool in_pumped;			/* in_h.fd is a pipe fed from stdin */
	bool in_paused;
	bool escape;
	size_t pending_len;
	uint8_t pending[256];		/* read, not yet taken by the device */
	size_t (*rx)(void *opaque, const uint8_t *buf, size_t len);
	void *rx_opaque;
	void (*quit)(void *opaque);
	void *quit_opaque;
	pthread_mutex_t out_lock;
};

/* Watch in_fd on loop; put a terminal into raw mode. -errno. */
int console_init(struct console *c, struct ev_loop *loop, int in_fd,
		 int out_fd);
/* Restore the terminal and stop watching. Safe to call twice. */
void console_fini(struct console *c);

/* Route input to rx (NULL detaches); quit runs on Ctrl-A x. */
void console_attach(struct console *c,
		    size_t (*rx)(void *opaque, const uint8_t *buf, size_t len),
		    void *opaque);
void console_set_quit(struct console *c, void (*quit)(void *opaque),
		      void *opaque);

/* Guest output. Any thread. */
void console_write(struct console *c, const void *buf, size_t len);
/* The attached device can take input again. Any thread. */
void console_rx_room(struct console *c);

/*
 * Escape processing, exposed for tests: consume in[0..len), write the bytes
 * meant for the guest to out (room for 2 * len) and return their count;
 * *quit is set by Ctrl-A x.
 */
size_t console_filter(struct console *c, const uint8_t *in, size_t len,
		      uint8_t *out, bool *quit);

#endif
