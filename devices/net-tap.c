// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net's tap: opening, adopting and configuring it, and the data
 * path vireo serves itself when no vhost backend does (see virtio-net.h).
 */
#include "net-tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../vmm/util.h"

#define ETH_HDR				14
#define NET_MRG_MAX			64	/* buffers for one frame */
#define NET_RX_BUDGET			256	/* frames per tap event */

/* ---- the tap ---------------------------------------------------------- */

/* Attach or detach a multiqueue tap fd (frames are steered to attached). */
void net_tap_attach(struct virtio_net *n, unsigned int i, bool on)
{
	struct ifreq ifr = { .ifr_flags = on ? IFF_ATTACH_QUEUE :
					       IFF_DETACH_QUEUE };

	if (n->pairs > 1)
		ioctl(n->pair[i].tap_fd, TUNSETQUEUE, &ifr);
}

void net_pair_watch(struct net_pair *p, bool on)
{
	/* iothread=on: the taps are read on the I/O thread. */
	struct vm_notify *nt = p->net->cfg.iothread ? &p->net->io_notify :
						      &p->net->notify;

	if (on && !p->watched) {
		p->rx_stalled = false;
		p->watched = !nt->ops->watch(nt->ctx, &p->tap_h);
	} else if (!on && p->watched) {
		nt->ops->unwatch(nt->ctx, &p->tap_h);
		p->watched = false;
	}
}

