// SPDX-License-Identifier: GPL-2.0
#include "vhost-vdpa.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../vmm/util.h"

#define VIRTIO_F_ACCESS_PLATFORM	33

static int real_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)ctx;
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static ssize_t real_write(void *ctx, int fd, const void *buf, size_t len)
{
	ssize_t n;

	(void)ctx;
	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static const struct vdpa_io real_io = {
	.ioctl = real_ioctl,
	.write = real_write,
};

static struct vhost_vdpa *to_vp(struct vhost *v)
{
	return container_of(v, struct vhost_vdpa, v);
}

static int vp_ioctl(struct vhost_vdpa *p, unsigned long req, void *arg)
{
	if (p->fd < 0)
		return -EBADF;
	return p->io->ioctl(p->io->ctx, p->fd, req, arg);
}

const char *vhost_vdpa_kind(uint32_t device_id, char *buf, size_t len)
{
	switch (device_id) {
	case 1:
		return "a network device";
	case 2:
		return "a block device";
	case 3:
		return "a console";
	case 4:
		return "an entropy source";
	case 5:
		return "a memory balloon";
	default:
		snprintf(buf, len, "a device of virtio ID %u", device_id);
		return buf;
	}
}

/* ---- status and config ---------------------------------------------------- */

int vhost_vdpa_get_status(struct vhost_vdpa *p, uint8_t *status)
{
	return vp_ioctl(p, VHOST_VDPA_GET_STATUS, status);
}

int vhost_vdpa_set_status(struct vhost_vdpa *p, uint8_t status)
{
	uint8_t got = 0;
	int ret;

	ret = vp_ioctl(p, VHOST_VDPA_SET_STATUS, &status);
	if (ret)
		return ret;
	p->status = status;
	ret = vhost_vdpa_get_status(p, &got);
	if (ret)
		return ret;
	/* The device refused (FEATURES_OK cleared) or gave up. */
	if ((got & status) != status ||
	    (got & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)))
		return -EIO;
	return 0;
}

int vhost_vdpa_reset(struct vhost_vdpa *p)
{
	uint8_t zero = 0;

	p->status = 0;
	return vp_ioctl(p, VHOST_VDPA_SET_STATUS, &zero);
}

static int config_io(struct vhost_vdpa *p, unsigned long req, uint32_t off,
		     uint8_t *buf, uint32_t len)
{
	/* struct vhost_vdpa_config and its bytes after it. */
	uint64_t m[(sizeof(struct vhost_vdpa_config) + VDPA_CONFIG_MAX) / 8 + 1];
	struct vhost_vdpa_config *c = (struct vhost_vdpa_config *)m;
	int ret;

	if (len > VDPA_CONFIG_MAX || off > p->config_size ||
	    len > p->config_size - off)
		return -EINVAL;
	memset(m, 0, sizeof(m));
	c->off = off;
	c->len = len;
	if (req == VHOST_VDPA_SET_CONFIG)
		memcpy(c->buf, buf, len);
	ret = vp_ioctl(p, req, c);
	if (!ret && req == VHOST_VDPA_GET_CONFIG)
		memcpy(buf, c->buf, len);
	return ret;
}

int vhost_vdpa_get_config(struct vhost_vdpa *p, uint32_t off, uint8_t *buf,
			  uint32_t len)
{
	return config_io(p, VHOST_VDPA_GET_CONFIG, off, buf, len);
}

int vhost_vdpa_set_config(struct vhost_vdpa *p, uint32_t off,
			  const uint8_t *buf, uint32_t len)
{
	return config_io(p, VHOST_VDPA_SET_CONFIG, off, (uint8_t *)buf, len);
}

int vhost_vdpa_set_config_call(struct vhost_vdpa *p, int fd)
{
	return vp_ioctl(p, VHOST_VDPA_SET_CONFIG_CALL, &fd);
}

bool vhost_vdpa_can_suspend(const struct vhost_vdpa *p)
{
	return p->backend_features & (1ULL << VHOST_BACKEND_F_SUSPEND);
}

