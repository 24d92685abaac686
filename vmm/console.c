// SPDX-License-Identifier: GPL-2.0
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "sandbox.h"

#define FLUSH_TIMEOUT_S 3

static const char escape_help[] =
	"\r\nvireo: Ctrl-A x  quit\r\n"
	"vireo: Ctrl-A Ctrl-A  send Ctrl-A\r\n"
	"vireo: Ctrl-A h  this help\r\n";

/* For the fatal-signal path: the terminal to restore, if any. */
static int raw_fd = -1;
static struct termios raw_saved;

static void restore_on_signal(int sig)
{
	if (raw_fd >= 0)
		tcsetattr(raw_fd, TCSANOW, &raw_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void console_raw(struct console *c)
{
	struct termios t;
	struct sigaction sa = { .sa_handler = restore_on_signal };
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
	unsigned int i;

	if (tcgetattr(c->in_fd, &c->saved) < 0)
		return;
	t = c->saved;
	cfmakeraw(&t);
	/* Keep output processing: guest "\n" still returns the carriage. */
	t.c_oflag |= OPOST | ONLCR;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(c->in_fd, TCSANOW, &t) < 0)
		return;
	c->raw = true;
	raw_fd = c->in_fd;
	raw_saved = c->saved;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND;
	for (i = 0; i < ARRAY_SIZE(fatal); i++)
		sigaction(fatal[i], &sa, NULL);
}

size_t console_filter(struct console *c, const uint8_t *in, size_t len,
		      uint8_t *out, bool *quit)
{
	size_t i, n = 0;

	*quit = false;
	for (i = 0; i < len; i++) {
		uint8_t b = in[i];

		if (!c->escape) {
			if (b == CONSOLE_ESCAPE)
				c->escape = true;
			else
				out[n++] = b;
			continue;
		}
		c->escape = false;
		switch (b) {
		case 'x':
		case 'X':
			*quit = true;
			return n;
		case CONSOLE_ESCAPE:
			out[n++] = CONSOLE_ESCAPE;
			break;
		case 'h':
		case 'H':
		case '?':
			console_write(c, escape_help, sizeof(escape_help) - 1);
			break;
		default:
			out[n++] = CONSOLE_ESCAPE;
			out[n++] = b;
		}
	}
	return n;
}

/* ---- input ------------------------------------------------------------- */

/* Stop or resume reading input: the fd leaves or rejoins the epoll set. */
static void console_set_input(struct console *c, bool on)
{
	if (!c->in_open || c->in_paused == !on)
		return;
	if (on) {
		if (ev_add(c->loop, &c->in_h, EPOLLIN))
			return;
	} else {
		ev_del(c->loop, &c->in_h);
	}
	c->in_paused = !on;
}

static void console_stop_input(struct console *c)
{
	if (!c->in_open)
		return;
	if (!c->in_paused)
		ev_del(c->loop, &c->in_h);
	c->in_open = false;
	c->in_paused = false;
	if (c->in_pumped) {
		close(c->in_h.fd);
		c->in_pumped = false;
	}
}

/* Offer pending input to the device; pause input while it is full. */
static void console_flush_pending(struct console *c)
{
	size_t taken;

	if (c->pending_len && c->rx) {
		taken = c->rx(c->rx_opaque, c->pending, c->pending_len);
		memmove(c->pending, c->pending + taken, c->pending_len - taken);
		c->pending_len -= taken;
	}
	console_set_input(c, c->pending_len == 0);
}

static void console_on_input(struct ev_handler *h, uint32_t events)
{
	struct console *c = container_of(h, struct console, in_h);
	uint8_t buf[sizeof(c->pending) / 2];
	bool quit;
	ssize_t n;

	(void)events;
	if (c->pending_len) {		/* cannot happen: paused meanwhile */
		console_set_input(c, false);
		return;
	}
	n = read(h->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF, hang-up or error: the guest runs on without input. */
		console_stop_input(c);
		return;
	}
	c->pending_len = console_filter(c, buf, (size_t)n, c->pending, &quit);
	console_flush_pending(c);
	if (quit && c->quit)
		c->quit(c->quit_opaque);
}

static void console_on_wake(struct ev_handler *h, uint32_t events)
{
	struct console *c = container_of(h, struct console, wake_h);

	(void)events;
	eventfd_drain(h->fd);
	console_flush_pending(c);
}

/* Input from a regular file: a thread feeds a pipe the loop can watch. */
static int pump_file(int in_fd)
{
	int p[2], ret;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	ret = fd_pump_start(in_fd, p[1], false, NULL);
	if (ret) {
		close(p[0]);
		close(p[1]);
		return ret;
	}
	return p[0];
}

/* ---- output ------------------------------------------------------------ */

static void *output_writer(void *arg)
{
	struct console *c = arg;

	pthread_mutex_lock(&c->out_lock);
	for (;;) {
		size_t chunk;
		ssize_t n;

		while (!c->out_len && !c->out_quit)
			pthread_cond_wait(&c->out_cond, &c->out_lock);
		sandbox_thread(SB_WORKER);
		if (!c->out_len)
			break;
		chunk = MIN(c->out_len, CONSOLE_OUT_BUF - c->out_head);
		/* Only this thread frees ring space: the bytes stay put. */
		pthread_mutex_unlock(&c->out_lock);
		n = write(c->out_fd, c->out_buf + c->out_head, chunk);
		pthread_mutex_lock(&c->out_lock);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			c->out_broken = true;	/* stdout is gone: drop */
			c->out_len = 0;
		} else {
			c->out_head = (c->out_head + (size_t)n) % CONSOLE_OUT_BUF;
			c->out_len -= (size_t)n;
		}
		pthread_cond_broadcast(&c->out_cond);
		if (c->out_want_room && c->room &&
		    CONSOLE_OUT_BUF - c->out_len >= CONSOLE_OUT_BUF / 2) {
			c->out_want_room = false;
			c->room(c->room_opaque);
		}
	}
	c->out_done = true;
	pthread_cond_broadcast(&c->out_cond);
	pthread_mutex_unlock(&c->out_lock);
	return NULL;
}

