/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The driver-violation log (driver test mode): each time a guest's driver
 * does what the virtio 1.2 spec forbids a driver to do, one event naming
 * the spec section, the device, the queue and the values. Events are
 * counted per device (exit line, GET /metrics) and, with --driver-log
 * FILE, written as JSON lines; with --strict each one also puts the
 * device in DEVICE_NEEDS_RESET. The checks sit where vireo already looks
 * at what the driver did (status and feature writes, queue registers,
 * notifications, config accesses, the descriptor walker), so the log
 * being off costs one branch.
 */
#ifndef VIREO_VIOLATION_H
#define VIREO_VIOLATION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct virtio_dev;

enum viol_kind {
	VIOL_NONE,
	/* device status and features */
	VIOL_DRIVER_OK_NO_FEATURES_OK,
	VIOL_UNOFFERED_FEATURES,
	VIOL_FEATURES_AFTER_FEATURES_OK,
	VIOL_STATUS_CLEARED,
	VIOL_NO_VERSION_1,
	/* queue registers, notifications, config space, MSI-X */
	VIOL_QUEUE_WRITE_LIVE,
	VIOL_NOTIFY_BAD_QUEUE,
	VIOL_CONFIG_RANGE,
	VIOL_MSIX_VECTOR,
	/* rings (the descriptor walker) */
	VIOL_DESC_LOOP,
	VIOL_CHAIN_TOO_LONG,
	VIOL_HEAD_IN_FLIGHT,
	VIOL_AVAIL_JUMP,
	VIOL_READ_AFTER_WRITE,
	VIOL_INDIRECT_NO_FEATURE,
	VIOL_INDIRECT_NESTED,
	VIOL_INDIRECT_NEXT,
	VIOL_INDIRECT_SIZE,
	VIOL_DESC_OUTSIDE_RAM,
	VIOL_DESC_INDEX,
	VIOL_PACKED_FLAGS,
	VIOL_BUFFER_TOO_LARGE,
	/* a device's request layout */
	VIOL_REQUEST_LAYOUT,
	/* later additions (kept last: the numbering of the others stays) */
	VIOL_NOTIFY_DISABLED,
	VIOL_CONFIG_WIDTH,
	VIOL_NR_KINDS,
};

/* The kind's name ("desc_loop") and the spec section it breaks. */
const char *viol_name(enum viol_kind k);
const char *viol_section(enum viol_kind k);

/*
 * Where events go: file (NULL: counted only), strict (NEEDS_RESET on
 * each). Set once before the devices run.
 */
void viol_setup(FILE *file, bool strict);
bool viol_strict(void);
/*
 * --driver-log PATH: events appended to PATH by a writer thread, so that
 * no device thread waits on the file (a line it cannot hand over at once
 * is dropped and counted). viol_close() at exit writes out the rest.
 * 0, or -errno with err.
 */
int viol_open(const char *path, bool strict, char *err, size_t errlen);
void viol_close(void);

/*
 * The driver of d broke the spec: count it, log it (queue < 0: not about
 * a queue), and with --strict mark the device NEEDS_RESET. Called with
 * d->lock held or from the device's own context.
 */
void virtio_violation(struct virtio_dev *d, enum viol_kind k, int queue,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * A fault vireo injected on purpose (inject=): counted apart from the
 * driver's violations, logged the same way with kind "injected", so a
 * test can tell what it caused from what the driver did.
 */
void virtio_injected(struct virtio_dev *d, int queue, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The next number of an injection's generator (xorshift64*): a seed
 * gives the same faults each run. *state must not be 0. */
uint64_t inject_rand(uint64_t *state);

/* "3 driver violations (desc_loop 1, status_cleared 2)", or "". */
void viol_summary(const struct virtio_dev *d, char *buf, size_t len);

#endif
