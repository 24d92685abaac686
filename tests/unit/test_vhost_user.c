// SPDX-License-Identifier: GPL-2.0
/*
 * The vhost-user frontend against a fake backend on a unix socket (a
 * thread that answers like libvhost-user or DPDK would, and misbehaves on
 * request): the message codec, negotiation, broken replies (BAD-INPUTS
 * 25), a net device's link going down and up with the backend, and a blk
 * device failing the requests in flight when its backend dies.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/blk-vhost-user.h"
#include "devices/net-vhost.h"
#include "devices/vdev.h"
#include "devices/virtio-net.h"
#include "fakevmm.h"
#include "unit.h"
#include "virtio/vhost-user.h"
#include "virtio/vhost.h"
#include "vmm/util.h"
#include "vring.h"

#define BIT(n) (1ULL << (n))

/* ---- the codec ---------------------------------------------------------- */

static size_t reply(uint8_t *buf, uint32_t req, uint32_t flags, uint32_t size)
{
	put_le32(buf, req);
	put_le32(buf + 4, flags);
	put_le32(buf + 8, size);
	return VU_HDR_SIZE + size;
}

START_TEST(codec)
{
	uint8_t buf[VU_HDR_SIZE + 300];
	struct vu_reply r;
	struct vu_msg m;
	char why[256];
	size_t len;

	vu_msg_state(&m, VU_SET_VRING_BASE, 0, 3, 77);
	ck_assert_uint_eq(m.len, 20);
	ck_assert_uint_eq(get_le32(m.buf), VU_SET_VRING_BASE);
	ck_assert_uint_eq(get_le32(m.buf + 4), VU_FLAG_VERSION);
	ck_assert_uint_eq(get_le32(m.buf + 16), 77);
	vu_msg_addr(&m, 0, 1, 0x1000, 0x3000, 0x2000, false, 0x9000);
	ck_assert_uint_eq(m.len, VU_HDR_SIZE + 40);
	ck_assert_uint_eq(get_le32(m.buf + VU_HDR_SIZE + 4), 0);	/* flags */
	ck_assert_uint_eq(get_le64(m.buf + VU_HDR_SIZE + 32), 0);
	ck_assert_uint_eq(get_le64(m.buf + VU_HDR_SIZE + 16), 0x3000);	/* used */
	ck_assert_uint_eq(get_le64(m.buf + VU_HDR_SIZE + 24), 0x2000);	/* avail */
	/* Logging: the flag, and the used ring's guest address. */
	vu_msg_addr(&m, 0, 1, 0x1000, 0x3000, 0x2000, true, 0x9000);
	ck_assert_uint_eq(get_le32(m.buf + VU_HDR_SIZE + 4), VU_VRING_F_LOG);
	ck_assert_uint_eq(get_le64(m.buf + VU_HDR_SIZE + 32), 0x9000);

	/* A good GET_FEATURES reply. */
	len = reply(buf, VU_GET_FEATURES, 5, 8);
	put_le64(buf + VU_HDR_SIZE, 0x1234);
	ck_assert_int_eq(vu_reply_parse(VU_GET_FEATURES, 0, false, buf, len, 0,
					&r, why, sizeof(why)), 0);
	ck_assert_uint_eq(r.u64, 0x1234);
	/* Not a reply, wrong version, other request, sizes, fds. */
	reply(buf, VU_GET_FEATURES, 1, 8);
	ck_assert_int_eq(vu_reply_parse(VU_GET_FEATURES, 0, false, buf, len, 0,
					&r, why, sizeof(why)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "flags"));
	reply(buf, VU_GET_FEATURES, 6, 8);
	ck_assert_int_eq(vu_reply_parse(VU_GET_FEATURES, 0, false, buf, len, 0,
					&r, why, sizeof(why)), -EPROTO);
	reply(buf, VU_GET_QUEUE_NUM, 5, 8);
	ck_assert_int_eq(vu_reply_parse(VU_GET_FEATURES, 0, false, buf, len, 0,
					&r, why, sizeof(why)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "came back as request 17"));
	len = reply(buf, VU_GET_FEATURES, 5, 4);
	ck_assert_int_eq(vu_reply_parse(VU_GET_FEATURES, 0, false, buf, len, 0,
					&r, why, sizeof(why)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "of 4 bytes"));
	len = reply(buf, VU_GET_FEATURES, 5, 8);
	ck_assert_int_eq(vu_reply_parse(VU_GET_FEATURES, 0, false, buf, len - 1,
					0, &r, why, sizeof(why)), -EPROTO);
	ck_assert_int_eq(vu_reply_parse(VU_GET_FEATURES, 0, false, buf, 5, 0, &r,
					why, sizeof(why)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "short"));
	ck_assert_int_eq(vu_reply_parse(VU_GET_FEATURES, 0, false, buf, len, 1,
					&r, why, sizeof(why)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "1 file descriptors"));
	/* GET_INFLIGHT_FD wants its fd; GET_CONFIG its own size. */
	len = reply(buf, VU_GET_INFLIGHT_FD, 5, VU_INFLIGHT_SIZE);
	ck_assert_int_eq(vu_reply_parse(VU_GET_INFLIGHT_FD, 0, false, buf, len,
					0, &r, why, sizeof(why)), -EPROTO);
	ck_assert_int_eq(vu_reply_parse(VU_GET_INFLIGHT_FD, 0, false, buf, len,
					1, &r, why, sizeof(why)), 0);
	len = reply(buf, VU_GET_CONFIG, 5, VU_CONFIG_HDR + 8);
	put_le32(buf + VU_HDR_SIZE + 4, 8);
	ck_assert_int_eq(vu_reply_parse(VU_GET_CONFIG, 8, false, buf, len, 0,
					&r, why, sizeof(why)), 0);
	put_le32(buf + VU_HDR_SIZE + 4, 200);	/* lies about its size */
	ck_assert_int_eq(vu_reply_parse(VU_GET_CONFIG, 8, false, buf, len, 0,
					&r, why, sizeof(why)), -EPROTO);
	/* Requests without a reply get one only as an ack. */
	len = reply(buf, VU_SET_OWNER, 5, 8);
	ck_assert_int_eq(vu_reply_parse(VU_SET_OWNER, 0, false, buf, len, 0, &r,
					why, sizeof(why)), -EPROTO);
	ck_assert_int_eq(vu_reply_parse(VU_SET_OWNER, 0, true, buf, len, 0, &r,
					why, sizeof(why)), 0);
	/* SET_LOG_BASE: size and offset of the log's fd; the reply is a u64
	 * (libvhost-user) or empty (DPDK), nothing else. */
	vu_msg_log(&m, 0x20000, 0);
	ck_assert_uint_eq(m.len, VU_HDR_SIZE + 16);
	ck_assert_uint_eq(get_le32(m.buf), VU_SET_LOG_BASE);
	ck_assert_uint_eq(get_le64(m.buf + VU_HDR_SIZE), 0x20000);
	len = reply(buf, VU_SET_LOG_BASE, 5, 8);
	ck_assert_int_eq(vu_reply_parse(VU_SET_LOG_BASE, 0, false, buf, len, 0,
					&r, why, sizeof(why)), 0);
	len = reply(buf, VU_SET_LOG_BASE, 5, 0);
	ck_assert_int_eq(vu_reply_parse(VU_SET_LOG_BASE, 0, false, buf, len, 0,
					&r, why, sizeof(why)), 0);
	len = reply(buf, VU_SET_LOG_BASE, 5, 4);
	ck_assert_int_eq(vu_reply_parse(VU_SET_LOG_BASE, 0, false, buf, len, 0,
					&r, why, sizeof(why)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "SET_LOG_BASE of 4 bytes"));
}
END_TEST

