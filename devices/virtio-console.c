// SPDX-License-Identifier: GPL-2.0
#include "virtio-console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../vmm/util.h"

#define VIRTIO_ID_CONSOLE		3
#define VIRTIO_CONSOLE_F_SIZE		0
#define VIRTIO_CONSOLE_F_MULTIPORT	1

#define DEVICE_READY		0
#define DEVICE_ADD		1
#define PORT_READY		3
#define CONSOLE_PORT		4
#define RESIZE			5
#define PORT_OPEN		6
#define PORT_NAME		7

#define CTRL_RXQ		2	/* device -> driver */
#define CTRL_TXQ		3	/* driver -> device */
#define CTRL_HDR		8
#define CFG_SIZE		12
#define NUM_QUEUES		(2 * (CON_MAX_PORTS + 1))

static bool multiport(const struct virtio_console *c)
{
	return c->vdev.acked & (1ULL << VIRTIO_CONSOLE_F_MULTIPORT);
}

static unsigned int rxq(unsigned int p)
{
	return p ? 2 + 2 * p : 0;
}

static unsigned int txq(unsigned int p)
{
	return p ? 3 + 2 * p : 1;
}

/* Without MULTIPORT there is only port 0, ready once the driver is. */
static bool port_ready(const struct cport *p)
{
	return multiport(p->con) ? p->guest_ready : p->id == 0;
}

/* ---- control messages: device -> driver --------------------------------- */

static void ctrl_flush(struct virtio_console *c)
{
	struct virtq *vq = &c->vdev.vq[CTRL_RXQ];
	bool pushed = false;
	int ret = 0;

	while (c->ctrl_len && (ret = vq_pop(vq, &c->ctrl_elem)) > 0) {
		struct ctrl_msg *m = &c->ctrl[0];
		uint8_t buf[CTRL_HDR + CON_NAME_MAX + 4];
		size_t len = CTRL_HDR;

		virtio_check_layout(&c->vdev, CTRL_RXQ, &c->ctrl_elem,
				    VQ_DEVICE_WRITES);
		put_le32(buf, m->id);
		put_le16(buf + 4, m->event);
		put_le16(buf + 6, m->value);
		if (m->has_size) {
			put_le16(buf + 8, m->cols);
			put_le16(buf + 10, m->rows);
			len += 4;
		} else if (m->event == PORT_NAME) {
			memcpy(buf + CTRL_HDR, m->name, strlen(m->name));
			len += strlen(m->name);
		}
		len = vq_elem_write(&c->ctrl_elem, 0, buf, len);
		vq_push(vq, &c->ctrl_elem, (uint32_t)len);
		pushed = true;
		memmove(c->ctrl, c->ctrl + 1, (c->ctrl_len - 1) * sizeof(*m));
		c->ctrl_len--;
	}
	if (ret < 0) {
		virtio_dev_broken(&c->vdev);
		return;
	}
	if (pushed)
		virtio_queue_notify(&c->vdev, CTRL_RXQ);
}

static void ctrl_send(struct virtio_console *c, const struct ctrl_msg *m)
{
	if (!multiport(c) || !virtio_dev_running(&c->vdev))
		return;
	if (c->ctrl_len == CON_CTRL_PENDING) {
		c->dropped_ctrl++;	/* the driver posts no buffers: bounded */
		return;
	}
	c->ctrl[c->ctrl_len++] = *m;
	ctrl_flush(c);
}

static void ctrl_event(struct virtio_console *c, uint32_t id, uint16_t event,
		       uint16_t value)
{
	struct ctrl_msg m = { .id = id, .event = event, .value = value };

	ctrl_send(c, &m);
}

/* ---- guest -> host ------------------------------------------------------- */

static void port_tx(struct cport *p);
static void port_rx_flush(struct cport *p);

static bool host_takes_output(const struct cport *p)
{
	return p->cfg.kind != CPORT_SOCKET || p->host_open;
}

static void conn_close(struct cport *p);

/*
 * Write what the host side takes now; 1 when the buffer is done, 0 when
 * the host must make room first.
 */
