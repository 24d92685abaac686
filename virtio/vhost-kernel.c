// SPDX-License-Identifier: GPL-2.0
#include "vhost-kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../vmm/util.h"

static struct vhost_kernel *to_vk(struct vhost *v)
{
	return container_of(v, struct vhost_kernel, v);
}

static int vk_ioctl(struct vhost *v, unsigned long req, void *arg)
{
	return ioctl(to_vk(v)->fd, req, arg) < 0 ? -errno : 0;
}

static int vk_get_features(struct vhost *v, uint64_t *features)
{
	return vk_ioctl(v, VHOST_GET_FEATURES, features);
}

static int vk_set_features(struct vhost *v, uint64_t features)
{
	return vk_ioctl(v, VHOST_SET_FEATURES, &features);
}

static int vk_set_mem_table(struct vhost *v, const struct guest_mem *gm)
{
	struct vhost_memory *mem;
	unsigned int i;
	int ret;

	mem = calloc(1, sizeof(*mem) + gm->nr * sizeof(mem->regions[0]));
	if (!mem)
		return -ENOMEM;
	mem->nregions = gm->nr;
	for (i = 0; i < gm->nr; i++) {
		mem->regions[i].guest_phys_addr = gm->r[i].gpa;
		mem->regions[i].memory_size = gm->r[i].size;
		mem->regions[i].userspace_addr = (uint64_t)(uintptr_t)gm->r[i].hva;
	}
	ret = vk_ioctl(v, VHOST_SET_MEM_TABLE, mem);
	free(mem);
	return ret;
}

static int vk_set_vring_num(struct vhost *v, unsigned int ring, unsigned int num)
{
	struct vhost_vring_state s = { .index = ring, .num = num };

	return vk_ioctl(v, VHOST_SET_VRING_NUM, &s);
}

static int vk_set_vring_addr(struct vhost *v, unsigned int ring,
			     const struct vhost_ring_addr *addr)
{
	struct vhost_vring_addr a = {
		.index = ring,
		.flags = addr->log ? 1u << VHOST_VRING_F_LOG : 0,
		.desc_user_addr = addr->desc,
		.avail_user_addr = addr->avail,
		.used_user_addr = addr->used,
		.log_guest_addr = addr->log ? addr->log_gpa : 0,
	};

	return vk_ioctl(v, VHOST_SET_VRING_ADDR, &a);
}

static int vk_set_log_base(struct vhost *v, uint64_t *log)
{
	uint64_t base = (uint64_t)(uintptr_t)log;

	return vk_ioctl(v, VHOST_SET_LOG_BASE, &base);
}

static int vk_set_vring_base(struct vhost *v, unsigned int ring, uint32_t base)
{
	struct vhost_vring_state s = { .index = ring, .num = base };

	return vk_ioctl(v, VHOST_SET_VRING_BASE, &s);
}

static int vk_get_vring_base(struct vhost *v, unsigned int ring, uint32_t *base)
{
	struct vhost_vring_state s = { .index = ring };
	int ret = vk_ioctl(v, VHOST_GET_VRING_BASE, &s);

	*base = s.num;
	return ret;
}

static int vk_set_file(struct vhost *v, unsigned long req, unsigned int ring,
		       int fd)
{
	struct vhost_vring_file f = { .index = ring, .fd = fd };

	return vk_ioctl(v, req, &f);
}

static int vk_set_vring_kick(struct vhost *v, unsigned int ring, int fd)
{
	return vk_set_file(v, VHOST_SET_VRING_KICK, ring, fd);
}

static int vk_set_vring_call(struct vhost *v, unsigned int ring, int fd)
{
	return vk_set_file(v, VHOST_SET_VRING_CALL, ring, fd);
}

static int vk_set_vring_err(struct vhost *v, unsigned int ring, int fd)
{
	return vk_set_file(v, VHOST_SET_VRING_ERR, ring, fd);
}

static const struct vhost_ops vhost_kernel_ops = {
	.get_features = vk_get_features,
	.set_features = vk_set_features,
	.set_mem_table = vk_set_mem_table,
	.set_vring_num = vk_set_vring_num,
	.set_vring_addr = vk_set_vring_addr,
	.set_vring_base = vk_set_vring_base,
	.get_vring_base = vk_get_vring_base,
	.set_vring_kick = vk_set_vring_kick,
	.set_vring_call = vk_set_vring_call,
	.set_vring_err = vk_set_vring_err,
	.set_log_base = vk_set_log_base,
};

int vhost_kernel_open(struct vhost_kernel *k, const char *path, char *err,
		      size_t errlen)
{
	int ret;

	k->v.ops = &vhost_kernel_ops;
	snprintf(k->v.name, sizeof(k->v.name), "%s", path);
	k->fd = open(path, O_RDWR | O_CLOEXEC);
	if (k->fd < 0) {
		ret = -errno;
		errf(err, errlen, "%s: %s%s", path, strerror(errno),
		     errno == ENOENT ? " (load the vhost_net module: "
		     "modprobe vhost_net)" :
		     errno == EACCES || errno == EPERM ?
		     " (give your user read-write access to it, e.g. "
		     "through the kvm group)" : "");
		return ret;
	}
	if (ioctl(k->fd, VHOST_SET_OWNER) < 0) {
		ret = -errno;
		errf(err, errlen, "%s: cannot become its owner: %s", path,
		     strerror(errno));
		vhost_kernel_close(k);
		return ret;
	}
	return 0;
}

void vhost_kernel_close(struct vhost_kernel *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

int vhost_kernel_net_backend(struct vhost_kernel *k, unsigned int ring, int fd)
{
	return vk_set_file(&k->v, VHOST_NET_SET_BACKEND, ring, fd);
}
