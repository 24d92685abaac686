// SPDX-License-Identifier: GPL-2.0
#include "virtio-net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../vmm/opts.h"
#include "net-tap.h"
#include "net-vhost.h"
#include "vdpa-dev.h"
#include "../vmm/util.h"

#define VIRTIO_ID_NET			1

#define VIRTIO_NET_S_LINK_UP		1
#define VIRTIO_NET_S_ANNOUNCE		2

#define VIRTIO_NET_CTRL_ANNOUNCE	3
#define VIRTIO_NET_CTRL_ANNOUNCE_ACK	0
#define VIRTIO_NET_CTRL_MQ		4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET	0
#define VIRTIO_NET_OK			0
#define VIRTIO_NET_ERR			1

#define NET_MRG_MAX			64	/* buffers for one frame */
#define CFG_SIZE			12

#define BIT(n)				(1ULL << (n))

static unsigned int ctrl_q(const struct virtio_net *n)
{
	return 2 * n->pairs;
}

static void set_active_pairs(struct virtio_net *n, unsigned int count)
{
	unsigned int i;

	n->active_pairs = count;
	for (i = 0; i < n->pairs && n->backend != NET_VHOST_USER; i++) {
		net_tap_attach(n, i, i < count);
		/* vireo reads the tap only where it serves the pair itself. */
		if (!(n->vhost_started & (1U << i)))
			net_pair_watch(&n->pair[i], i < count);
	}
}

/* ---- control queue ------------------------------------------------------ */

static uint8_t ctrl_command(struct virtio_net *n, const struct vq_elem *e)
{
	uint8_t hdr[2], data[2];
	unsigned int pairs;

	if (vq_elem_read(e, 0, hdr, 2) < 2)
		return VIRTIO_NET_ERR;
	if (hdr[0] == VIRTIO_NET_CTRL_ANNOUNCE &&
	    hdr[1] == VIRTIO_NET_CTRL_ANNOUNCE_ACK &&
	    net_has(n, VIRTIO_NET_F_GUEST_ANNOUNCE)) {
		n->announce = false;
		n->announce_acks++;
		return VIRTIO_NET_OK;
	}
	if (hdr[0] != VIRTIO_NET_CTRL_MQ ||
	    hdr[1] != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET ||
	    !net_has(n, VIRTIO_NET_F_MQ))
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
		uint8_t ack;

		/* class and command readable, the ack byte writable (5.1.6.5) */
		if (e->out_len < 2 || e->in_len < 1)
			virtio_violation(&n->vdev, VIOL_REQUEST_LAYOUT,
					 (int)ctrl_q(n), "a control command of "
					 "%llu readable and %llu writable bytes; "
					 "it needs 2 readable (class, command) "
					 "and 1 writable (ack)",
					 (unsigned long long)e->out_len,
					 (unsigned long long)e->in_len);
		ack = ctrl_command(n, e);

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
		net_tx_run(p);
	} else if (p->idx < n->active_pairs) {
		/* New receive buffers: resume a stalled tap. */
		if (p->rx_stalled)
			net_pair_watch(p, true);
		net_rx_run(p);
	}
}

static int net_activate(struct virtio_dev *d, const struct virtio_activation *a)
{
	struct virtio_net *n = d->priv;
	unsigned int i;
	int ret;

	n->mrg = net_has(n, VIRTIO_NET_F_MRG_RXBUF);
	n->hdr_len = (d->modern || n->mrg) ? 12 : 10;
	ret = net_tap_configure(n);
	if (ret)
		return ret;
	/* A vhost-net that fails to start leaves the queues to vireo. */
	if (a)
		net_vhost_start(n, a);
	/* One pair until the driver asks for more (virtio 1.2 §5.1.6.5.5). */
	set_active_pairs(n, a && a->resume && n->active_pairs ? n->active_pairs : 1);
	if (n->backend != NET_VHOST_USER && !(n->vhost_started & 1))
		net_rx_run(&n->pair[0]);
	/* iothread=on: the kicks go to the thread, as to a vhost backend
	 * (the taps are watched there already). */
	for (i = 0; a && n->cfg.iothread && i < a->nr_queues &&
	     i < n->ops.num_queues; i++)
		if (a->q[i].vq->ready)
			iothread_take_queue(&n->iot, &n->iq[i], d, i,
					    a->q[i].kick_fd);
	return 0;
}