static int tx_write(struct cport *p, const uint8_t *buf, size_t len,
		    size_t *taken)
{
	ssize_t n;

	*taken = len;
	switch (p->cfg.kind) {
	case CPORT_STDIO:
		*taken = console_try_write(p->con->stdio, buf, len);
		return *taken == len;
	case CPORT_SOCKET:
		if (p->conn_fd < 0)
			return 1;
		n = send(p->conn_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			*taken = 0;
			return 0;
		}
		if (n < 0) {
			conn_close(p);		/* dropped with the client */
			return 1;
		}
		*taken = (size_t)n;
		return *taken == len;
	case CPORT_FILE:
		/* A pipe to the port's writer thread: never blocks. */
		n = write(p->file_fd, buf, len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			*taken = 0;
			return 0;
		}
		if (n < 0)
			return 1;		/* dropped; the guest goes on */
		*taken = (size_t)n;
		return *taken == len;
	default:
		return 1;
	}
}

static void port_tx(struct cport *p)
{
	struct virtio_dev *d = &p->con->vdev;
	struct virtq *vq = &d->vq[txq(p->id)];
	struct vq_budget budget;
	bool pushed = false, more = false;

	vq_budget_init(&budget, vq->size, VQ_TURN_BYTES);
	for (;;) {
		unsigned int i;
		uint64_t skip;
		int ret;

		if (vq_budget_spent(&budget)) {
			more = true;	/* a turn's worth: the rest later */
			break;
		}

		if (!p->tx_pending) {
			/* A closed host side: leave the guest's data in the ring. */
			if (!host_takes_output(p))
				break;
			ret = vq_pop(vq, &p->tx);
			if (ret < 0) {
				virtio_dev_broken(d);
				return;
			}
			if (!ret)
				break;
			virtio_check_layout(d, txq(p->id), &p->tx,
					    VQ_DEVICE_READS);
			vq_budget_take(&budget);
			p->tx_pending = true;
			p->tx_off = 0;
		}
		skip = p->tx_off;
		for (i = 0; i < p->tx.nr_out; i++) {
			const struct iovec *v = &p->tx.iov[i];
			size_t taken, len;

			if (skip >= v->iov_len) {
				skip -= v->iov_len;
				continue;
			}
			if (vq_budget_spent(&budget))
				break;	/* mid-buffer: tx_off keeps the place */
			len = (size_t)MIN(v->iov_len - skip, budget.bytes);
			ret = tx_write(p, (uint8_t *)v->iov_base + skip, len,
				       &taken);
			vq_budget_spend(&budget, taken);
			p->tx_off += taken;
			skip = 0;
			if (!ret)
				goto wait;	/* resumes on room / EPOLLOUT */
		}
		if (p->tx_off < p->tx.out_len) {
			more = true;
			break;
		}
		vq_push(vq, &p->tx, 0);
		p->tx_pending = false;
		pushed = true;
	}
	if (pushed)
		virtio_queue_notify(d, txq(p->id));
	if (more)
		virtio_kick_later(d, txq(p->id));
	return;
wait:
	if (p->cfg.kind == CPORT_FILE && !p->file_watched) {
		struct vm_notify *n = &p->con->notify;

		if (!n->ops->watch(n->ctx, &p->file_h)) {
			n->ops->rewatch(n->ctx, &p->file_h, EPOLLOUT);
			p->file_watched = true;
		}
	}
	if (p->cfg.kind == CPORT_SOCKET && !p->conn_wants_out) {
		p->conn_wants_out = true;
		p->con->notify.ops->rewatch(p->con->notify.ctx, &p->conn_h,
					    (p->rx_paused ? 0 : EPOLLIN) | EPOLLOUT);
	}
	if (pushed)
		virtio_queue_notify(d, txq(p->id));
}

/* ---- host -> guest ------------------------------------------------------- */

/*
 * Linux drops what arrives on a generic port it has not opened, so input
 * waits in rx[] until the guest opens the port. The console port takes
 * input at any time.
 */