int vhost_vdpa_suspend(struct vhost_vdpa *p)
{
	if (!vhost_vdpa_can_suspend(p))
		return -ENOTSUP;
	return vp_ioctl(p, VHOST_VDPA_SUSPEND, NULL);
}

/* ---- struct vhost_ops ----------------------------------------------------- */

static int vp_get_features(struct vhost *v, uint64_t *features)
{
	*features = to_vp(v)->features;
	return 0;
}

/*
 * The features, then FEATURES_OK: the device checks them there. The
 * device reaches memory through its IOTLB: ACCESS_PLATFORM whenever it
 * offers it (vDPA devices over VDUSE insist on it).
 */
static int vp_set_features(struct vhost *v, uint64_t features)
{
	struct vhost_vdpa *p = to_vp(v);
	uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	int ret;

	features &= p->features;
	features |= p->features & (1ULL << VIRTIO_F_ACCESS_PLATFORM);
	/* Once per reset: FEATURES_OK is final. */
	if (p->status & VIRTIO_STATUS_FEATURES_OK)
		return features == p->acked ? 0 : -EBUSY;
	ret = vhost_vdpa_set_status(p, st);
	if (!ret)
		ret = vp_ioctl(p, VHOST_SET_FEATURES, &features);
	if (!ret)
		ret = vhost_vdpa_set_status(p, st | VIRTIO_STATUS_FEATURES_OK);
	if (!ret)
		p->acked = features;
	return ret;
}

static int iotlb_msg(struct vhost_vdpa *p, uint8_t type, uint64_t iova,
		     uint64_t size, uint64_t uaddr)
{
	struct vhost_msg_v2 m;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.type = VHOST_IOTLB_MSG_V2;
	m.iotlb.type = type;
	m.iotlb.iova = iova;
	m.iotlb.size = size;
	m.iotlb.uaddr = uaddr;
	m.iotlb.perm = VHOST_ACCESS_RW;
	n = p->io->write(p->io->ctx, p->fd, &m, sizeof(m));
	if (n < 0)
		return (int)n;
	return n == (ssize_t)sizeof(m) ? 0 : -EIO;
}

static bool batched(const struct vhost_vdpa *p)
{
	return p->backend_features & (1ULL << VHOST_BACKEND_F_IOTLB_BATCH);
}

/* Guest RAM at IOVA = guest-physical address, read-write. */
static int vp_set_mem_table(struct vhost *v, const struct guest_mem *gm)
{
	struct vhost_vdpa *p = to_vp(v);
	unsigned int i;
	int ret = 0;

	if (gm->nr > VDPA_MAX_MAPS)
		return -E2BIG;
	for (i = 0; i < gm->nr; i++)
		if (gm->r[i].gpa < p->iova_first ||
		    gm->r[i].gpa + gm->r[i].size - 1 > p->iova_last)
			return -ERANGE;
	if (batched(p))
		ret = iotlb_msg(p, VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0);
	/* What was mapped before goes first (a restore maps RAM anew). */
	for (i = 0; !ret && i < p->nr_maps; i++)
		ret = iotlb_msg(p, VHOST_IOTLB_INVALIDATE, p->maps[i].iova,
				p->maps[i].size, 0);
	if (!ret)
		p->nr_maps = 0;
	for (i = 0; !ret && i < gm->nr; i++) {
		ret = iotlb_msg(p, VHOST_IOTLB_UPDATE, gm->r[i].gpa,
				gm->r[i].size, (uint64_t)(uintptr_t)gm->r[i].hva);
		if (!ret) {
			p->maps[p->nr_maps].iova = gm->r[i].gpa;
			p->maps[p->nr_maps].size = gm->r[i].size;
			p->nr_maps++;
		}
	}
	if (batched(p)) {
		int end = iotlb_msg(p, VHOST_IOTLB_BATCH_END, 0, 0, 0);

		if (!ret)
			ret = end;
	}
	return ret;
}