void console_write(struct console *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_mutex_lock(&c->out_lock);
	while (len && !c->out_broken && !c->out_quit) {
		size_t room = CONSOLE_OUT_BUF - c->out_len, tail, n;

		if (!room) {
			if (c->out_release)
				break;		/* the VM is stopping: drop */
			pthread_cond_wait(&c->out_cond, &c->out_lock);
			continue;
		}
		tail = (c->out_head + c->out_len) % CONSOLE_OUT_BUF;
		n = MIN(MIN(room, len), CONSOLE_OUT_BUF - tail);
		memcpy(c->out_buf + tail, p, n);
		c->out_len += n;
		p += n;
		len -= n;
		pthread_cond_broadcast(&c->out_cond);
	}
	pthread_mutex_unlock(&c->out_lock);
}

size_t console_try_write(struct console *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t done = 0;

	pthread_mutex_lock(&c->out_lock);
	if (c->out_broken || c->out_quit) {
		done = len;			/* nowhere to go: drop */
		goto out;
	}
	while (done < len) {
		size_t room = CONSOLE_OUT_BUF - c->out_len, tail, n;

		if (!room)
			break;
		tail = (c->out_head + c->out_len) % CONSOLE_OUT_BUF;
		n = MIN(MIN(room, len - done), CONSOLE_OUT_BUF - tail);
		memcpy(c->out_buf + tail, p + done, n);
		c->out_len += n;
		done += n;
	}
	if (done < len)
		c->out_want_room = true;
	if (done)
		pthread_cond_broadcast(&c->out_cond);
out:
	pthread_mutex_unlock(&c->out_lock);
	return done;
}

void console_set_room(struct console *c, void (*room)(void *opaque),
		      void *opaque)
{
	pthread_mutex_lock(&c->out_lock);
	c->room = room;
	c->room_opaque = opaque;
	c->out_want_room = false;
	pthread_mutex_unlock(&c->out_lock);
}