/* ---- a fake backend --------------------------------------------------------- */

enum fb_fault {
	FB_NONE,
	FB_SHORT,		/* a reply cut short, then hang up */
	FB_WRONG_REQ,		/* the reply names another request */
	FB_EXTRA_FD,		/* a file descriptor nobody asked for */
	FB_OVERSIZED,		/* a payload larger than any reply */
	FB_HANGUP,		/* close instead of answering */
	FB_BAD_FLAGS,		/* no reply bit */
};

struct fake_be {
	char path[108];
	int listen_fd, fd;
	pthread_t thread;
	bool running;
	uint64_t features, protocol, queue_num;
	uint8_t config[VU_CONFIG_MAX];
	enum fb_fault fault;
	unsigned int fault_at;		/* request number (from 0) */
	bool refuse;			/* hang up on new connections */
	unsigned int base_delay_ms;	/* GET_VRING_BASE answered late */
	bool base_silent;		/* or not at all */
	unsigned int base_split_ms;	/* in two parts, this far apart */
	bool stop;
	pthread_mutex_t lock;
	/* What arrived. */
	unsigned int n;
	uint32_t req[256];
	unsigned int nfds[256];
	uint32_t base[16];		/* SET_VRING_BASE per ring */
	uint64_t set_features;
	unsigned int conns;
};

static struct fake_be be;

static void be_send(int fd, uint32_t req, uint32_t flags, const void *p,
		    uint32_t size, int pass_fd)
{
	uint8_t buf[VU_HDR_SIZE + 512];
	union {
		char c[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} cm;
	struct iovec iov = { buf, VU_HDR_SIZE + size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	reply(buf, req, flags, size);
	memcpy(buf + VU_HDR_SIZE, p, size);
	if (pass_fd >= 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.c;
		mh.msg_controllen = sizeof(cm.c);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		return;
}

/* Answer one request like a well-behaved backend, or break as told. */
static bool be_answer(int fd, uint32_t req, uint32_t flags,
		      const uint8_t *p, unsigned int n)
{
	uint8_t out[512];
	uint32_t size = 0, rflags = VU_FLAG_VERSION | VU_FLAG_REPLY;
	bool answer = true;

	memset(out, 0, sizeof(out));
	switch (req) {
	case VU_GET_FEATURES:
		put_le64(out, be.features);
		size = 8;
		break;
	case VU_GET_PROTOCOL_FEATURES:
		put_le64(out, be.protocol);
		size = 8;
		break;
	case VU_GET_QUEUE_NUM:
		put_le64(out, be.queue_num);
		size = 8;
		break;
	case VU_SET_LOG_BASE:		/* (libvhost-user answers a u64) */
		size = 8;
		break;
	case VU_GET_VRING_BASE:
		if (be.base_silent)
			return true;
		usleep(be.base_delay_ms * 1000);
		memcpy(out, p, 4);
		put_le32(out + 4, be.base[get_le32(p) % 16]);
		size = 8;
		if (be.base_split_ms) {
			uint8_t m[VU_HDR_SIZE + 8];

			reply(m, req, rflags, size);
			memcpy(m + VU_HDR_SIZE, out, size);
			send(fd, m, 7, MSG_NOSIGNAL);
			usleep(be.base_split_ms * 1000);
			send(fd, m + 7, sizeof(m) - 7, MSG_NOSIGNAL);
			return true;
		}
		break;
	case VU_GET_INFLIGHT_FD: {
		int mfd = memfd_create("inflight", MFD_CLOEXEC);

		put_le64(out, 4096);		/* mmap_size */
		memcpy(out + 16, p + 16, 4);	/* num_queues, queue_size */
		be_send(fd, req, rflags, out, VU_INFLIGHT_SIZE, mfd);
		close(mfd);
		return true;
	}
	case VU_GET_CONFIG: {
		uint32_t off = get_le32(p), len = get_le32(p + 4);

		memcpy(out, p, VU_CONFIG_HDR);
		memcpy(out + VU_CONFIG_HDR, be.config + off % 128, MIN(len, 128U));
		size = VU_CONFIG_HDR + len;
		break;
	}
	default:
		answer = flags & VU_FLAG_NEED_REPLY;
		size = 8;		/* ack: 0 */
	}
	if (n == be.fault_at && be.fault != FB_NONE) {
		switch (be.fault) {
		case FB_SHORT:
			send(fd, out, 6, MSG_NOSIGNAL);
			return false;
		case FB_WRONG_REQ:
			req = req == VU_GET_QUEUE_NUM ? 1 : VU_GET_QUEUE_NUM;
			break;
		case FB_EXTRA_FD:
			be_send(fd, req, rflags, out, size, 0);
			return true;
		case FB_OVERSIZED:
			size = 400;
			break;
		case FB_HANGUP:
			return false;
		case FB_BAD_FLAGS:
			rflags = VU_FLAG_VERSION;
			break;
		case FB_NONE:
			break;
		}
		answer = true;
	}
	if (answer)
		be_send(fd, req, rflags, out, size, -1);
	return true;
}

static void *be_main(void *arg)
{
	(void)arg;
	while (!be.stop) {
		int fd = accept(be.listen_fd, NULL, NULL);

		if (fd < 0)
			break;
		if (__atomic_load_n(&be.refuse, __ATOMIC_ACQUIRE)) {
			close(fd);
			continue;
		}
		pthread_mutex_lock(&be.lock);
		be.conns++;
		be.fd = fd;
		pthread_mutex_unlock(&be.lock);
		for (;;) {
			uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
			union {
				char c[CMSG_SPACE(8 * sizeof(int))];
				struct cmsghdr a;
			} cm;
			struct iovec iov = { buf, VU_HDR_SIZE };
			struct msghdr mh = {
				.msg_iov = &iov, .msg_iovlen = 1,
				.msg_control = cm.c, .msg_controllen = sizeof(cm.c),
			};
			struct cmsghdr *c;
			unsigned int nfds = 0, n;
			uint32_t req, flags, size;

			if (recvmsg(fd, &mh, MSG_WAITALL) != VU_HDR_SIZE)
				break;
			for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
				unsigned int k = (unsigned int)((c->cmsg_len -
								 CMSG_LEN(0)) / sizeof(int));

				for (unsigned int i = 0; i < k; i++) {
					int f;

					memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(f));
					close(f);
				}
				nfds += k;
			}
			req = get_le32(buf);
			flags = get_le32(buf + 4);
			size = get_le32(buf + 8);
			if (size > VU_MAX_PAYLOAD ||
			    (size && recv(fd, buf + VU_HDR_SIZE, size,
					  MSG_WAITALL) != (ssize_t)size))
				break;
			pthread_mutex_lock(&be.lock);
			n = be.n;
			if (be.n < 256) {
				be.req[be.n] = req;
				be.nfds[be.n] = nfds;
				be.n++;
			}
			if (req == VU_SET_VRING_BASE)
				be.base[get_le32(buf + VU_HDR_SIZE) % 16] =
					get_le32(buf + VU_HDR_SIZE + 4);
			if (req == VU_SET_FEATURES)
				be.set_features = get_le64(buf + VU_HDR_SIZE);
			pthread_mutex_unlock(&be.lock);
			if (!be_answer(fd, req, flags, buf + VU_HDR_SIZE, n))
				break;
		}
		pthread_mutex_lock(&be.lock);
		close(fd);
		be.fd = -1;
		pthread_mutex_unlock(&be.lock);
	}
	return NULL;
}

static void be_start(void)
{
	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(&be, 0, sizeof(be));
	pthread_mutex_init(&be.lock, NULL);
	snprintf(be.path, sizeof(be.path), "/tmp/vireo-ut-vu-%d.sock", getpid());
	unlink(be.path);
	strcpy(sa.sun_path, be.path);
	be.listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(be.listen_fd, 0);
	ck_assert_int_eq(bind(be.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(be.listen_fd, 4), 0);
	be.fd = -1;
	be.features = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_EVENT_IDX) |
		      BIT(VU_F_PROTOCOL_FEATURES);
	be.protocol = BIT(VU_PROTOCOL_F_MQ) | BIT(VU_PROTOCOL_F_REPLY_ACK) |
		      BIT(VU_PROTOCOL_F_CONFIG) | BIT(20);
	be.queue_num = 2;
	be.fault_at = ~0U;
}

static void be_run(void)
{
	ck_assert_int_eq(pthread_create(&be.thread, NULL, be_main, NULL), 0);
	be.running = true;
}

/* Hang up on the frontend (the backend "crashed"). */
static void be_hangup(void)
{
	pthread_mutex_lock(&be.lock);
	if (be.fd >= 0)
		shutdown(be.fd, SHUT_RDWR);
	pthread_mutex_unlock(&be.lock);
}

static void be_stop(void)
{
	pthread_mutex_lock(&be.lock);
	be.stop = true;
	if (be.fd >= 0)
		shutdown(be.fd, SHUT_RDWR);
	pthread_mutex_unlock(&be.lock);
	shutdown(be.listen_fd, SHUT_RDWR);
	if (be.running)
		pthread_join(be.thread, NULL);
	be.running = false;
	close(be.listen_fd);
	unlink(be.path);
}

static unsigned int be_count(uint32_t req)
{
	unsigned int i, c = 0;

	pthread_mutex_lock(&be.lock);
	for (i = 0; i < be.n; i++)
		c += be.req[i] == req;
	pthread_mutex_unlock(&be.lock);
	return c;
}

/* Run the fake event loop until cond holds or ms pass. */
#define DISPATCH_UNTIL(cond, ms) do { \
	for (int _i = 0; _i < (ms) / 10 && !(cond); _i++) \
		fake_dispatch(10); \
} while (0)

