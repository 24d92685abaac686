// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net's data queues served outside vireo (virtio-net.h): by the
 * kernel's vhost-net on the tap, one vhost fd per queue pair, or by a
 * vhost-user backend process on one socket (its rings 2p and 2p + 1 are
 * queue pair p). The control queue stays in vireo either way.
 */
#include "net-vhost.h"

#include <errno.h>
#include <linux/vhost_types.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../vmm/util.h"

#define BIT(n)			(1ULL << (n))
#define VHOST_NET_DEV		"/dev/vhost-net"
#define VIRTIO_NET_S_LINK_UP	1

/* Net bits a vhost-user backend must support itself: the data path's. */
#define NET_DATA_FEATURES \
	(BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | \
	 BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6) | \
	 BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6) | \
	 BIT(VIRTIO_NET_F_MRG_RXBUF) | VHOST_RING_FEATURES)

/* One eventfd for every ring's errors (VHOST_SET_VRING_ERR). */
static int err_fd_open(struct virtio_net *n);


/* The kernel could not use a ring (bad addresses): as a corrupt ring. */
static void vhost_ring_error(struct ev_handler *h, uint32_t events)
{
	struct virtio_net *n = container_of(h, struct virtio_net, vhost_err_h);

	(void)events;
	eventfd_drain(h->fd);
	pthread_mutex_lock(&n->vdev.lock);
	if (n->vhost_started) {
		pr_err("net %s: vhost-net reported a ring error; the device "
		       "needs a reset", n->ifname);
		virtio_dev_broken(&n->vdev);
	}
	pthread_mutex_unlock(&n->vdev.lock);
}

static void kernel_stop(struct virtio_net *n)
{
	unsigned int p;

	for (p = 0; p < n->pairs; p++) {
		struct vhost_kernel *k = &n->vk[p];

		if (!(n->vhost_started & (1U << p)))
			continue;
		vhost_kernel_net_backend(k, 0, -1);
		vhost_kernel_net_backend(k, 1, -1);
		vhost_rings_stop(&k->v, &n->vdev, 2 * p, 2, 0);
		n->vhost_started &= ~(1U << p);
	}
}

/* Hand every ready queue pair to its vhost-net fd. */
static int kernel_start(struct virtio_net *n, const struct virtio_activation *a)
{
	int err_fds[2] = { n->vhost_err_h.fd, n->vhost_err_h.fd };
	char why[256];
	unsigned int p, q;
	int ret = 0;

	for (p = 0; p < n->pairs; p++) {
		struct vhost_kernel *k = &n->vk[p];

		if (!a->q[2 * p].vq->ready || !a->q[2 * p + 1].vq->ready)
			continue;
		/* A migration under way: the kernel logs what it writes. */
		ret = vhost_start_features(&k->v, n->vhost_log,
					   a->features & n->vhost_features);
		if (!ret)
			ret = k->v.ops->set_mem_table(&k->v, a->gm);
		if (ret) {
			snprintf(why, sizeof(why), "%s: %s", k->v.name,
				 strerror(-ret));
			break;
		}
		ret = vhost_rings_start(&k->v, a, 2 * p, 2, 0, err_fds, why,
					sizeof(why));
		if (ret)
			break;
		n->vhost_started |= 1U << p;
		for (q = 0; q < 2 && !ret; q++) {
			ret = vhost_kernel_net_backend(k, q, n->pair[p].tap_fd);
			if (ret)
				snprintf(why, sizeof(why), "%s: attaching the "
					 "tap: %s", k->v.name, strerror(-ret));
		}
		if (ret)
			break;
	}
	if (ret) {
		pr_err("net %s: %s; serving its queues in vireo", n->ifname, why);
		kernel_stop(n);
		return ret;
	}
	for (p = 0; p < n->pairs; p++) {
		if (!(n->vhost_started & (1U << p)))
			continue;
		virtio_queue_set_external(&n->vdev, 2 * p);
		virtio_queue_set_external(&n->vdev, 2 * p + 1);
		/* Kicks vireo's loop took before the hand-over: again. */
		eventfd_signal(a->q[2 * p].kick_fd);
		eventfd_signal(a->q[2 * p + 1].kick_fd);
	}
	return 0;
}

/*
 * Open one vhost-net fd per queue pair and learn its features. With
 * vhost=auto, anything in the way (no module, no access, no packed rings
 * where ring=packed was asked for) is a one-line notice and vireo serves
 * the queues itself; with vhost=on it is an error.
 */
