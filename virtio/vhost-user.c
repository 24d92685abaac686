// SPDX-License-Identifier: GPL-2.0
#include "vhost-user.h"

#include <errno.h>
#include <linux/vhost_types.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/util.h"
#include "../vmm/sandbox.h"

#define VU_MAX_FDS	VU_MAX_REGIONS
#define VU_REPLY_MAX	(VU_CONFIG_HDR + VU_CONFIG_MAX)

static struct vhost_user *to_vu(struct vhost *v)
{
	return container_of(v, struct vhost_user, v);
}

static void timer_arm(struct vhost_user *u, unsigned int ms)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L + (ms ? 0 : 1);
	timerfd_settime(u->timer_h.fd, 0, &its, NULL);
}

/*
 * The connection is unusable: close it, say why once, and leave the rest
 * (telling the device, reconnecting) to the event loop, outside whatever
 * request found out.
 */
static void vu_lost(struct vhost_user *u, const char *why)
{
	if (u->fd < 0)
		return;
	if (u->conn_watched)
		u->notify.ops->unwatch(u->notify.ctx, &u->conn_h);
	u->conn_watched = false;
	close(u->fd);
	u->fd = -1;
	if (u->n_owed) {
		/* A pause's bases: what the guest has seen used is known. */
		for (; u->n_owed; u->n_owed--) {
			struct virtq *vq = u->owed[u->owed_head].vq;

			if (vq)
				vhost_ring_set_base(vq, vq->packed ?
						    vhost_ring_base(vq) :
						    vhost_used_idx(vq));
			u->owed_head = (u->owed_head + 1) % VU_OWED_MAX;
		}
		u->settle_pending = true;	/* hooks->settled, on the loop */
	}
	snprintf(u->last_why, sizeof(u->last_why), "%s", why);
	if (!u->up)
		return;		/* while connecting: the caller reports it */
	u->up = false;
	u->losses++;
	pr_err("vhost-user %s: %s; %s", u->path, why,
	       u->server ? "waiting for the backend to connect again" :
			   "reconnecting");
	u->loss_pending = true;
	u->backoff_ms = VU_BACKOFF_MIN_MS;
	timer_arm(u, 0);
}

void vhost_user_drop(struct vhost_user *u, const char *why)
{
	vu_lost(u, why);
}