/* ---- negotiation and broken replies ----------------------------------------- */

static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;

START_TEST(negotiation)
{
	struct vhost_user u;
	char err[256];

	memset(&vmm, 0, sizeof(vmm));
	be_start();
	be_run();
	ck_assert_msg(vhost_user_init(&u, be.path, false,
				      BIT(VU_PROTOCOL_F_MQ) |
				      BIT(VU_PROTOCOL_F_REPLY_ACK),
				      &fake, &dev_lock, NULL, NULL, err,
				      sizeof(err)) == 0, "%s", err);
	ck_assert(u.up);
	ck_assert_uint_eq(u.features, be.features);
	/* Only what both know; CONFIG and bit 20 were not asked for. */
	ck_assert_uint_eq(u.protocol, BIT(VU_PROTOCOL_F_MQ) |
				      BIT(VU_PROTOCOL_F_REPLY_ACK));
	ck_assert_uint_eq(u.queue_num, 2);
	ck_assert_uint_eq(be.req[0], VU_GET_FEATURES);
	ck_assert_uint_eq(be.req[1], VU_GET_PROTOCOL_FEATURES);
	ck_assert_uint_eq(be.req[2], VU_SET_PROTOCOL_FEATURES);
	ck_assert_uint_eq(be.req[3], VU_GET_QUEUE_NUM);
	ck_assert_uint_eq(be.req[4], VU_SET_OWNER);
	vhost_user_fini(&u);
	be_stop();
	ck_assert_int_eq(vmm.watched, 0);
}
END_TEST

/* The slowest answer is kept and named, from 100 ms on (the exit line's
 * "its slowest answer": a migration's downtime spent in a backend). */
START_TEST(slowest_answer_named)
{
	struct vhost_user u;
	char err[256], buf[96];
	uint32_t base = 0;

	memset(&vmm, 0, sizeof(vmm));
	be_start();
	be_run();
	ck_assert_msg(vhost_user_init(&u, be.path, false,
				      BIT(VU_PROTOCOL_F_REPLY_ACK),
				      &fake, &dev_lock, NULL, NULL, err,
				      sizeof(err)) == 0, "%s", err);
	/* The negotiation's answers came at once: nothing to name. */
	ck_assert_str_eq(vhost_user_slowest(&u, buf, sizeof(buf)), "");
	be.base[0] = 7;
	be.base_delay_ms = 150;
	pthread_mutex_lock(&dev_lock);
	ck_assert_int_eq(u.v.ops->get_vring_base(&u.v, 0, &base), 0);
	pthread_mutex_unlock(&dev_lock);
	be.base_delay_ms = 0;
	ck_assert_uint_eq(base, 7);
	ck_assert_uint_ge(u.slowest_ms, 150);
	ck_assert_uint_eq(u.slowest_req, VU_GET_VRING_BASE);
	vhost_user_slowest(&u, buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "; its slowest answer: GET_VRING_BASE in 1") == buf,
		      "%s", buf);
	/* A faster answer later does not replace it. */
	pthread_mutex_lock(&dev_lock);
	ck_assert_int_eq(u.v.ops->get_vring_base(&u.v, 0, &base), 0);
	pthread_mutex_unlock(&dev_lock);
	ck_assert_uint_ge(u.slowest_ms, 150);
	vhost_user_fini(&u);
	be_stop();
}
END_TEST