int net_vhost_net_open(struct virtio_net *n, const struct virtio_opts *opts,
		       char *err, size_t errlen)
{
	const char *path = n->cfg.vhost_dev[0] ? n->cfg.vhost_dev : VHOST_NET_DEV;
	bool on = n->cfg.vhost == NET_VHOST_ON;
	char why[512];
	unsigned int p;
	int ret = 0;

	why[0] = '\0';
	for (p = 0; p < n->pairs && !ret; p++)
		ret = vhost_kernel_open(&n->vk[p], path, why, sizeof(why));
	if (!ret)
		ret = n->vk[0].v.ops->get_features(&n->vk[0].v, &n->vhost_features);
	if (!ret && opts->packed &&
	    !(n->vhost_features & BIT(VIRTIO_F_RING_PACKED))) {
		snprintf(why, sizeof(why), "%s has no packed rings on this "
			 "kernel", path);
		ret = -ENOTSUP;
	}
	if (!ret) {
		ret = err_fd_open(n);
		if (ret)
			snprintf(why, sizeof(why), "%s: %s", path, strerror(-ret));
	}
	if (!ret) {
		n->backend = NET_VHOST_NET;
		return 0;
	}
	for (p = 0; p < n->pairs; p++)
		vhost_kernel_close(&n->vk[p]);
	if (on) {
		errf(err, errlen, "--net %s: vhost=on: %s", n->ifname, why);
		return ret;
	}
	pr_err("net %s: %s; serving its queues in vireo (vhost=off "
	       "says so without this notice)", n->ifname, why);
	return 0;
}


static int err_fd_open(struct virtio_net *n)
{
	int ret;

	n->vhost_err_h.fn = vhost_ring_error;
	n->vhost_err_h.fd = eventfd_new();
	if (n->vhost_err_h.fd < 0)
		return n->vhost_err_h.fd;
	ret = n->notify.ops->watch(n->notify.ctx, &n->vhost_err_h);
	n->vhost_err_watched = !ret;
	return ret;
}

/* ---- vhost-user ------------------------------------------------------------ */

static void set_link(struct virtio_net *n, bool up)
{
	if (n->link_up == up)
		return;
	n->link_up = up;
	virtio_config_changed(&n->vdev);
}

/* Rings 0 .. 2 * pairs - 1 of the backend are the data queues. */
static int user_start(struct virtio_net *n, const struct virtio_activation *a)
{
	struct vhost *v = &n->vu.v;
	char why[256];
	unsigned int nq = 2 * n->pairs;
	int ret;

	if (!n->vu.up)
		return -ENOTCONN;
	if (a->features & NET_DATA_FEATURES & ~n->vu.features) {
		snprintf(why, sizeof(why), "the new backend lacks features the "
			 "driver uses (%#llx)", (unsigned long long)
			 (a->features & NET_DATA_FEATURES & ~n->vu.features));
		vhost_user_drop(&n->vu, why);
		return -ENOTSUP;
	}
	/* A migration under way: the backend logs what it writes. */
	ret = vhost_start_features(v, n->vhost_log, a->features & n->vu.features);
	if (!ret)
		ret = v->ops->set_mem_table(v, a->gm);
	if (!ret)
		ret = vhost_rings_start(v, a, 0, nq, 0, NULL, why, sizeof(why));
	if (ret)
		return ret;
	n->vhost_started = (1U << n->pairs) - 1;
	vhost_queues_handed(&n->vdev, a, 0, nq);
	set_link(n, true);
	return 0;
}

/* The activation context again, for a restart after a reconnect. */
static void user_restart(struct virtio_net *n)
{
	struct virtio_activation a;
	unsigned int q;

	memset(&a, 0, sizeof(a));
	a.gm = n->vdev.gm;
	a.features = n->vdev.acked;
	a.nr_queues = n->vdev.ops->num_queues;
	for (q = 0; q < a.nr_queues; q++) {
		a.q[q].vq = &n->vdev.vq[q];
		a.q[q].kick_fd = a.q[q].call_fd = -1;
		if (n->vdev.tops && n->vdev.tops->queue_fds)
			n->vdev.tops->queue_fds(n->vdev.transport, q,
						&a.q[q].kick_fd, &a.q[q].call_fd);
	}
	user_start(n, &a);
}

