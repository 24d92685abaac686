/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhost-user frontend: vhost.h's interface over a unix socket to a
 * backend process (DPDK's vhost PMD, qemu-storage-daemon, ...). Guest
 * memory is shared as the memfd behind it (SET_MEM_TABLE), the rings by
 * their host addresses, kicks and calls as the activation context's
 * eventfds: the data path never passes through vireo.
 *
 * Connection: client mode (default) connects to the backend's socket,
 * server mode listens for the backend to connect. The first connection is
 * made while the device is built (its features are needed before the
 * guest sees the device); later losses are handled on the event loop: a
 * client reconnects with back-off (100 ms doubling to 2 s), a server
 * waits for the next backend, and each new connection negotiates on a
 * helper thread so that a silent backend holds up nothing. Each loss and
 * recovery is one log line and reaches the device through hooks, called
 * on the event loop with the device's lock held.
 *
 * Requests are synchronous, bounded by a timeout (VU_TIMEOUT_MS per
 * message), but for a driver reset's stop, whose replies are read on the
 * event loop while the guest polls the device status: a backend that does not answer in time, answers wrongly
 * (short, oversized, the wrong request, unexpected fds) or hangs up is
 * dropped and reconnected; vireo and the guest stay up.
 */
#ifndef VIREO_VHOST_USER_H
#define VIREO_VHOST_USER_H

#include <pthread.h>
#include <sys/un.h>

#include "../vmm/irq.h"
#include "../vmm/loop.h"
#include "vhost-user-msg.h"
#include "vhost.h"

#define VU_TIMEOUT_MS		5000
#define VU_FIRST_WAIT_S		30	/* the first connection */
#define VU_BACKOFF_MIN_MS	100
#define VU_BACKOFF_MAX_MS	2000

struct vhost_user_hooks {
	/* Negotiated with a (new) backend after a loss; restart the rings. */
	void (*up)(void *opaque);
	/* The backend is gone: the rings are not served. */
	void (*down)(void *opaque);
	/*
	 * The replies owed to vhost_user_stop_async() are in, or the
	 * connection was lost (the backend stops with it): the rings are
	 * the device's again.
	 */
	void (*settled)(void *opaque);
};

/* A reply (or ack) a request sent without waiting still owes. */
struct vu_owed {
	uint32_t req;
	uint32_t ring;
	bool ack;
	struct virtq *vq;		/* GET_VRING_BASE kept here (a pause) */
};
#define VU_OWED_MAX	(2 * VIRTIO_MAX_QUEUES)
#define VU_OWED_POLL_MS	10	/* part of a reply is here: look again */

struct vhost_user {
	struct vhost v;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool server;
	uint64_t want_protocol;		/* protocol features vireo can use */
	struct vm_notify notify;
	pthread_mutex_t *lock;		/* the device's; held around hooks */
	const struct vhost_user_hooks *hooks;
	void *opaque;

	int fd;				/* the connection, -1 while down */
	int listen_fd;			/* server mode */
	uint64_t listen_id;		/* its path's unix_path_id() */
	bool up;			/* negotiated and usable */
	uint64_t features;		/* the backend's virtio features */
	uint64_t protocol;		/* negotiated protocol features */
	unsigned int queue_num;		/* GET_QUEUE_NUM (MQ), else 0 */

	struct ev_handler conn_h;	/* hang-ups of the connection */
	bool conn_watched;
	struct ev_handler listen_h;
	bool listen_watched;
	struct ev_handler timer_h;	/* a loss to handle; reconnects */
	bool timer_watched;
	bool no_reconnect;		/* vhost_user_init_fd() */
	bool parked;			/* vhost_user_park() */
	/* A reconnect negotiating on its own thread (see vhost-user.c). */
	pthread_t connector;
	bool connecting;
	int pending_fd;			/* accepted (server), or -1 */
	int connect_result;
	struct ev_handler done_h;	/* eventfd: the attempt finished */
	bool done_watched;
	bool said_waiting;
	char last_why[256];		/* what went wrong last */
	unsigned int backoff_ms;
	bool loss_pending;		/* hooks->down not called yet */
	/* Replies owed (vhost_user_stop_async), read on the loop. */
	struct vu_owed owed[VU_OWED_MAX];
	unsigned int owed_head, n_owed;
	struct timespec owed_since;	/* the first was sent */
	bool settle_pending;		/* hooks->settled not called yet */
	uint64_t losses, reconnects;
	/* Migrations (vhost_user_hand_over): how long to wait for late
	 * completions (VU_DRAIN_MS; tests: shorter), and what it cost. */
	unsigned int drain_ms;
	uint64_t handovers;		/* let go of for a migration */
	uint64_t handover_waited;	/* requests completed meanwhile */
	uint64_t handover_ms;
	/* The slowest answer the backend gave (a request sent, its reply
	 * or ack read): where a setup's time went. */
	uint64_t slowest_ms;
	uint32_t slowest_req;
};

/* "; its slowest answer: REQ in N ms" into buf (empty if under 100 ms). */
const char *vhost_user_slowest(const struct vhost_user *u, char *buf,
			       size_t len);

#define VU_DRAIN_MS	5000	/* a migration waits for completions */
#define VU_UNPARK_MS	10000	/* the backend, free of the source */

/*
 * Connect (or wait for the backend to connect) and negotiate. path is
 * the socket; lock is the device's. -errno with err naming the socket and
 * what went wrong.
 */
int vhost_user_init(struct vhost_user *u, const char *path, bool server,
		    uint64_t want_protocol, const struct vm_notify *notify,
		    pthread_mutex_t *lock, const struct vhost_user_hooks *hooks,
		    void *opaque, char *err, size_t errlen);
/*
 * The same on a connected socket (tests, fuzzing): name is for messages;
 * a loss is not followed by reconnects. fd is the frontend's from now.
 */
int vhost_user_init_fd(struct vhost_user *u, int fd, const char *name,
		       uint64_t want_protocol, const struct vm_notify *notify,
		       pthread_mutex_t *lock,
		       const struct vhost_user_hooks *hooks, void *opaque,
		       char *err, size_t errlen);
void vhost_user_fini(struct vhost_user *u);

/* Does the backend have protocol feature bit? */
static inline bool vhost_user_has(const struct vhost_user *u, unsigned int bit)
{
	return u->protocol & (1ULL << bit);
}

/* Device config (CONFIG protocol feature). */
int vhost_user_get_config(struct vhost_user *u, uint32_t off, uint8_t *buf,
			  uint32_t len);
int vhost_user_set_config(struct vhost_user *u, uint32_t off,
			  const uint8_t *buf, uint32_t len);
/* INFLIGHT_SHMFD: get the region (fd is the caller's), hand it back. */
int vhost_user_get_inflight(struct vhost_user *u, uint16_t num_queues,
			    uint16_t queue_size, struct vu_inflight *in,
			    int *fd);
int vhost_user_set_inflight(struct vhost_user *u, const struct vu_inflight *in,
			    int fd);

/*
 * A stop that does not wait: rings ring.. of the ready queues
 * first..first+n are disabled and asked for their bases, the replies
 * read on the event loop as they come (or at the next request, or
 * vhost_user_settle()); hooks->settled says when they are all in, or
 * VU_TIMEOUT_MS passed and the connection was dropped. keep (a pause):
 * each base goes into its queue (vhost_ring_set_base), or, if the
 * backend is lost first, what the used ring says. True while replies are
 * owed.
 */
int vhost_user_stop_async(struct vhost_user *u, struct virtio_dev *d,
			  unsigned int first, unsigned int n, unsigned int ring,
			  bool keep);
/* Wait (bounded) for what is still owed; hooks->settled is not called. */
void vhost_user_settle(struct vhost_user *u);

/*
 * A migration: the source lets go of the backend (paused, bases in) so
 * that the target can connect: parked, nothing is reported or retried.
 * unpark connects again (the source after a failed migration, the target
 * at the switch), trying for up to wait_ms (plus one handshake) while the
 * backend still serves the other process; if that fails, -errno with err
 * and the usual reconnects take over.
 */
void vhost_user_park(struct vhost_user *u);
/* A migration target's: set up parked, not connected (client mode); the
 * caller fills features, protocol and queue_num from the source's. */
int vhost_user_init_parked(struct vhost_user *u, const char *path,
			   uint64_t want_protocol,
			   const struct vm_notify *notify,
			   pthread_mutex_t *lock,
			   const struct vhost_user_hooks *hooks, void *opaque,
			   char *err, size_t errlen);
int vhost_user_unpark(struct vhost_user *u, unsigned int wait_ms, char *err,
		      size_t errlen);

/*
 * The switch of a migration, the source's side (the VM paused, the ring
 * bases in): wait, up to drain_ms, until the used rings of the split
 * queues [0, n) reach their bases (a backend may complete requests it
 * took after its ring stopped), count each used ring as written (a
 * backend logs its used index after writing it, maybe after vireo saw
 * it), then park. -EBUSY with err if the backend did not finish in time
 * (it is kept). vhost_user_take_back(): the target at the switch, or the
 * source after a failed migration: unpark, up to VU_UNPARK_MS.
 */
int vhost_user_hand_over(struct vhost_user *u, struct virtio_dev *d,
			 unsigned int n, char *err, size_t errlen);
int vhost_user_take_back(struct vhost_user *u, char *err, size_t errlen);
/*
 * Why a vhost-user device cannot move to another process (local: with
 * its RAM handed over), or NULL: a backend that connects to vireo
 * (server), packed rings in acked, or local=on.
 */
const char *vhost_user_cannot_move(bool server, uint64_t acked, bool local);
/* Can the backend log the guest pages it writes? Else -ENOTSUP + err. */
int vhost_user_can_log(const struct vhost_user *u, char *err, size_t errlen);

/* Drop the connection (the device found it unusable); why is logged. */
void vhost_user_drop(struct vhost_user *u, const char *why);

#endif
