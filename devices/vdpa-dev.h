/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A virtio device whose data path is a vDPA device (--disk
 * vhost-vdpa=/dev/vhost-vdpa-N, --net vhost-vdpa=...): vireo keeps the
 * transport, offers the guest the device's own features (within what the
 * class passes on), shows the device's config space, and at DRIVER_OK
 * drives the vDPA device through the same steps (reset, features,
 * FEATURES_OK, memory map, rings, DRIVER_OK) with the transport's kick and
 * call eventfds. A config change the device signals reaches the guest as
 * a config interrupt.
 *
 * A device that refuses a step or fails leaves the guest's device in
 * DEVICE_NEEDS_RESET, said in one line; vireo stays up. Pause (and so
 * snapshots and migration) needs a device that can suspend its rings
 * (VHOST_BACKEND_F_SUSPEND); others are refused by name (vdpa_dev_cannot_pause).
 */
#ifndef VIREO_VDPA_DEV_H
#define VIREO_VDPA_DEV_H

#include "../virtio/vhost-vdpa.h"
#include "../vmm/loop.h"
#include "vdev.h"

/* What a class asks of its vDPA device. */
struct vdpa_dev_spec {
	const char *what;		/* "disk", for messages */
	uint32_t device_id;		/* the virtio ID it must have */
	uint64_t features;		/* device bits the guest may see */
	uint32_t config_size;		/* the class's config layout */
	/* The queues the device is built with (its config is read). */
	uint16_t (*queues)(const uint8_t *config, uint64_t features,
			   uint32_t nr_vqs);
	/* Config bytes the driver may write (e.g. blk's writeback byte). */
	uint32_t writable_off, writable_len;
	/* The status byte a failed request gets (blk: IOERR), or -1. */
	int fail_status;
};

struct vdpa_dev {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops;
	const struct vdpa_dev_spec *spec;
	struct vhost_vdpa vp;
	struct vm_notify notify;
	uint8_t config[VDPA_CONFIG_MAX];
	struct ev_handler config_h;	/* eventfd: the device's config changed */
	bool config_watched;
	bool started;
	uint64_t config_changes;
	uint64_t failures;
	/*
	 * A device that stops answering (a VDUSE daemon killed): the rings
	 * are scanned (vq_track) while it serves them; when nothing has
	 * completed for VDPA_STALL_MS with requests waiting, a thread resets
	 * the device (that may block: VDUSE waits for its daemon) and vireo
	 * then fails what it held and serves the queues itself, failing each
	 * new request, until the driver resets the device.
	 */
	struct vq_track track[VIRTIO_MAX_QUEUES];
	uint16_t used_then[VIRTIO_MAX_QUEUES];
	struct ev_handler watch_h;	/* timerfd: scan the rings */
	bool watch_watched;
	unsigned int watch_ms, stall_ms;
	unsigned int stall_limit_ms;	/* VDPA_STALL_MS (tests: less) */
	bool gone;
	struct ev_handler gone_h;	/* eventfd: the reset thread is done */
	bool gone_watched;
	pthread_t reset_thread;
	bool reset_running;		/* joined under the device lock */
	bool reset_finished;		/* atomic: it signalled gone_h */
	bool stopping;			/* a driver reset on that thread */
	struct vq_elem elem;
	uint64_t failed;		/* requests failed by vireo */
};

#define VDPA_STALL_MS		15000
#define VDPA_TRACK_MIN_MS	1
#define VDPA_TRACK_MAX_MS	50

/*
 * Open path and build the device; io NULL for the real device. NULL with
 * err naming what is wrong (not a vDPA device of that kind, no access).
 */
struct virtio_dev *vdpa_dev_create(const char *path,
				   const struct vdpa_dev_spec *spec,
				   const struct virtio_opts *opts,
				   const struct guest_mem *gm,
				   const struct vm_notify *notify,
				   const struct vdpa_io *io, char *err,
				   size_t errlen);
bool vdpa_dev_is(const struct virtio_dev *d);
void vdpa_dev_destroy(struct virtio_dev *d);
void vdpa_dev_stats(struct virtio_dev *d, char *buf, size_t len);
/* Why this device cannot be paused, or NULL. */
const char *vdpa_dev_cannot_pause(struct virtio_dev *d);

#endif
