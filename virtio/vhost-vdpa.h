/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-vdpa: a vDPA device (hardware, or another process through VDUSE)
 * serves a device's data path; the kernel's /dev/vhost-vdpa-N is its
 * control path. The third struct vhost_ops after vhost-kernel and
 * vhost-user. Differences from the kernel's vhost-net:
 *  - the device is a whole virtio device: it has an ID, its own feature
 *    bits, a config space (read and written through ioctls) and a status
 *    byte vireo drives as the guest drives vireo's (reset, FEATURES_OK,
 *    DRIVER_OK);
 *  - guest memory is mapped through IOTLB messages (written to the fd),
 *    I/O virtual address = guest-physical address, and ring addresses are
 *    given as such addresses (the device may sit behind an IOMMU, so
 *    VIRTIO_F_ACCESS_PLATFORM is always negotiated with it);
 *  - rings are enabled one by one before DRIVER_OK;
 *  - a device says it changed its config through an eventfd.
 * All syscalls go through struct vdpa_io, so that unit tests can put a
 * fake device behind it.
 */
#ifndef VIREO_VHOST_VDPA_H
#define VIREO_VHOST_VDPA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vhost.h"

#define VDPA_MAX_MAPS		8
#define VDPA_CONFIG_MAX		256

/* The syscalls on the device's fd (real: ioctl(2) and write(2)). */
struct vdpa_io {
	int (*ioctl)(void *ctx, int fd, unsigned long req, void *arg);
	ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
	void *ctx;
};

struct vhost_vdpa {
	struct vhost v;
	int fd;				/* -1 when closed */
	const struct vdpa_io *io;
	char path[108];
	uint32_t device_id;
	uint64_t features;		/* the device's */
	uint64_t backend_features;	/* VHOST_BACKEND_F_* bits in use */
	uint32_t config_size;
	uint16_t vring_max;		/* its largest queue size */
	uint32_t nr_vqs;
	uint64_t iova_first, iova_last;
	uint64_t acked;			/* features given at FEATURES_OK */
	uint8_t status;			/* as last written */
	/* What the device's IOTLB maps now (to take back on a new table). */
	struct { uint64_t iova, size; } maps[VDPA_MAX_MAPS];
	unsigned int nr_maps;
};

/*
 * Open path, become its owner, read what the device is (ID, features,
 * config size, queue count and size, IOVA range) and choose IOTLB v2
 * messages. io NULL: the real syscalls. -errno with err saying what to do.
 */
int vhost_vdpa_open(struct vhost_vdpa *p, const char *path,
		    const struct vdpa_io *io, char *err, size_t errlen);
void vhost_vdpa_close(struct vhost_vdpa *p);

/* The device's status byte: write it and read it back (-errno). */
int vhost_vdpa_set_status(struct vhost_vdpa *p, uint8_t status);
int vhost_vdpa_get_status(struct vhost_vdpa *p, uint8_t *status);
/* Status 0: the device forgets the driver (and maps stay as they are). */
int vhost_vdpa_reset(struct vhost_vdpa *p);

int vhost_vdpa_get_config(struct vhost_vdpa *p, uint32_t off, uint8_t *buf,
			  uint32_t len);
int vhost_vdpa_set_config(struct vhost_vdpa *p, uint32_t off,
			  const uint8_t *buf, uint32_t len);
/* The eventfd the device signals when its config changed (-1: none). */
int vhost_vdpa_set_config_call(struct vhost_vdpa *p, int fd);
/* The device can stop its rings with work in flight kept (SUSPEND). */
bool vhost_vdpa_can_suspend(const struct vhost_vdpa *p);
int vhost_vdpa_suspend(struct vhost_vdpa *p);

/*
 * What the device's ID names, for messages: "a block device" (or
 * "device ID 42").
 */
const char *vhost_vdpa_kind(uint32_t device_id, char *buf, size_t len);

#endif