static void net_deactivate(struct virtio_dev *d, bool pause)
{
	struct virtio_net *n = d->priv;
	unsigned int i;

	/* The I/O thread gives the queues back (the core re-wires them). */
	for (i = 0; n->cfg.iothread && i < n->ops.num_queues; i++)
		iothread_drop_queue(&n->iq[i]);
	net_vhost_stop(n, pause);
	/* Paused: the taps are not read (a frame read, not delivered, is
	 * dropped as a wire would drop it). */
	for (i = 0; pause && i < n->pairs; i++) {
		net_pair_watch(&n->pair[i], false);
		n->pair[i].rx_stalled = false;
		n->pair[i].pending = 0;
	}
}

static bool net_reset(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;
	unsigned int i;

	for (i = 0; i < n->pairs; i++) {
		net_pair_watch(&n->pair[i], false);
		n->pair[i].rx_stalled = false;
		n->pair[i].pending = 0;
	}
	n->active_pairs = 0;
	return n->vu_stopping;
}

static void net_reset_wait(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	if (n->vu_stopping)
		vhost_user_settle(&n->vu);
	n->vu_stopping = false;
}

static void net_pause_wait(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	if (n->vu_pausing)
		vhost_user_settle(&n->vu);
	n->vu_pausing = false;
}

static void net_config_read(struct virtio_dev *d, uint32_t off, uint8_t *buf,
			    uint32_t len)
{
	struct virtio_net *n = d->priv;
	uint8_t cfg[CFG_SIZE];

	memcpy(cfg, n->cfg.mac, 6);
	put_le16(cfg + 6, (net_link_up(n) ? VIRTIO_NET_S_LINK_UP : 0) |
			  (n->announce ? VIRTIO_NET_S_ANNOUNCE : 0));
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
		    BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_CTRL_VQ) |
		    BIT(VIRTIO_NET_F_GUEST_ANNOUNCE),
	.config_read = net_config_read,
	.config_write = net_config_write,
	.activate = net_activate,
	.deactivate = net_deactivate,
	.reset = net_reset,
	.reset_wait = net_reset_wait,
	.pause_wait = net_pause_wait,
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

static void net_prepare(struct virtio_net *n, const struct net_config *cfg,
			const struct vm_notify *notify)
{
	unsigned int i;

	memset(n, 0, sizeof(*n));
	n->cfg = *cfg;
	n->rng = cfg->seed ? cfg->seed : 1;
	n->notify = *notify;
	n->pairs = cfg->queues ? cfg->queues : 1;
	for (i = 0; i < NET_MAX_PAIRS; i++) {
		n->pair[i].tap_fd = -1;
		n->vk[i].fd = -1;
	}
	n->vhost_err_h.fd = -1;
	n->flap_h.fd = -1;
}

/* moved: a migration target's vhost-user NIC, from the source's record. */
static int net_init(struct virtio_net *n, const struct net_config *cfg,
		    const struct guest_mem *gm, const struct virtio_opts *opts,
		    const struct vm_notify *notify,
		    const struct net_vu_saved *moved, char *err, size_t errlen)
{
	net_prepare(n, cfg, notify);
	if (n->pairs > NET_MAX_PAIRS) {
		errf(err, errlen, "--net: queues=%u: at most %d", n->pairs,
		     NET_MAX_PAIRS);
		return -EINVAL;
	}
	if (cfg->vhost_user[0]) {
		const char *base = strrchr(cfg->vhost_user, '/');

		snprintf(n->ifname, IFNAMSIZ, "%.*s", IFNAMSIZ - 1,
			 base ? base + 1 : cfg->vhost_user);
		/* The lock the backend's hooks take must exist first. */
		if (net_setup(n, gm, opts, err, errlen))
			return -EINVAL;
		if (net_vhost_user_open(n, moved, err, errlen)) {
			virtio_net_fini(n);
			return -EINVAL;
		}
		n->vdev.offered &= net_vhost_offer_mask(n);
		return 0;
	}
	n->is_tap = true;
	if ((cfg->fd >= 0 ? net_tap_adopt(n, err, errlen) :
			    net_tap_open(n, err, errlen)) ||
	    (cfg->mtu && net_tap_set_mtu(n, err, errlen))) {
		virtio_net_fini(n);
		return -EINVAL;
	}
	/* Injected faults happen on vireo's own data path, and an I/O
	 * thread serves that path: no vhost-net. */
	if (cfg->vhost != NET_VHOST_OFF && !net_faults(cfg) && !cfg->iothread &&
	    net_vhost_net_open(n, opts, err, errlen)) {
		virtio_net_fini(n);
		return -EINVAL;
	}
	return net_setup(n, gm, opts, err, errlen);
}