static int send_msg(int fd, const struct vu_msg *m, const int *fds,
		    unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { (void *)m->buf, m->len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds) {
		struct cmsghdr *cm;

		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == m->len ? 0 : -EIO;
}

/* Read exactly len bytes (the payload after the header). */
static int recv_all(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

/*
 * One reply: the header (with any fds), then its payload, bounded.
 * Returns the bytes in buf, or -errno; fds received go to fds/nfds.
 */
static ssize_t recv_reply(int fd, uint8_t *buf, size_t cap, int *fds,
			  unsigned int *nfds)
{
	union {
		char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} c;
	struct iovec iov = { buf, VU_HDR_SIZE };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = c.buf, .msg_controllen = sizeof(c.buf),
	};
	struct cmsghdr *cm;
	uint32_t size;
	ssize_t n;
	int ret;

	*nfds = 0;
	do {
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		unsigned int i, k;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (unsigned int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*nfds < VU_MAX_FDS)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	if (n == 0)
		return -ECONNRESET;
	if (n < VU_HDR_SIZE)
		return -ENODATA;	/* cut short */
	size = get_le32(buf + 8);
	if (size > cap - VU_HDR_SIZE)
		return -EMSGSIZE;
	ret = recv_all(fd, buf + VU_HDR_SIZE, size);
	return ret ? ret : (ssize_t)(VU_HDR_SIZE + size);
}

/*
 * Read and check the reply to req (an ack if ack) into r; an fd that came
 * with it to fd_out. Any failure drops the connection. 0 or -errno.
 */
static int vu_await(struct vhost_user *u, uint32_t req, uint32_t cfg_size,
		    bool ack, struct vu_reply *r, int *fd_out)
{
	uint8_t buf[VU_REPLY_MAX];
	int rfds[VU_MAX_FDS];
	unsigned int nr = 0, i;
	char why[256];
	ssize_t len;
	int ret;

	len = recv_reply(u->fd, buf, sizeof(buf), rfds, &nr);
	if (len < 0) {
		snprintf(why, sizeof(why), "waiting for the reply to %s: %s",
			 vu_request_name(req),
			 len == -ECONNRESET ? "the backend hung up" :
			 len == -ETIMEDOUT ? "no answer in time" :
			 len == -EMSGSIZE ? "an oversized reply" :
			 len == -ENODATA ? "a reply cut short" :
			 strerror((int)-len));
		ret = (int)len;
	} else {
		ret = vu_reply_parse(req, cfg_size, ack, buf, (size_t)len, nr,
				     r, why, sizeof(why));
	}
	if (!ret && ack && r->u64) {
		snprintf(why, sizeof(why), "the backend refused %s (%llu)",
			 vu_request_name(req), (unsigned long long)r->u64);
		ret = -EIO;
	}
	if (!ret && fd_out && nr == 1) {
		*fd_out = rfds[0];
		nr = 0;
	}
	for (i = 0; i < nr; i++)
		close(rfds[i]);
	if (ret)
		vu_lost(u, why);
	return ret;
}

/* Send m; lose the connection if that fails. Asks for an ack if wanted. */
static int vu_send(struct vhost_user *u, struct vu_msg *m, const int *fds,
		   unsigned int nfds, bool ack)
{
	uint32_t req = get_le32(m->buf);
	char why[256];
	int ret;

	if (ack)
		put_le32(m->buf + 4, get_le32(m->buf + 4) | VU_FLAG_NEED_REPLY);
	ret = send_msg(u->fd, m, fds, nfds);
	if (ret) {
		snprintf(why, sizeof(why), "sending %s: %s", vu_request_name(req),
			 strerror(-ret));
		vu_lost(u, why);
	}
	return ret;
}

static void on_conn(struct ev_handler *h, uint32_t events);

/* Watch the connection for hang-ups and replies (again). */
static void vu_watch_conn(struct vhost_user *u)
{
	if (u->conn_watched || u->fd < 0)
		return;
	u->conn_h.fd = u->fd;
	u->conn_h.fn = on_conn;
	u->conn_watched = !u->notify.ops->watch(u->notify.ctx, &u->conn_h);
}

/* The owed replies did not come within VU_TIMEOUT_MS: drop the backend. */
static void vu_owed_late(struct vhost_user *u)
{
	char why[128];

	snprintf(why, sizeof(why), "no answer in time to %s",
		 vu_request_name(u->owed[u->owed_head].req));
	vu_lost(u, why);
}

/* Milliseconds left of VU_TIMEOUT_MS since the first owed was sent. */
static int vu_owed_left(const struct vhost_user *u)
{
	uint64_t waited = ms_since(&u->owed_since);

	return waited >= VU_TIMEOUT_MS ? 0 : (int)(VU_TIMEOUT_MS - waited);
}

/*
 * Take the replies still owed (vhost_user_stop_async). wait: block for
 * them, all within VU_TIMEOUT_MS of the first being sent; else take only
 * those already here in full. 0, or -errno with the connection dropped.
 */
static int vu_take_owed(struct vhost_user *u, bool wait)
{
	while (u->n_owed && u->fd >= 0) {
		const struct vu_owed *o = &u->owed[u->owed_head];
		uint8_t hdr[VU_HDR_SIZE];
		struct pollfd p = { .fd = u->fd, .events = POLLIN };
		struct vu_reply r;
		int avail = 0, ret;

		if (wait && poll(&p, 1, vu_owed_left(u)) != 1) {
			vu_owed_late(u);
			return -ETIMEDOUT;
		}
		if (!wait) {
			if (ioctl(u->fd, FIONREAD, &avail) < 0 ||
			    avail < VU_HDR_SIZE ||
			    recv(u->fd, hdr, sizeof(hdr),
				 MSG_PEEK | MSG_DONTWAIT) != VU_HDR_SIZE ||
			    (uint64_t)avail < VU_HDR_SIZE +
					      (uint64_t)get_le32(hdr + 8))
				return 0;	/* not all here yet */
		}
		ret = vu_await(u, o->req, 0, o->ack, &r, NULL);
		if (!ret && o->req == VU_GET_VRING_BASE && r.index != o->ring) {
			vu_lost(u, "GET_VRING_BASE answered for another ring");
			ret = -EPROTO;
		}
		if (ret)
			return ret;
		if (o->vq)
			vhost_ring_set_base(o->vq, r.num);
		u->owed_head = (u->owed_head + 1) % VU_OWED_MAX;
		if (!--u->n_owed) {
			/* All in: hooks->settled, from the loop if waited for. */
			u->settle_pending = true;
			if (wait)
				timer_arm(u, 0);
			vu_watch_conn(u);
		}
	}
	return 0;
}

/*
 * Send m (with fds) and, if it gets one, check its reply into r. With
 * REPLY_ACK negotiated, requests without a reply ask for an ack. Replies
 * still owed are taken first. Any failure drops the connection. 0 or
 * -errno.
 */
static int vu_call(struct vhost_user *u, struct vu_msg *m, const int *fds,
		   unsigned int nfds, uint32_t cfg_size, struct vu_reply *r,
		   int *fd_out)
{
	uint32_t req = get_le32(m->buf), size;
	unsigned int want_fds;
	bool reply = vu_reply_expected(req, cfg_size, &size, &want_fds);
	bool ack = !reply && vhost_user_has(u, VU_PROTOCOL_F_REPLY_ACK);
	struct vu_reply scratch;
	struct timespec t0;
	uint64_t ms;
	int ret;

	/* Until negotiated, only the negotiation (on its own thread). */
	if (!u->up && req != VU_GET_FEATURES && req != VU_GET_PROTOCOL_FEATURES &&
	    req != VU_SET_PROTOCOL_FEATURES && req != VU_GET_QUEUE_NUM &&
	    req != VU_SET_OWNER)
		return -ENOTCONN;
	if (u->fd >= 0 && u->n_owed)
		vu_take_owed(u, true);
	if (u->fd < 0)
		return -ENOTCONN;
	if (!r)
		r = &scratch;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = vu_send(u, m, fds, nfds, ack);
	if (ret || (!reply && !ack))
		return ret;
	ret = vu_await(u, req, cfg_size, ack, r, fd_out);
	ms = ms_since(&t0);
	if (!ret && ms > u->slowest_ms) {
		u->slowest_ms = ms;
		u->slowest_req = req;
	}
	return ret;
}

const char *vhost_user_slowest(const struct vhost_user *u, char *buf,
			       size_t len)
{
	if (u->slowest_ms < 100)
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, "; its slowest answer: %s in %llu ms",
			 vu_request_name(u->slowest_req),
			 (unsigned long long)u->slowest_ms);
	return buf;
}

/* Send m without waiting; its reply (or ack) is owed, read later. */
static int vu_send_owed(struct vhost_user *u, struct vu_msg *m,
			unsigned int ring, struct virtq *vq)
{
	uint32_t req = get_le32(m->buf), size;
	unsigned int want_fds;
	bool reply = vu_reply_expected(req, 0, &size, &want_fds);
	bool ack = !reply && vhost_user_has(u, VU_PROTOCOL_F_REPLY_ACK);
	struct vu_owed *o;
	int ret;

	if (u->n_owed == VU_OWED_MAX && vu_take_owed(u, true))
		return -ENOTCONN;
	if (u->fd < 0 || !u->up)
		return -ENOTCONN;
	ret = vu_send(u, m, NULL, 0, ack);
	if (ret || (!reply && !ack))
		return ret;
	o = &u->owed[(u->owed_head + u->n_owed) % VU_OWED_MAX];
	o->req = req;
	o->ring = ring;
	o->ack = ack;
	o->vq = req == VU_GET_VRING_BASE ? vq : NULL;
	if (!u->n_owed++) {
		clock_gettime(CLOCK_MONOTONIC, &u->owed_since);
		timer_arm(u, VU_TIMEOUT_MS);
	}
	return 0;
}

int vhost_user_stop_async(struct vhost_user *u, struct virtio_dev *d,
			  unsigned int first, unsigned int n, unsigned int ring,
			  bool keep)
{
	unsigned int i;

	for (i = 0; i < n && first + i < d->ops->num_queues; i++) {
		struct virtq *vq = &d->vq[first + i];
		struct vu_msg m;

		if (!vq->ready)
			continue;
		if (u->features & (1ULL << VU_F_PROTOCOL_FEATURES)) {
			vu_msg_state(&m, VU_SET_VRING_ENABLE, 0, ring + i, 0);
			if (vu_send_owed(u, &m, ring + i, NULL))
				break;
		}
		vu_msg_state(&m, VU_GET_VRING_BASE, 0, ring + i, 0);
		if (vu_send_owed(u, &m, ring + i, keep ? vq : NULL))
			break;
	}
	/* Lost on the way: the rest is known from the used rings. */
	for (; keep && i < n && first + i < d->ops->num_queues; i++) {
		struct virtq *vq = &d->vq[first + i];

		if (vq->ready)
			vhost_ring_set_base(vq, vq->packed ? vhost_ring_base(vq) :
					    vhost_used_idx(vq));
	}
	return u->n_owed > 0;
}

void vhost_user_settle(struct vhost_user *u)
{
	if (u->n_owed)
		vu_take_owed(u, true);
	u->settle_pending = false;
}

/* ---- the vhost interface ------------------------------------------------ */

static int vu_get_features(struct vhost *v, uint64_t *features)
{
	*features = to_vu(v)->features;
	return 0;
}

static int vu_set_features(struct vhost *v, uint64_t features)
{
	struct vhost_user *u = to_vu(v);
	struct vu_msg m;

	/* Protocol features stay on once negotiated. */
	features |= u->features & (1ULL << VU_F_PROTOCOL_FEATURES);
	vu_msg_u64(&m, VU_SET_FEATURES, 0, features);
	return vu_call(u, &m, NULL, 0, 0, NULL, NULL);
}

static int vu_set_mem_table(struct vhost *v, const struct guest_mem *gm)
{
	struct vhost_user *u = to_vu(v);
	struct vu_region r[VU_MAX_REGIONS];
	int fds[VU_MAX_REGIONS];
	struct vu_msg m;
	unsigned int i;

	if (gm->fd < 0 || gm->nr > VU_MAX_REGIONS)
		return -EINVAL;
	for (i = 0; i < gm->nr; i++) {
		r[i].gpa = gm->r[i].gpa;
		r[i].size = gm->r[i].size;
		r[i].uaddr = (uint64_t)(uintptr_t)gm->r[i].hva;
		r[i].mmap_offset = gm->r[i].fd_offset;
		fds[i] = gm->fd;
	}
	vu_msg_mem(&m, 0, r, gm->nr);
	return vu_call(u, &m, fds, gm->nr, 0, NULL, NULL);
}

static int vu_state(struct vhost *v, uint32_t req, unsigned int ring,
		    uint32_t num)
{
	struct vu_msg m;

	vu_msg_state(&m, req, 0, ring, num);
	return vu_call(to_vu(v), &m, NULL, 0, 0, NULL, NULL);
}

static int vu_set_vring_num(struct vhost *v, unsigned int ring, unsigned int num)
{
	return vu_state(v, VU_SET_VRING_NUM, ring, num);
}

static int vu_set_vring_base(struct vhost *v, unsigned int ring, uint32_t base)
{
	return vu_state(v, VU_SET_VRING_BASE, ring, base);
}

static int vu_set_vring_enable(struct vhost *v, unsigned int ring, bool on)
{
	/* Without protocol features, rings run from their first kick. */
	if (!(to_vu(v)->features & (1ULL << VU_F_PROTOCOL_FEATURES)))
		return 0;
	return vu_state(v, VU_SET_VRING_ENABLE, ring, on);
}

static int vu_set_vring_addr(struct vhost *v, unsigned int ring,
			     const struct vhost_ring_addr *a)
{
	struct vu_msg m;

	vu_msg_addr(&m, 0, ring, a->desc, a->used, a->avail, a->log,
		    a->log_gpa);
	return vu_call(to_vu(v), &m, NULL, 0, 0, NULL, NULL);
}

static int vu_get_vring_base(struct vhost *v, unsigned int ring, uint32_t *base)
{
	struct vu_reply r;
	struct vu_msg m;
	int ret;

	vu_msg_state(&m, VU_GET_VRING_BASE, 0, ring, 0);
	ret = vu_call(to_vu(v), &m, NULL, 0, 0, &r, NULL);
	if (!ret && r.index != ring) {
		vu_lost(to_vu(v), "GET_VRING_BASE answered for another ring");
		ret = -EPROTO;
	}
	*base = r.num;
	return ret;
}

static int vu_ring_fd(struct vhost *v, uint32_t req, unsigned int ring, int fd)
{
	struct vu_msg m;

	vu_msg_u64(&m, req, 0, ring | (fd < 0 ? VU_VRING_NOFD : 0));
	return vu_call(to_vu(v), &m, &fd, fd < 0 ? 0 : 1, 0, NULL, NULL);
}

static int vu_set_vring_kick(struct vhost *v, unsigned int ring, int fd)
{
	return vu_ring_fd(v, VU_SET_VRING_KICK, ring, fd);
}

static int vu_set_vring_call(struct vhost *v, unsigned int ring, int fd)
{
	return vu_ring_fd(v, VU_SET_VRING_CALL, ring, fd);
}

static int vu_set_vring_err(struct vhost *v, unsigned int ring, int fd)
{
	return vu_ring_fd(v, VU_SET_VRING_ERR, ring, fd);
}

/*
 * LOG_SHMFD: the backend maps the log (the fd goes along) and sets a bit
 * per page it writes. Logging ends with VHOST_F_LOG_ALL dropped from the
 * features; there is no message to unset the base.
 */
static int vu_set_log_base(struct vhost *v, uint64_t *log)
{
	struct vhost_user *u = to_vu(v);
	struct vu_msg m;
	uint64_t len;
	int fd;

	if (!log)
		return 0;
	if (!vhost_user_has(u, VU_PROTOCOL_F_LOG_SHMFD) ||
	    !(u->features & (1ULL << VHOST_F_LOG_ALL)))
		return -ENOTSUP;
	fd = vhost_log_fd(log, &len);
	if (fd < 0)
		return -EINVAL;
	vu_msg_log(&m, len, 0);
	return vu_call(u, &m, &fd, 1, 0, NULL, NULL);
}

static const struct vhost_ops vhost_user_ops = {
	.set_log_base = vu_set_log_base,
	.get_features = vu_get_features,
	.set_features = vu_set_features,
	.set_mem_table = vu_set_mem_table,
	.set_vring_num = vu_set_vring_num,
	.set_vring_addr = vu_set_vring_addr,
	.set_vring_base = vu_set_vring_base,
	.get_vring_base = vu_get_vring_base,
	.set_vring_kick = vu_set_vring_kick,
	.set_vring_call = vu_set_vring_call,
	.set_vring_err = vu_set_vring_err,
	.set_vring_enable = vu_set_vring_enable,
};

int vhost_user_get_config(struct vhost_user *u, uint32_t off, uint8_t *buf,
			  uint32_t len)
{
	struct vu_reply r;
	struct vu_msg m;
	int ret;

	if (!vhost_user_has(u, VU_PROTOCOL_F_CONFIG) || len > VU_CONFIG_MAX)
		return -ENOTSUP;
	vu_msg_config(&m, VU_GET_CONFIG, 0, off, len, NULL);
	ret = vu_call(u, &m, NULL, 0, len, &r, NULL);
	if (!ret)
		memcpy(buf, r.cfg, len);
	return ret;
}

int vhost_user_set_config(struct vhost_user *u, uint32_t off,
			  const uint8_t *buf, uint32_t len)
{
	struct vu_msg m;

	if (!vhost_user_has(u, VU_PROTOCOL_F_CONFIG) || len > VU_CONFIG_MAX)
		return -ENOTSUP;
	vu_msg_config(&m, VU_SET_CONFIG, 0, off, len, buf);
	return vu_call(u, &m, NULL, 0, 0, NULL, NULL);
}

int vhost_user_get_inflight(struct vhost_user *u, uint16_t num_queues,
			    uint16_t queue_size, struct vu_inflight *in,
			    int *fd)
{
	struct vu_inflight ask = { 0, 0, num_queues, queue_size };
	struct vu_reply r;
	struct vu_msg m;
	int ret;

	*fd = -1;
	vu_msg_inflight(&m, VU_GET_INFLIGHT_FD, 0, &ask);
	ret = vu_call(u, &m, NULL, 0, 0, &r, fd);
	if (!ret)
		*in = r.inflight;
	return ret;
}

int vhost_user_set_inflight(struct vhost_user *u, const struct vu_inflight *in,
			    int fd)
{
	struct vu_msg m;

	vu_msg_inflight(&m, VU_SET_INFLIGHT_FD, 0, in);
	return vu_call(u, &m, &fd, 1, 0, NULL, NULL);
}

/* ---- connecting ---------------------------------------------------------- */

static int vu_negotiate(struct vhost_user *u, char *why, size_t len)
{
	struct vu_reply r;
	struct vu_msg m;
	int ret;

	u->protocol = 0;
	u->queue_num = 0;
	vu_msg_none(&m, VU_GET_FEATURES, 0);
	ret = vu_call(u, &m, NULL, 0, 0, &r, NULL);
	if (ret)
		goto fail;
	u->features = r.u64;
	if (u->features & (1ULL << VU_F_PROTOCOL_FEATURES)) {
		vu_msg_none(&m, VU_GET_PROTOCOL_FEATURES, 0);
		ret = vu_call(u, &m, NULL, 0, 0, &r, NULL);
		if (ret)
			goto fail;
		vu_msg_u64(&m, VU_SET_PROTOCOL_FEATURES, 0, r.u64 & u->want_protocol);
		ret = vu_call(u, &m, NULL, 0, 0, NULL, NULL);
		if (ret)
			goto fail;
		u->protocol = r.u64 & u->want_protocol;
	}
	if (vhost_user_has(u, VU_PROTOCOL_F_MQ)) {
		vu_msg_none(&m, VU_GET_QUEUE_NUM, 0);
		ret = vu_call(u, &m, NULL, 0, 0, &r, NULL);
		if (ret)
			goto fail;
		u->queue_num = (unsigned int)MIN(r.u64, (uint64_t)VIRTIO_MAX_QUEUES);
	}
	vu_msg_none(&m, VU_SET_OWNER, 0);
	ret = vu_call(u, &m, NULL, 0, 0, NULL, NULL);
	if (ret)
		goto fail;
	return 0;
fail:
	errf(why, len, "%s", u->last_why);
	return ret;
}

static int set_timeouts(int fd)
{
	struct timeval tv = { VU_TIMEOUT_MS / 1000, (VU_TIMEOUT_MS % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

static int vu_connect(struct vhost_user *u)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", u->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Negotiate on a fresh connection fd (u->up is false meanwhile). */
static int vu_handshake(struct vhost_user *u, int fd, char *why, size_t len)
{
	int ret = set_timeouts(fd);

	if (ret) {
		close(fd);
		errf(why, len, "%s", strerror(-ret));
		return ret;
	}
	u->fd = fd;
	ret = vu_negotiate(u, why, len);
	if (ret) {
		if (u->fd >= 0)
			close(u->fd);
		u->fd = -1;
	}
	return ret;
}

/* The connection is ready: watch it for hang-ups, take requests. */
static void vu_install(struct vhost_user *u)
{
	vu_watch_conn(u);
	u->up = true;
}

static int vu_attach(struct vhost_user *u, int fd, char *why, size_t len)
{
	int ret = vu_handshake(u, fd, why, len);

	if (!ret)
		vu_install(u);
	return ret;
}

/* The backend came back: tell the device (lock held). */
static void vu_back(struct vhost_user *u)
{
	u->reconnects++;
	pr_err("vhost-user %s: the backend is back", u->path);
	if (u->hooks && u->hooks->up)
		u->hooks->up(u->opaque);
}

/* The replies owed are in, or will never come: tell the device. */
static void vu_settled(struct vhost_user *u)
{
	u->settle_pending = false;
	if (u->hooks && u->hooks->settled)
		u->hooks->settled(u->opaque);
}

/*
 * On the loop: take the owed replies that are here; part of one is looked
 * for again soon (VU_OWED_POLL_MS) rather than spun on; past
 * VU_TIMEOUT_MS the backend is dropped (which settles too).
 */
static void vu_poll_owed(struct vhost_user *u)
{
	struct pollfd p;
	int avail = 0, left;

	if (!u->n_owed || u->fd < 0 || vu_take_owed(u, false))
		return;
	if (!u->n_owed) {
		vu_settled(u);
		return;
	}
	left = vu_owed_left(u);
	if (!left) {
		vu_owed_late(u);
		return;
	}
	if (ioctl(u->fd, FIONREAD, &avail) == 0 && avail > 0) {
		/* Part of a reply, the rest to come, or a hang-up after it. */
		p = (struct pollfd){ .fd = u->fd, .events = POLLRDHUP };
		if (poll(&p, 1, 0) == 1 &&
		    (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			vu_lost(u, "the backend hung up in the middle of a reply");
			return;
		}
		if (u->conn_watched)
			u->notify.ops->unwatch(u->notify.ctx, &u->conn_h);
		u->conn_watched = false;
		timer_arm(u, VU_OWED_POLL_MS);
	} else {
		vu_watch_conn(u);
		timer_arm(u, (unsigned int)left);
	}
}

/*
 * Hang-ups, and the replies to a stop that did not wait for them; other
 * replies are read by their requester.
 */
static void on_conn(struct ev_handler *h, uint32_t events)
{
	struct vhost_user *u = container_of(h, struct vhost_user, conn_h);
	uint8_t b;
	ssize_t n;

	(void)events;
	pthread_mutex_lock(u->lock);
	vu_poll_owed(u);
	if (u->fd >= 0) {
		n = recv(u->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			vu_lost(u, "the backend hung up");
		else if (n > 0 && !u->n_owed)
			vu_lost(u, "the backend sent a message nobody asked for");
	}
	pthread_mutex_unlock(u->lock);
}

/*
 * Reconnects negotiate on a helper thread, so that a backend that accepts
 * and then says nothing holds up neither the event loop nor the device
 * (its requests see u->up false and fail at once meanwhile).
 */
static void *connector_main(void *arg)
{
	struct vhost_user *u = arg;
	int fd = u->pending_fd;

	sandbox_thread(SB_WORKER);
	if (fd < 0)
		fd = vu_connect(u);
	if (fd < 0) {
		snprintf(u->last_why, sizeof(u->last_why), "%s", strerror(-fd));
		u->connect_result = fd;
	} else {
		char why[sizeof(u->last_why)];

		/* Not into last_why itself: a failure is copied from it. */
		u->connect_result = vu_handshake(u, fd, why, sizeof(why));
		if (u->connect_result)
			snprintf(u->last_why, sizeof(u->last_why), "%s", why);
	}
	eventfd_signal(u->done_h.fd);
	return NULL;
}

/* Start a connection attempt (lock held); fd: accepted, or -1 to connect. */
static void connector_start(struct vhost_user *u, int fd)
{
	if (u->connecting) {
		if (fd >= 0)
			close(fd);		/* one at a time */
		return;
	}
	u->pending_fd = fd;
	u->connecting = !pthread_create(&u->connector, NULL, connector_main, u);
	if (!u->connecting) {
		if (fd >= 0)
			close(fd);
		timer_arm(u, u->backoff_ms);
	}
}

static void on_connected(struct ev_handler *h, uint32_t events)
{
	struct vhost_user *u = container_of(h, struct vhost_user, done_h);

	(void)events;
	eventfd_drain(h->fd);
	pthread_mutex_lock(u->lock);
	if (u->connecting) {
		pthread_join(u->connector, NULL);
		u->connecting = false;
		if (!u->connect_result) {
			if (u->listen_watched)
				u->notify.ops->unwatch(u->notify.ctx, &u->listen_h);
			u->listen_watched = false;
			vu_install(u);
			vu_back(u);
		} else if (u->server) {
			pr_err("vhost-user %s: a backend connected, but %s",
			       u->path, u->last_why);
		} else {
			/* Said once per loss, not at every attempt. */
			if (!u->said_waiting)
				pr_err("vhost-user %s: %s; trying again", u->path,
				       u->last_why);
			u->said_waiting = true;
			timer_arm(u, u->backoff_ms);
			u->backoff_ms = MIN(u->backoff_ms * 2,
					    (unsigned int)VU_BACKOFF_MAX_MS);
		}
	}
	pthread_mutex_unlock(u->lock);
}

static void on_listen(struct ev_handler *h, uint32_t events)
{
	struct vhost_user *u = container_of(h, struct vhost_user, listen_h);
	int fd;

	(void)events;
	fd = accept4(u->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	pthread_mutex_lock(u->lock);
	if (u->fd >= 0 || u->up)
		close(fd);		/* one backend at a time */
	else
		connector_start(u, fd);
	pthread_mutex_unlock(u->lock);
}

/* A loss to report, then reconnect attempts (client) or listening. */
static void on_timer(struct ev_handler *h, uint32_t events)
{
	struct vhost_user *u = container_of(h, struct vhost_user, timer_h);
	uint64_t v;

	(void)events;
	if (read(h->fd, &v, sizeof(v)) < 0 && errno == EAGAIN)
		return;
	pthread_mutex_lock(u->lock);
	vu_poll_owed(u);
	if (u->loss_pending) {
		u->loss_pending = false;
		u->said_waiting = false;
		if (u->hooks && u->hooks->down)
			u->hooks->down(u->opaque);
	}
	if (u->settle_pending)
		vu_settled(u);
	if (u->up || u->connecting || u->no_reconnect || u->parked)
		goto out;
	if (u->server) {
		if (!u->listen_watched)
			u->listen_watched = !u->notify.ops->watch(u->notify.ctx,
								  &u->listen_h);
		goto out;
	}
	connector_start(u, -1);
out:
	pthread_mutex_unlock(u->lock);
}

void vhost_user_park(struct vhost_user *u)
{
	/* A reconnect under way is waited out and dropped: the connection
	 * it made must not come back to this process. */
	if (u->connecting) {
		pthread_join(u->connector, NULL);
		u->connecting = false;
	}
	vhost_user_settle(u);
	if (u->conn_watched)
		u->notify.ops->unwatch(u->notify.ctx, &u->conn_h);
	u->conn_watched = false;
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	u->up = false;
	u->parked = true;
}

int vhost_user_hand_over(struct vhost_user *u, struct virtio_dev *d,
			 unsigned int n, char *err, size_t errlen)
{
	struct timespec t0;
	uint64_t waited = 0;
	unsigned int left, q;
	bool first = true;

	n = MIN(n, d->ops->num_queues);
	/* A backend away now would not be there for the target either:
	 * fail before anything is let go of (the VM resumes here). */
	if (!u->up) {
		errf(err, errlen, "vhost-user %s: the backend is not connected "
		     "(%s); migrate once it is back", u->path,
		     u->last_why[0] ? u->last_why : "gone");
		return -ENOTCONN;
	}
	for (q = 0; q < n; q++) {
		if (d->vq[q].ready && d->vq[q].packed) {
			errf(err, errlen, "vhost-user %s: the driver now uses "
			     "packed rings, where vireo cannot tell when the "
			     "backend has finished what it took", u->path);
			return -ENOTSUP;
		}
	}
	/* Split rings only from here on. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		left = 0;
		for (q = 0; q < n; q++)
			if (d->vq[q].ready)
				left += (uint16_t)(d->vq[q].last_avail -
						   vhost_used_idx(&d->vq[q]));
		if (first)
			u->handover_waited += left;
		first = false;
		waited = ms_since(&t0);
		if (!left)
			break;
		if (waited >= u->drain_ms) {
			errf(err, errlen, "vhost-user %s: %u requests the "
			     "backend took are still not completed after %llu "
			     "ms (the guest would lose them at the switch)",
			     u->path, left, (unsigned long long)waited);
			return -EBUSY;
		}
		usleep(1000);
	}
	u->handover_ms += waited;
	for (q = 0; q < n; q++)
		if (d->vq[q].ready)
			gm_mark_dirty(d->gm, d->vq[q].device,
				      vq_device_bytes(d->vq[q].size, false));
	vhost_user_park(u);
	u->handovers++;
	return 0;
}

int vhost_user_take_back(struct vhost_user *u, char *err, size_t errlen)
{
	return vhost_user_unpark(u, VU_UNPARK_MS, err, errlen);
}

const char *vhost_user_cannot_move(bool server, uint64_t acked, bool local)
{
	if (server)
		return "its vhost-user backend connects to vireo (server=on), "
		       "and the socket is this process's";
	if (acked & (1ULL << VIRTIO_F_RING_PACKED))
		return "its rings are packed, where vireo cannot tell when the "
		       "backend has finished what it took";
	/* With local=on the target maps the same memfds and hands them to
	 * the backend: nothing to refuse. (Refused for a while after
	 * guests triple-faulted on the target right after such a move in
	 * the nested test host, 2026-12-06; it passed 6 runs of 6 once
	 * vireo told that host's lost vCPU state apart, vm.c.) */
	(void)local;
	return NULL;
}

int vhost_user_can_log(const struct vhost_user *u, char *err, size_t errlen)
{
	if (vhost_user_has(u, VU_PROTOCOL_F_LOG_SHMFD) &&
	    (u->features & (1ULL << VHOST_F_LOG_ALL)))
		return 0;
	errf(err, errlen, "its vhost-user backend cannot log the guest pages "
	     "it writes (it lacks the LOG_SHMFD protocol feature or "
	     "VHOST_F_LOG_ALL), so it cannot move over tcp; use a backend "
	     "that has both (qemu-storage-daemon, DPDK's vhost PMD)");
	return -ENOTSUP;
}

static bool stop_pending(void);

int vhost_user_unpark(struct vhost_user *u, unsigned int wait_ms, char *err,
		      size_t errlen)
{
	unsigned int step = VU_BACKOFF_MIN_MS, tries = 0;
	char why[256] = "";
	struct timespec t0;
	uint64_t ms;
	int fd;

	if (!u->parked)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		tries++;
		fd = vu_connect(u);
		if (fd < 0)
			snprintf(why, sizeof(why), "%s", strerror(-fd));
		else if (!vu_attach(u, fd, why, sizeof(why)))
			break;
		/* Refused, or closed while the backend still served the
		 * process that had it: try again, until the deadline. */
		ms = ms_since(&t0);
		if (ms >= wait_ms || stop_pending()) {
			errf(err, errlen, "vhost-user '%s': %s (tried for %llu ms)",
			     u->path, why, (unsigned long long)ms);
			/* From now on the usual reconnects: the disk comes
			 * back when the backend is free again. */
			u->parked = false;
			u->backoff_ms = VU_BACKOFF_MIN_MS;
			timer_arm(u, u->backoff_ms);
			return -ECONNREFUSED;
		}
		usleep(step * 1000);
		step = MIN(step * 2, 500U);
	}
	u->parked = false;
	pr_err("vhost-user %s: connected in %llu ms (%u attempts)", u->path,
	       (unsigned long long)ms_since(&t0), tries);
	return 0;
}

/* SIGTERM, SIGINT or SIGHUP waiting for the event loop (they are blocked). */
static bool stop_pending(void)
{
	sigset_t s;

	return !sigpending(&s) && (sigismember(&s, SIGTERM) ||
				   sigismember(&s, SIGINT) ||
				   sigismember(&s, SIGHUP));
}

/* The first connection, made before the guest runs. */
static int vu_first_connection(struct vhost_user *u, char *err, size_t errlen)
{
	char why[256] = "";
	unsigned int waited_ms = 0, step = VU_BACKOFF_MIN_MS;
	bool said = false;
	int fd;

	for (;;) {
		if (u->server) {
			struct pollfd p = { .fd = u->listen_fd, .events = POLLIN };

			fd = poll(&p, 1, (int)step) == 1 ?
			     accept4(u->listen_fd, NULL, NULL, SOCK_CLOEXEC) : -EAGAIN;
			if (fd < 0 && fd != -EAGAIN)
				fd = -errno;
		} else {
			fd = vu_connect(u);
			if (fd < 0)
				snprintf(why, sizeof(why), "%s", strerror(-fd));
		}
		if (fd >= 0) {
			if (!vu_attach(u, fd, why, sizeof(why)))
				return 0;
			break;
		}
		if (waited_ms >= VU_FIRST_WAIT_S * 1000)
			break;
		if (stop_pending()) {
			snprintf(why, sizeof(why), "stopped while waiting for "
				 "the backend");
			fd = 0;		/* report why, not a connect error */
			break;
		}
		if (!said)
			pr_err("vhost-user %s: waiting up to %d s for the backend%s",
			       u->path, VU_FIRST_WAIT_S,
			       u->server ? " to connect" : "");
		said = true;
		if (!u->server)
			usleep(step * 1000);
		waited_ms += step;
		step = MIN(step * 2, (unsigned int)VU_BACKOFF_MAX_MS);
	}
	if (u->server && !why[0])
		errf(err, errlen, "vhost-user '%s': no backend connected within "
		     "%d s (start it in client mode on this socket)", u->path,
		     VU_FIRST_WAIT_S);
	else if (!u->server && fd < 0)
		errf(err, errlen, "vhost-user '%s': cannot connect: %s (is the "
		     "backend running and listening there? or use server=on "
		     "for a backend that connects)", u->path, why);
	else
		errf(err, errlen, "vhost-user '%s': %s", u->path, why);
	return -ECONNREFUSED;
}

static int vu_setup(struct vhost_user *u, const char *path, bool server,
		    uint64_t want_protocol, const struct vm_notify *notify,
		    pthread_mutex_t *lock, const struct vhost_user_hooks *hooks,
		    void *opaque, char *err, size_t errlen)
{
	memset(u, 0, sizeof(*u));
	u->fd = u->listen_fd = u->timer_h.fd = u->done_h.fd = -1;
	u->drain_ms = VU_DRAIN_MS;
	u->v.ops = &vhost_user_ops;
	snprintf(u->v.name, sizeof(u->v.name), "vhost-user %s", path);
	if (strlen(path) >= sizeof(u->path)) {
		errf(err, errlen, "vhost-user '%s': the socket path is longer "
		     "than %zu bytes", path, sizeof(u->path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(u->path, path);
	u->server = server;
	u->want_protocol = want_protocol;
	u->notify = *notify;
	u->lock = lock;
	u->hooks = hooks;
	u->opaque = opaque;
	u->backoff_ms = VU_BACKOFF_MIN_MS;
	u->done_h.fn = on_connected;
	u->done_h.fd = eventfd_new();
	u->timer_h.fn = on_timer;
	u->timer_h.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (u->timer_h.fd < 0 || u->done_h.fd < 0) {
		int ret = -errno;

		errf(err, errlen, "vhost-user '%s': timerfd: %s", path,
		     strerror(-ret));
		return ret;
	}
	return 0;
}

static int vu_watch_timer(struct vhost_user *u, char *err, size_t errlen)
{
	int ret = u->notify.ops->watch(u->notify.ctx, &u->timer_h);

	if (!ret) {
		u->timer_watched = true;
		ret = u->notify.ops->watch(u->notify.ctx, &u->done_h);
		u->done_watched = !ret;
	}
	if (ret) {
		errf(err, errlen, "vhost-user '%s': %s", u->path, strerror(-ret));
		return ret;
	}
	u->timer_watched = true;
	return 0;
}

int vhost_user_init(struct vhost_user *u, const char *path, bool server,
		    uint64_t want_protocol, const struct vm_notify *notify,
		    pthread_mutex_t *lock, const struct vhost_user_hooks *hooks,
		    void *opaque, char *err, size_t errlen)
{
	int ret;

	ret = vu_setup(u, path, server, want_protocol, notify, lock, hooks,
		       opaque, err, errlen);
	if (ret)
		return ret;
	if (server) {
		u->listen_fd = unix_listen(path, "vhost-user socket", err, errlen);
		if (u->listen_fd < 0)
			return u->listen_fd;
		u->listen_id = unix_path_id(path);
		u->listen_h.fd = u->listen_fd;
		u->listen_h.fn = on_listen;
	}
	ret = vu_first_connection(u, err, errlen);
	return ret ? ret : vu_watch_timer(u, err, errlen);
}

int vhost_user_init_parked(struct vhost_user *u, const char *path,
			   uint64_t want_protocol,
			   const struct vm_notify *notify,
			   pthread_mutex_t *lock,
			   const struct vhost_user_hooks *hooks, void *opaque,
			   char *err, size_t errlen)
{
	int ret;

	ret = vu_setup(u, path, false, want_protocol, notify, lock, hooks,
		       opaque, err, errlen);
	if (ret)
		return ret;
	u->parked = true;
	return vu_watch_timer(u, err, errlen);
}

int vhost_user_init_fd(struct vhost_user *u, int fd, const char *name,
		       uint64_t want_protocol, const struct vm_notify *notify,
		       pthread_mutex_t *lock,
		       const struct vhost_user_hooks *hooks, void *opaque,
		       char *err, size_t errlen)
{
	char why[256];
	int ret;

	ret = vu_setup(u, name, false, want_protocol, notify, lock, hooks,
		       opaque, err, errlen);
	if (ret) {
		close(fd);
		return ret;
	}
	u->no_reconnect = true;
	ret = vu_attach(u, fd, why, sizeof(why));
	if (ret) {
		errf(err, errlen, "vhost-user '%s': %s", name, why);
		return ret;
	}
	return vu_watch_timer(u, err, errlen);
}

void vhost_user_fini(struct vhost_user *u)
{
	const struct vm_notify_ops *ops = u->notify.ops;

	if (u->connecting) {
		pthread_join(u->connector, NULL);
		u->connecting = false;
	}
	if (u->done_watched)
		ops->unwatch(u->notify.ctx, &u->done_h);
	u->done_watched = false;
	if (u->done_h.fd >= 0)
		close(u->done_h.fd);
	u->done_h.fd = -1;

	if (u->conn_watched)
		ops->unwatch(u->notify.ctx, &u->conn_h);
	if (u->listen_watched)
		ops->unwatch(u->notify.ctx, &u->listen_h);
	if (u->timer_watched)
		ops->unwatch(u->notify.ctx, &u->timer_h);
	if (u->timer_h.fd >= 0)
		close(u->timer_h.fd);
	u->timer_watched = false;
	if (u->fd >= 0)
		close(u->fd);
	if (u->listen_fd >= 0) {
		close(u->listen_fd);
		unix_unlink_own(u->path, u->listen_id);
	}
	u->conn_watched = u->listen_watched = false;
	u->fd = u->listen_fd = u->timer_h.fd = -1;
}
