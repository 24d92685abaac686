/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's vhost (vhost.h's interface on ioctls): /dev/vhost-net
 * serves one virtio-net queue pair (rings 0 = RX, 1 = TX) on a tap fd.
 * Guest memory is described by its host addresses; the kernel reads and
 * writes it from the vhost worker thread, kicked by the very ioeventfd
 * the guest's notifications land on and interrupting through the call
 * fd (a KVM irqfd where the transport allows it).
 */
#ifndef VIREO_VHOST_KERNEL_H
#define VIREO_VHOST_KERNEL_H

#include "vhost.h"

struct vhost_kernel {
	struct vhost v;
	int fd;				/* -1 when closed */
};

/*
 * Open path (e.g. /dev/vhost-net) and become its owner. -errno with err
 * saying what to do about it (load the module, fix the permissions).
 */
int vhost_kernel_open(struct vhost_kernel *k, const char *path, char *err,
		      size_t errlen);
void vhost_kernel_close(struct vhost_kernel *k);
/* vhost-net: serve ring with this tap fd (-1 stops the ring). */
int vhost_kernel_net_backend(struct vhost_kernel *k, unsigned int ring, int fd);

#endif