static void user_up(void *opaque)
{
	struct virtio_net *n = opaque;
	unsigned int q;

	if (!virtio_dev_running(&n->vdev))
		return;
	for (q = 0; q < 2 * n->pairs; q++) {
		if (n->vdev.vq[q].ready && n->vdev.vq[q].packed) {
			/* A packed ring's position died with the backend. */
			pr_err("net %s: a packed ring cannot be resumed after the "
			       "backend was lost; the device needs a reset",
			       n->ifname);
			virtio_dev_broken(&n->vdev);
			return;
		}
	}
	user_restart(n);
}

static void user_down(void *opaque)
{
	struct virtio_net *n = opaque;
	unsigned int q;

	if (n->vhost_started) {
		/*
		 * Without GET_VRING_BASE, the used index says how far the
		 * backend got: it serves a ring in order, so the next backend
		 * starts there (buffers taken but not used come again).
		 */
		for (q = 0; q < 2 * n->pairs; q++)
			if (n->vdev.vq[q].ready && !n->vdev.vq[q].packed)
				vhost_ring_set_base(&n->vdev.vq[q],
						    vhost_used_idx(&n->vdev.vq[q]));
	}
	n->vhost_started = 0;
	set_link(n, false);
}

/* The backend answered the stop (or is gone): the reset or pause is done. */
static void user_settled(void *opaque)
{
	struct virtio_net *n = opaque;

	virtio_stop_settled(&n->vdev, &n->vu_stopping, &n->vu_pausing);
}

static const struct vhost_user_hooks user_hooks = {
	.up = user_up,
	.down = user_down,
	.settled = user_settled,
};

int net_vhost_user_open(struct virtio_net *n, const struct net_vu_saved *moved,
			char *err, size_t errlen)
{
	uint64_t want = BIT(VU_PROTOCOL_F_MQ) | BIT(VU_PROTOCOL_F_REPLY_ACK) |
			BIT(VU_PROTOCOL_F_LOG_SHMFD);
	int ret;

	if (moved && n->cfg.server) {
		errf(err, errlen, "--net vhost-user=%s: a migration target "
		     "cannot wait for a backend to connect (server=on)",
		     n->cfg.vhost_user);
		return -ENOTSUP;
	}
	if (moved)
		ret = vhost_user_init_parked(&n->vu, n->cfg.vhost_user, want,
					     &n->notify, &n->vdev.lock,
					     &user_hooks, n, err, errlen);
	else
		ret = vhost_user_init(&n->vu, n->cfg.vhost_user, n->cfg.server,
				      want, &n->notify, &n->vdev.lock,
				      &user_hooks, n, err, errlen);
	if (ret)
		return ret;
	n->vu_open = true;
	if (moved) {
		n->vu.features = moved->features;
		n->vu.protocol = moved->protocol & want;
		n->vu.queue_num = moved->queue_num;
	}
	n->backend = NET_VHOST_USER;
	if (n->pairs > 1 && n->vu.queue_num < 2 * n->pairs) {
		errf(err, errlen, "--net vhost-user=%s: queues=%u needs %u "
		     "rings, the backend has %u", n->cfg.vhost_user, n->pairs,
		     2 * n->pairs, n->vu.queue_num);
		return -EINVAL;
	}
	n->link_up = false;
	return 0;
}

int net_vhost_log(struct virtio_net *n, uint64_t *log, char *err,
		  size_t errlen)
{
	unsigned int p;
	int ret = 0;

	if (n->backend == NET_VHOST_USER) {
		if (log && vhost_user_can_log(&n->vu, err, errlen))
			return -ENOTSUP;
		n->vhost_log = log;
		if (!n->vhost_started || !n->vu.up)
			return 0;	/* user_start() sets it up */
		return vhost_rings_log(&n->vu.v, &n->vdev, log,
				       n->vdev.acked & n->vu.features, 0,
				       2 * n->pairs, 0, err, errlen);
	}
	n->vhost_log = log;
	if (n->backend != NET_VHOST_NET)
		return 0;
	/* Stopping goes through every pair, whatever fails. */
	for (p = 0; p < n->pairs && (!ret || !log); p++) {
		int r;

		if (!(n->vhost_started & (1U << p)))
			continue;
		r = vhost_rings_log(&n->vk[p].v, &n->vdev, log,
				    n->vdev.acked & n->vhost_features, 2 * p, 2,
				    0, ret ? NULL : err, ret ? 0 : errlen);
		if (r && !ret)
			ret = r;
	}
	if (ret && log)
		net_vhost_log(n, NULL, NULL, 0);
	return ret;
}

void net_vhost_user_save(const struct virtio_net *n, struct net_vu_saved *s)
{
	memset(s, 0, sizeof(*s));
	s->magic = NET_VU_SAVED_MAGIC;
	s->queue_num = n->vu.queue_num;
	s->features = n->vu.features;
	s->protocol = n->vu.protocol;
}