/* Each kind of broken reply: refused, named, vireo carries on. */
START_TEST(broken_replies)
{
	static const struct {
		enum fb_fault fault;
		const char *says;
	} cases[] = {
		{ FB_SHORT, "a reply cut short" },
		{ FB_WRONG_REQ, "came back as request" },
		{ FB_EXTRA_FD, "file descriptors" },
		{ FB_OVERSIZED, "oversized" },
		{ FB_HANGUP, "hung up" },
		{ FB_BAD_FLAGS, "flags" },
	};
	unsigned int i, at;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		for (at = 0; at < 5; at += 3) {	/* GET_FEATURES, GET_QUEUE_NUM */
			struct vhost_user u;
			char err[256];

			memset(&vmm, 0, sizeof(vmm));
			be_start();
			be.fault = cases[i].fault;
			be.fault_at = at;
			be_run();
			ck_assert_int_ne(vhost_user_init(&u, be.path, false,
							 BIT(VU_PROTOCOL_F_MQ),
							 &fake, &dev_lock, NULL,
							 NULL, err, sizeof(err)), 0);
			ck_assert_msg(strstr(err, cases[i].says),
				      "fault %d at %u: '%s'", cases[i].fault, at, err);
			ck_assert_ptr_nonnull(strstr(err, be.path));
			vhost_user_fini(&u);
			be_stop();
		}
	}
}
END_TEST

/* ---- a net device on a backend that comes and goes ------------------------- */

static void fill_activation(struct virtio_dev *dev, struct virtio_activation *a,
			    int *fds)
{
	unsigned int q;

	memset(a, 0, sizeof(*a));
	a->gm = dev->gm;
	a->features = dev->acked;
	a->nr_queues = dev->ops->num_queues;
	for (q = 0; q < a->nr_queues; q++) {
		a->q[q].vq = &dev->vq[q];
		a->q[q].kick_fd = fds[2 * q] = eventfd_new();
		a->q[q].call_fd = fds[2 * q + 1] = eventfd_new();
	}
}

/* The end of a NIC on the fake backend (3 queues, their 6 eventfds),
 * once the device is gone. */
static void net_off_fake(struct drv *q, int *fds)
{
	be_stop();
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	close(q[0].gm.fd);
	q[0].gm.fd = -1;
	drv_fini_queues(q, 3);
	ck_assert_int_eq(vmm.watched, 0);
}

START_TEST(net_link_follows_backend)
{
	struct net_config nc = { .fd = -1 };
	struct virtio_opts o = { .transport = VIRTIO_PCI };
	struct drv q[3];
	struct virtio_activation a;
	struct virtio_net *n = calloc(1, sizeof(*n));	/* freed at the end */
	uint8_t status[2];
	char err[256];
	int fds[6], gen;

	memset(&vmm, 0, sizeof(vmm));
	be_start();
	be.features |= BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_MRG_RXBUF);
	be_run();
	drv_init_queues(q, 3, 16);
	q[0].gm.fd = memfd_create("ram", MFD_CLOEXEC);	/* shared with the backend */
	strcpy(nc.vhost_user, be.path);
	ck_assert_msg(virtio_net_init(n, &nc, &q[0].gm, &o, &fake, err,
				      sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(n->backend, NET_VHOST_USER);
	/* Only what the backend does, plus vireo's own control path. */
	ck_assert(n->vdev.offered & BIT(VIRTIO_NET_F_CSUM));
	ck_assert(n->vdev.offered & BIT(VIRTIO_NET_F_MRG_RXBUF));
	ck_assert(!(n->vdev.offered & BIT(VIRTIO_NET_F_GUEST_TSO4)));
	ck_assert(!(n->vdev.offered & BIT(VIRTIO_F_INDIRECT_DESC)));
	ck_assert(n->vdev.offered & BIT(VIRTIO_NET_F_CTRL_VQ));
	fake_driver_ok(&n->vdev, q, 3, BIT(VIRTIO_NET_F_CSUM) |
		       BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_STATUS));
	fill_activation(&n->vdev, &a, fds);
	ck_assert_int_eq(n->vdev.ops->activate(&n->vdev, &a), 0);
	/* Rings 0 and 1 went to the backend; the control queue did not. */
	ck_assert_uint_eq(n->vdev.external, 3);
	ck_assert_uint_eq(be_count(VU_SET_MEM_TABLE), 1);
	ck_assert_uint_eq(be_count(VU_SET_VRING_KICK), 2);
	ck_assert_uint_eq(be_count(VU_SET_VRING_ENABLE), 2);
	ck_assert_uint_eq(be.set_features & BIT(VIRTIO_NET_F_CTRL_VQ), 0);
	ck_assert(be.set_features & BIT(VU_F_PROTOCOL_FEATURES));
	virtio_config_access(&n->vdev, 6, status, 2, false);
	ck_assert_uint_eq(get_le16(status), 1);		/* link up */

	/* The backend used 3 TX buffers, then died. */
	put_le16(drv_mem(&q[1], q[1].device_gpa + 2), 3);
	gen = n->vdev.config_gen;
	__atomic_store_n(&be.refuse, true, __ATOMIC_RELEASE);
	be_hangup();
	DISPATCH_UNTIL(!n->link_up, 2000);
	virtio_config_access(&n->vdev, 6, status, 2, false);
	ck_assert_uint_eq(get_le16(status), 0);		/* link down */
	ck_assert_int_gt(n->vdev.config_gen, gen);	/* config interrupt */
	/* It comes back (the fake takes a second connection): link up, the
	 * rings resume where the used index says. */
	__atomic_store_n(&be.refuse, false, __ATOMIC_RELEASE);
	DISPATCH_UNTIL(n->link_up, 3000);
	ck_assert(n->link_up);
	ck_assert_uint_eq(be.conns, 2);
	ck_assert_uint_eq(be.base[1], 3);
	ck_assert_uint_eq(n->vu.losses, 1);
	ck_assert_uint_eq(n->vu.reconnects, 1);

	/* A driver reset does not wait for the backend's replies. */
	be.base_delay_ms = 200;
	pthread_mutex_lock(&n->vdev.lock);
	virtio_set_status(&n->vdev, 0);
	pthread_mutex_unlock(&n->vdev.lock);
	ck_assert(n->vu_stopping);
	ck_assert_uint_ne(virtio_read_status(&n->vdev), 0);
	DISPATCH_UNTIL(virtio_read_status(&n->vdev) == 0, 2000);
	ck_assert_uint_eq(virtio_read_status(&n->vdev), 0);
	ck_assert_uint_ge(be_count(VU_GET_VRING_BASE), 2);
	ck_assert_uint_eq(n->vu.n_owed, 0);
	ck_assert(n->vu.up);
	ck_assert_uint_eq(n->vu.losses, 1);
	be.base_delay_ms = 0;

	virtio_net_fini(n);
	free(n);
	net_off_fake(q, fds);
}
END_TEST

/*
 * A vhost-user NIC moves to another process: the backend logs its writes
 * (SET_LOG_BASE with the log's fd, VHOST_F_LOG_ALL), the source lets go
 * of it once its used rings reach the bases, the target is built from
 * the source's record without connecting and connects at the switch.
 */