static bool port_takes_input(const struct cport *p)
{
	if (!port_ready(p))
		return false;
	return !multiport(p->con) || p->cfg.kind == CPORT_STDIO ||
	       p->guest_open;
}

static void source_set(struct cport *p, bool on)
{
	struct vm_notify *n = &p->con->notify;

	if (p->rx_paused == !on)
		return;
	p->rx_paused = !on;
	if (p->cfg.kind == CPORT_STDIO && on) {
		console_rx_room(p->con->stdio);
	} else if (p->cfg.kind == CPORT_SOCKET && p->conn_watched) {
		n->ops->rewatch(n->ctx, &p->conn_h,
				(on ? EPOLLIN : 0) |
				(p->conn_wants_out ? EPOLLOUT : 0));
	}
}

static void port_rx_flush(struct cport *p)
{
	struct virtio_dev *d = &p->con->vdev;
	struct virtq *vq = &d->vq[rxq(p->id)];
	struct vq_elem *e = &p->con->rx_elem;
	bool pushed = false;
	int ret = 0;

	while (p->rx_len && port_takes_input(p) && virtio_dev_running(d) &&
	       (ret = vq_pop(vq, e)) > 0) {
		size_t n;

		virtio_check_layout(d, rxq(p->id), e, VQ_DEVICE_WRITES);
		n = vq_elem_write(e, 0, p->rx, p->rx_len);

		vq_push(vq, e, (uint32_t)n);
		memmove(p->rx, p->rx + n, p->rx_len - n);
		p->rx_len -= n;
		pushed = true;
	}
	if (ret < 0) {
		virtio_dev_broken(d);
		return;
	}
	if (pushed)
		virtio_queue_notify(d, rxq(p->id));
	source_set(p, p->rx_len < CON_RX_BUF);
}

/* Stage host input; returns how much fit. Called with the lock held. */
static size_t port_rx_take(struct cport *p, const uint8_t *buf, size_t len)
{
	size_t n = MIN(len, CON_RX_BUF - p->rx_len);

	memcpy(p->rx + p->rx_len, buf, n);
	p->rx_len += n;
	port_rx_flush(p);
	if (p->rx_len == CON_RX_BUF)
		source_set(p, false);
	return n;
}

/* The console hands stdin over here (event loop). */
static size_t stdio_rx(void *opaque, const uint8_t *buf, size_t len)
{
	struct cport *p = opaque;
	size_t n;

	pthread_mutex_lock(&p->con->vdev.lock);
	n = port_rx_take(p, buf, len);
	if (n < len)
		p->rx_paused = true;	/* the console stops reading stdin */
	pthread_mutex_unlock(&p->con->vdev.lock);
	return n;
}

/* stdout has room again (from the console's writer thread). */
static void stdio_room(void *opaque)
{
	struct virtio_console *c = opaque;

	eventfd_signal(c->room_h.fd);
}

static void on_room(struct ev_handler *h, uint32_t events)
{
	struct virtio_console *c = container_of(h, struct virtio_console, room_h);

	(void)events;
	eventfd_drain(h->fd);
	pthread_mutex_lock(&c->vdev.lock);
	if (virtio_dev_running(&c->vdev))
		port_tx(&c->port[0]);
	pthread_mutex_unlock(&c->vdev.lock);
}

/* ---- unix socket ports ---------------------------------------------------- */

static void conn_close(struct cport *p)
{
	struct vm_notify *n = &p->con->notify;

	if (p->conn_fd < 0)
		return;
	if (p->conn_watched)
		n->ops->unwatch(n->ctx, &p->conn_h);
	p->conn_watched = false;
	p->conn_wants_out = false;
	close(p->conn_fd);
	p->conn_fd = -1;
	p->host_open = false;
	p->rx_paused = false;
	ctrl_event(p->con, p->id, PORT_OPEN, 0);
	/* Ready for the next client. */
	n->ops->watch(n->ctx, &p->listen_h);
}