bool console_winsize(struct console *c, uint16_t *cols, uint16_t *rows)
{
	struct winsize ws;

	if (!c->tty || ioctl(c->in_fd, TIOCGWINSZ, &ws) < 0 || !ws.ws_col)
		return false;
	*cols = ws.ws_col;
	*rows = ws.ws_row;
	return true;
}

void console_release_writers(struct console *c, bool release)
{
	pthread_mutex_lock(&c->out_lock);
	c->out_release = release;
	pthread_cond_broadcast(&c->out_cond);
	pthread_mutex_unlock(&c->out_lock);
}

static void output_stop(struct console *c)
{
	struct timespec deadline;
	bool done;

	if (!c->out_thread_started)
		return;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += FLUSH_TIMEOUT_S;
	pthread_mutex_lock(&c->out_lock);
	c->out_quit = true;
	pthread_cond_broadcast(&c->out_cond);
	while (!c->out_done &&
	       pthread_cond_timedwait(&c->out_cond, &c->out_lock, &deadline) == 0)
		;
	done = c->out_done;
	pthread_mutex_unlock(&c->out_lock);
	c->out_thread_started = false;
	/* A writer stuck on a dead stdout is left to process exit. */
	if (!done) {
		pthread_detach(c->out_thread);
		return;
	}
	pthread_join(c->out_thread, NULL);
	free(c->out_buf);
	c->out_buf = NULL;
}

/* ---- setup ------------------------------------------------------------- */

int console_init(struct console *c, struct ev_loop *loop, int in_fd,
		 int out_fd)
{
	int ret;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->out_lock, NULL);
	pthread_cond_init(&c->out_cond, NULL);
	c->loop = loop;
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->out_buf = malloc(CONSOLE_OUT_BUF);
	if (!c->out_buf)
		return -ENOMEM;
	ret = pthread_create(&c->out_thread, NULL, output_writer, c);
	if (ret)
		return -ret;
	c->out_thread_started = true;
	c->wake_h.fn = console_on_wake;
	c->wake_h.fd = eventfd_new();
	if (c->wake_h.fd < 0)
		return c->wake_h.fd;
	ret = ev_add(loop, &c->wake_h, EPOLLIN);
	if (ret)
		return ret;
	c->in_h.fn = console_on_input;
	c->in_h.fd = in_fd;
	ret = ev_add(loop, &c->in_h, EPOLLIN);
	if (ret == -EPERM) {
		c->in_h.fd = pump_file(in_fd);
		if (c->in_h.fd < 0)
			return c->in_h.fd;
		c->in_pumped = true;
		ret = ev_add(loop, &c->in_h, EPOLLIN);
	}
	if (ret)
		return ret;
	c->in_open = true;
	c->tty = isatty(in_fd);
	if (c->tty)
		console_raw(c);
	return 0;
}

void console_fini(struct console *c)
{
	output_stop(c);
	if (c->raw) {
		tcsetattr(c->in_fd, TCSANOW, &c->saved);
		c->raw = false;
		raw_fd = -1;
	}
	console_stop_input(c);
	if (c->wake_h.fd > 0) {
		ev_del(c->loop, &c->wake_h);
		close(c->wake_h.fd);
		c->wake_h.fd = -1;
	}
}

void console_attach(struct console *c,
		    size_t (*rx)(void *opaque, const uint8_t *buf, size_t len),
		    void *opaque)
{
	c->rx = rx;
	c->rx_opaque = opaque;
	/* A new device (after a restart) may take what the old one left. */
	if (rx)
		console_flush_pending(c);
}

void console_set_quit(struct console *c, void (*quit)(void *opaque),
		      void *opaque)
{
	c->quit = quit;
	c->quit_opaque = opaque;
}

void console_rx_room(struct console *c)
{
	if (c->wake_h.fd >= 0)
		eventfd_signal(c->wake_h.fd);
}
