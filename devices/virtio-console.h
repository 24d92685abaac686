/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-console (device ID 3) with MULTIPORT: port 0 is the console
 * (hvc0 on vireo's stdio with --console virtio), ports 1.. are named
 * ports the guest sees as /dev/vportNpM with /sys/class/virtio-ports/
 * .../name, backed by a unix socket (vireo listens; one client at a time,
 * reconnectable) or a file (output only). The terminal size follows the
 * host's (VIRTIO_CONSOLE_F_SIZE).
 *
 * Bounded and throttled (BAD-INPUTS 21): guest output is written from the
 * guest's own buffers, a buffer at a time, without blocking; while the
 * host side is slow or closed the buffer stays in the ring and the guest
 * waits. Host input is staged in at most CON_RX_BUF bytes per port; while
 * the guest has no receive buffers, the host side is not read.
 */
#ifndef VIREO_VIRTIO_CONSOLE_H
#define VIREO_VIRTIO_CONSOLE_H

#include "../virtio/virtio.h"
#include "../vmm/console.h"
#include "../vmm/irq.h"
#include "../vmm/loop.h"
#include "vdev.h"

#define CON_MAX_PORTS		7	/* port 0 + 6 named: 16 queues */
#define CON_RX_BUF		4096
#define CON_CTRL_PENDING	32	/* control messages awaiting buffers */
#define CON_NAME_MAX		63

enum cport_kind {
	CPORT_NONE,		/* no host side: output dropped */
	CPORT_STDIO,		/* vireo's terminal (port 0) */
	CPORT_SOCKET,		/* a unix socket vireo listens on */
	CPORT_FILE,		/* output appended to a file */
};

struct cport_config {
	enum cport_kind kind;
	char name[CON_NAME_MAX + 1];
	char path[256];
};

/* The device's configuration: port 0 (stdio or nothing), then named ports. */
struct console_config {
	unsigned int nr_ports;
	struct cport_config ports[CON_MAX_PORTS];
};

struct virtio_console;

struct cport {
	struct virtio_console *con;
	unsigned int id;
	struct cport_config cfg;
	bool guest_ready;		/* PORT_READY seen */
	bool guest_open;		/* the guest has it open */
	bool host_open;			/* someone on the host side */
	int listen_fd, conn_fd, file_fd;
	struct ev_handler listen_h;
	struct ev_handler conn_h;
	struct ev_handler file_h;	/* the file port's pipe has room */
	bool file_watched;
	pthread_t file_thread;		/* drains the pipe into the file */
	bool conn_watched, conn_wants_out;
	/* guest -> host: a transmit buffer being written out */
	struct vq_elem tx;
	bool tx_pending;
	uint64_t tx_off;
	/* host -> guest: staged, waiting for receive buffers */
	uint8_t rx[CON_RX_BUF];
	size_t rx_len;
	bool rx_paused;			/* the host side is not being read */
};

struct ctrl_msg {
	uint32_t id;
	uint16_t event, value;
	uint16_t cols, rows;		/* RESIZE */
	bool has_size;
	char name[CON_NAME_MAX + 1];	/* PORT_NAME */
};

struct virtio_console {
	struct virtio_dev vdev;
	struct console *stdio;
	struct vm_notify notify;
	unsigned int nr_ports;
	struct cport port[CON_MAX_PORTS];
	uint16_t cols, rows;
	struct ev_handler room_h;	/* stdout has room again */
	bool room_watched;
	struct ctrl_msg ctrl[CON_CTRL_PENDING];
	unsigned int ctrl_len;
	struct vq_elem ctrl_elem;
	struct vq_elem rx_elem;		/* scratch for host -> guest */
	uint64_t dropped_ctrl;
};

extern const struct virtio_dev_ops virtio_console_ops;
extern const struct vdev_class virtio_console_class;

/*
 * ports[0] is the console port (CPORT_STDIO or CPORT_NONE); the others
 * are named ports. stdio may be NULL when no port uses it.
 */
int virtio_console_init(struct virtio_console *c, const struct guest_mem *gm,
			const struct virtio_opts *opts,
			const struct cport_config *ports, unsigned int nr_ports,
			struct console *stdio, const struct vm_notify *notify,
			char *err, size_t errlen);
void virtio_console_fini(struct virtio_console *c);
/* The host terminal changed size (SIGWINCH). */
void virtio_console_resize(struct virtio_console *c);

#endif