int virtio_net_init(struct virtio_net *n, const struct net_config *cfg,
		    const struct guest_mem *gm, const struct virtio_opts *opts,
		    const struct vm_notify *notify, char *err, size_t errlen)
{
	return net_init(n, cfg, gm, opts, notify, NULL, err, errlen);
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

/* inject=queue@N names one of the NIC's virtqueues. */
static int net_check_queue(const struct virtio_net *n,
			   const struct virtio_irq_faults *f, char *err,
			   size_t errlen)
{
	if (!f->one_queue || f->queue < n->ops.num_queues)
		return 0;
	errf(err, errlen, "--net: inject=queue@%u: the NIC has virtqueues "
	     "0-%u (receive queues are the even ones below %u)", f->queue,
	     n->ops.num_queues - 1, 2 * n->pairs);
	return -EINVAL;
}

/* inject=linkflap@MS: the link goes down, then up, every MS ms. */
static void on_flap(struct ev_handler *h, uint32_t events)
{
	struct virtio_net *n = container_of(h, struct virtio_net, flap_h);
	uint64_t ticks;

	(void)events;
	if (read(h->fd, &ticks, sizeof(ticks)) < 0)
		return;
	pthread_mutex_lock(&n->vdev.lock);
	if (virtio_dev_running(&n->vdev) &&
	    (n->vdev.acked & BIT(VIRTIO_NET_F_STATUS))) {
		n->flap_down = !n->flap_down;
		virtio_injected(&n->vdev, -1, "link %s (linkflap@%u)",
				n->flap_down ? "down" : "up", n->cfg.linkflap_ms);
		virtio_config_changed(&n->vdev);
	}
	pthread_mutex_unlock(&n->vdev.lock);
}

static int flap_start(struct virtio_net *n, char *err, size_t errlen)
{
	unsigned int ms = n->cfg.linkflap_ms;
	struct itimerspec it = {
		.it_interval = { ms / 1000, (long)(ms % 1000) * 1000000L },
		.it_value = { ms / 1000, (long)(ms % 1000) * 1000000L },
	};
	int ret;

	n->flap_h.fn = on_flap;
	n->flap_h.fd = timerfd_create(CLOCK_MONOTONIC,
				      TFD_NONBLOCK | TFD_CLOEXEC);
	if (n->flap_h.fd < 0 || timerfd_settime(n->flap_h.fd, 0, &it, NULL)) {
		ret = -errno;
		errf(err, errlen, "--net: inject=linkflap: a timer: %s",
		     strerror(errno));
		return ret;
	}
	ret = n->notify.ops->watch(n->notify.ctx, &n->flap_h);
	if (ret) {
		errf(err, errlen, "--net: inject=linkflap: %s", strerror(-ret));
		return ret;
	}
	n->flap_watched = true;
	return 0;
}

static void flap_stop(struct virtio_net *n)
{
	if (n->flap_watched)
		n->notify.ops->unwatch(n->notify.ctx, &n->flap_h);
	n->flap_watched = false;
	if (n->flap_h.fd >= 0)
		close(n->flap_h.fd);
	n->flap_h.fd = -1;
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
		p->tap_h.fn = net_on_tap;
		p->frame = malloc(NET_HDR_MAX + NET_FRAME_MAX);
		p->rx_elems = calloc(NET_MRG_MAX, sizeof(*p->rx_elems));
		if (!p->frame || !p->rx_elems) {
			virtio_net_fini(n);
			errf(err, errlen, "--net: out of memory");
			return -ENOMEM;
		}
	}
	if (cfg->iothread) {
		int ret = iothread_start(&n->iot, "net-io");

		if (ret) {
			n->cfg.iothread = false;
			virtio_net_fini(n);
			errf(err, errlen, "--net: cannot start its I/O thread: %s",
			     strerror(-ret));
			return ret;
		}
		loop_notifier_init(&n->io_notify, &n->iot.loop);
	}
	n->ops = net_ops_template;
	n->ops.num_queues = (uint16_t)(2 * n->pairs + 1);
	if (cfg->mtu)
		n->ops.features |= BIT(VIRTIO_NET_F_MTU);
	if (n->pairs > 1)
		n->ops.features |= BIT(VIRTIO_NET_F_MQ);
	virtio_dev_init(&n->vdev, &n->ops, n, gm, opts);
	/* Features the backend cannot do are not offered. */
	n->vdev.offered &= net_vhost_offer_mask(n);
	/*
	 * TX runs until the ring is empty; RX waits for a kick only after
	 * finding no buffers (stalled): neither needs a kick per buffer.
	 */
	for (i = 0; i < 2 * n->pairs; i++)
		n->vdev.vq[i].lazy_kicks = true;
	if (net_check_queue(n, &cfg->irq, err, errlen) ||
	    (cfg->linkflap_ms && flap_start(n, err, errlen)) ||
	    virtio_irq_faults_set(&n->vdev, &cfg->irq, &n->notify, err,
				  errlen)) {
		virtio_net_fini(n);
		return -EINVAL;
	}
	return 0;
}

