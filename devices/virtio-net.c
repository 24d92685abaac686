// SPDX-License-Identifier: GPL-2.0
#include "virtio-net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../vmm/util.h"

#define VIRTIO_ID_NET			1

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
#define VIRTIO_NET_F_MQ			22

#define VIRTIO_NET_S_LINK_UP		1

#define VIRTIO_NET_CTRL_MQ		4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET	0
#define VIRTIO_NET_OK			0
#define VIRTIO_NET_ERR			1

#define ETH_HDR				14
#define NET_MRG_MAX			64	/* buffers for one frame */
#define NET_RX_BUDGET			256	/* frames per tap event */
#define CFG_SIZE			12

#define BIT(n)				(1ULL << (n))

static unsigned int ctrl_q(const struct virtio_net *n)
{
	return 2 * n->pairs;
}

static bool has(const struct virtio_net *n, unsigned int bit)
{
	return n->vdev.acked & BIT(bit);
}

/* ---- the tap ---------------------------------------------------------- */

/* Attach or detach a multiqueue tap fd (frames are steered to attached). */
static void tap_attach(struct virtio_net *n, unsigned int i, bool on)
{
	struct ifreq ifr = { .ifr_flags = on ? IFF_ATTACH_QUEUE :
					       IFF_DETACH_QUEUE };

	if (n->pairs > 1)
		ioctl(n->pair[i].tap_fd, TUNSETQUEUE, &ifr);
}

static void pair_watch(struct net_pair *p, bool on)
{
	struct vm_notify *nt = &p->net->notify;

	if (on && !p->watched) {
		p->rx_stalled = false;
		p->watched = !nt->ops->watch(nt->ctx, &p->tap_h);
	} else if (!on && p->watched) {
		nt->ops->unwatch(nt->ctx, &p->tap_h);
		p->watched = false;
	}
}

