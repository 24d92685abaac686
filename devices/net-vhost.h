/* SPDX-License-Identifier: GPL-2.0 */
/* virtio-net's vhost backends: kernel vhost-net and vhost-user. */
#ifndef VIREO_NET_VHOST_H
#define VIREO_NET_VHOST_H

#include "virtio-net.h"

/*
 * vhost=on|auto on a tap: open /dev/vhost-net per queue pair. With auto,
 * what stands in the way is a notice and vireo serves the queues; with on
 * it is an error (-errno, err says what to do).
 */
int net_vhost_net_open(struct virtio_net *n, const struct virtio_opts *opts,
		       char *err, size_t errlen);
/*
 * What a migration target builds a vhost-user NIC from while the backend
 * is still the source's: the backend as the source negotiated it (kept
 * after the NIC's own state, net_save()).
 */
struct net_vu_saved {
	uint32_t magic;			/* NET_VU_SAVED_MAGIC */
	uint32_t queue_num;
	uint64_t features;
	uint64_t protocol;
};

#define NET_VU_SAVED_MAGIC	0x314e5556u	/* "VUN1" */

/*
 * vhost-user=SOCKET: connect (or wait) and negotiate. A migration
 * target's (moved: the source's record) is built from that record and
 * connects at the switch (net_vhost_lock). -errno + err.
 */
int net_vhost_user_open(struct virtio_net *n, const struct net_vu_saved *moved,
			char *err, size_t errlen);
void net_vhost_user_save(const struct virtio_net *n, struct net_vu_saved *s);
/*
 * Migration (a vhost-user backend): let go of it (take false: the source,
 * paused) or connect to it (the target at the switch, or the source
 * after a failed migration) and check it still has what the driver uses.
 * -errno with err.
 */
int net_vhost_lock(struct virtio_net *n, bool take, char *err, size_t errlen);
/* Does the (re)connected backend have what the driver uses? -ENOTSUP. */
int net_vhost_user_fits(struct virtio_net *n, char *err, size_t errlen);
/* Why the NIC cannot move to another process, or NULL. */
const char *net_vhost_cannot_move(const struct virtio_net *n, bool local);
void net_vhost_close(struct virtio_net *n);
/* The feature bits the backend leaves the guest (AND into offered). */
uint64_t net_vhost_offer_mask(const struct virtio_net *n);

/* At DRIVER_OK: hand the data queues over; < 0 if vireo must serve them. */
int net_vhost_start(struct virtio_net *n, const struct virtio_activation *a);
/* At reset: stop the backend's rings, their state back in the queues. */
void net_vhost_stop(struct virtio_net *n, bool pause);
/*
 * A migration: the kernel's vhost-net logs the guest pages it writes into
 * log (by guest-physical page) from now on, including after a restart of
 * its rings, and so does a vhost-user backend (LOG_SHMFD); NULL stops it.
 * -ENOTSUP for a vhost-user backend that cannot. Under the device lock.
 * -errno with err.
 */
int net_vhost_log(struct virtio_net *n, uint64_t *log, char *err,
		  size_t errlen);
/* VIRTIO_NET_S_LINK_UP: a vhost-user backend is there and serving. */
bool net_link_up(const struct virtio_net *n);

#endif