void virtio_net_fini(struct virtio_net *n)
{
	unsigned int i;

	/* Its loop first: nothing runs there while the taps go. */
	if (n->cfg.iothread) {
		iothread_stop(&n->iot);
		for (i = 0; i < NET_MAX_PAIRS; i++)
			n->pair[i].watched = false;	/* with its loop */
		n->cfg.iothread = false;
	}
	for (i = 0; i < NET_MAX_PAIRS; i++) {
		struct net_pair *p = &n->pair[i];

		if (p->watched)
			net_pair_watch(p, false);
		if (p->tap_fd >= 0)
			close(p->tap_fd);
		p->tap_fd = -1;
		free(p->frame);
		free(p->rx_elems);
		p->frame = NULL;
		p->rx_elems = NULL;
	}
	net_vhost_close(n);
	flap_stop(n);
	if (n->ops.name) {
		virtio_irq_faults_free(&n->vdev);
		virtio_dev_destroy(&n->vdev);
	}
	n->ops.name = NULL;
}

void virtio_net_announce(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	if (vdpa_dev_is(d))
		return;		/* the device's own business */
	pthread_mutex_lock(&d->lock);
	if (net_has(n, VIRTIO_NET_F_GUEST_ANNOUNCE) &&
	    (d->status & VIRTIO_STATUS_DRIVER_OK)) {
		n->announce = true;
		virtio_config_changed(d);
	}
	pthread_mutex_unlock(&d->lock);
}

void virtio_net_stats_line(struct virtio_net *n, char *buf, size_t len)
{
	const struct net_stats *s = &n->stats;
	/* (the guest acknowledged VIRTIO_NET_S_ANNOUNCE) */
	const char *moved = n->announce_acks ? "; announced after a move" : "";
	char slow[96];

	if (n->backend == NET_VHOST_USER) {
		snprintf(buf, len, "net %s: vhost-user %s, link %s, backend "
			 "lost %llu times, back %llu times, handed to another "
			 "process %llu times (waiting %llu ms for %llu buffers)%s; "
			 "%llu kicks and %llu interrupts relayed by vireo%s",
			 n->ifname, n->cfg.vhost_user,
			 n->link_up ? "up" : "down",
			 (unsigned long long)n->vu.losses,
			 (unsigned long long)n->vu.reconnects,
			 (unsigned long long)n->vu.handovers,
			 (unsigned long long)n->vu.handover_ms,
			 (unsigned long long)n->vu.handover_waited,
			 vhost_user_slowest(&n->vu, slow, sizeof(slow)),
			 (unsigned long long)n->vdev.kicks,
			 (unsigned long long)n->vdev.interrupts, moved);
		return;
	}
	if (n->backend == NET_VHOST_NET) {
		snprintf(buf, len, "net %s: vhost-net (frames are counted in "
			 "the kernel); %llu kicks and %llu interrupts relayed "
			 "by vireo%s", n->ifname,
			 (unsigned long long)n->vdev.kicks,
			 (unsigned long long)n->vdev.interrupts, moved);
		return;
	}
	snprintf(buf, len, "net %s: rx %llu packets %llu bytes, %llu dropped "
		 "(%llu too big); tx %llu packets %llu bytes, %llu dropped "
		 "(%llu malformed), %llu gso, largest %llu; %llu kicks, %llu "
		 "interrupts%s", n->ifname,
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
		 (unsigned long long)n->vdev.interrupts, moved);
	if (n->cfg.iothread) {
		uint64_t kicks = 0;
		size_t used = strlen(buf);
		unsigned int i;

		for (i = 0; i < n->ops.num_queues; i++)
			kicks += n->iq[i].kicks;
		if (used < len)
			snprintf(buf + used, len - used, "; I/O thread: %llu "
				 "kicks, %llu ms CPU", (unsigned long long)kicks,
				 (unsigned long long)(iothread_cpu_ns(&n->iot) /
						      1000000));
	}
}

