/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-net (device ID 1) on a Linux tap, data path in the event loop.
 *
 * The tap is opened (or adopted with fd=N) with IFF_VNET_HDR: frames cross
 * it with the virtio-net header in front, so TX buffers go to the tap with
 * one writev() straight from guest memory, and the offloads the driver
 * negotiates (CSUM, TSO4/6 both ways) are switched on in the tap
 * (TUNSETOFFLOAD) at DRIVER_OK. Multiqueue taps give one fd per queue pair.
 *
 * RX: a frame is read from the tap into a per-pair buffer and copied into
 * the driver's receive buffers (several with MRG_RXBUF, all made visible
 * at once). When the driver has posted no buffers the frame stays pending
 * and vireo stops reading that tap until the next RX kick, so RX never
 * stalls and nothing is buffered without bound (Firecracker
 * CVE-2020-16843). A frame larger than the posted buffer without
 * MRG_RXBUF is dropped and counted.
 *
 * TX: the header length follows the negotiated features; a buffer shorter
 * than header + Ethernet header, or longer than header + 64 KiB + 18, is
 * dropped and counted (BAD-INPUTS 19); so is a frame the tap refuses (a
 * bad GSO header).
 *
 * Backends: the data path above runs in vireo's loop (net-tap.c), or the
 * kernel's vhost-net serves each queue pair on the tap (vhost=on|auto),
 * or a vhost-user backend process does (vhost-user=SOCKET, no tap): the
 * guest's kicks and interrupts then bypass vireo, and only the control
 * queue stays here (net-vhost.c). Features the backend lacks are not
 * offered. A vhost-user backend that goes away takes the link down
 * (VIRTIO_NET_S_LINK_UP cleared, config interrupt); it comes back up when
 * a backend is there again and the rings are restarted.
 */
#ifndef VIREO_VIRTIO_NET_H
#define VIREO_VIRTIO_NET_H

#include <net/if.h>

#include "../virtio/vhost-kernel.h"
#include "../virtio/vhost-user.h"
#include "../virtio/iothread.h"
#include "../virtio/virtio.h"
#include "../vmm/irq.h"
#include "../vmm/loop.h"
#include "vdev.h"

#define NET_QUEUE_SIZE		256
#define NET_MAX_PAIRS		4
#define NET_FRAME_MAX		(65536 + 18)	/* GSO IP + Ethernet + VLAN */
#define NET_HDR_MAX		12
#define NET_MAX_MAC_ENTRIES	64		/* MAC filter table, bounded */

#define VIRTIO_NET_F_CSUM		0
#define VIRTIO_NET_F_GUEST_CSUM		1
#define VIRTIO_NET_F_MTU		3
#define VIRTIO_NET_F_MAC		5
#define VIRTIO_NET_F_GUEST_TSO4		7
#define VIRTIO_NET_F_GUEST_TSO6		8
#define VIRTIO_NET_F_HOST_TSO4		11
#define VIRTIO_NET_F_HOST_TSO6		12
#define VIRTIO_NET_F_MRG_RXBUF		15
#define VIRTIO_NET_F_STATUS		16
#define VIRTIO_NET_F_CTRL_VQ		17
#define VIRTIO_NET_F_GUEST_ANNOUNCE	21
#define VIRTIO_NET_F_MQ			22

enum net_vhost {
	NET_VHOST_AUTO,		/* vhost-net if it can be used, else vireo */
	NET_VHOST_OFF,
	NET_VHOST_ON,		/* vhost-net or an error */
};

struct net_config {
	char tap[IFNAMSIZ];	/* open this tap (created if missing) */
	int fd;			/* or adopt this tap fd (-1: none) */
	uint8_t mac[6];
	bool mac_set;
	unsigned int mtu;	/* 0: leave the tap's */
	unsigned int queues;	/* queue pairs, 1..NET_MAX_PAIRS */
	enum net_vhost vhost;
	char vhost_dev[64];	/* default /dev/vhost-net */
	char vhost_user[108];	/* or a vhost-user backend's socket */
	bool server;		/* vhost-user: vireo listens */
	char vhost_vdpa[108];	/* or a vDPA net device's /dev/vhost-vdpa-N */
	/* Fault injection (driver tests), repeatable with seed: received
	 * frames dropped, delivered twice, with a broken checksum (and no
	 * DATA_VALID), or with a used length one byte short, each with a
	 * probability in percent; the link taken down and up every
	 * linkflap_ms (inject=rxdrop%P+rxdup%P+badcsum%P+shortlen%P+
	 * linkflap@MS). */
	unsigned int rxdrop_pct, rxdup_pct, badcsum_pct, shortlen_pct;
	unsigned int linkflap_ms;
	struct virtio_irq_faults irq;	/* irqlate@MS, irqcoalesce@N, ... */
	bool iothread;		/* queues and taps served by an I/O thread */
	uint64_t seed;
};

/* Faults on received frames? */
static inline bool net_rx_faults(const struct net_config *c)
{
	return c->rxdrop_pct || c->rxdup_pct || c->badcsum_pct ||
	       c->shortlen_pct;
}

