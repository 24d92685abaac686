/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A fake VMM for unit tests: records the ioeventfds, irqfds, MSI routes
 * and event-loop watches that transports and devices set up, and keeps
 * the handlers watched so tests can dispatch them.
 */
#ifndef VIREO_TEST_FAKEVMM_H
#define VIREO_TEST_FAKEVMM_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/irq.h"
#include "vmm/loop.h"

struct fake_vmm {
	int ioeventfds;			/* currently assigned */
	uint64_t last_ioeventfd_addr;
	int irqfds;
	int last_resample;
	int last_irqfd_fd;		/* of the last assignment */
	unsigned int last_irqfd_gsi;
	int msi_routes;
	uint64_t msi_addr[64];
	uint32_t msi_data[64];
	int next_gsi;
	int line_sets;			/* irq_line() calls */
	bool line_level[64];		/* by GSI */
	int watched;
	struct ev_handler *handlers[64];	/* watched, in order */
};

struct drv;
struct virtio_dev;

extern struct fake_vmm vmm;
extern const struct vm_notify fake;

/* How often an eventfd was signalled (draining it); 0 if not. */
uint64_t fired(int fd);
/* Run every watched handler whose fd is readable, within timeout_ms. */
int fake_dispatch(int timeout_ms);

/*
 * Put dev where a modern driver leaves it after DRIVER_OK: features (plus
 * VERSION_1) acked, its first nq queues those of q, ready. The caller
 * activates it when the test wants the device running.
 */
void fake_driver_ok(struct virtio_dev *dev, const struct drv *q,
		    unsigned int nq, uint64_t features);

#endif
