/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-blk served by a vhost-user backend (--disk vhost-user=SOCKET),
 * qemu-storage-daemon's vhost-user-blk export for one. The backend owns
 * the image and the data path; vireo keeps the transport, reads the
 * device config from the backend (CONFIG protocol feature), offers the
 * guest the features both know, and hands the queues over at DRIVER_OK.
 *
 * A backend that goes away: no request the guest saw completed is lost
 * (the backend completed it). Requests in flight at the loss are
 *  - resubmitted by the next backend where it keeps an inflight region
 *    (INFLIGHT_SHMFD: vireo passes the same region to every backend);
 *  - otherwise completed with VIRTIO_BLK_S_IOERR by vireo, which keeps
 *    count of what is in flight by scanning the rings (vq_track, every
 *    1-50 ms while the backend serves them). Requests added while the
 *    backend is gone wait for the next one. If the count was lost (a ring
 *    moved by more than its size between two scans) the device is marked
 *    DEVICE_NEEDS_RESET instead, said in one line.
 */
#ifndef VIREO_BLK_VHOST_USER_H
#define VIREO_BLK_VHOST_USER_H

#include "../virtio/vhost-user.h"
#include "vdpa-dev.h"
#include "virtio-blk.h"

#define VBLK_CFG_SIZE		60
#define VBLK_TRACK_MIN_MS	1
#define VBLK_TRACK_MAX_MS	50

struct vhost_blk {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops;	/* per instance: the queue count */
	struct blk_config cfg;
	struct vm_notify notify;
	struct vhost_user vu;
	bool vu_open;
	uint8_t config[VBLK_CFG_SIZE];	/* the backend's, as last read */
	bool started;			/* rings handed to the backend */
	bool stopping;			/* a reset waits for the backend */
	bool pausing;			/* a pause waits for the bases */
	int inflight_fd;		/* INFLIGHT_SHMFD region, or -1 */
	struct vu_inflight inflight;
	struct vq_track track[VIRTIO_MAX_QUEUES];
	struct ev_handler track_h;	/* timerfd: scan the rings */
	bool track_watched;
	unsigned int track_ms;
	struct vq_elem elem;		/* scratch: failing a lost request */
	uint64_t failed;		/* completed with IOERR after losses */
	uint64_t resubmitted_by_backend;	/* losses with an inflight region */
	uint64_t *log;			/* a migration's dirty log, or NULL */
};

/* Connect to cfg->vhost_user and build the device. NULL + err. */
/*
 * incoming (a migration target): built from saved (the source's
 * blk_vhost_user_save()), not connected until lock(take) at the switch.
 */
struct virtio_dev *blk_vhost_user_create(const struct blk_config *cfg,
					 const struct virtio_opts *opts,
					 const struct guest_mem *gm,
					 const struct vm_notify *notify,
					 bool incoming, const uint8_t *saved,
					 size_t saved_len, char *err,
					 size_t errlen);
/* The class hooks (vdev.h) for a disk served by a vhost-user backend. */
size_t blk_vhost_user_save(struct virtio_dev *d, uint8_t *buf, size_t max);
int blk_vhost_user_restore(struct virtio_dev *d, const uint8_t *buf,
			   size_t len, char *err, size_t errlen);
int blk_vhost_user_log(struct virtio_dev *d, uint64_t *log, char *err,
		       size_t errlen);
/* Migration: drop the backend (drained first) or connect to it again. */
int blk_vhost_user_lock(struct virtio_dev *d, bool take, char *err,
			size_t errlen);
/* Why this disk cannot move to another process, or NULL. */
const char *blk_vhost_user_cannot_move(struct virtio_dev *d, bool local);
bool blk_vhost_user_is(const struct virtio_dev *d);
void blk_vhost_user_destroy(struct virtio_dev *d);
void blk_vhost_user_stats(struct virtio_dev *d, char *buf, size_t len);

/* A disk from a vDPA block device (--disk vhost-vdpa=PATH). */
extern const struct vdpa_dev_spec blk_vdpa_spec;

#endif
