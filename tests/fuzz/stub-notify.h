/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A vm_notify for fuzz targets: every request succeeds and nothing is
 * wired (kicks are delivered by calling the device directly). Include
 * once per target.
 */
#ifndef VIREO_FUZZ_STUB_NOTIFY_H
#define VIREO_FUZZ_STUB_NOTIFY_H

#include "vmm/irq.h"
#include "vmm/loop.h"

static int stub_next_gsi = 24;

static int f_ioeventfd(void *c, int fd, uint64_t a, unsigned int l, bool p,
		       int64_t d, bool as)
{ (void)c; (void)fd; (void)a; (void)l; (void)p; (void)d; (void)as; return 0; }
static int f_irqfd(void *c, int fd, unsigned int g, int r, bool as)
{ (void)c; (void)fd; (void)g; (void)r; (void)as; return 0; }
static int f_msi_alloc(void *c)
{ (void)c; return stub_next_gsi < 1000 ? stub_next_gsi++ : -1; }
static int f_msi_route(void *c, unsigned int g, uint64_t a, uint32_t d)
{ (void)c; (void)g; (void)a; (void)d; return 0; }
static int f_watch(void *c, struct ev_handler *h) { (void)c; (void)h; return 0; }
static void f_unwatch(void *c, struct ev_handler *h) { (void)c; (void)h; }
static int f_rewatch(void *c, struct ev_handler *h, uint32_t e)
{ (void)c; (void)h; (void)e; return 0; }

static int f_irq_line(void *c, unsigned int g, bool l)
{ (void)c; (void)g; (void)l; return 0; }

static const struct vm_notify_ops stub_notify_ops = {
	f_ioeventfd, f_irqfd, f_msi_alloc, f_msi_route, f_watch, f_unwatch,
	f_rewatch, f_irq_line,
};

#endif