/* ---- the class ----------------------------------------------------------- */

static void net_config_init(void *cfg)
{
	struct net_config *n = cfg;

	n->fd = -1;
}

/* inject=RULE[+RULE...]: see struct net_config. 1, or -1 with err. */
static int net_parse_inject(struct net_config *n, const char *opt,
			    const char *val, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
	} pcts[] = {
		{ "rxdrop%", offsetof(struct net_config, rxdrop_pct) },
		{ "rxdup%", offsetof(struct net_config, rxdup_pct) },
		{ "badcsum%", offsetof(struct net_config, badcsum_pct) },
		{ "shortlen%", offsetof(struct net_config, shortlen_pct) },
	};
	char buf[256], *rule, *save = NULL;
	unsigned int i;

	if (strlen(val) >= sizeof(buf))
		goto bad;
	strcpy(buf, val);
	for (rule = strtok_r(buf, "+", &save); rule;
	     rule = strtok_r(NULL, "+", &save)) {
		unsigned int v = 0;
		int used = 0;

		for (i = 0; i < ARRAY_SIZE(pcts); i++) {
			size_t l = strlen(pcts[i].name);

			if (strncmp(rule, pcts[i].name, l))
				continue;
			if (sscanf(rule + l, "%u%n", &v, &used) != 1 ||
			    rule[l + (size_t)used] || v < 1 || v > 100)
				goto bad;
			*(unsigned int *)((char *)n + pcts[i].off) = v;
			break;
		}
		if (i < ARRAY_SIZE(pcts))
			continue;
		if (sscanf(rule, "linkflap@%u%n", &v, &used) == 1 &&
		    !rule[used] && v >= 10 && v <= 3600000) {
			n->linkflap_ms = v;
			continue;
		}
		if (virtio_irq_fault_rule(&n->irq, rule) > 0)
			continue;
		goto bad;
	}
	return 1;
bad:
	errf(err, errlen, "%s: inject '%s': rules are rxdrop%%P, rxdup%%P, "
	     "badcsum%%P, shortlen%%P (P percent of received frames, 1-100) "
	     "linkflap@MS (the link down and up every MS ms, 10 or more), "
	     "irqlate@MS (1-10000), irqcoalesce@N (2-1024), "
	     "irqspurious@MS and queue@N (only virtqueue N: receive queues "
	     "are the even ones), joined with '+'", opt, val);
	return -1;
}

