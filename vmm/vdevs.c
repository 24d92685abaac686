// SPDX-License-Identifier: GPL-2.0
#include "vdevs.h"

#include "../devices/virtio-balloon.h"
#include "../devices/virtio-blk.h"
#include "../devices/virtio-console.h"
#include "../devices/virtio-net.h"
#include "../devices/virtio-rng.h"

/* --device NAME looks names up here; --OPTION comes from each class. */
const struct vdev_class *const vdev_classes[] = {
	&virtio_rng_class,
	&virtio_blk_class,
	&virtio_net_class,
	&virtio_balloon_class,
	&virtio_console_class,
	NULL,
};