static void on_conn(struct ev_handler *h, uint32_t events)
{
	struct cport *p = container_of(h, struct cport, conn_h);
	uint8_t buf[CON_RX_BUF];
	ssize_t n;

	pthread_mutex_lock(&p->con->vdev.lock);
	if ((events & EPOLLOUT) && p->conn_wants_out) {
		p->conn_wants_out = false;
		p->con->notify.ops->rewatch(p->con->notify.ctx, &p->conn_h,
					    p->rx_paused ? 0 : EPOLLIN);
		if (virtio_dev_running(&p->con->vdev))
			port_tx(p);
	}
	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && p->conn_fd >= 0 &&
	    !p->rx_paused) {
		n = recv(p->conn_fd, buf, CON_RX_BUF - p->rx_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(p);
		else if (n > 0)
			port_rx_take(p, buf, (size_t)n);
	}
	pthread_mutex_unlock(&p->con->vdev.lock);
}

/* The file port's pipe has room again. */
static void on_file_room(struct ev_handler *h, uint32_t events)
{
	struct cport *p = container_of(h, struct cport, file_h);
	struct vm_notify *n = &p->con->notify;

	(void)events;
	pthread_mutex_lock(&p->con->vdev.lock);
	if (p->file_watched) {
		n->ops->unwatch(n->ctx, &p->file_h);
		p->file_watched = false;
	}
	if (virtio_dev_running(&p->con->vdev))
		port_tx(p);
	pthread_mutex_unlock(&p->con->vdev.lock);
}

/*
 * A file port: the loop writes into a non-blocking pipe; a thread appends
 * what comes out of it to the file, so a slow file holds up only the
 * port (the guest's buffers wait in the ring), never the loop.
 */
static int file_port_open(struct cport *p, char *err, size_t errlen)
{
	int fd, pfd[2], ret;

	fd = open(p->cfg.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		  0644);
	if (fd < 0) {
		ret = -errno;
		errf(err, errlen, "--console-port %s: '%s': %s", p->cfg.name,
		     p->cfg.path, strerror(errno));
		return ret;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0 ||
	    fcntl(pfd[1], F_SETFL, O_NONBLOCK) < 0) {
		ret = -errno;
		close(fd);
		errf(err, errlen, "--console-port %s: a pipe: %s", p->cfg.name,
		     strerror(errno));
		return ret;
	}
	fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20);	/* best effort */
	ret = fd_pump_start(pfd[0], fd, true, &p->file_thread);
	if (ret) {
		close(pfd[0]);
		close(pfd[1]);
		close(fd);
		errf(err, errlen, "--console-port %s: cannot start its writer "
		     "thread", p->cfg.name);
		return ret;
	}
	p->file_fd = pfd[1];
	p->file_h.fd = pfd[1];
	p->file_h.fn = on_file_room;
	return 0;
}

