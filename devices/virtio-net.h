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
 */
#ifndef VIREO_VIRTIO_NET_H
#define VIREO_VIRTIO_NET_H

#include <net/if.h>

#include "../virtio/virtio.h"
#include "../vmm/irq.h"
#include "../vmm/loop.h"

#define NET_QUEUE_SIZE		256
#define NET_MAX_PAIRS		4
#define NET_FRAME_MAX		(65536 + 18)	/* GSO IP + Ethernet + VLAN */
#define NET_HDR_MAX		12
#define NET_MAX_MAC_ENTRIES	64		/* MAC filter table, bounded */

struct net_config {
	char tap[IFNAMSIZ];	/* open this tap (created if missing) */
	int fd;			/* or adopt this tap fd (-1: none) */
	uint8_t mac[6];
	bool mac_set;
	unsigned int mtu;	/* 0: leave the tap's */
	unsigned int queues;	/* queue pairs, 1..NET_MAX_PAIRS */
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
	struct vq_elem ctrl_elem;
	struct net_stats stats;
};

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

#endif