static int net_parse_key(void *cfg, const char *opt, const char *key,
			 const char *val, char *err, size_t errlen)
{
	struct net_config *n = cfg;
	unsigned long v;

	if (!strcmp(key, "tap"))
		return opt_string(opt, "a tap name", val, n->tap, sizeof(n->tap),
				  err, errlen) ? -1 : 1;
	if (!strcmp(key, "vhost")) {
		static const char *const modes[] = { "auto", "off", "on" };
		int choice;

		if (opt_choice(opt, val, modes, 3, &choice, err, errlen))
			return -1;
		n->vhost = (enum net_vhost)choice;
		return 1;
	}
	if (!strcmp(key, "vhost-user"))
		return opt_string(opt, "the socket path", val, n->vhost_user,
				  sizeof(n->vhost_user), err, errlen) ? -1 : 1;
	if (!strcmp(key, "server"))
		return opt_on_off(opt, val, &n->server, err, errlen) ? -1 : 1;
	if (!strcmp(key, "iothread"))
		return opt_on_off(opt, val, &n->iothread, err, errlen) ? -1 : 1;
	if (!strcmp(key, "inject"))
		return net_parse_inject(n, opt, val, err, errlen);
	if (!strcmp(key, "seed")) {
		char *end;

		errno = 0;
		n->seed = strtoull(val, &end, 0);
		if (!*val || *end || errno) {
			errf(err, errlen, "%s: seed '%s' is not a number", opt,
			     val);
			return -1;
		}
		return 1;
	}
	if (!strcmp(key, "vhost-vdpa"))
		return opt_string(opt, "the vhost-vdpa device", val,
				  n->vhost_vdpa, sizeof(n->vhost_vdpa), err,
				  errlen) ? -1 : 1;
	if (!strcmp(key, "vhost-dev"))
		return opt_string(opt, "a device path", val, n->vhost_dev,
				  sizeof(n->vhost_dev), err, errlen) ? -1 : 1;
	if (!strcmp(key, "mac")) {
		if (opt_mac(opt, val, n->mac, err, errlen))
			return -1;
		n->mac_set = true;
		return 1;
	}
	if (!strcmp(key, "fd") || !strcmp(key, "mtu") || !strcmp(key, "queues")) {
		unsigned long min = key[0] == 'f' ? 0 : key[0] == 'm' ? 68 : 1;
		unsigned long max = key[0] == 'f' ? INT32_MAX :
				    key[0] == 'm' ? 65535 : NET_MAX_PAIRS;

		if (opt_uint(opt, val, min, max, &v, err, errlen))
			return -1;
		if (key[0] == 'f')
			n->fd = (int)v;
		else if (key[0] == 'm')
			n->mtu = (unsigned int)v;
		else
			n->queues = (unsigned int)v;
		return 1;
	}
	return 0;
}

static int net_config_check(const void *cfg, const char *opt, char *err,
			    size_t errlen)
{
	const struct net_config *n = cfg;
	int given = !!n->tap[0] + (n->fd >= 0) + !!n->vhost_user[0] +
		    !!n->vhost_vdpa[0];

	if (given != 1) {
		errf(err, errlen, "%s: give one of tap=NAME, fd=N, "
		     "vhost-user=SOCKET or vhost-vdpa=/dev/vhost-vdpa-N", opt);
		return -1;
	}
	if (n->iothread && (n->vhost_user[0] || n->vhost_vdpa[0] ||
			    n->vhost == NET_VHOST_ON)) {
		errf(err, errlen, "%s: iothread=on is for NICs vireo serves "
		     "itself (a tap with vhost=off or auto)", opt);
		return -1;
	}
	if (net_faults(n) && (n->vhost_user[0] || n->vhost_vdpa[0] ||
			      n->vhost == NET_VHOST_ON)) {
		errf(err, errlen, "%s: inject= is for NICs vireo serves itself "
		     "(a tap with vhost=off or auto)", opt);
		return -1;
	}
	if (n->vhost_vdpa[0] && (n->mac_set || n->mtu || n->queues > 1 ||
				 n->server || n->vhost == NET_VHOST_ON)) {
		errf(err, errlen, "%s: a vDPA device has its own MAC, MTU and "
		     "queues (set them with 'vdpa dev add ... mac M mtu N'); "
		     "server= and vhost= are for other backends", opt);
		return -1;
	}
	if (n->vhost_user[0] && n->vhost == NET_VHOST_ON) {
		errf(err, errlen, "%s: vhost=on is the kernel's vhost-net on a "
		     "tap; a vhost-user backend needs no tap", opt);
		return -1;
	}
	if (n->server && !n->vhost_user[0]) {
		errf(err, errlen, "%s: server=on is for vhost-user=SOCKET", opt);
		return -1;
	}
	return 0;
}

static int net_saved_vu(const uint8_t *buf, size_t len,
			struct net_vu_saved *vu);

