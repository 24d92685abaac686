// SPDX-License-Identifier: GPL-2.0
/* Live migration: the stream (migrate.h), the source's thread, the target. */
#include "migrate.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"
#include "machine.h"
#include "snapshot.h"
#include "util.h"
#include "sandbox.h"

#define MIG_ACK_READY	"VIREO-RD"	/* the target built the VM */
#define MIG_ACK_OK	"VIREO-OK"	/* the guest runs there */
#define MIG_ACK_SYNC	"VIREO-SY"	/* all before a SYNC read */
#define MIG_ACK_NO	"VIREO-NO"	/* refused; the reason follows */
#define MIG_ACK_LEN	8
#define MIG_REASON_MAX	480
#define MIG_IO_TIMEOUT_S 60

/*
 * tcp:HOST:PORT as a socket address: HOST an IPv4 address, [IPv6], empty
 * (any, to listen) or localhost. vireo is linked statically, without the
 * resolver's plugins: names are not looked up.
 */
static int tcp_addr(const char *to, struct sockaddr_storage *ss, socklen_t *len,
		    char *err, size_t errlen)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *port = strrchr(to + 4, ':');
	char host[64], *end;
	unsigned long p;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	hl = (size_t)(port - (to + 4));
	p = strtoul(port + 1, &end, 10);
	if (!port[1] || *end || !p || p > 65535 || hl >= sizeof(host)) {
		errf(err, errlen, "'%s': tcp:HOST:PORT, a port from 1 to 65535", to);
		return -EINVAL;
	}
	memcpy(host, to + 4, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*in6);
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1)
			return 0;
	} else {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p);
		*len = sizeof(*in4);
		if (!host[0] || !strcmp(host, "0.0.0.0")) {
			in4->sin_addr.s_addr = htonl(INADDR_ANY);
			return 0;
		}
		if (!strcmp(host, "localhost"))
			strcpy(host, "127.0.0.1");
		if (inet_pton(AF_INET, host, &in4->sin_addr) == 1)
			return 0;
	}
	errf(err, errlen, "'%s': the host must be an IP address (names are not "
	     "looked up)", to);
	return -EINVAL;
}