/* Offloads the tap may hand us: only those the driver takes. */
static int tap_configure(struct virtio_net *n)
{
	unsigned int off = 0, i;
	int sz = (int)n->hdr_len;

	if (has(n, VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (has(n, VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (has(n, VIRTIO_NET_F_GUEST_TSO6))
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

static void set_active_pairs(struct virtio_net *n, unsigned int count)
{
	unsigned int i;

	n->active_pairs = count;
	for (i = 0; i < n->pairs; i++) {
		tap_attach(n, i, i < count);
		pair_watch(&n->pair[i], i < count);
	}
}

/* ---- receive: tap -> guest ---------------------------------------------- */

static void rx_drop(struct virtio_net *n, struct net_pair *p, bool too_big)
{
	n->stats.rx_dropped++;
	n->stats.rx_too_big += too_big;
	p->pending = 0;
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
	for (off = 0, i = 0; i < cnt; off += lens[i], i++)
		vq_elem_write(elems[i], 0, p->frame + off, lens[i]);
	vq_push_many(vq, elems, lens, cnt);
	n->stats.rx_packets++;
	n->stats.rx_bytes += total - n->hdr_len;
	p->pending = 0;
	return 1;
}

/* Move frames from the tap to the guest until either runs dry. */
static void rx_run(struct net_pair *p)
{
	struct virtio_net *n = p->net;
	unsigned int budget = NET_RX_BUDGET;
	int ret;

	if (!virtio_dev_running(&n->vdev) || p->idx >= n->active_pairs)
		return;
	while (budget--) {
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
			p->pending = (size_t)got;
		}
		ret = rx_deliver(n, p);
		if (ret < 0) {
			virtio_dev_broken(&n->vdev);
			return;
		}
		if (ret == 0) {
			/* No buffers: stop reading the tap until an RX kick. */
			pair_watch(p, false);
			p->rx_stalled = true;
			break;
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

static void on_tap(struct ev_handler *h, uint32_t events)
{
	struct net_pair *p = container_of(h, struct net_pair, tap_h);

	(void)events;
	pthread_mutex_lock(&p->net->vdev.lock);
	rx_run(p);
	pthread_mutex_unlock(&p->net->vdev.lock);
}

/* ---- transmit: guest -> tap --------------------------------------------- */

static void tx_run(struct net_pair *p)
{
	struct virtio_net *n = p->net;
	struct virtq *vq = &n->vdev.vq[2 * p->idx + 1];
	struct vq_elem *e = &p->tx_elem;
	unsigned int budget = vq->size;
	bool pushed = false;
	int ret = 0;

	while (budget && (ret = vq_pop(vq, e)) > 0) {
		uint64_t len = e->out_len;

		budget--;
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
	if (!budget)
		virtio_kick_later(&n->vdev, 2 * p->idx + 1);
}

/* ---- control queue ------------------------------------------------------ */

static uint8_t ctrl_command(struct virtio_net *n, const struct vq_elem *e)
{
	uint8_t hdr[2], data[2];
	unsigned int pairs;

	if (vq_elem_read(e, 0, hdr, 2) < 2)
		return VIRTIO_NET_ERR;
	if (hdr[0] != VIRTIO_NET_CTRL_MQ ||
	    hdr[1] != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || !has(n, VIRTIO_NET_F_MQ))
		return VIRTIO_NET_ERR;
	if (vq_elem_read(e, 2, data, 2) < 2)
		return VIRTIO_NET_ERR;
	pairs = get_le16(data);
	if (pairs < 1 || pairs > n->pairs)
		return VIRTIO_NET_ERR;
	set_active_pairs(n, pairs);
	return VIRTIO_NET_OK;
}

static void ctrl_run(struct virtio_net *n)
{
	struct virtq *vq = &n->vdev.vq[ctrl_q(n)];
	struct vq_elem *e = &n->ctrl_elem;
	unsigned int budget = vq->size;
	int ret = 0;

	while (budget-- && (ret = vq_pop(vq, e)) > 0) {
		uint8_t ack = ctrl_command(n, e);

		vq_push(vq, e, (uint32_t)vq_elem_write(e, 0, &ack, 1));
	}
	if (ret < 0)
		virtio_dev_broken(&n->vdev);
	else
		virtio_queue_notify(&n->vdev, ctrl_q(n));
}

/* ---- the device --------------------------------------------------------- */

static void net_kick(struct virtio_dev *d, unsigned int q)
{
	struct virtio_net *n = d->priv;
	struct net_pair *p;

	if (q == ctrl_q(n)) {
		ctrl_run(n);
		return;
	}
	p = &n->pair[q / 2];
	if (q % 2) {
		tx_run(p);
	} else if (p->idx < n->active_pairs) {
		/* New receive buffers: resume a stalled tap. */
		if (p->rx_stalled)
			pair_watch(p, true);
		rx_run(p);
	}
}

static int net_activate(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;
	int ret;

	n->mrg = has(n, VIRTIO_NET_F_MRG_RXBUF);
	n->hdr_len = (d->modern || n->mrg) ? 12 : 10;
	ret = tap_configure(n);
	if (ret)
		return ret;
	/* One pair until the driver asks for more (virtio 1.2 §5.1.6.5.5). */
	set_active_pairs(n, 1);
	rx_run(&n->pair[0]);
	return 0;
}

static void net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;
	unsigned int i;

	for (i = 0; i < n->pairs; i++) {
		pair_watch(&n->pair[i], false);
		n->pair[i].rx_stalled = false;
		n->pair[i].pending = 0;
	}
	n->active_pairs = 0;
}

static void net_config_read(struct virtio_dev *d, uint32_t off, uint8_t *buf,
			    uint32_t len)
{
	struct virtio_net *n = d->priv;
	uint8_t cfg[CFG_SIZE];

	memcpy(cfg, n->cfg.mac, 6);
	put_le16(cfg + 6, VIRTIO_NET_S_LINK_UP);
	put_le16(cfg + 8, (uint16_t)n->pairs);
	put_le16(cfg + 10, (uint16_t)n->cfg.mtu);
	memcpy(buf, cfg + off, len);
}

static void net_config_write(struct virtio_dev *d, uint32_t off,
			     const uint8_t *buf, uint32_t len)
{
	struct virtio_net *n = d->priv;

	/* Legacy drivers may set the MAC through config space. */
	if (!d->modern && off + len <= 6)
		memcpy(n->cfg.mac + off, buf, len);
}

static const struct virtio_dev_ops net_ops_template = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.queue_size = NET_QUEUE_SIZE,
	.config_size = CFG_SIZE,
	.pci_class = 0x020000,		/* network, ethernet */
	.features = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
		    BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_GUEST_TSO4) |
		    BIT(VIRTIO_NET_F_GUEST_TSO6) | BIT(VIRTIO_NET_F_HOST_TSO4) |
		    BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_MRG_RXBUF) |
		    BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_CTRL_VQ),
	.config_read = net_config_read,
	.config_write = net_config_write,
	.activate = net_activate,
	.reset = net_reset,
	.queue_kick = net_kick,
};

/* A stable, locally administered MAC from the tap's name. */
static void default_mac(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	mac[0] = 0x02;
	mac[1] = 0x76;		/* 'v' */
	mac[2] = 0x69;		/* 'i' */
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

static int net_setup(struct virtio_net *n, const struct guest_mem *gm,
		     const struct virtio_opts *opts, char *err, size_t errlen);

static int tap_open(struct virtio_net *n, char *err, size_t errlen)
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

static int tap_adopt(struct virtio_net *n, char *err, size_t errlen)
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

static int tap_set_mtu(struct virtio_net *n, char *err, size_t errlen)
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

static void net_prepare(struct virtio_net *n, const struct net_config *cfg,
			const struct vm_notify *notify)
{
	unsigned int i;

	memset(n, 0, sizeof(*n));
	n->cfg = *cfg;
	n->notify = *notify;
	n->pairs = cfg->queues ? cfg->queues : 1;
	for (i = 0; i < NET_MAX_PAIRS; i++)
		n->pair[i].tap_fd = -1;
}

int virtio_net_init(struct virtio_net *n, const struct net_config *cfg,
		    const struct guest_mem *gm, const struct virtio_opts *opts,
		    const struct vm_notify *notify, char *err, size_t errlen)
{
	net_prepare(n, cfg, notify);
	if (n->pairs > NET_MAX_PAIRS) {
		errf(err, errlen, "--net: queues=%u: at most %d", n->pairs,
		     NET_MAX_PAIRS);
		return -EINVAL;
	}
	n->is_tap = true;
	if ((cfg->fd >= 0 ? tap_adopt(n, err, errlen) :
			    tap_open(n, err, errlen)) ||
	    (cfg->mtu && tap_set_mtu(n, err, errlen))) {
		virtio_net_fini(n);
		return -EINVAL;
	}
	return net_setup(n, gm, opts, err, errlen);
}

int virtio_net_init_fd(struct virtio_net *n, const struct net_config *cfg,
		       int fd, const struct guest_mem *gm,
		       const struct virtio_opts *opts,
		       const struct vm_notify *notify, char *err, size_t errlen)
{
	net_prepare(n, cfg, notify);
	n->pairs = 1;
	n->pair[0].tap_fd = fd;
	snprintf(n->ifname, IFNAMSIZ, "fd%d", fd);
	return net_setup(n, gm, opts, err, errlen);
}

/* Buffers, the MAC and the feature set, once the fds are open. */
static int net_setup(struct virtio_net *n, const struct guest_mem *gm,
		     const struct virtio_opts *opts, char *err, size_t errlen)
{
	const struct net_config *cfg = &n->cfg;
	unsigned int i;

	if (!cfg->mac_set)
		default_mac(n->ifname, n->cfg.mac);
	for (i = 0; i < n->pairs; i++) {
		struct net_pair *p = &n->pair[i];

		p->net = n;
		p->idx = i;
		p->tap_h.fd = p->tap_fd;
		p->tap_h.fn = on_tap;
		p->frame = malloc(NET_HDR_MAX + NET_FRAME_MAX);
		p->rx_elems = calloc(NET_MRG_MAX, sizeof(*p->rx_elems));
		if (!p->frame || !p->rx_elems) {
			virtio_net_fini(n);
			errf(err, errlen, "--net: out of memory");
			return -ENOMEM;
		}
	}
	n->ops = net_ops_template;
	n->ops.num_queues = (uint16_t)(2 * n->pairs + 1);
	if (cfg->mtu)
		n->ops.features |= BIT(VIRTIO_NET_F_MTU);
	if (n->pairs > 1)
		n->ops.features |= BIT(VIRTIO_NET_F_MQ);
	virtio_dev_init(&n->vdev, &n->ops, n, gm, opts);
	/*
	 * TX runs until the ring is empty; RX waits for a kick only after
	 * finding no buffers (stalled): neither needs a kick per buffer.
	 */
	for (i = 0; i < 2 * n->pairs; i++)
		n->vdev.vq[i].lazy_kicks = true;
	return 0;
}

void virtio_net_fini(struct virtio_net *n)
{
	unsigned int i;

	for (i = 0; i < NET_MAX_PAIRS; i++) {
		struct net_pair *p = &n->pair[i];

		if (p->watched)
			pair_watch(p, false);
		if (p->tap_fd >= 0)
			close(p->tap_fd);
		p->tap_fd = -1;
		free(p->frame);
		free(p->rx_elems);
		p->frame = NULL;
		p->rx_elems = NULL;
	}
	if (n->ops.name)
		virtio_dev_destroy(&n->vdev);
	n->ops.name = NULL;
}

void virtio_net_stats_line(struct virtio_net *n, char *buf, size_t len)
{
	const struct net_stats *s = &n->stats;

	snprintf(buf, len, "net %s: rx %llu packets %llu bytes, %llu dropped "
		 "(%llu too big); tx %llu packets %llu bytes, %llu dropped "
		 "(%llu malformed), %llu gso, largest %llu; %llu kicks, %llu "
		 "interrupts", n->ifname,
		 (unsigned long long)s->rx_packets,
		 (unsigned long long)s->rx_bytes,
		 (unsigned long long)s->rx_dropped,
		 (unsigned long long)s->rx_too_big,
		 (unsigned long long)s->tx_packets,
		 (unsigned long long)s->tx_bytes,
		 (unsigned long long)s->tx_dropped,
		 (unsigned long long)s->tx_malformed,
		 (unsigned long long)s->tx_gso,
		 (unsigned long long)s->tx_max,
		 (unsigned long long)n->vdev.kicks,
		 (unsigned long long)n->vdev.interrupts);
}