/* Offloads the tap may hand us: only those the driver takes. */
int net_tap_configure(struct virtio_net *n)
{
	unsigned int off = 0, i;
	int sz = (int)n->hdr_len;

	if (net_has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (net_has(n, VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (net_has(n, VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
	}
	for (i = 0; n->is_tap && i < n->pairs; i++) {
		if (ioctl(n->pair[i].tap_fd, TUNSETVNETHDRSZ, &sz) < 0 ||
		    ioctl(n->pair[i].tap_fd, TUNSETOFFLOAD, off) < 0) {
			pr_err("net %s: cannot configure the tap: %s", n->ifname,
			       strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* ---- receive: tap -> guest ---------------------------------------------- */

static void rx_drop(struct virtio_net *n, struct net_pair *p, bool too_big)
{
	n->stats.rx_dropped++;
	n->stats.rx_too_big += too_big;
	p->pending = 0;
}

/* inject=rxdrop%P: this frame is lost on the wire (counted, logged). */
/* An injected fault with probability pct percent (0: never). */
static bool inject_hit(struct virtio_net *n, unsigned int pct)
{
	return pct && inject_rand(&n->rng) % 100 < pct;
}

/*
 * The faults a received frame of len bytes (header included) gets: a
 * broken checksum (a payload byte flipped, NEEDS_CSUM and DATA_VALID
 * cleared, so the guest must check it and finds it wrong), a used length
 * one byte short of what was written, a second delivery.
 */
static void rx_inject(struct virtio_net *n, struct net_pair *p, size_t len)
{
	int q = (int)(2 * p->idx);

	if (inject_hit(n, n->cfg.badcsum_pct) && len > n->hdr_len + ETH_HDR) {
		p->frame[0] &= (uint8_t)~3;	/* NEEDS_CSUM, DATA_VALID */
		p->frame[1] = 0;		/* GSO_NONE: one frame */
		p->frame[len - 1] ^= 0x5a;
		virtio_injected(&n->vdev, q, "a received frame of %zu bytes "
				"with a broken checksum (badcsum %u%%)",
				len - n->hdr_len, n->cfg.badcsum_pct);
	}
	p->rx_short = inject_hit(n, n->cfg.shortlen_pct);
	if (p->rx_short)
		virtio_injected(&n->vdev, q, "a received frame of %zu bytes "
				"used one byte short (shortlen %u%%)",
				len - n->hdr_len, n->cfg.shortlen_pct);
	p->rx_dup = inject_hit(n, n->cfg.rxdup_pct);
	if (p->rx_dup)
		virtio_injected(&n->vdev, q, "a received frame of %zu bytes "
				"delivered twice (rxdup %u%%)",
				len - n->hdr_len, n->cfg.rxdup_pct);
	p->rx_len = len;
}

static bool rx_inject_drop(struct virtio_net *n, struct net_pair *p, size_t len)
{
	if (inject_rand(&n->rng) % 100 >= n->cfg.rxdrop_pct)
		return false;
	n->stats.rx_dropped++;
	virtio_injected(&n->vdev, (int)(2 * p->idx), "a received frame of %zu "
			"bytes dropped (rxdrop %u%%, seed %llu)",
			len - n->hdr_len, n->cfg.rxdrop_pct,
			(unsigned long long)n->cfg.seed);
	return true;
}

/*
 * Put the pending frame into the driver's buffers. 1: done (delivered or
 * dropped), 0: not enough buffers (the frame waits), < 0: corrupt ring.
 */
static int rx_deliver(struct virtio_net *n, struct net_pair *p)
{
	struct virtq *vq = &n->vdev.vq[2 * p->idx];
	struct vq_elem *elems[NET_MRG_MAX];
	uint32_t lens[NET_MRG_MAX];
	size_t total = p->pending, off = 0;
	unsigned int cnt = 0, max = n->mrg ? NET_MRG_MAX : 1, i;
	int ret;

	while (off < total) {
		struct vq_elem *e = &p->rx_elems[cnt];

		if (cnt == max || cnt == vq->size) {
			/* The buffers cannot hold it, however many come. */
			while (cnt--)
				vq_unpop(vq, &p->rx_elems[cnt]);
			rx_drop(n, p, true);
			return 1;
		}
		ret = vq_pop(vq, e);
		if (ret <= 0) {
			while (cnt--)
				vq_unpop(vq, &p->rx_elems[cnt]);
			return ret;
		}
		if (cnt == 0 && e->in_len < n->hdr_len) {
			/* No room even for the header: the buffer is bad. */
			virtio_check_layout(&n->vdev, 2 * p->idx, e,
					    VQ_DEVICE_WRITES);
			vq_push(vq, e, 0);
			rx_drop(n, p, false);
			return 1;
		}
		elems[cnt] = e;
		lens[cnt] = (uint32_t)MIN(e->in_len, (uint64_t)(total - off));
		off += lens[cnt];
		cnt++;
	}
	if (n->hdr_len == NET_HDR_MAX)
		put_le16(p->frame + 10, (uint16_t)cnt);	/* num_buffers */
	for (i = 0; i < cnt; i++)	/* once each: these stay taken */
		virtio_check_layout(&n->vdev, 2 * p->idx, elems[i],
				    VQ_DEVICE_WRITES);
	for (off = 0, i = 0; i < cnt; off += lens[i], i++)
		vq_elem_write(elems[i], 0, p->frame + off, lens[i]);
	if (p->rx_short && lens[cnt - 1] > 1) {
		lens[cnt - 1]--;	/* written in full, used one short */
		p->rx_short = false;
	}
	vq_push_many(vq, elems, lens, cnt);
	n->stats.rx_packets++;
	n->stats.rx_bytes += total - n->hdr_len;
	p->pending = 0;
	return 1;
}

/* Move frames from the tap to the guest until either runs dry. */
void net_rx_run(struct net_pair *p)
{
	struct virtio_net *n = p->net;
	struct vq_budget budget;
	int ret;

	if (!virtio_dev_running(&n->vdev) || p->idx >= n->active_pairs)
		return;
	/* What is left stays in the tap, whose fd stays readable. */
	vq_budget_init(&budget, NET_RX_BUDGET, VQ_TURN_BYTES);
	while (vq_budget_take(&budget)) {
		if (!p->pending) {
			ssize_t got = read(p->tap_fd, p->frame,
					   n->hdr_len + NET_FRAME_MAX);

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				break;		/* EAGAIN: wait for the tap */
			if ((size_t)got < n->hdr_len + ETH_HDR) {
				n->stats.rx_dropped++;
				continue;
			}
			if (net_rx_faults(&n->cfg) &&
			    virtio_fault_queue(&n->cfg.irq, 2 * p->idx)) {
				if (n->cfg.rxdrop_pct &&
				    rx_inject_drop(n, p, (size_t)got))
					continue;
				rx_inject(n, p, (size_t)got);
			}
			p->pending = (size_t)got;
		}
		vq_budget_spend(&budget, p->pending);
		ret = rx_deliver(n, p);
		if (ret < 0) {
			virtio_dev_broken(&n->vdev);
			return;
		}
		if (ret == 0) {
			/* No buffers: stop reading the tap until an RX kick. */
			net_pair_watch(p, false);
			p->rx_stalled = true;
			break;
		}
		if (p->rx_dup && !p->pending) {
			/* inject=rxdup: the same frame once more. */
			p->rx_dup = false;
			p->pending = p->rx_len;
		}
		/*
		 * Tell the driver frame by frame: it starts on the first while
		 * the rest are copied, instead of finding a full ring at the
		 * end. Event suppression keeps this to one interrupt while its
		 * NAPI poll runs.
		 */
		virtio_queue_notify(&n->vdev, 2 * p->idx);
	}
}

void net_on_tap(struct ev_handler *h, uint32_t events)
{
	struct net_pair *p = container_of(h, struct net_pair, tap_h);

	(void)events;
	pthread_mutex_lock(&p->net->vdev.lock);
	net_rx_run(p);
	pthread_mutex_unlock(&p->net->vdev.lock);
}

/* ---- transmit: guest -> tap --------------------------------------------- */

void net_tx_run(struct net_pair *p)
{
	struct virtio_net *n = p->net;
	struct virtq *vq = &n->vdev.vq[2 * p->idx + 1];
	struct vq_elem *e = &p->tx_elem;
	struct vq_budget budget;
	bool pushed = false;
	int ret = 0;

	vq_budget_init(&budget, vq->size, VQ_TURN_BYTES);
	while (vq_budget_take(&budget) && (ret = vq_pop(vq, e)) > 0) {
		uint64_t len = e->out_len;

		virtio_check_layout(&n->vdev, 2 * p->idx + 1, e, VQ_DEVICE_READS);
		/* A frame is at most 64 KiB: the overshoot is bounded. */
		vq_budget_spend(&budget, len <= n->hdr_len + NET_FRAME_MAX ? len : 0);
		if (len < n->hdr_len + ETH_HDR || len > n->hdr_len + NET_FRAME_MAX) {
			n->stats.tx_malformed++;
			n->stats.tx_dropped++;
		} else if (writev(p->tap_fd, e->iov, (int)e->nr_out) < 0) {
			/* EINVAL: the tap refused the header (bad GSO). */
			n->stats.tx_malformed += errno == EINVAL;
			n->stats.tx_dropped++;
		} else {
			uint8_t gso[2] = { 0 };

			vq_elem_read(e, 0, gso, 2);
			n->stats.tx_gso += (gso[1] & 0x7f) != 0;
			n->stats.tx_max = MAX(n->stats.tx_max, len - n->hdr_len);
			n->stats.tx_packets++;
			n->stats.tx_bytes += len - n->hdr_len;
		}
		vq_push(vq, e, 0);
		pushed = true;
	}
	if (ret < 0) {
		virtio_dev_broken(&n->vdev);
		return;
	}
	if (pushed)
		virtio_queue_notify(&n->vdev, 2 * p->idx + 1);
	if (vq_budget_spent(&budget))
		virtio_kick_later(&n->vdev, 2 * p->idx + 1);
}

int net_tap_open(struct virtio_net *n, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < n->pairs; i++) {
		struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI |
						  IFF_VNET_HDR };
		int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

		if (fd < 0) {
			errf(err, errlen, "--net: cannot open /dev/net/tun: %s%s",
			     strerror(errno), errno == ENOENT ?
			     " (load the tun module: modprobe tun)" : "");
			return -1;
		}
		n->pair[i].tap_fd = fd;
		if (n->pairs > 1)
			ifr.ifr_flags |= IFF_MULTI_QUEUE;
		snprintf(ifr.ifr_name, IFNAMSIZ, "%s", n->cfg.tap);
		if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
			int e = errno;

			errf(err, errlen, "--net: cannot open tap '%s': %s%s",
			     n->cfg.tap, strerror(e),
			     e == EPERM ? " (vireo needs CAP_NET_ADMIN, or create "
			     "it first: ip tuntap add NAME mode tap vnet_hdr "
			     "[multi_queue] user $USER)" :
			     e == EINVAL ? " (an existing tap whose flags differ: "
			     "vnet_hdr is required, multi_queue when queues>1)" :
			     e == EBUSY ? " (another process has it open)" : "");
			return -1;
		}
		snprintf(n->ifname, IFNAMSIZ, "%s", ifr.ifr_name);
	}
	return 0;
}

int net_tap_adopt(struct virtio_net *n, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	int fl;

	if (n->pairs != 1) {
		errf(err, errlen, "--net fd=%d: an adopted tap fd has one queue "
		     "(use tap=NAME for queues=%u)", n->cfg.fd, n->pairs);
		return -1;
	}
	if (ioctl(n->cfg.fd, TUNGETIFF, &ifr) < 0) {
		errf(err, errlen, "--net fd=%d: not a tap device fd: %s",
		     n->cfg.fd, strerror(errno));
		return -1;
	}
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_VNET_HDR) ||
	    !(ifr.ifr_flags & IFF_NO_PI)) {
		errf(err, errlen, "--net fd=%d: tap '%s' must be opened with "
		     "IFF_TAP | IFF_NO_PI | IFF_VNET_HDR", n->cfg.fd,
		     ifr.ifr_name);
		return -1;
	}
	fl = fcntl(n->cfg.fd, F_GETFL);
	if (fl < 0 || fcntl(n->cfg.fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		errf(err, errlen, "--net fd=%d: %s", n->cfg.fd, strerror(errno));
		return -1;
	}
	n->pair[0].tap_fd = n->cfg.fd;
	snprintf(n->ifname, IFNAMSIZ, "%s", ifr.ifr_name);
	return 0;
}

int net_tap_set_mtu(struct virtio_net *n, char *err, size_t errlen)
{
	struct ifreq ifr = { .ifr_mtu = (int)n->cfg.mtu };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", n->ifname);
	if (s < 0 || ioctl(s, SIOCSIFMTU, &ifr) < 0) {
		errf(err, errlen, "--net: cannot set mtu %u on tap '%s': %s "
		     "(set it yourself: ip link set %s mtu %u)", n->cfg.mtu,
		     n->ifname, strerror(errno), n->ifname, n->cfg.mtu);
		ret = -1;
	}
	if (s >= 0)
		close(s);
	return ret;
}