/* Any inject= rule? (They happen on vireo's data path, not vhost-net.) */
static inline bool net_faults(const struct net_config *c)
{
	return net_rx_faults(c) || c->linkflap_ms || c->irq.late_ms ||
	       c->irq.coalesce || c->irq.spurious_ms;
}

enum net_backend {
	NET_INPROC,		/* vireo's loop (net-tap.c) */
	NET_VHOST_NET,		/* the kernel, one vhost-net fd per pair */
	NET_VHOST_USER,		/* a backend process, one socket */
};

struct net_stats {
	uint64_t rx_packets, rx_bytes, rx_dropped, rx_too_big;
	uint64_t tx_packets, tx_bytes, tx_dropped, tx_malformed;
	uint64_t tx_gso, tx_max;	/* GSO frames, the largest frame */
};

struct virtio_net;

struct net_pair {
	struct virtio_net *net;
	unsigned int idx;
	int tap_fd;
	struct ev_handler tap_h;
	bool watched;
	bool rx_stalled;	/* waiting for receive buffers */
	size_t pending;		/* bytes of a frame read but not delivered */
	uint8_t *frame;		/* NET_HDR_MAX + NET_FRAME_MAX */
	struct vq_elem *rx_elems;	/* MRG_RXBUF: one frame's buffers */
	bool rx_dup;		/* inject: deliver the pending frame twice */
	bool rx_short;		/* inject: its used length one byte short */
	size_t rx_len;		/* the pending frame's length, for rx_dup */
	struct vq_elem tx_elem;
};

struct virtio_net {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops;	/* per instance: the queue count */
	struct net_config cfg;
	char ifname[IFNAMSIZ];
	bool is_tap;			/* else a packet socket (tests) */
	struct vm_notify notify;
	unsigned int pairs;		/* configured */
	unsigned int active_pairs;	/* set by the driver (MQ) */
	size_t hdr_len;			/* from the negotiated features */
	bool mrg;
	struct net_pair pair[NET_MAX_PAIRS];
	enum net_backend backend;
	uint64_t vhost_features;	/* what vhost-net offers */
	uint64_t *vhost_log;		/* a migration's: vhost-net logs here */
	struct vhost_kernel vk[NET_MAX_PAIRS];
	uint32_t vhost_started;		/* pairs handed to vhost-net */
	bool vu_stopping;		/* a reset waits for the backend */
	bool vu_pausing;		/* a pause waits for the bases */
	struct ev_handler vhost_err_h;	/* a ring error (VHOST_SET_VRING_ERR) */
	bool vhost_err_watched;
	struct vhost_user vu;
	bool vu_open;
	bool link_up;			/* vhost-user: served by a backend */
	bool announce;			/* VIRTIO_NET_S_ANNOUNCE is set */
	uint64_t announce_acks;		/* the driver announced itself */
	struct vq_elem ctrl_elem;
	struct net_stats stats;
	uint64_t rng;			/* inject's xorshift state */
	struct ev_handler flap_h;	/* inject=linkflap@MS: a timerfd */
	bool flap_watched;
	bool flap_down;			/* the link, as the flapping has it */
	/* iothread=on: the thread, its queues, and its loop for the taps */
	struct iothread iot;
	struct iothread_queue iq[2 * NET_MAX_PAIRS + 1];
	struct vm_notify io_notify;
};

extern const struct vdev_class virtio_net_class;

/*
 * The device moved (a migration or a restore): ask the driver to
 * announce itself (gratuitous ARP, IPv6 neighbour advertisements) with
 * VIRTIO_NET_S_ANNOUNCE and a config interrupt, where it negotiated
 * GUEST_ANNOUNCE. Takes the device's lock.
 */
void virtio_net_announce(struct virtio_dev *d);

static inline bool net_has(const struct virtio_net *n, unsigned int bit)
{
	return n->vdev.acked & (1ULL << bit);
}

/* Open or adopt the tap; err names what failed and how to fix it. */
int virtio_net_init(struct virtio_net *n, const struct net_config *cfg,
		    const struct guest_mem *gm, const struct virtio_opts *opts,
		    const struct vm_notify *notify, char *err, size_t errlen);
/*
 * The same device on one already-open packet fd that is not a tap (a
 * SOCK_SEQPACKET socket in unit tests): frames carry the virtio-net header
 * and no tap ioctls are made. The device owns fd.
 */
int virtio_net_init_fd(struct virtio_net *n, const struct net_config *cfg,
		       int fd, const struct guest_mem *gm,
		       const struct virtio_opts *opts,
		       const struct vm_notify *notify, char *err, size_t errlen);
void virtio_net_fini(struct virtio_net *n);
/* One line of counters, for the user (stderr on exit). */
void virtio_net_stats_line(struct virtio_net *n, char *buf, size_t len);

/* A NIC from a vDPA net device (--net vhost-vdpa=PATH). */
struct vdpa_dev_spec;
extern const struct vdpa_dev_spec net_vdpa_spec;

#endif