static struct virtio_dev *net_create(const void *cfg,
				     const struct virtio_opts *opts,
				     const struct vdev_env *env, char *err,
				     size_t errlen)
{
	const struct net_config *c = cfg;
	struct net_vu_saved moved;
	struct virtio_net *n;

	if (c->vhost_vdpa[0])
		return vdpa_dev_create(c->vhost_vdpa, &net_vdpa_spec, opts,
				       env->gm, &env->notify, NULL, err, errlen);
	if (env->incoming && c->vhost_user[0] &&
	    net_saved_vu(env->saved, env->saved_len, &moved) != 1) {
		errf(err, errlen, "--net vhost-user=%s: the migration stream has "
		     "no record of its backend (a source vireo that cannot "
		     "migrate vhost-user NICs?)", c->vhost_user);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		errf(err, errlen, "--net: out of memory");
		return NULL;
	}
	if (net_init(n, cfg, env->gm, opts, &env->notify,
		     env->incoming && c->vhost_user[0] ? &moved : NULL, err,
		     errlen)) {
		free(n);
		return NULL;
	}
	return &n->vdev;
}

static void net_destroy(struct virtio_dev *d)
{
	struct virtio_net *n = d->priv;

	if (vdpa_dev_is(d)) {
		vdpa_dev_destroy(d);
		return;
	}
	virtio_net_fini(n);
	free(n);
}

static void net_stats(struct virtio_dev *d, char *buf, size_t len)
{
	if (vdpa_dev_is(d))
		vdpa_dev_stats(d, buf, len);
	else
		virtio_net_stats_line(d->priv, buf, len);
}

/* Queue pairs in use and the MAC (legacy drivers may set it). */
struct net_saved {
	uint16_t active_pairs;
	uint8_t mac[6];
};

/*
 * The vhost-user record after a struct net_saved: 1 and *vu if there is
 * one, 0 if the state has none (a tap's), -1 if it is not a NIC's state.
 */
static int net_saved_vu(const uint8_t *buf, size_t len,
			struct net_vu_saved *vu)
{
	if (len == sizeof(struct net_saved))
		return 0;
	if (len != sizeof(struct net_saved) + sizeof(*vu))
		return -1;
	memcpy(vu, buf + sizeof(struct net_saved), sizeof(*vu));
	return vu->magic == NET_VU_SAVED_MAGIC ? 1 : -1;
}

static size_t net_save(struct virtio_dev *d, uint8_t *buf, size_t max)
{
	struct virtio_net *n = d->priv;
	struct net_saved s = { 0, { 0 } };
	struct net_vu_saved vu;

	if (max < sizeof(s) || vdpa_dev_is(d))
		return 0;
	s.active_pairs = (uint16_t)n->active_pairs;
	memcpy(s.mac, n->cfg.mac, 6);
	memcpy(buf, &s, sizeof(s));
	if (n->backend == NET_VHOST_USER && max >= sizeof(s) + sizeof(vu)) {
		net_vhost_user_save(n, &vu);
		memcpy(buf + sizeof(s), &vu, sizeof(vu));
		return sizeof(s) + sizeof(vu);
	}
	return sizeof(s);
}

static int net_dirty_log(struct virtio_dev *d, uint64_t *log, char *err,
			 size_t errlen)
{
	if (vdpa_dev_is(d)) {
		errf(err, errlen, "a vDPA device's writes to guest memory "
		     "cannot be followed");
		return -ENOTSUP;
	}
	return net_vhost_log(d->priv, log, err, errlen);
}

static const char *net_cannot_move(struct virtio_dev *d, bool local)
{
	return vdpa_dev_is(d) ? NULL : net_vhost_cannot_move(d->priv, local);
}

static int net_lock(struct virtio_dev *d, bool take, char *err,
		    size_t errlen)
{
	return vdpa_dev_is(d) ? 0 : net_vhost_lock(d->priv, take, err, errlen);
}

static int net_restore(struct virtio_dev *d, const uint8_t *buf, size_t len,
		       char *err, size_t errlen)
{
	struct virtio_net *n = d->priv;
	struct net_vu_saved vu;
	struct net_saved s;

	if (vdpa_dev_is(d))
		return 0;
	if (len < sizeof(s) || net_saved_vu(buf, len, &vu) < 0) {
		errf(err, errlen, "net: a saved state of %zu bytes is not a "
		     "NIC's (%zu bytes, or %zu with a vhost-user record whose "
		     "magic is VUN1)", len, sizeof(s), sizeof(s) + sizeof(vu));
		return -EINVAL;
	}
	memcpy(&s, buf, sizeof(s));
	if (s.active_pairs > n->pairs) {
		errf(err, errlen, "net: %u queue pairs in use, the device has %u",
		     s.active_pairs, n->pairs);
		return -EINVAL;
	}
	n->active_pairs = s.active_pairs;
	memcpy(n->cfg.mac, s.mac, 6);
	/* (the driver's features were restored just before) */
	if (n->backend == NET_VHOST_USER && n->vu.up)
		return net_vhost_user_fits(n, err, errlen);
	return 0;
}

