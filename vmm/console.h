/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host side of the guest console: stdin/stdout, the terminal in raw
 * mode (restored on every exit path), and the Ctrl-A escape.
 *
 * Input flows to one attached device with back-pressure: while the device
 * is full, stdin is taken out of the event loop (so a hang-up cannot spin
 * it) and resumes when the device reports room, or when a new device is
 * attached after a restart.
 *
 * Output goes through a bounded ring drained by a writer thread, so a
 * slow or stalled stdout never blocks a device lock or the event loop.
 * A guest writing faster than stdout reads is throttled (its vCPU waits
 * for room); console_release_writers() lets waiting vCPUs go when the VM
 * stops, dropping what they could not queue.
 */
#ifndef VIREO_CONSOLE_H
#define VIREO_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "loop.h"

#define CONSOLE_ESCAPE	0x01	/* Ctrl-A */
#define CONSOLE_OUT_BUF	(64 * 1024)

struct console {
	int in_fd, out_fd;
	bool tty;
	bool raw;
	struct termios saved;
	struct ev_loop *loop;
	struct ev_handler in_h;		/* stdin (or a pipe fed from it) */
	struct ev_handler wake_h;	/* the device has room again */
	bool in_open;			/* input not at EOF */
	bool in_paused;			/* in_h is out of the epoll set */
	bool in_pumped;			/* in_h.fd is a pipe fed from stdin */
	bool escape;
	size_t pending_len;
	uint8_t pending[256];		/* read, not yet taken by the device */
	size_t (*rx)(void *opaque, const uint8_t *buf, size_t len);
	void *rx_opaque;
	void (*quit)(void *opaque);
	void *quit_opaque;

	/* Output ring, drained by out_thread. */
	pthread_mutex_t out_lock;
	pthread_cond_t out_cond;
	uint8_t *out_buf;
	size_t out_head, out_len;
	bool out_release;		/* producers must not wait */
	bool out_broken;		/* stdout failed: drop output */
	bool out_quit;			/* the writer should exit */
	bool out_done;			/* the writer exited */
	bool out_thread_started;
	pthread_t out_thread;
	bool out_want_room;		/* a try_write came up short */
	void (*room)(void *opaque);
	void *room_opaque;
};

/* Watch in_fd on loop; raw mode for a terminal; start the writer. -errno. */
int console_init(struct console *c, struct ev_loop *loop, int in_fd,
		 int out_fd);
/* Flush output (up to a few seconds), restore the terminal. Idempotent. */
void console_fini(struct console *c);

/* Route input to rx (NULL detaches); queued input goes to the new one. */
void console_attach(struct console *c,
		    size_t (*rx)(void *opaque, const uint8_t *buf, size_t len),
		    void *opaque);
void console_set_quit(struct console *c, void (*quit)(void *opaque),
		      void *opaque);

/* Guest output: queue it, waiting for room. Any thread. */
void console_write(struct console *c, const void *buf, size_t len);
/*
 * Queue what fits without waiting; returns the bytes taken. When it took
 * less than len, room() runs (on the writer thread) once space frees up.
 */
size_t console_try_write(struct console *c, const void *buf, size_t len);
void console_set_room(struct console *c, void (*room)(void *opaque),
		      void *opaque);
/* The terminal's size, if stdin is one. */
bool console_winsize(struct console *c, uint16_t *cols, uint16_t *rows);
/* Writers stop waiting for room (VM stopping); false restores waiting. */
void console_release_writers(struct console *c, bool release);
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