START_TEST(net_moves_between_processes)
{
	struct net_config nc = { .fd = -1 };
	struct virtio_opts o = { .transport = VIRTIO_PCI };
	const struct vdev_class *cls = &virtio_net_class;
	struct vdev_env env;
	struct drv q[3];
	struct virtio_activation a;
	struct virtio_dev *dev, *dev2;
	struct virtio_net *n, *n2;
	uint8_t saved[256];
	uint64_t *log;
	char err[256];
	int fds[6];
	size_t len;

	memset(&vmm, 0, sizeof(vmm));
	be_start();
	be.features |= BIT(VIRTIO_NET_F_CSUM) | BIT(26);	/* LOG_ALL */
	be.protocol |= BIT(VU_PROTOCOL_F_LOG_SHMFD);
	be_run();
	drv_init_queues(q, 3, 16);
	q[0].gm.fd = memfd_create("ram", MFD_CLOEXEC);
	strcpy(nc.vhost_user, be.path);
	memset(&env, 0, sizeof(env));
	env.gm = &q[0].gm;
	env.notify = fake;
	dev = cls->create(&nc, &o, &env, err, sizeof(err));
	ck_assert_msg(dev != NULL, "%s", err);
	n = dev->priv;
	ck_assert_ptr_null(cls->cannot_move(dev, false));
	ck_assert_ptr_null(cls->cannot_move(dev, true));	/* local=on */
	fake_driver_ok(dev, q, 3, BIT(VIRTIO_NET_F_CSUM) |
		       BIT(VIRTIO_NET_F_CTRL_VQ) | BIT(VIRTIO_NET_F_STATUS));
	fill_activation(dev, &a, fds);
	ck_assert_int_eq(dev->ops->activate(dev, &a), 0);
	ck_assert(n->link_up);

	/* Pre-copy: the backend logs into the shared log. */
	log = vhost_log_alloc(64);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(cls->dirty_log(dev, log, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_uint_eq(be_count(VU_SET_LOG_BASE), 1);
	ck_assert(be.set_features & BIT(26));
	len = cls->save(dev, saved, sizeof(saved));
	ck_assert_uint_eq(len, 8 + sizeof(struct net_vu_saved));

	/* Paused: the backend took 3 TX buffers and used them; the source
	 * lets go at once. */
	put_le16(drv_mem(&q[1], q[1].device_gpa + 2), 3);
	be.base[1] = 3;
	dev->ops->deactivate(dev, true);
	ck_assert_uint_eq(dev->vq[1].last_avail, 3);
	ck_assert_msg(cls->lock(dev, false, err, sizeof(err)) == 0, "%s", err);
	ck_assert(n->vu.parked && !n->vu.up);
	ck_assert_uint_eq(n->vu.handovers, 1);

	/* The target: from the record, not connected until the switch; a
	 * stream without the record is refused, naming the NIC. */
	env.incoming = true;
	env.saved = saved;
	env.saved_len = 8;
	ck_assert_ptr_null(cls->create(&nc, &o, &env, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no record of its backend"));
	env.saved_len = len;
	dev2 = cls->create(&nc, &o, &env, err, sizeof(err));
	ck_assert_msg(dev2 != NULL, "%s", err);
	n2 = dev2->priv;
	ck_assert_uint_eq(be.conns, 1);
	ck_assert_uint_eq(dev2->offered, dev->offered);
	ck_assert_msg(cls->lock(dev2, true, err, sizeof(err)) == 0, "%s", err);
	ck_assert(n2->vu.up && !n2->vu.parked);
	DISPATCH_UNTIL(be.conns == 2, 1000);
	ck_assert_uint_eq(be.conns, 2);
	/* The state restored (the driver's features first, as
	 * virtio_dev_restore() does): they must be the backend's. */
	dev2->acked = dev->acked | BIT(VIRTIO_NET_F_GUEST_TSO4);
	ck_assert_int_eq(cls->restore(dev2, saved, len, err, sizeof(err)),
			 -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(err, "lacks features"));
	dev2->acked = dev->acked;
	ck_assert_msg(cls->restore(dev2, saved, len, err, sizeof(err)) == 0,
		      "%s", err);
	saved[8] ^= 1;					/* the record's magic */
	ck_assert_int_eq(cls->restore(dev2, saved, len, err, sizeof(err)),
			 -EINVAL);
	saved[8] ^= 1;
	/* The source after a failed migration: a backend that lost a
	 * feature the driver uses is refused. */
	vhost_user_park(&n2->vu);
	be.features &= ~BIT(VIRTIO_NET_F_CSUM);
	ck_assert_int_eq(cls->lock(dev2, true, err, sizeof(err)), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(err, "lacks features"));
	/* A backend away at the hand-over: refused before anything is let
	 * go of, so that the VM resumes where it is. */
	vhost_user_park(&n2->vu);
	ck_assert_int_eq(cls->lock(dev2, false, err, sizeof(err)), -ENOTCONN);
	ck_assert_ptr_nonnull(strstr(err, "not connected"));
	/* Packed rings cannot move. */
	dev->acked |= BIT(VIRTIO_F_RING_PACKED);
	ck_assert_ptr_nonnull(cls->cannot_move(dev, false));

	cls->destroy(dev2);
	cls->destroy(dev);
	vhost_log_free(log);
	net_off_fake(q, fds);
}
END_TEST

/* ---- a disk whose backend dies with requests in flight ----------------------- */

/*
 * A vhost-user disk on the running fake backend, its driver at DRIVER_OK
 * with acked (besides VERSION_1) and the device activated: d's RAM in a
 * memfd, a's kick and call eventfds in fds.
 */
static struct virtio_dev *blk_made_on_fake(struct drv *d,
					   struct blk_config *bc)
{
	struct virtio_opts o = { .transport = VIRTIO_PCI };
	struct virtio_dev *dev;
	char err[256];

	drv_init(d, 16, false, BIT(VIRTIO_F_VERSION_1));
	d->gm.fd = memfd_create("ram", MFD_CLOEXEC);
	strcpy(bc->vhost_user, be.path);
	dev = blk_vhost_user_create(bc, &o, &d->gm, &fake, false, NULL, 0,
				    err, sizeof(err));
	ck_assert_msg(dev != NULL, "%s", err);
	return dev;
}

static struct virtio_dev *blk_on_fake(struct drv *d, struct blk_config *bc,
				      uint64_t acked,
				      struct virtio_activation *a, int *fds)
{
	struct virtio_dev *dev = blk_made_on_fake(d, bc);

	fake_driver_ok(dev, d, 1, acked);
	fill_activation(dev, a, fds);
	ck_assert_int_eq(dev->ops->activate(dev, a), 0);
	return dev;
}

/* The other end of blk_on_fake(), once the devices are destroyed. */
static void blk_off_fake(struct drv *d, int *fds)
{
	be_stop();
	close(fds[0]);
	close(fds[1]);
	close(d->gm.fd);
	d->gm.fd = -1;
	drv_fini(d);
	ck_assert_int_eq(vmm.watched, 0);
}

START_TEST(blk_in_flight_fail_visibly)
{
	struct blk_config bc = { 0 };
	struct virtio_activation a;
	struct vhost_blk *b;
	struct virtio_dev *dev;
	struct drv d;
	int fds[2], heads[3], i;
	uint16_t id;
	uint32_t len;

	memset(&vmm, 0, sizeof(vmm));
	be_start();
	be.features |= BIT(1) | BIT(9);			/* SIZE_MAX, FLUSH */
	put_le64(be.config, 2048);			/* capacity */
	be_run();
	dev = blk_on_fake(&d, &bc, BIT(9), &a, fds);
	b = dev->priv;
	ck_assert_uint_eq(get_le64(b->config), 2048);
	ck_assert(dev->offered & BIT(9));
	ck_assert(!(dev->offered & BIT(13)));		/* DISCARD: not offered by it */
	ck_assert(b->started);
	/* Three requests; the backend completes the second. */
	for (i = 0; i < 3; i++) {
		struct drv_buf r[3] = {
			{ DRV_BUFS + 0x100 * i, 16, false },
			{ DRV_BUFS + 0x1000 + 0x1000 * i, 512, true },
			{ DRV_BUFS + 0x10000 + i, 1, true },
		};

		*drv_mem(&d, DRV_BUFS + 0x10000 + i) = 0xee;
		heads[i] = drv_add(&d, r, 3);
	}
	put_le32(drv_mem(&d, d.device_gpa + 4), (uint32_t)heads[1]);
	put_le32(drv_mem(&d, d.device_gpa + 8), 513);
	put_le16(drv_mem(&d, d.device_gpa + 2), 1);
	DISPATCH_UNTIL(b->track[0].avail_seen == 3, 500);	/* a scan */
	ck_assert_uint_eq(b->track[0].avail_seen, 3);
	__atomic_store_n(&be.refuse, true, __ATOMIC_RELEASE);
	be_hangup();
	DISPATCH_UNTIL(b->failed == 2, 2000);
	/* The other two: IOERR, used, and the guest told; nothing lost. */
	ck_assert_uint_eq(b->failed, 2);
	ck_assert_uint_eq(*drv_mem(&d, DRV_BUFS + 0x10000), 1);
	ck_assert_uint_eq(*drv_mem(&d, DRV_BUFS + 0x10001), 0xee);	/* done before */
	ck_assert_uint_eq(*drv_mem(&d, DRV_BUFS + 0x10002), 1);
	ck_assert_uint_eq(drv_used_idx(&d), 3);
	ck_assert(drv_get_used(&d, &id, &len));		/* the backend's */
	ck_assert_uint_eq(id, heads[1]);
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert_uint_eq(len, 1);
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert(!dev->broken);
	/* The next backend starts after them. */
	__atomic_store_n(&be.refuse, false, __ATOMIC_RELEASE);
	DISPATCH_UNTIL(b->started, 3000);
	ck_assert(b->started);
	ck_assert_uint_eq(be.base[0], 3);

	blk_vhost_user_destroy(dev);
	blk_off_fake(&d, fds);
}
END_TEST

/* ---- a disk moving to another vireo process (migration) --------------------- */

static struct drv *late_drv;

/* The backend completes two requests it took, 100 ms after the stop. */
static void *complete_late(void *arg)
{
	(void)arg;
	usleep(100 * 1000);
	put_le16(drv_mem(late_drv, late_drv->device_gpa + 2), 2);
	return NULL;
}

START_TEST(blk_moves_between_processes)
{
	struct blk_config bc = { 0 };
	struct virtio_opts o = { .transport = VIRTIO_PCI };
	struct virtio_activation a;
	struct virtio_dev *dev, *dev2;
	struct vhost_blk *b, *b2;
	uint8_t saved[512];
	uint64_t *log;
	pthread_t t;
	struct drv d;
	char err[256];
	size_t len;
	int fds[2];

	memset(&vmm, 0, sizeof(vmm));
	be_start();
	be.features |= BIT(9) | BIT(26);		/* FLUSH, VHOST_F_LOG_ALL */
	be.protocol |= BIT(VU_PROTOCOL_F_LOG_SHMFD);
	put_le64(be.config, 2048);
	be_run();
	dev = blk_on_fake(&d, &bc, BIT(9), &a, fds);
	b = dev->priv;
	ck_assert(b->started);

	/* Pre-copy: the backend maps the log (its fd goes along) and is
	 * given VHOST_F_LOG_ALL. */
	log = vhost_log_alloc(64);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(blk_vhost_user_log(dev, log, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(be_count(VU_SET_LOG_BASE), 1);
	for (unsigned int i = 0; i < be.n; i++)
		if (be.req[i] == VU_SET_LOG_BASE)
			ck_assert_uint_eq(be.nfds[i], 1);
	ck_assert(be.set_features & BIT(26));
	len = blk_vhost_user_save(dev, saved, sizeof(saved));
	ck_assert_uint_gt(len, 0);

	/* Paused: the backend says it took two requests, completes them a
	 * little later; the hand-over waits for that, then lets go. A used
	 * ring that never gets there (a backend that lost them, a guest
	 * writing its own ring) fails the hand-over in bounded time, the
	 * backend kept. */
	be.base[0] = 2;
	dev->ops->deactivate(dev, true);
	ck_assert_uint_eq(dev->vq[0].last_avail, 2);
	b->vu.drain_ms = 50;
	ck_assert_int_eq(blk_vhost_user_lock(dev, false, err, sizeof(err)),
			 -EBUSY);
	ck_assert_ptr_nonnull(strstr(err, "2 requests the backend took are "
				     "still not completed after"));
	ck_assert(b->vu.up && !b->vu.parked);
	ck_assert_uint_eq(b->vu.handovers, 0);
	b->vu.drain_ms = 5000;
	late_drv = &d;
	ck_assert_int_eq(pthread_create(&t, NULL, complete_late, NULL), 0);
	ck_assert_msg(blk_vhost_user_lock(dev, false, err, sizeof(err)) == 0,
		      "%s", err);
	pthread_join(t, NULL);
	ck_assert(b->vu.parked && !b->vu.up);
	ck_assert_uint_eq(be.conns, 1);
	ck_assert_uint_eq(b->vu.handovers, 1);
	/* (2 in the failed one; the other 2 unless it came late) */
	ck_assert_uint_ge(b->vu.handover_waited, 2);
	ck_assert_uint_le(b->vu.handover_waited, 4);

	/* The target builds the disk from that state, without connecting;
	 * it connects at the switch. */
	ck_assert_ptr_null(blk_vhost_user_create(&bc, &o, &d.gm, &fake, true,
						 saved, len - 1, err,
						 sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "saved state of"));
	saved[0] ^= 1;
	ck_assert_ptr_null(blk_vhost_user_create(&bc, &o, &d.gm, &fake, true,
						 saved, len, err,
						 sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not one"));
	saved[0] ^= 1;
	ck_assert_ptr_null(blk_vhost_user_create(&bc, &o, &d.gm, &fake, true,
						 NULL, 0, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "no state for it"));
	dev2 = blk_vhost_user_create(&bc, &o, &d.gm, &fake, true, saved, len,
				     err, sizeof(err));
	ck_assert_msg(dev2 != NULL, "%s", err);
	b2 = dev2->priv;
	ck_assert_uint_eq(be.conns, 1);
	ck_assert_uint_eq(get_le64(b2->config), 2048);
	ck_assert_uint_eq(dev2->offered, dev->offered);
	ck_assert_msg(blk_vhost_user_lock(dev2, true, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert(b2->vu.up && !b2->vu.parked);
	/* The state restored: the driver's features must be the backend's. */
	dev2->acked = dev->acked | BIT(13);		/* DISCARD: it has none */
	ck_assert_int_eq(blk_vhost_user_restore(dev2, saved, len, err,
						sizeof(err)), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(err, "lacks features"));
	dev2->acked = dev->acked;
	ck_assert_msg(blk_vhost_user_restore(dev2, saved, len, err,
					     sizeof(err)) == 0, "%s", err);
	DISPATCH_UNTIL(be.conns == 2, 1000);
	ck_assert_uint_eq(be.conns, 2);

	blk_vhost_user_destroy(dev2);
	blk_vhost_user_destroy(dev);
	vhost_log_free(log);
	blk_off_fake(&d, fds);
}
END_TEST

/*
 * A driver reset does not wait for the backend: the vCPU goes on at once,
 * the status reads non-zero until the replies to the stop come (read on
 * the event loop); a backend that never answers is dropped after
 * VU_TIMEOUT_MS, which also ends the reset. A driver that initialises
 * again without waiting for status 0 waits (bounded) for the replies.
 */
/*
 * A vhost-user disk of 2048 sectors on a fresh fake backend that answers
 * GET_VRING_BASE after delay_ms; not started.
 */
static struct virtio_dev *vu_disk(struct drv *d, unsigned int delay_ms)
{
	struct blk_config bc = { 0 };

	memset(&vmm, 0, sizeof(vmm));
	be_start();
	put_le64(be.config, 2048);
	be.base_delay_ms = delay_ms;
	be_run();
	return blk_made_on_fake(d, &bc);
}

/* Gone, with its backend; nothing left watched. */
static void vu_disk_end(struct virtio_dev *dev, struct drv *d, int *fds)
{
	blk_vhost_user_destroy(dev);
	blk_off_fake(d, fds);
}

/* The driver writes status 0, as a vCPU does (the device's lock held). */
static void driver_reset(struct virtio_dev *dev)
{
	pthread_mutex_lock(&dev->lock);
	virtio_set_status(dev, 0);
	pthread_mutex_unlock(&dev->lock);
}

/* The driver sets it up: DRIVER_OK, the ring handed to the backend. */
static void vu_disk_start(struct virtio_dev *dev, struct drv *d,
			  struct virtio_activation *a, int *fds)
{
	fake_driver_ok(dev, d, 1, 0);
	fill_activation(dev, a, fds);
	ck_assert_int_eq(dev->ops->activate(dev, a), 0);
}

START_TEST(blk_reset_does_not_wait)
{
	struct virtio_activation a;
	struct timespec t0;
	struct vhost_blk *b;
	struct virtio_dev *dev;
	struct drv d;
	unsigned int nb;
	uint8_t cfg[8];
	int fds[2];

	dev = vu_disk(&d, 300);
	b = dev->priv;

	/* Reset, then poll the status as Linux's virtio-pci does: 0 only
	 * once GET_VRING_BASE is answered, not at the ack before it. */
	vu_disk_start(dev, &d, &a, fds);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	driver_reset(dev);
	ck_assert_uint_lt(ms_since(&t0), 250);
	ck_assert(b->stopping);
	ck_assert_uint_ne(virtio_read_status(dev), 0);
	DISPATCH_UNTIL(virtio_read_status(dev) == 0, 2000);
	ck_assert_uint_eq(virtio_read_status(dev), 0);
	ck_assert_uint_ge(ms_since(&t0), 280);
	ck_assert_uint_eq(b->vu.n_owed, 0);
	ck_assert(!b->stopping);
	ck_assert(b->vu.up);
	ck_assert_uint_eq(b->vu.losses, 0);
	ck_assert_uint_eq(be_count(VU_GET_VRING_BASE), 1);
	close(fds[0]);
	close(fds[1]);

	/* Initialised again before the status read 0 (Linux's mmio). */
	vu_disk_start(dev, &d, &a, fds);
	pthread_mutex_lock(&dev->lock);
	virtio_set_status(dev, 0);
	ck_assert(b->stopping);
	virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	pthread_mutex_unlock(&dev->lock);
	ck_assert(!b->stopping);
	ck_assert_uint_eq(virtio_read_status(dev), VIRTIO_STATUS_ACKNOWLEDGE);
	ck_assert(b->vu.up);
	ck_assert_uint_eq(b->vu.n_owed, 0);
	close(fds[0]);
	close(fds[1]);

	/* Another request while the replies are owed takes them first;
	 * the reset still ends (from the loop). */
	vu_disk_start(dev, &d, &a, fds);
	pthread_mutex_lock(&dev->lock);
	virtio_set_status(dev, 0);
	ck_assert_uint_gt(b->vu.n_owed, 0);
	ck_assert_int_eq(vhost_user_get_config(&b->vu, 0, cfg, 8), 0);
	ck_assert_uint_eq(b->vu.n_owed, 0);
	pthread_mutex_unlock(&dev->lock);
	ck_assert_uint_eq(get_le64(cfg), 2048);
	ck_assert_uint_ne(virtio_read_status(dev), 0);
	DISPATCH_UNTIL(virtio_read_status(dev) == 0, 500);
	ck_assert_uint_eq(virtio_read_status(dev), 0);
	ck_assert(b->vu.up);
	close(fds[0]);
	close(fds[1]);

	/* A reply in two parts: looked for again, not spun on. */
	be.base_delay_ms = 0;
	be.base_split_ms = 1000;
	vu_disk_start(dev, &d, &a, fds);
	driver_reset(dev);
	DISPATCH_UNTIL(!b->vu.conn_watched, 800);
	ck_assert(!b->vu.conn_watched);
	ck_assert_uint_ne(virtio_read_status(dev), 0);
	DISPATCH_UNTIL(virtio_read_status(dev) == 0, 3000);
	ck_assert_uint_eq(virtio_read_status(dev), 0);
	ck_assert(b->vu.conn_watched);
	ck_assert(b->vu.up);
	be.base_split_ms = 0;
	close(fds[0]);
	close(fds[1]);

	/* The backend hangs up while replies are owed: the reset ends. */
	be.base_silent = true;
	vu_disk_start(dev, &d, &a, fds);
	nb = be_count(VU_GET_VRING_BASE);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	driver_reset(dev);
	DISPATCH_UNTIL(be_count(VU_GET_VRING_BASE) == nb + 1, 1000);
	be_hangup();
	DISPATCH_UNTIL(virtio_read_status(dev) == 0, 2000);
	ck_assert_uint_eq(virtio_read_status(dev), 0);
	ck_assert_uint_lt(ms_since(&t0), VU_TIMEOUT_MS);
	ck_assert_uint_eq(b->vu.losses, 1);
	ck_assert_msg(strstr(b->vu.last_why, "hung up"), "%s", b->vu.last_why);
	DISPATCH_UNTIL(b->vu.up, 3000);		/* it comes back */
	ck_assert(b->vu.up);
	close(fds[0]);
	close(fds[1]);

	/* A backend that never answers: dropped, and the reset ends. */
	vu_disk_start(dev, &d, &a, fds);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	driver_reset(dev);
	ck_assert_uint_lt(ms_since(&t0), 250);
	DISPATCH_UNTIL(virtio_read_status(dev) == 0, VU_TIMEOUT_MS + 2000);
	ck_assert_uint_eq(virtio_read_status(dev), 0);
	ck_assert_uint_ge(ms_since(&t0), VU_TIMEOUT_MS);
	ck_assert_uint_eq(b->vu.losses, 2);
	ck_assert_msg(strstr(b->vu.last_why, "no answer in time to GET_VRING_BASE"),
		      "%s", b->vu.last_why);

	vu_disk_end(dev, &d, fds);
}
END_TEST

static unsigned int paused_calls;

static void on_dev_paused(void *ctx)
{
	(void)ctx;
	paused_calls++;
}

/*
 * A pause through the API does not wait on the loop either: the ring's
 * base comes with the backend's reply and is kept; a pause that must end
 * at once (vireo stopping) waits for it, bounded.
 */
START_TEST(blk_pause_does_not_wait)
{
	struct virtio_activation a;
	struct timespec t0;
	struct vhost_blk *b;
	struct virtio_dev *dev;
	struct drv d;
	int fds[2];

	dev = vu_disk(&d, 300);
	b = dev->priv;
	vu_disk_start(dev, &d, &a, fds);

	be.base[0] = 7;
	paused_calls = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert(virtio_dev_quiesce_async(dev, on_dev_paused, NULL));
	ck_assert_uint_lt(ms_since(&t0), 250);
	ck_assert(dev->quiesced);
	ck_assert_uint_eq(paused_calls, 0);
	DISPATCH_UNTIL(paused_calls, 2000);
	ck_assert_uint_eq(paused_calls, 1);
	ck_assert_uint_ge(ms_since(&t0), 280);
	ck_assert_uint_eq(dev->vq[0].last_avail, 7);	/* the backend's base */
	ck_assert(!dev->pause_pending);
	ck_assert(b->vu.up);
	/* Resumed from that base. */
	virtio_dev_unquiesce(dev);
	ck_assert(b->started);
	ck_assert_uint_eq(be.base[0], 7);

	/* Ended at once: the reply is waited for; done() is not called. */
	be.base[0] = 9;
	ck_assert(virtio_dev_quiesce_async(dev, on_dev_paused, NULL));
	virtio_dev_settle(dev);
	ck_assert_uint_eq(dev->vq[0].last_avail, 9);
	ck_assert(!dev->pause_pending);
	fake_dispatch(20);
	ck_assert_uint_eq(paused_calls, 1);
	virtio_dev_unquiesce(dev);

	/* The backend gone meanwhile: the base is what the used ring says. */
	be.base_silent = true;
	put_le16(drv_mem(&d, d.device_gpa + 2), 4);
	ck_assert(virtio_dev_quiesce_async(dev, on_dev_paused, NULL));
	be_hangup();
	DISPATCH_UNTIL(paused_calls == 2, 2000);
	fake_dispatch(50);
	ck_assert_uint_eq(paused_calls, 2);
	ck_assert(!b->pausing);
	ck_assert(!dev->pause_pending);
	ck_assert_uint_eq(dev->vq[0].last_avail, 4);

	vu_disk_end(dev, &d, fds);
}
END_TEST

/* A backend with an inflight region: it resubmits, vireo fails nothing. */
START_TEST(blk_inflight_region)
{
	struct blk_config bc = { 0 };
	struct virtio_activation a;
	struct vhost_blk *b;
	struct virtio_dev *dev;
	struct drv d;
	int fds[2];

	memset(&vmm, 0, sizeof(vmm));
	be_start();
	be.protocol |= BIT(VU_PROTOCOL_F_INFLIGHT_SHMFD);
	put_le64(be.config, 2048);
	be_run();
	dev = blk_on_fake(&d, &bc, 0, &a, fds);
	b = dev->priv;
	ck_assert_uint_eq(be_count(VU_GET_INFLIGHT_FD), 1);
	ck_assert_uint_eq(be_count(VU_SET_INFLIGHT_FD), 1);
	ck_assert_int_ge(b->inflight_fd, 0);
	ck_assert_ptr_null(b->track[0].out);		/* no counting needed */
	put_le16(drv_mem(&d, d.device_gpa + 2), 5);	/* used idx */
	__atomic_store_n(&be.refuse, true, __ATOMIC_RELEASE);
	be_hangup();
	DISPATCH_UNTIL(!b->started && b->resubmitted_by_backend, 2000);
	ck_assert_uint_eq(b->failed, 0);
	ck_assert_uint_eq(b->resubmitted_by_backend, 1);
	__atomic_store_n(&be.refuse, false, __ATOMIC_RELEASE);
	DISPATCH_UNTIL(b->started, 3000);
	ck_assert(b->started);
	/* The same region again; the base where the used index is. */
	ck_assert_uint_eq(be_count(VU_GET_INFLIGHT_FD), 1);
	ck_assert_uint_eq(be_count(VU_SET_INFLIGHT_FD), 2);
	ck_assert_uint_eq(be.base[0], 5);

	blk_vhost_user_destroy(dev);
	blk_off_fake(&d, fds);
}
END_TEST

Suite *vhost_user_suite(void)
{
	Suite *s = suite_create("vhost_user");
	TCase *tc = tcase_create("frontend");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, codec);
	tcase_add_test(tc, negotiation);
	tcase_add_test(tc, broken_replies);
	tcase_add_test(tc, net_link_follows_backend);
	tcase_add_test(tc, blk_in_flight_fail_visibly);
	tcase_add_test(tc, blk_moves_between_processes);
	tcase_add_test(tc, net_moves_between_processes);
	tcase_add_test(tc, blk_inflight_region);
	tcase_add_test(tc, slowest_answer_named);
	tcase_add_test(tc, blk_reset_does_not_wait);
	tcase_add_test(tc, blk_pause_does_not_wait);
	suite_add_tcase(s, tc);
	return s;
}