static void on_listen(struct ev_handler *h, uint32_t events)
{
	struct cport *p = container_of(h, struct cport, listen_h);
	struct vm_notify *n = &p->con->notify;
	int fd;

	(void)events;
	fd = accept4(h->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	pthread_mutex_lock(&p->con->vdev.lock);
	/* One client at a time: stop listening until it leaves. */
	n->ops->unwatch(n->ctx, &p->listen_h);
	p->conn_fd = fd;
	p->conn_h.fd = fd;
	p->conn_h.fn = on_conn;
	p->rx_paused = false;
	if (!n->ops->watch(n->ctx, &p->conn_h))
		p->conn_watched = true;
	p->host_open = true;
	if (port_ready(p))
		ctrl_event(p->con, p->id, PORT_OPEN, 1);
	if (virtio_dev_running(&p->con->vdev)) {
		port_rx_flush(p);
		port_tx(p);
	}
	pthread_mutex_unlock(&p->con->vdev.lock);
}

static int socket_listen(struct cport *p, char *err, size_t errlen)
{
	char what[64];
	int fd;

	snprintf(what, sizeof(what), "--console-port %s socket", p->cfg.name);
	fd = unix_listen(p->cfg.path, what, err, errlen);
	if (fd < 0)
		return fd;
	p->listen_fd = fd;
	p->listen_h.fd = fd;
	p->listen_h.fn = on_listen;
	return p->con->notify.ops->watch(p->con->notify.ctx, &p->listen_h);
}

/* ---- the device ---------------------------------------------------------- */

static void ctrl_recv(struct virtio_console *c)
{
	struct virtq *vq = &c->vdev.vq[CTRL_TXQ];
	unsigned int budget = vq->size;
	struct vq_elem *e = &c->ctrl_elem;
	uint8_t hdr[CTRL_HDR];
	int ret = 0;

	while (budget-- && (ret = vq_pop(vq, e)) > 0) {
		size_t n = vq_elem_read(e, 0, hdr, sizeof(hdr));
		uint32_t id = get_le32(hdr);
		uint16_t event = get_le16(hdr + 4), value = get_le16(hdr + 6);
		struct cport *p = id < c->nr_ports ? &c->port[id] : NULL;
		unsigned int i;

		virtio_check_layout(&c->vdev, CTRL_TXQ, e, VQ_DEVICE_READS);
		vq_push(vq, e, 0);
		if (n < sizeof(hdr))
			continue;		/* too short: ignored */
		switch (event) {
		case DEVICE_READY:
			if (value != 1)
				break;
			for (i = 0; i < c->nr_ports; i++)
				ctrl_event(c, i, DEVICE_ADD, 1);
			break;
		case PORT_READY:
			if (!p || value != 1 || p->guest_ready)
				break;
			p->guest_ready = true;
			if (p->cfg.kind == CPORT_STDIO) {
				struct ctrl_msg m = { .id = 0, .event = RESIZE,
					.has_size = true, .cols = c->cols,
					.rows = c->rows };

				ctrl_event(c, 0, CONSOLE_PORT, 1);
				if (c->cols)
					ctrl_send(c, &m);
			}
			if (p->cfg.name[0]) {
				struct ctrl_msg m = { .id = id, .event = PORT_NAME };

				strcpy(m.name, p->cfg.name);
				ctrl_send(c, &m);
			}
			if (p->host_open)
				ctrl_event(c, id, PORT_OPEN, 1);
			port_rx_flush(p);
			break;
		case PORT_OPEN:
			if (!p)
				break;
			p->guest_open = value;
			port_rx_flush(p);
			break;
		}
	}
	if (ret < 0)
		virtio_dev_broken(&c->vdev);
	else
		virtio_queue_notify(&c->vdev, CTRL_TXQ);
	if (budget == (unsigned int)-1)
		virtio_kick_later(&c->vdev, CTRL_TXQ);
}

static void con_kick(struct virtio_dev *d, unsigned int q)
{
	struct virtio_console *c = d->priv;
	unsigned int port = q < 2 ? 0 : (q - 2) / 2;

	if (q == CTRL_RXQ) {
		ctrl_flush(c);
	} else if (q == CTRL_TXQ) {
		ctrl_recv(c);
	} else if (port < c->nr_ports && (q < 2 ? q == 0 : q % 2 == 0)) {
		port_rx_flush(&c->port[port]);
	} else if (port < c->nr_ports) {
		port_tx(&c->port[port]);
	}
}

static bool con_reset(struct virtio_dev *d)
{
	struct virtio_console *c = d->priv;
	unsigned int i;

	/* The rings are gone: held buffers and queued messages with them. */
	for (i = 0; i < c->nr_ports; i++) {
		c->port[i].tx_pending = false;
		c->port[i].guest_ready = false;
		c->port[i].guest_open = false;
	}
	c->ctrl_len = 0;
	return false;
}

/*
 * Pause: output taken from the guest and not yet written out goes back to
 * the ring, unless part of it was written (then it counts as sent).
 */
static void con_deactivate(struct virtio_dev *d, bool pause)
{
	struct virtio_console *c = d->priv;
	unsigned int i;

	for (i = 0; pause && i < c->nr_ports; i++) {
		struct cport *p = &c->port[i];

		if (!p->tx_pending)
			continue;
		if (p->tx_off)
			vq_push(&d->vq[txq(i)], &p->tx, 0);
		else
			vq_unpop(&d->vq[txq(i)], &p->tx);
		p->tx_pending = false;
	}
}

static int con_activate(struct virtio_dev *d, const struct virtio_activation *a)
{
	struct virtio_console *c = d->priv;

	/* Without MULTIPORT, port 0 works as soon as the driver does. */
	if (!multiport(c))
		port_rx_flush(&c->port[0]);
	return 0;
}

static void con_config_read(struct virtio_dev *d, uint32_t off, uint8_t *buf,
			    uint32_t len)
{
	struct virtio_console *c = d->priv;
	uint8_t cfg[CFG_SIZE] = { 0 };

	put_le16(cfg, c->cols);
	put_le16(cfg + 2, c->rows);
	put_le32(cfg + 4, c->nr_ports);
	memcpy(buf, cfg + off, len);
}

const struct virtio_dev_ops virtio_console_ops = {
	.name = "console",
	.device_id = VIRTIO_ID_CONSOLE,
	.num_queues = NUM_QUEUES,
	.queue_size = 128,
	.config_size = CFG_SIZE,
	.pci_class = 0x078000,		/* communication controller, other */
	.features = (1ULL << VIRTIO_CONSOLE_F_SIZE) |
		    (1ULL << VIRTIO_CONSOLE_F_MULTIPORT),
	.config_read = con_config_read,
	.activate = con_activate,
	.deactivate = con_deactivate,
	.reset = con_reset,
	.queue_kick = con_kick,
};

void virtio_console_resize(struct virtio_console *c)
{
	uint16_t cols, rows;

	if (!c->stdio || !console_winsize(c->stdio, &cols, &rows))
		return;
	pthread_mutex_lock(&c->vdev.lock);
	c->cols = cols;
	c->rows = rows;
	if (multiport(c) && c->port[0].guest_ready) {
		struct ctrl_msg m = { .id = 0, .event = RESIZE, .has_size = true,
				      .cols = cols, .rows = rows };

		ctrl_send(c, &m);
	} else {
		virtio_config_changed(&c->vdev);
	}
	pthread_mutex_unlock(&c->vdev.lock);
}

int virtio_console_init(struct virtio_console *c, const struct guest_mem *gm,
			const struct virtio_opts *opts,
			const struct cport_config *ports, unsigned int nr_ports,
			struct console *stdio, const struct vm_notify *notify,
			char *err, size_t errlen)
{
	unsigned int i;
	int ret;

	memset(c, 0, sizeof(*c));
	c->room_h.fd = -1;
	for (i = 0; i < CON_MAX_PORTS; i++)
		c->port[i].listen_fd = c->port[i].conn_fd = c->port[i].file_fd = -1;
	if (!nr_ports || nr_ports > CON_MAX_PORTS) {
		errf(err, errlen, "at most %d console ports", CON_MAX_PORTS - 1);
		return -EINVAL;
	}
	virtio_dev_init(&c->vdev, &virtio_console_ops, c, gm, opts);
	c->stdio = stdio;
	c->notify = *notify;
	c->nr_ports = nr_ports;
	if (stdio)
		console_winsize(stdio, &c->cols, &c->rows);
	for (i = 0; i < nr_ports; i++) {
		struct cport *p = &c->port[i];

		p->con = c;
		p->id = i;
		p->cfg = ports[i];
		switch (p->cfg.kind) {
		case CPORT_STDIO:
			p->host_open = true;
			break;
		case CPORT_SOCKET:
			ret = socket_listen(p, err, errlen);
			if (ret)
				return ret;
			break;
		case CPORT_FILE:
			ret = file_port_open(p, err, errlen);
			if (ret)
				return ret;
			p->host_open = true;
			break;
		case CPORT_NONE:
			break;
		}
	}
	if (stdio && ports[0].kind == CPORT_STDIO) {
		c->room_h.fn = on_room;
		c->room_h.fd = eventfd_new();
		if (c->room_h.fd < 0)
			return c->room_h.fd;
		ret = notify->ops->watch(notify->ctx, &c->room_h);
		if (ret)
			return ret;
		c->room_watched = true;
		console_set_room(stdio, stdio_room, c);
		console_attach(stdio, stdio_rx, &c->port[0]);
	}
	return 0;
}

void virtio_console_fini(struct virtio_console *c)
{
	struct vm_notify *n = &c->notify;
	unsigned int i;

	if (c->stdio && c->room_watched) {
		console_attach(c->stdio, NULL, NULL);
		console_set_room(c->stdio, NULL, NULL);
	}
	if (c->room_watched)
		n->ops->unwatch(n->ctx, &c->room_h);
	if (c->room_h.fd >= 0)
		close(c->room_h.fd);
	for (i = 0; i < c->nr_ports; i++) {
		struct cport *p = &c->port[i];

		if (p->conn_watched)
			n->ops->unwatch(n->ctx, &p->conn_h);
		if (p->conn_fd >= 0)
			close(p->conn_fd);
		if (p->listen_fd >= 0) {
			if (!p->host_open)
				n->ops->unwatch(n->ctx, &p->listen_h);
			close(p->listen_fd);
			unlink(p->cfg.path);
		}
		if (p->file_watched)
			n->ops->unwatch(n->ctx, &p->file_h);
		if (p->file_fd >= 0) {
			/* The writer thread empties the pipe, then ends. */
			close(p->file_fd);
			pthread_join(p->file_thread, NULL);
		}
	}
	if (c->nr_ports)
		virtio_dev_destroy(&c->vdev);
}

/* ---- the class ----------------------------------------------------------- */

static struct virtio_dev *con_create(const void *cfg,
				     const struct virtio_opts *opts,
				     const struct vdev_env *env, char *err,
				     size_t errlen)
{
	const struct console_config *cc = cfg;
	struct virtio_console *c = calloc(1, sizeof(*c));
	bool stdio = cc->ports[0].kind == CPORT_STDIO;

	if (!c) {
		errf(err, errlen, "console: out of memory");
		return NULL;
	}
	if (virtio_console_init(c, env->gm, opts, cc->ports, cc->nr_ports,
				stdio ? env->console : NULL, &env->notify, err,
				errlen)) {
		virtio_console_fini(c);
		free(c);
		return NULL;
	}
	return &c->vdev;
}

static void con_destroy(struct virtio_dev *d)
{
	struct virtio_console *c = d->priv;

	virtio_console_fini(c);
	free(c);
}

/* Per port: the guest made it ready, and has it open. */
static size_t con_save(struct virtio_dev *d, uint8_t *buf, size_t max)
{
	struct virtio_console *c = d->priv;
	unsigned int i;

	if (max < 2 * CON_MAX_PORTS)
		return 0;
	for (i = 0; i < CON_MAX_PORTS; i++) {
		buf[2 * i] = i < c->nr_ports && c->port[i].guest_ready;
		buf[2 * i + 1] = i < c->nr_ports && c->port[i].guest_open;
	}
	return 2 * CON_MAX_PORTS;
}

static int con_restore(struct virtio_dev *d, const uint8_t *buf, size_t len,
		       char *err, size_t errlen)
{
	struct virtio_console *c = d->priv;
	unsigned int i;

	if (len != 2 * CON_MAX_PORTS) {
		errf(err, errlen, "console: a saved state of %zu bytes, want %d",
		     len, 2 * CON_MAX_PORTS);
		return -EINVAL;
	}
	for (i = 0; i < c->nr_ports; i++) {
		c->port[i].guest_ready = buf[2 * i] != 0;
		c->port[i].guest_open = buf[2 * i + 1] != 0;
	}
	return 0;
}

/* Built from --console and --console-port, not from --device. */
const struct vdev_class virtio_console_class = {
	.name = "console",
	.once = true,
	.config_size = sizeof(struct console_config),
	.create = con_create,
	.destroy = con_destroy,
	.save = con_save,
	.restore = con_restore,
};
