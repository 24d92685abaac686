/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-balloon (device ID 5): memory the guest gives back really goes
 * back to the host.
 *
 *  - inflateq: each 4 KiB page the guest hands over is punched out of the
 *    memfd behind guest RAM (gm_discard()), so vireo's resident memory
 *    drops; the guest reads zeros there once it has the page back
 *    (deflateq needs no host work). PFNs outside RAM are ignored and
 *    counted; PFNs are read a chunk at a time, never into a guest-sized
 *    allocation.
 *  - statsq (always offered): the latest statistics the guest sent;
 *    vireo asks for fresh ones every stats_period seconds or on request.
 *  - reporting_vq (free_page_reporting=on): free ranges the guest reports
 *    are released the same way.
 *  - DEFLATE_ON_OOM on request.
 *
 * Run-time control is the API's (vmm/api.h): /balloon sets the target,
 * /balloon/statistics reads virtio_balloon_report().
 */
#ifndef VIREO_VIRTIO_BALLOON_H
#define VIREO_VIRTIO_BALLOON_H

#include "../virtio/virtio.h"
#include "../vmm/irq.h"
#include "../vmm/loop.h"
#include "vdev.h"

#define BALLOON_QUEUE_SIZE	128
#define BALLOON_NR_TAGS		16	/* statistics tags kept */

struct balloon_config {
	bool deflate_on_oom;
	bool free_page_reporting;
	unsigned int stats_period;	/* seconds; 0: on request only */
	uint64_t target;		/* bytes to take at start */
};

struct balloon_counters {
	uint64_t inflated, deflated;	/* pages */
	uint64_t ignored;		/* PFNs outside RAM */
	uint64_t released;		/* bytes given back to the host */
	uint64_t reported;		/* bytes of free page reports */
	uint64_t discard_errors;
};

struct virtio_balloon {
	struct virtio_dev vdev;
	struct virtio_dev_ops ops;
	struct balloon_config cfg;
	struct vm_notify notify;
	uint32_t num_pages;		/* target, in 4 KiB pages */
	uint32_t actual;		/* as the guest reports it */
	int stats_q, report_q;		/* queue index, or -1 */
	struct vq_elem elem;
	/* An inflate or report buffer bigger than a turn's work: where it
	 * stands (inflate: byte offset; report: iovec and offset in it). */
	struct balloon_work {
		struct vq_elem elem;
		bool pending;
		unsigned int iov;
		uint64_t off;
	} work[2];
	struct vq_elem stats_elem;	/* held until fresh stats are wanted */
	bool stats_held;
	bool stats_valid;
	uint64_t stats[BALLOON_NR_TAGS];
	uint32_t stats_seen;		/* bitmap of tags the guest sent */
	uint64_t stats_updates;
	struct ev_handler timer_h;
	bool timer_watched;
	struct balloon_counters count;
};

extern const struct vdev_class virtio_balloon_class;

int virtio_balloon_init(struct virtio_balloon *b,
			const struct balloon_config *cfg,
			const struct guest_mem *gm,
			const struct virtio_opts *opts,
			const struct vm_notify *notify, char *err,
			size_t errlen);
void virtio_balloon_fini(struct virtio_balloon *b);
/* What the guest reported, for the API (Firecracker's statistics). */
struct balloon_report {
	uint32_t target_pages, actual_pages;
	uint32_t seen;			/* tags the guest sent */
	uint64_t stat[BALLOON_NR_TAGS];
	uint64_t updates;
	struct balloon_counters count;	/* vireo's side */
};

void virtio_balloon_report(struct virtio_balloon *b, struct balloon_report *r);
/* Ask the guest for statistics every period seconds (0: on request). */
int virtio_balloon_set_period(struct virtio_balloon *b, unsigned int period);

/* Set the target (bytes the guest should give back). */
void virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes);

#endif