int net_vhost_user_fits(struct virtio_net *n, char *err, size_t errlen)
{
	uint64_t need = n->vdev.acked & NET_DATA_FEATURES;

	if (need & ~n->vu.features) {
		errf(err, errlen, "vhost-user %s: the backend now lacks features "
		     "the guest's driver uses (%#llx)", n->cfg.vhost_user,
		     (unsigned long long)(need & ~n->vu.features));
		return -ENOTSUP;
	}
	if (n->pairs > 1 && n->vu.queue_num < 2 * n->pairs) {
		errf(err, errlen, "vhost-user %s: the backend now has %u rings; "
		     "queues=%u needs %u", n->cfg.vhost_user, n->vu.queue_num,
		     n->pairs, 2 * n->pairs);
		return -ENOTSUP;
	}
	return 0;
}

int net_vhost_lock(struct virtio_net *n, bool take, char *err, size_t errlen)
{
	int ret;

	if (n->backend != NET_VHOST_USER)
		return 0;
	if (!take)
		return vhost_user_hand_over(&n->vu, &n->vdev, 2 * n->pairs, err,
					    errlen);
	if (!n->vu.parked)
		return 0;
	ret = vhost_user_take_back(&n->vu, err, errlen);
	/* (A target's driver features come with the state, after this:
	 * net_restore() checks them.) */
	return ret ? ret : net_vhost_user_fits(n, err, errlen);
}

const char *net_vhost_cannot_move(const struct virtio_net *n, bool local)
{
	return n->backend != NET_VHOST_USER ? NULL :
	       vhost_user_cannot_move(n->cfg.server, n->vdev.acked, local);
}

uint64_t net_vhost_offer_mask(const struct virtio_net *n)
{
	switch (n->backend) {
	case NET_VHOST_NET:
		return ~((VHOST_RING_FEATURES | BIT(VIRTIO_NET_F_MRG_RXBUF)) &
			 ~n->vhost_features);
	case NET_VHOST_USER:
		return ~(NET_DATA_FEATURES & ~n->vu.features);
	default:
		return ~0ULL;
	}
}

/* ---- both ------------------------------------------------------------------ */

int net_vhost_start(struct virtio_net *n, const struct virtio_activation *a)
{
	switch (n->backend) {
	case NET_VHOST_NET:
		return kernel_start(n, a);
	case NET_VHOST_USER:
		/* A pause's bases still to come are taken first. */
		vhost_user_settle(&n->vu);
		n->vu_pausing = false;
		/* Not connected: link down until the backend comes. */
		if (user_start(n, a))
			set_link(n, false);
		return 0;
	default:
		return 0;
	}
}

void net_vhost_stop(struct virtio_net *n, bool pause)
{
	switch (n->backend) {
	case NET_VHOST_NET:
		kernel_stop(n);
		break;
	case NET_VHOST_USER:
		/* A reset does not wait for the backend (user_settled). */
		if (n->vhost_started && n->vu.up && pause &&
		    n->vdev.pause_async)
			n->vu_pausing = n->vdev.pause_pending =
				vhost_user_stop_async(&n->vu, &n->vdev, 0,
						      2 * n->pairs, 0, true);
		else if (n->vhost_started && n->vu.up && pause)
			vhost_rings_stop(&n->vu.v, &n->vdev, 0, 2 * n->pairs, 0);
		else if (n->vhost_started && n->vu.up)
			n->vu_stopping = vhost_user_stop_async(&n->vu, &n->vdev,
								 0, 2 * n->pairs, 0,
								 false);
		n->vhost_started = 0;
		n->link_up = false;
		break;
	default:
		break;
	}
}

void net_vhost_close(struct virtio_net *n)
{
	unsigned int i;

	for (i = 0; i < NET_MAX_PAIRS; i++)
		vhost_kernel_close(&n->vk[i]);
	if (n->vu_open)
		vhost_user_fini(&n->vu);
	n->vu_open = false;
	if (n->vhost_err_watched)
		n->notify.ops->unwatch(n->notify.ctx, &n->vhost_err_h);
	n->vhost_err_watched = false;
	if (n->vhost_err_h.fd >= 0)
		close(n->vhost_err_h.fd);
	n->vhost_err_h.fd = -1;
}

bool net_link_up(const struct virtio_net *n)
{
	return (n->backend != NET_VHOST_USER || n->link_up) && !n->flap_down;
}
