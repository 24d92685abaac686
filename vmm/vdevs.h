/* SPDX-License-Identifier: GPL-2.0 */
/* The device classes vireo offers (devices/vdev.h), NULL-terminated. */
#ifndef VIREO_VDEVS_H
#define VIREO_VDEVS_H

#include "../devices/vdev.h"

extern const struct vdev_class *const vdev_classes[];

#endif