/* ---- a NIC from a vDPA net device (unit-tested only: see README) ---------- */

static uint16_t vdpa_net_queues(const uint8_t *config, uint64_t features,
				uint32_t nr_vqs)
{
	(void)config;
	(void)features;
	(void)nr_vqs;
	return 2;	/* one pair: no control queue, no MQ */
}

/* mac, status, max_virtqueue_pairs, mtu. */
#define VDPA_NET_CFG_SIZE	12

const struct vdpa_dev_spec net_vdpa_spec = {
	.what = "net",
	.device_id = 1,
	.features = BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
		    BIT(VIRTIO_NET_F_MTU) | BIT(VIRTIO_NET_F_MAC) |
		    BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
		    BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) |
		    BIT(VIRTIO_NET_F_MRG_RXBUF) | BIT(VIRTIO_NET_F_STATUS),
	.config_size = VDPA_NET_CFG_SIZE,
	.queues = vdpa_net_queues,
	.fail_status = -1,
};

static const struct vdev_feature net_features[] = {
	{ "mrg_rxbuf", BIT(VIRTIO_NET_F_MRG_RXBUF) },
	/* GUEST_TSO4/6, HOST_TSO4/6 */
	{ "tso", BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
		 BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) },
	/* CSUM, GUEST_CSUM and the TSO bits that need them */
	{ "csum", BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) |
		  BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) |
		  BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) },
	{ NULL, 0 },
};

/* PUT /faults/ID: new inject= rules on the receive path and the link. */
static int net_set_faults(struct virtio_dev *d, const char *spec,
			  uint64_t seed, char *err, size_t errlen)
{
	struct net_config c = { 0 };
	struct virtio_net *n;

	if (vdpa_dev_is(d) || ((struct virtio_net *)d->priv)->backend !=
			      NET_INPROC) {
		errf(err, errlen, "net: this NIC's data path is not vireo's "
		     "(vhost-net, vhost-user or vDPA): start it with "
		     "tap=NAME,vhost=off for fault injection");
		return -1;
	}
	n = d->priv;
	if ((spec[0] && net_parse_inject(&c, "faults", spec, err, errlen) < 0) ||
	    net_check_queue(n, &c.irq, err, errlen))
		return -1;
	n->cfg.rxdrop_pct = c.rxdrop_pct;
	n->cfg.rxdup_pct = c.rxdup_pct;
	n->cfg.badcsum_pct = c.badcsum_pct;
	n->cfg.shortlen_pct = c.shortlen_pct;
	if (virtio_irq_faults_set(d, &c.irq, &n->notify, err, errlen))
		return -1;
	n->cfg.irq = c.irq;
	if (seed) {
		n->cfg.seed = seed;
		n->rng = seed;
	}
	if (c.linkflap_ms != n->cfg.linkflap_ms) {
		flap_stop(n);
		n->cfg.linkflap_ms = c.linkflap_ms;
		if (n->flap_down) {
			n->flap_down = false;	/* back up, and say so */
			virtio_config_changed(d);
		}
		if (c.linkflap_ms && flap_start(n, err, errlen)) {
			flap_stop(n);
			n->cfg.linkflap_ms = 0;
			return -1;
		}
	}
	return 0;
}

const struct vdev_class virtio_net_class = {
	.name = "net",
	.option = "net",
	.keys = "tap, fd, vhost, vhost-dev, vhost-user, server, vhost-vdpa, mac, "
		"mtu, queues, iothread, inject, seed",
	.config_size = sizeof(struct net_config),
	.features = net_features,
	.config_init = net_config_init,
	.parse_key = net_parse_key,
	.config_check = net_config_check,
	.create = net_create,
	.destroy = net_destroy,
	.stats_line = net_stats,
	.save = net_save,
	.restore = net_restore,
	.dirty_log = net_dirty_log,
	.lock = net_lock,
	.cannot_move = net_cannot_move,
	.cannot_pause = vdpa_dev_cannot_pause,
	.set_faults = net_set_faults,
};