static int vp_set_vring_num(struct vhost *v, unsigned int ring, unsigned int num)
{
	struct vhost_vring_state s = { .index = ring, .num = num };

	if (ring >= to_vp(v)->nr_vqs || num > to_vp(v)->vring_max)
		return -EINVAL;
	return vp_ioctl(to_vp(v), VHOST_SET_VRING_NUM, &s);
}

/* Behind an IOTLB, ring addresses are I/O virtual = guest-physical. */
static int vp_set_vring_addr(struct vhost *v, unsigned int ring,
			     const struct vhost_ring_addr *addr)
{
	struct vhost_vring_addr a = {
		.index = ring,
		.desc_user_addr = addr->desc_gpa,
		.avail_user_addr = addr->avail_gpa,
		.used_user_addr = addr->used_gpa,
	};

	return vp_ioctl(to_vp(v), VHOST_SET_VRING_ADDR, &a);
}

static int vp_set_vring_base(struct vhost *v, unsigned int ring, uint32_t base)
{
	struct vhost_vring_state s = { .index = ring, .num = base };

	return vp_ioctl(to_vp(v), VHOST_SET_VRING_BASE, &s);
}

static int vp_get_vring_base(struct vhost *v, unsigned int ring, uint32_t *base)
{
	struct vhost_vring_state s = { .index = ring };
	int ret = vp_ioctl(to_vp(v), VHOST_GET_VRING_BASE, &s);

	*base = s.num;
	return ret;
}

static int vp_set_file(struct vhost *v, unsigned long req, unsigned int ring,
		       int fd)
{
	struct vhost_vring_file f = { .index = ring, .fd = fd };

	return vp_ioctl(to_vp(v), req, &f);
}

static int vp_set_vring_kick(struct vhost *v, unsigned int ring, int fd)
{
	/* The device waits on it: there must be one. */
	if (fd < 0)
		return -EINVAL;
	return vp_set_file(v, VHOST_SET_VRING_KICK, ring, fd);
}

static int vp_set_vring_call(struct vhost *v, unsigned int ring, int fd)
{
	return vp_set_file(v, VHOST_SET_VRING_CALL, ring, fd);
}

static int vp_set_vring_enable(struct vhost *v, unsigned int ring, bool on)
{
	struct vhost_vring_state s = { .index = ring, .num = on };

	return vp_ioctl(to_vp(v), VHOST_VDPA_SET_VRING_ENABLE, &s);
}

static const struct vhost_ops vhost_vdpa_ops = {
	.get_features = vp_get_features,
	.set_features = vp_set_features,
	.set_mem_table = vp_set_mem_table,
	.set_vring_num = vp_set_vring_num,
	.set_vring_addr = vp_set_vring_addr,
	.set_vring_base = vp_set_vring_base,
	.get_vring_base = vp_get_vring_base,
	.set_vring_kick = vp_set_vring_kick,
	.set_vring_call = vp_set_vring_call,
	.set_vring_enable = vp_set_vring_enable,
};

/* ---- open ----------------------------------------------------------------- */