/* A connected (connect) or listening (!connect) socket for to. */
static int mig_socket(const char *to, bool connect_to, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	int fd, ret, one = 1;

	if (!strncmp(to, "unix:", 5)) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (!connect_to)
			return unix_listen(to + 5, "--incoming", err, errlen);
		if (strlen(to + 5) >= sizeof(sa.sun_path)) {
			errf(err, errlen, "'%s': the path is too long", to);
			return -ENAMETOOLONG;
		}
		strcpy(sa.sun_path, to + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			ret = -errno;
			errf(err, errlen, "cannot connect to %s: %s%s", to,
			     strerror(errno), errno == ENOENT || errno == ECONNREFUSED ?
			     " (is 'vireo run --incoming' waiting there?)" : "");
			if (fd >= 0)
				close(fd);
			return ret;
		}
		return fd;
	}
	ret = tcp_addr(to, &ss, &slen, err, errlen);
	if (ret)
		return ret;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
		    (connect_to ? 0 : SOCK_NONBLOCK), 0);
	if (fd < 0) {
		ret = -errno;
		errf(err, errlen, "%s: %s", to, strerror(errno));
		return ret;
	}
	if (connect_to) {
		struct timeval tv = { .tv_sec = 10 };

		/* Linux bounds connect() by the send timeout. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&ss, slen) < 0)
			goto fail;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		return fd;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, slen) < 0 || listen(fd, 1) < 0)
		goto fail;
	return fd;
fail:
	ret = -errno;
	errf(err, errlen, "cannot %s %s: %s%s", connect_to ? "connect to" :
	     "listen on", to, strerror(errno),
	     connect_to && errno == ECONNREFUSED ?
	     " (is 'vireo run --incoming' waiting there?)" : "");
	close(fd);
	return ret;
}

static void set_timeouts(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
	int fd = *(int *)ctx;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);

		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* ---- the source ---------------------------------------------------------- */

struct migration {
	struct machine *m;
	struct ev_loop *loop;
	struct mig_opts o;
	int fd;
	int efd;			/* the thread tells the loop */
	struct ev_handler h;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	bool want_pause, paused, finished, handled, cancel;
	bool was_paused;		/* paused before this began */
	int result;
	uint8_t *blob;
	size_t blob_len;
	struct mig_progress p;
	/* the thread's */
	uint32_t seq;
	uint64_t *bits;			/* one round's pages */
	uint8_t *stage;			/* one record's pages, copied */
	bool logging;			/* backends log their writes (the loop's) */
	bool unlocked;			/* disk locks let go for the target */
	bool ready;			/* the target said it built the VM */
	struct timespec t0, t_pause, t_round;
	uint64_t round_bytes;
};

static int send_all(struct migration *mg, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(mg->fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_record(struct migration *mg, uint32_t type, uint64_t arg,
		       const void *payload, uint32_t len)
{
	uint8_t b[MIG_RECORD_LEN];
	int ret;

	mig_record_encode(b, type, mg->seq++, arg, payload, len);
	ret = send_all(mg, b, sizeof(b));
	if (!ret && len)
		ret = send_all(mg, payload, len);
	return ret;
}

/* Keep to the bandwidth limit: sleep until bytes fit. */
static void throttle(struct migration *mg)
{
	uint64_t ms, due;

	if (!mg->o.bandwidth_mbps)
		return;
	ms = ms_since(&mg->t_round);
	due = mg->round_bytes / ((uint64_t)mg->o.bandwidth_mbps * 1000);
	if (due > ms) {
		struct timespec ts = { .tv_sec = (time_t)((due - ms) / 1000),
				       .tv_nsec = (long)((due - ms) % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
}

static bool page_zero(const uint8_t *p)
{
	static const uint8_t zero[4096];

	return !memcmp(p, zero, sizeof(zero));
}

/* The RAM at memfd offset off (whole pages inside one region). */
static uint8_t *ram_at(struct guest_mem *gm, uint64_t off, uint64_t *room)
{
	unsigned int i;

	for (i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];

		if (off >= r->fd_offset && off - r->fd_offset < r->size) {
			*room = r->size - (off - r->fd_offset);
			return r->hva + (off - r->fd_offset);
		}
	}
	return NULL;
}

/*
 * Where the memfd's next data is from memfd offset off, and where it
 * ends: [*from, *to). False: none from off on. A memfd that cannot say
 * (no SEEK_DATA) is all data. Pages the guest never touched are holes:
 * reading them through the shared mapping allocates them (all 256 MiB of
 * a memfd that was all hole, read once) and the reading takes time.
 */
static bool ram_data(const struct guest_mem *gm, uint64_t off, uint64_t *from,
		     uint64_t *to)
{
	off_t d, e;

	*from = off;
	*to = UINT64_MAX;
	if (gm->fd < 0)
		return true;
	d = lseek(gm->fd, (off_t)off, SEEK_DATA);
	if (d < 0)
		return errno != ENXIO;
	e = lseek(gm->fd, d, SEEK_HOLE);
	*from = (uint64_t)d & ~4095ULL;
	if (e > d)
		*to = ((uint64_t)e + 4095) & ~4095ULL;
	return true;
}

/*
 * Send the pages whose bits are set in bits (all non-zero pages when
 * bits is NULL: the first round, over a target whose RAM is zero; the
 * memfd's holes are not read). A hole the guest writes meanwhile is in
 * the dirty log, for the next round.
 */
static int send_pages(struct migration *mg, const uint64_t *bits, uint64_t *sent)
{
	struct guest_mem *gm = &mg->m->vm.mem;
	uint64_t pages = gm->ram_size / 4096, pg = 0, room;
	uint64_t data_from = 0, data_to = 0;
	int ret;

	*sent = 0;
	while (pg < pages) {
		uint64_t n = 0;
		uint8_t *p;

		if (bits && !(pg % 64) && !bits[pg / 64]) {
			pg += 64;
			continue;
		}
		if (!bits && pg * 4096 >= data_to) {
			if (!ram_data(gm, pg * 4096, &data_from, &data_to))
				break;
			if (data_from / 4096 > pg) {
				pg = data_from / 4096;
				continue;
			}
		}
		p = ram_at(gm, pg * 4096, &room);
		if (!p)
			return -EFAULT;
		if (!bits && data_to - pg * 4096 < room)
			room = data_to - pg * 4096;
		while (pg + n < pages && n < MIG_MAX_RUN && (n + 1) * 4096 <= room &&
		       (bits ? !!(bits[(pg + n) / 64] & (1ULL << ((pg + n) % 64))) :
			       !page_zero(p + n * 4096)))
			n++;
		if (!n) {
			pg++;
			continue;
		}
		if (__atomic_load_n(&mg->cancel, __ATOMIC_RELAXED))
			return -ECANCELED;
		/*
		 * The guest runs on while the pages go out: a copy is what
		 * the CRC covers and what is sent, or a page written between
		 * the two corrupts the record. (A page written after the
		 * copy is dirty again and goes in a later round.)
		 */
		memcpy(mg->stage, p, n * 4096);
		ret = send_record(mg, MIG_PAGES, pg * 4096, mg->stage,
				  (uint32_t)(n * 4096));
		if (ret)
			return ret;
		*sent += n;
		mg->round_bytes += n * 4096;
		pthread_mutex_lock(&mg->lock);
		mg->p.pages_sent += n;
		mg->p.bytes_sent += n * 4096 + MIG_RECORD_LEN;
		pthread_mutex_unlock(&mg->lock);
		throttle(mg);
		pg += n;
	}
	return 0;
}

/* Move the dirty bits (KVM's and the devices') into mg->bits; how many. */
static uint64_t take_dirty(struct migration *mg, bool take)
{
	struct guest_mem *gm = &mg->m->vm.mem;
	uint64_t words = (gm->ram_size / 4096 + 63) / 64, w, n = 0;

	vm_dirty_log_sync(&mg->m->vm);
	for (w = 0; w < words; w++) {
		uint64_t v = take ? __atomic_exchange_n(&gm->dirty[w], 0,
							 __ATOMIC_SEQ_CST) :
				    __atomic_load_n(&gm->dirty[w], __ATOMIC_RELAXED);

		if (take)
			mg->bits[w] = v;
		n += (uint64_t)__builtin_popcountll(v);
	}
	return n;
}

static void round_line(struct migration *mg, unsigned int round, uint64_t sent,
		       uint64_t dirty)
{
	uint64_t ms = ms_since(&mg->t_round);
	double mbps = ms ? (double)mg->round_bytes / 1000.0 / (double)ms : 0;

	pthread_mutex_lock(&mg->lock);
	mg->p.round = round;
	mg->p.dirty_pages = dirty;
	mg->p.mbps = mbps;
	pthread_mutex_unlock(&mg->lock);
	pr_err("migrate: round %u: %llu pages sent in %llu ms (%.0f MB/s); "
	       "%llu dirtied meanwhile", round, (unsigned long long)sent,
	       (unsigned long long)ms, mbps, (unsigned long long)dirty);
}

static int read_ack(struct migration *mg, const char *want, const char *what,
		    char *err, size_t errlen);

/*
 * The end of a round: the target has read all of it. What the socket took
 * is not what the target has: on loopback TCP some MiB sit in the socket
 * buffers, some 60 ms of the target's reading in the nested test host,
 * which the downtime paid when the pause came before it had caught up.
 */
static int sync_round(struct migration *mg, unsigned int round, char *err,
		      size_t errlen)
{
	int ret = send_record(mg, MIG_SYNC, round, NULL, 0);

	if (!ret && !mg->ready) {
		ret = read_ack(mg, MIG_ACK_READY, "it built the VM", err, errlen);
		mg->ready = !ret;
	}
	if (!ret)
		ret = read_ack(mg, MIG_ACK_SYNC, "it read the round", err, errlen);
	return ret;
}

/* Pre-copy: all of RAM, then the pages dirtied meanwhile, until the rest
 * fits the downtime (at the last round's rate, to the target's reading)
 * and another round would not pay, or the rounds run out
 * (mig_precopy_done). */
static int precopy(struct migration *mg, char *err, size_t errlen)
{
	uint64_t sent, dirty, prev = 0, bytes_per_ms = 0;
	unsigned int round;
	int ret;

	vm_dirty_log_clear(&mg->m->vm);
	for (round = 0;; round++) {
		clock_gettime(CLOCK_MONOTONIC, &mg->t_round);
		mg->round_bytes = 0;
		ret = send_record(mg, MIG_ROUND, round, NULL, 0);
		if (!ret)
			ret = send_pages(mg, round ? mg->bits : NULL, &sent);
		if (!ret)
			ret = sync_round(mg, round, err, errlen);
		if (ret)
			return ret;
		dirty = take_dirty(mg, false);
		round_line(mg, round, sent, dirty);
		if (ms_since(&mg->t_round))
			bytes_per_ms = mg->round_bytes / ms_since(&mg->t_round);
		else if (mg->round_bytes)
			bytes_per_ms = mg->round_bytes;
		if (mig_precopy_done(dirty, prev, bytes_per_ms, round, &mg->o))
			return 0;
		prev = take_dirty(mg, true);
	}
}

/* Ask the loop to pause the VM and encode its state; wait for it. */
static int ask_pause(struct migration *mg)
{
	int ret;

	pthread_mutex_lock(&mg->lock);
	mg->want_pause = true;
	eventfd_signal(mg->efd);
	while (!mg->paused && !mg->cancel)
		pthread_cond_wait(&mg->cond, &mg->lock);
	ret = mg->cancel ? -ECANCELED : mg->result;
	mg->p.state = MIG_COMPLETING;
	pthread_mutex_unlock(&mg->lock);
	return ret;
}

static int send_memfd(struct migration *mg)
{
	char byte = 'M', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &mg->m->vm.mem.fd, sizeof(int));
	return sendmsg(mg->fd, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

/* What the target builds the VM from while the guest still runs here. */
static int send_config(struct migration *mg)
{
	uint8_t *blob;
	size_t len;
	int ret;

	ret = machine_config_encode(mg->m, &blob, &len);
	if (ret)
		return ret;
	ret = send_record(mg, MIG_CONFIG, 0, blob, (uint32_t)len);
	free(blob);
	return ret;
}

/* The target's answer: want, or a refusal and its reason (in err). */
static int read_ack(struct migration *mg, const char *want, const char *what,
		    char *err, size_t errlen)
{
	char ack[MIG_ACK_LEN], reason[MIG_REASON_MAX + 1];
	ssize_t n = fd_read(&mg->fd, ack, sizeof(ack));

	if (n == (ssize_t)sizeof(ack) && !memcmp(ack, want, MIG_ACK_LEN))
		return 0;
	if (n == (ssize_t)sizeof(ack) && !memcmp(ack, MIG_ACK_NO, MIG_ACK_LEN)) {
		n = read(mg->fd, reason, MIG_REASON_MAX);
		reason[n > 0 ? n : 0] = '\0';	/* MIG_REASON_MAX + 1 long */
		snprintf(err, errlen, "the target refused the stream: %s",
			 n > 0 ? reason : "(no reason given)");
		return -EPROTO;
	}
	snprintf(err, errlen, "the target %s before it said %s",
		 n < 0 ? "did not answer in time" :
		 n == (ssize_t)sizeof(ack) ? "answered nonsense" : "went away",
		 what);
	return -EPIPE;
}

static void *mig_thread(void *arg)
{
	struct migration *mg = arg;
	struct mig_header h = {
		.version = MIG_VERSION,
		.flags = mg->o.local ? MIG_LOCAL : 0,
		.ram_size = mg->m->vm.mem.ram_size,
	};
	uint8_t hb[MIG_HEADER_LEN];
	char err[512] = "", reason[MIG_REASON_MAX + 1];
	uint64_t sent = 0, total;
	ssize_t n;
	int ret;

	sandbox_thread(SB_MIGRATE);
	ret = mg->fd = mig_socket(mg->o.to, true, err, sizeof(err));
	if (ret < 0)
		goto out;
	set_timeouts(mg->fd, MIG_IO_TIMEOUT_S);
	mig_header_encode(hb, &h);
	ret = send_all(mg, hb, sizeof(hb));
	if (!ret && mg->o.local)
		ret = send_memfd(mg);
	if (!ret)
		ret = send_config(mg);
	if (!ret && !mg->o.local)
		ret = precopy(mg, err, sizeof(err));
	if (ret && err[0])
		goto out;
	if (ret)
		goto io;
	/* Not before the target has built the VM: that is no downtime. */
	if (!mg->ready)
		ret = read_ack(mg, MIG_ACK_READY, "it built the VM", err,
			       sizeof(err));
	if (ret)
		goto out;
	/* Nor if it has refused the stream since (or gone). */
	n = recv(mg->fd, reason, MIG_ACK_LEN, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || n > 0) {
		ret = -EPIPE;
		goto io;
	}
	ret = ask_pause(mg);
	if (ret) {
		snprintf(err, sizeof(err), "%s", mg->p.error);
		goto out;
	}
	if (!mg->o.local) {
		clock_gettime(CLOCK_MONOTONIC, &mg->t_round);
		mg->round_bytes = 0;
		take_dirty(mg, true);
		ret = send_pages(mg, mg->bits, &sent);
		pthread_mutex_lock(&mg->lock);
		mg->p.round++;
		pthread_mutex_unlock(&mg->lock);
	}
	if (!ret)
		ret = send_record(mg, MIG_STATE, 0, mg->blob, (uint32_t)mg->blob_len);
	pthread_mutex_lock(&mg->lock);
	total = mg->p.pages_sent;
	pthread_mutex_unlock(&mg->lock);
	if (!ret)
		ret = send_record(mg, MIG_END, total, NULL, 0);
	if (ret)
		goto io;
	/* Where the downtime goes: this side's part, then the target's. */
	pr_err("migrate: paused: the last %llu pages and %zu bytes of state "
	       "sent %llu ms after the pause", (unsigned long long)sent,
	       mg->blob_len, (unsigned long long)ms_since(&mg->t_pause));
	/* The target answers once the guest runs there. */
	ret = read_ack(mg, MIG_ACK_OK, "the guest runs there", err, sizeof(err));
	goto out;
io:
	/* A target that refused the stream said why before it closed
	 * (after it said it built the VM, maybe). */
	n = mg->fd >= 0 ? recv(mg->fd, reason, MIG_REASON_MAX, MSG_DONTWAIT) : -1;
	if (n >= MIG_ACK_LEN && !memcmp(reason, MIG_ACK_READY, MIG_ACK_LEN)) {
		memmove(reason, reason + MIG_ACK_LEN, (size_t)n - MIG_ACK_LEN);
		n -= MIG_ACK_LEN;
	}
	if (!err[0] && n > MIG_ACK_LEN && !memcmp(reason, MIG_ACK_NO, MIG_ACK_LEN)) {
		reason[n] = '\0';
		snprintf(err, sizeof(err), "the target refused the stream: %s",
			 reason + MIG_ACK_LEN);
	}
	if (!err[0])
		snprintf(err, sizeof(err), "sending to %s: %s", mg->o.to,
			 ret == -ECANCELED ? "cancelled" :
			 ret == -EPIPE || ret == -ECONNRESET ?
			 "the target went away (killed, or it refused the stream)" :
			 strerror(-ret));
out:
	pthread_mutex_lock(&mg->lock);
	mg->finished = true;
	mg->result = ret < 0 ? ret : 0;
	if (ret < 0)
		snprintf(mg->p.error, sizeof(mg->p.error), "%s", err);
	mg->p.total_ms = ms_since(&mg->t0);
	if (mg->t_pause.tv_sec)
		mg->p.downtime_ms = ms_since(&mg->t_pause);
	pthread_mutex_unlock(&mg->lock);
	eventfd_signal(mg->efd);
	return NULL;
}

static void stop_logging(struct migration *mg)
{
	char err[256];

	if (!mg->logging)
		return;
	mg->logging = false;
	if (machine_backend_log(mg->m, false, err, sizeof(err)))
		pr_err("migrate: %s", err);
}

/* On the loop: pause and encode for the thread; finish when it is done. */
static void mig_event(struct ev_handler *h, uint32_t events)
{
	struct migration *mg = container_of(h, struct migration, h);
	struct machine *m = mg->m;
	char err[512] = "";
	bool pause, finished;
	int ret;

	(void)events;
	eventfd_drain(mg->efd);
	pthread_mutex_lock(&mg->lock);
	pause = mg->want_pause && !mg->paused;
	finished = mg->finished && !mg->handled;
	pthread_mutex_unlock(&mg->lock);
	if (pause) {
		mg->was_paused = machine_paused(m);
		clock_gettime(CLOCK_MONOTONIC, &mg->t_pause);
		machine_pause(m);
		/* The target takes the disks' locks and backends at the
		 * switch (a failure takes them back: mg->unlocked). A
		 * backend's last completions land before the state. */
		ret = machine_locks(m, false, err, sizeof(err));
		mg->unlocked = true;
		if (!ret)
			ret = machine_state_encode(m, NULL, &mg->blob,
						   &mg->blob_len, err,
						   sizeof(err));
		pthread_mutex_lock(&mg->lock);
		mg->result = ret;
		if (ret)
			snprintf(mg->p.error, sizeof(mg->p.error), "%s", err);
		mg->paused = true;
		pthread_cond_broadcast(&mg->cond);
		pthread_mutex_unlock(&mg->lock);
	}
	if (!finished)
		return;
	pthread_join(mg->thread, NULL);
	mg->thread_started = false;
	mg->handled = true;
	stop_logging(mg);
	if (!mg->result) {
		mg->p.state = MIG_COMPLETED;
		pr_err("migrate: done: %u rounds, %llu pages (%llu MiB) in %llu ms; "
		       "downtime %llu ms", mg->p.round + 1,
		       (unsigned long long)mg->p.pages_sent,
		       (unsigned long long)(mg->p.bytes_sent >> 20),
		       (unsigned long long)mg->p.total_ms,
		       (unsigned long long)mg->p.downtime_ms);
		vm_request_exit(&m->vm, VM_EXIT_MIGRATED, "the VM moved to %s "
				"(downtime %llu ms)", mg->o.to,
				(unsigned long long)mg->p.downtime_ms);
		return;
	}
	mg->p.state = MIG_FAILED;
	/* The pages sent are no longer "since the last snapshot" news: the
	 * next diff snapshot takes them all. */
	if (m->vm.mem.dirty && m->cfg->track_dirty)
		memset(m->vm.mem.dirty, 0xff,
		       (m->vm.mem.ram_size / 4096 + 63) / 64 * 8);
	/*
	 * Someone else holds a disk now: most likely the target, which got
	 * the whole stream and runs the guest though its answer was lost.
	 * Two VMs must not write one image: this one stays paused.
	 */
	if (mg->unlocked && machine_locks(m, true, err, sizeof(err))) {
		pr_err("migration to %s failed: %s; and %s: the target may run "
		       "the guest now, so the VM stays paused here (check the "
		       "target; 'vireo ctl resume' if it does not)", mg->o.to,
		       mg->p.error, err);
		return;
	}
	mg->unlocked = false;
	if (mg->paused && !mg->was_paused)
		machine_resume(m);
	pr_err("migration to %s failed: %s; the VM %s here", mg->o.to,
	       mg->p.error, mg->was_paused ? "stays paused" : "keeps running");
}

int mig_start(struct migration **mp, struct machine *m, struct ev_loop *loop,
	      const struct mig_opts *o, char *err, size_t errlen)
{
	struct migration *mg;
	char why[512];
	int ret;

	if (*mp && (*mp)->p.state < MIG_COMPLETED) {
		errf(err, errlen, "a migration to %s is under way", (*mp)->o.to);
		return -EBUSY;
	}
	if (machine_cannot_move(m, o->local, why, sizeof(why))) {
		errf(err, errlen, "%s; it cannot migrate", why);
		return -ENOTSUP;
	}
	ret = machine_can_pause(m, err, errlen);
	if (ret)
		return ret;
	if (o->local && m->vm.mem.fd < 0) {
		errf(err, errlen, "local=on hands the RAM's memfd over, and this "
		     "VM's RAM is mapped from a snapshot file; migrate without "
		     "local=on (or restore with the memory copied)");
		return -ENOTSUP;
	}
	if (!o->local) {
		ret = vm_dirty_track(&m->vm);
		if (ret) {
			errf(err, errlen, "cannot track dirty pages: %s",
			     strerror(-ret));
			return ret;
		}
		/* (vhost-net: the kernel logs what it writes, too) */
		ret = machine_backend_log(m, true, err, errlen);
		if (ret)
			return ret;
	}
	mg = calloc(1, sizeof(*mg));
	if (!mg) {
		if (!o->local)
			machine_backend_log(m, false, NULL, 0);
		return -ENOMEM;
	}
	mg->logging = !o->local;
	mg->m = m;
	mg->loop = loop;
	mg->o = *o;
	if (!mg->o.max_downtime_ms)
		mg->o.max_downtime_ms = 300;
	if (!mg->o.max_rounds)
		mg->o.max_rounds = 30;
	mg->fd = -1;
	mg->bits = calloc((m->vm.mem.ram_size / 4096 + 63) / 64, 8);
	mg->stage = malloc(MIG_MAX_RUN * 4096);
	mg->efd = eventfd_new();
	pthread_mutex_init(&mg->lock, NULL);
	pthread_cond_init(&mg->cond, NULL);
	mg->p.state = MIG_ACTIVE;
	clock_gettime(CLOCK_MONOTONIC, &mg->t0);
	mg->h.fn = mig_event;
	mg->h.fd = mg->efd;
	if (!mg->bits || !mg->stage || mg->efd < 0 || ev_add(loop, &mg->h, EPOLLIN) ||
	    pthread_create(&mg->thread, NULL, mig_thread, mg)) {
		errf(err, errlen, "cannot start the migration: %s", strerror(errno));
		if (mg->efd >= 0) {
			ev_del(loop, &mg->h);
			close(mg->efd);
		}
		free(mg->bits);
		free(mg->stage);
		if (mg->logging)
			machine_backend_log(m, false, NULL, 0);
		free(mg);
		return -ENOMEM;
	}
	mg->thread_started = true;
	pr_err("migrate: to %s%s, downtime at most %u ms%s", mg->o.to,
	       mg->o.local ? " (local: the memory is handed over)" : "",
	       mg->o.max_downtime_ms, mg->o.bandwidth_mbps ? ", bandwidth limited" : "");
	mig_free(*mp);
	*mp = mg;
	return 0;
}

void mig_progress(struct migration *mg, struct mig_progress *p)
{
	pthread_mutex_lock(&mg->lock);
	*p = mg->p;
	if (p->state == MIG_ACTIVE || p->state == MIG_COMPLETING)
		p->total_ms = ms_since(&mg->t0);
	pthread_mutex_unlock(&mg->lock);
}

void mig_free(struct migration *mg)
{
	if (!mg)
		return;
	if (mg->thread_started) {
		pthread_mutex_lock(&mg->lock);
		mg->cancel = true;
		pthread_cond_broadcast(&mg->cond);
		pthread_mutex_unlock(&mg->lock);
		if (mg->fd >= 0)
			shutdown(mg->fd, SHUT_RDWR);
		pthread_join(mg->thread, NULL);
	}
	stop_logging(mg);
	if (mg->efd >= 0) {
		ev_del(mg->loop, &mg->h);
		close(mg->efd);
	}
	if (mg->fd >= 0)
		close(mg->fd);
	pthread_mutex_destroy(&mg->lock);
	pthread_cond_destroy(&mg->cond);
	free(mg->blob);
	free(mg->bits);
	free(mg->stage);
	free(mg);
}

/* ---- the target ------------------------------------------------------------ */

static int recv_memfd(int fd, char *err, size_t errlen)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int mfd;

	if (recvmsg(fd, &msg, MSG_CMSG_CLOEXEC) != 1 || byte != 'M') {
		errf(err, errlen, "a local stream without the memory's memfd");
		return -EPROTO;
	}
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int))) {
		errf(err, errlen, "a local stream without the memory's memfd "
		     "(local=on works only between processes on one host)");
		return -EPROTO;
	}
	memcpy(&mfd, CMSG_DATA(c), sizeof(int));
	return mfd;
}

/* Wait for the source, serving the loop (a signal stops the wait). */
static int accept_one(int lfd, struct ev_loop *loop, const char *uri,
		      char *err, size_t errlen)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd;

	pr_err("waiting for a migration on %s", uri);
	for (;;) {
		if (loop->stop) {
			errf(err, errlen, "stopped while waiting for a migration");
			return -EINTR;
		}
		if (poll(&p, 1, 0) > 0) {
			fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				return fd;
		}
		ev_run_once(loop, 100);
	}
}

/* How long the target may spend mapping RAM ahead (local=on). */
#define MIG_POPULATE_MS		5000

/* The target's machine, built from the CONFIG record. */
struct prebuild {
	int fd;				/* the stream's: told when built */
	struct machine *m;
	struct vm_config *cfg;
	const struct restore_opts *o;
	int mfd;
	struct console *con;
	struct ev_loop *loop;
	bool built;
	bool local;			/* the memfd was handed over */
	long mapped;			/* pages mapped ahead (local) */
	uint64_t mapped_ms;
};

/* All before a SYNC read: said to the source (its round's end). */
static int synced(void *ctx, uint64_t arg, char *err, size_t errlen)
{
	struct prebuild *pb = ctx;

	(void)arg;
	if (write(pb->fd, MIG_ACK_SYNC, MIG_ACK_LEN) != MIG_ACK_LEN) {
		errf(err, errlen, "the source went away");
		return -EPIPE;
	}
	return 0;
}

static int prebuild(void *ctx, const uint8_t *blob, size_t len, char *err,
		    size_t errlen)
{
	struct prebuild *pb = ctx;
	char why[512];
	int ret;

	ret = machine_prebuild(pb->m, pb->cfg, pb->o, blob, len, pb->mfd,
			       pb->con, pb->loop, why, sizeof(why));
	if (ret) {
		errf(err, errlen, "the machine described cannot be built "
		     "here: %s", why);
		return ret;
	}
	pb->built = true;
	if (pb->local) {
		/*
		 * The guest's pages are in the memfd already, but not in
		 * this process's page tables, where KVM's first touch of
		 * each would fault them in one at a time once the guest
		 * runs here (in the nested test host: the first tick came
		 * 62-140 ms after the switch, 55-88 ms with this). Mapping
		 * them now costs time before the pause, not in it; held to
		 * MIG_POPULATE_MS, well inside the source's wait for READY
		 * (MIG_IO_TIMEOUT_S), the rest left to fault in.
		 */
		struct timespec t;

		clock_gettime(CLOCK_MONOTONIC, &t);
		pb->mapped = gm_populate(&pb->m->vm.mem, MIG_POPULATE_MS);
		pb->mapped_ms = ms_since(&t);
	}
	/* The source pauses the guest once it reads this. */
	if (write(pb->fd, MIG_ACK_READY, MIG_ACK_LEN) != MIG_ACK_LEN) {
		errf(err, errlen, "the source went away");
		return -EPIPE;
	}
	return 0;
}

/* The pages mapped ahead with local=on, for the target's last line. */
static const char *mapped_said(const struct prebuild *pb, char *buf,
			       size_t len)
{
	if (!pb->local)
		return "";
	if (pb->mapped < 0)
		snprintf(buf, len, "; the RAM could not be mapped ahead: %s",
			 strerror((int)-pb->mapped));
	else
		snprintf(buf, len, "; %ld pages of RAM mapped ahead in %llu ms",
			 pb->mapped, (unsigned long long)pb->mapped_ms);
	return buf;
}

/*
 * Pages go straight into the guest's own mapping of the memfd (the one KVM
 * reads), so that they are in its page tables when the guest runs here:
 * written through a second mapping, each was a fault on its first touch
 * after the switch (in the nested test host an idle guest's first tick
 * came 235-557 ms after it ran here, 117-247 ms with this). A run that
 * crosses a region's end goes through ram.
 */
static uint8_t *pages_into(void *ctx, uint64_t off, uint32_t len)
{
	struct prebuild *pb = ctx;
	const struct guest_mem *gm = &pb->m->vm.mem;
	unsigned int i;

	if (!pb->built)
		return NULL;
	for (i = 0; i < gm->nr; i++) {
		const struct gm_region *r = &gm->r[i];

		if (off >= r->fd_offset && off - r->fd_offset < r->size)
			return len <= r->size - (off - r->fd_offset) ?
			       r->hva + (off - r->fd_offset) : NULL;
	}
	return NULL;
}

int mig_incoming(struct machine *m, struct vm_config *cfg, const char *uri,
		 const struct restore_opts *o, struct console *con,
		 struct ev_loop *loop, char *err, size_t errlen)
{
	struct prebuild pb = { .m = m, .cfg = cfg, .o = o, .con = con,
			       .loop = loop };
	struct mig_opts mo = { 0 };
	struct mig_header h;
	struct mig_received r = { 0 };
	struct mig_reader rd = { 0 };
	struct timespec t0, t_end;
	uint8_t *ram = NULL;
	int lfd, fd = -1, mfd = -1, ret;
	char reply[MIG_ACK_LEN + MIG_REASON_MAX], said[96];

	ret = mig_parse_uri(uri, &mo, err, errlen);
	if (ret)
		return ret;
	lfd = mig_socket(mo.to, false, err, errlen);
	if (lfd < 0)
		return lfd;
	fd = accept_one(lfd, loop, mo.to, err, errlen);
	close(lfd);
	if (!strncmp(mo.to, "unix:", 5))
		unlink(mo.to + 5);
	if (fd < 0)
		return fd;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	set_timeouts(fd, MIG_IO_TIMEOUT_S);
	rd.read = fd_read;
	rd.ctx = &fd;
	ret = mig_read_header(&rd, &h, err, errlen);
	if (ret)
		goto out;
	if (h.flags & MIG_LOCAL) {
		pb.local = true;
		ret = mfd = recv_memfd(fd, err, errlen);
		if (ret < 0)
			goto out;
	} else {
		mfd = memfd_create("vireo-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (mfd < 0 || ftruncate(mfd, (off_t)h.ram_size) < 0) {
			ret = -errno;
			errf(err, errlen, "cannot make %llu bytes of RAM: %s",
			     (unsigned long long)h.ram_size, strerror(errno));
			goto out;
		}
		ram = mmap(NULL, h.ram_size, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_NORESERVE, mfd, 0);
		if (ram == MAP_FAILED) {
			ram = NULL;
			ret = -errno;
			errf(err, errlen, "cannot map %llu bytes of RAM: %s",
			     (unsigned long long)h.ram_size, strerror(errno));
			goto out;
		}
	}
	pb.mfd = mfd;
	pb.fd = fd;
	rd.config = prebuild;
	rd.sync = synced;
	rd.pages = pages_into;
	rd.cctx = &pb;
	ret = mig_read_body(&rd, &h, ram, &r, err, errlen);
	if (ret) {
		if (pb.built)
			machine_destroy(m);
		goto out;
	}
	/* The target's part of the downtime starts here. */
	clock_gettime(CLOCK_MONOTONIC, &t_end);
	ret = machine_restore_blob(m, cfg, o, r.state, r.state_len, mfd,
				   pb.built, con, loop, err, errlen);
	if (ret)
		goto out;
	pr_err("migrate: received %llu pages in %llu rounds; the guest runs "
	       "here (%llu ms after the stream began, %llu ms after its end: "
	       "%s)%s",
	       (unsigned long long)r.pages, (unsigned long long)r.rounds + 1,
	       (unsigned long long)ms_since(&t0),
	       (unsigned long long)ms_since(&t_end), m->restore_said,
	       mapped_said(&pb, said, sizeof(said)));
	(void)!write(fd, MIG_ACK_OK, MIG_ACK_LEN);
out:
	if (ret && fd >= 0) {
		int n = snprintf(reply, sizeof(reply), "%s%.*s", MIG_ACK_NO,
				 MIG_REASON_MAX, err);

		(void)!write(fd, reply, (size_t)n);
	}
	if (fd >= 0)
		close(fd);
	if (ram)
		munmap(ram, h.ram_size);
	if (mfd >= 0)
		close(mfd);
	free(r.state);
	return ret;
}