static int probe(struct vhost_vdpa *p, char *err, size_t errlen)
{
	struct vhost_vdpa_iova_range range = { 0, UINT64_MAX };
	uint64_t bf = 0, want;
	uint32_t u32 = 0;
	uint16_t num = 0;
	const char *step;
	int ret;

	step = "VHOST_SET_OWNER (is another process using it?)";
	ret = vp_ioctl(p, VHOST_SET_OWNER, NULL);
	if (!ret) {
		step = "VHOST_VDPA_GET_DEVICE_ID";
		ret = vp_ioctl(p, VHOST_VDPA_GET_DEVICE_ID, &p->device_id);
	}
	if (!ret) {
		step = "VHOST_GET_FEATURES";
		ret = vp_ioctl(p, VHOST_GET_FEATURES, &p->features);
	}
	if (!ret) {
		step = "VHOST_GET_BACKEND_FEATURES";
		ret = vp_ioctl(p, VHOST_GET_BACKEND_FEATURES, &bf);
	}
	if (!ret && !(bf & (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2))) {
		errf(err, errlen, "%s: the vhost-vdpa interface lacks IOTLB v2 "
		     "messages (a kernel older than 5.10?)", p->path);
		return -ENOTSUP;
	}
	if (!ret) {
		want = bf & ((1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2) |
			     (1ULL << VHOST_BACKEND_F_IOTLB_BATCH) |
			     (1ULL << VHOST_BACKEND_F_SUSPEND));
		step = "VHOST_SET_BACKEND_FEATURES";
		ret = vp_ioctl(p, VHOST_SET_BACKEND_FEATURES, &want);
		p->backend_features = want;
	}
	if (!ret) {
		step = "VHOST_VDPA_GET_VQS_COUNT";
		ret = vp_ioctl(p, VHOST_VDPA_GET_VQS_COUNT, &p->nr_vqs);
	}
	if (!ret) {
		step = "VHOST_VDPA_GET_VRING_NUM";
		ret = vp_ioctl(p, VHOST_VDPA_GET_VRING_NUM, &num);
		p->vring_max = num;
	}
	if (ret) {
		errf(err, errlen, "%s: %s: %s", p->path, step, strerror(-ret));
		return ret;
	}
	/* Newer interfaces: absent ones leave the defaults. */
	if (!vp_ioctl(p, VHOST_VDPA_GET_CONFIG_SIZE, &u32))
		p->config_size = MIN(u32, (uint32_t)VDPA_CONFIG_MAX);
	else
		p->config_size = VDPA_CONFIG_MAX;
	if (!vp_ioctl(p, VHOST_VDPA_GET_IOVA_RANGE, &range) &&
	    range.first <= range.last) {
		p->iova_first = range.first;
		p->iova_last = range.last;
	}
	if (!p->nr_vqs || !p->vring_max) {
		errf(err, errlen, "%s: the device has %u queues of at most %u "
		     "entries", p->path, p->nr_vqs, p->vring_max);
		return -EINVAL;
	}
	return 0;
}

int vhost_vdpa_open(struct vhost_vdpa *p, const char *path,
		    const struct vdpa_io *io, char *err, size_t errlen)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->v.ops = &vhost_vdpa_ops;
	p->io = io ? io : &real_io;
	p->iova_last = UINT64_MAX;
	snprintf(p->path, sizeof(p->path), "%s", path);
	snprintf(p->v.name, sizeof(p->v.name), "vhost-vdpa %s", path);
	if (io) {
		p->fd = 0;	/* the fake's */
	} else {
		p->fd = open(path, O_RDWR | O_CLOEXEC);
		if (p->fd < 0) {
			ret = -errno;
			errf(err, errlen, "%s: %s%s", path, strerror(errno),
			     errno == ENOENT ?
			     " (is the vDPA device bound to vhost_vdpa? "
			     "'vdpa dev add name NAME mgmtdev MGMT' makes one; "
			     "'modprobe vhost_vdpa' binds it)" :
			     errno == EACCES || errno == EPERM ?
			     " (give your user read-write access to it)" :
			     errno == EBUSY ? " (another process has it open)" :
			     errno == EIO ? " (the device failed the reset "
			     "every open does: a VDUSE device whose daemon "
			     "died or does not answer; restart the daemon, or "
			     "delete the device with 'vdpa dev del' and make "
			     "it again)" :
			     "");
			return ret;
		}
	}
	ret = probe(p, err, errlen);
	if (!ret) {
		ret = vhost_vdpa_reset(p);
		if (ret)
			errf(err, errlen, "%s: resetting the device: %s", path,
			     strerror(-ret));
	}
	if (ret)
		vhost_vdpa_close(p);
	return ret;
}

void vhost_vdpa_close(struct vhost_vdpa *p)
{
	if (p->fd >= 0) {
		vhost_vdpa_reset(p);
		if (p->io == &real_io)
			close(p->fd);
	}
	p->fd = -1;
}
