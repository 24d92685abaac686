// SPDX-License-Identifier: GPL-2.0
/*
 * vhost-vdpa against a fake vDPA device behind struct vdpa_io: what the
 * kernel's vhost-vdpa interface sees, message by message.
 */
#include <errno.h>
#include <linux/vhost.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/blk-vhost-user.h"
#include "devices/virtio-net.h"
#include "devices/vdpa-dev.h"
#include "fakevmm.h"
#include "unit.h"
#include "vmm/util.h"
#include "vring.h"

#define BIT(n)			(1ULL << (n))
#define F_ACCESS_PLATFORM	33
#define F_BLK_FLUSH		9
#define F_BLK_MQ		12
#define F_BLK_DISCARD		13
#define F_NET_MAC		5

/* ---- the fake device ------------------------------------------------------ */

struct fake_vdpa {
	uint32_t device_id;
	uint64_t features;		/* offered */
	uint64_t backend_features;	/* offered */
	uint64_t backend_set;
	uint32_t nr_vqs;
	uint16_t vring_max;
	uint64_t iova_first, iova_last;
	uint8_t config[VDPA_CONFIG_MAX];
	uint32_t config_size;
	bool owned;
	uint8_t status;
	uint8_t statuses[16];		/* every status written, in order */
	unsigned int nr_statuses;
	uint64_t driver_features;
	bool refuse_features_ok;
	int config_call;
	struct { uint64_t iova, size, uaddr; uint8_t perm; } map[8];
	unsigned int nr_map;
	bool in_batch;
	unsigned int batches;
	unsigned int invalidates;
	struct {
		unsigned int num;
		uint32_t base;
		uint64_t desc, avail, used;
		int kick, call;
		bool enabled;
	} vq[4];
	unsigned int suspends;
	int fail_req;			/* an ioctl number to fail with EIO */
	unsigned int reset_ms;		/* a reset takes this long */
};

static struct fake_vdpa fv;

static void fv_init(uint32_t id)
{
	unsigned int q;

	memset(&fv, 0, sizeof(fv));
	fv.device_id = id;
	fv.features = BIT(VIRTIO_F_VERSION_1) | BIT(F_ACCESS_PLATFORM) |
		      BIT(VIRTIO_F_RING_PACKED) | BIT(VIRTIO_F_EVENT_IDX) |
		      BIT(F_BLK_FLUSH) | BIT(F_BLK_MQ);
	fv.backend_features = BIT(VHOST_BACKEND_F_IOTLB_MSG_V2) |
			      BIT(VHOST_BACKEND_F_IOTLB_BATCH);
	fv.nr_vqs = 2;
	fv.vring_max = 128;
	fv.iova_last = UINT64_MAX;
	fv.config_size = 60;
	put_le64(fv.config, 4096);		/* capacity in sectors */
	put_le16(fv.config + 34, 4);		/* num_queues: more than vqs */
	fv.config_call = -1;
	for (q = 0; q < 4; q++)
		fv.vq[q].kick = fv.vq[q].call = -1;
}

static void fv_status(uint8_t s)
{
	if (fv.nr_statuses < sizeof(fv.statuses))
		fv.statuses[fv.nr_statuses++] = s;
	if (s == 0) {
		unsigned int q;

		fv.status = 0;
		fv.driver_features = 0;
		fv.config_call = -1;	/* VDUSE forgets it at a reset */
		for (q = 0; q < 4; q++)
			fv.vq[q].enabled = false;
		return;
	}
	/* Like VDUSE: FEATURES_OK needs ACCESS_PLATFORM and offered bits. */
	if ((s & VIRTIO_STATUS_FEATURES_OK) &&
	    !(fv.status & VIRTIO_STATUS_FEATURES_OK) &&
	    (fv.refuse_features_ok ||
	     !(fv.driver_features & BIT(F_ACCESS_PLATFORM)) ||
	     (fv.driver_features & ~fv.features)))
		s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	fv.status = s;
}

static int fv_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct vhost_vring_state *st = arg;
	struct vhost_vring_file *f = arg;
	struct vhost_vring_addr *a = arg;
	struct vhost_vdpa_config *c = arg;

	(void)ctx;
	(void)fd;
	if ((int)req == fv.fail_req && fv.fail_req)
		return -EIO;
	switch (req) {
	case VHOST_SET_OWNER:
		if (fv.owned)
			return -EBUSY;
		fv.owned = true;
		return 0;
	case VHOST_VDPA_GET_DEVICE_ID:
		*(uint32_t *)arg = fv.device_id;
		return 0;
	case VHOST_GET_FEATURES:
		*(uint64_t *)arg = fv.features;
		return 0;
	case VHOST_SET_FEATURES:
		if (fv.status & VIRTIO_STATUS_FEATURES_OK)
			return -EBUSY;
		fv.driver_features = *(uint64_t *)arg;
		return 0;
	case VHOST_GET_BACKEND_FEATURES:
		*(uint64_t *)arg = fv.backend_features;
		return 0;
	case VHOST_SET_BACKEND_FEATURES:
		if (*(uint64_t *)arg & ~fv.backend_features)
			return -EOPNOTSUPP;
		fv.backend_set = *(uint64_t *)arg;
		return 0;
	case VHOST_VDPA_GET_VQS_COUNT:
		*(uint32_t *)arg = fv.nr_vqs;
		return 0;
	case VHOST_VDPA_GET_VRING_NUM:
		*(uint16_t *)arg = fv.vring_max;
		return 0;
	case VHOST_VDPA_GET_CONFIG_SIZE:
		*(uint32_t *)arg = fv.config_size;
		return 0;
	case VHOST_VDPA_GET_IOVA_RANGE:
		((struct vhost_vdpa_iova_range *)arg)->first = fv.iova_first;
		((struct vhost_vdpa_iova_range *)arg)->last = fv.iova_last;
		return 0;
	case VHOST_VDPA_GET_STATUS:
		*(uint8_t *)arg = fv.status;
		return 0;
	case VHOST_VDPA_SET_STATUS:
		if (*(uint8_t *)arg == 0)
			usleep(fv.reset_ms * 1000);
		fv_status(*(uint8_t *)arg);
		return 0;
	case VHOST_VDPA_GET_CONFIG:
		if (c->off > fv.config_size || c->len > fv.config_size - c->off)
			return -EINVAL;
		memcpy(c->buf, fv.config + c->off, c->len);
		return 0;
	case VHOST_VDPA_SET_CONFIG:
		if (c->off > fv.config_size || c->len > fv.config_size - c->off)
			return -EINVAL;
		memcpy(fv.config + c->off, c->buf, c->len);
		return 0;
	case VHOST_VDPA_SET_CONFIG_CALL:
		fv.config_call = *(int *)arg;
		return 0;
	case VHOST_VDPA_SUSPEND:
		if (!(fv.backend_set & BIT(VHOST_BACKEND_F_SUSPEND)))
			return -EOPNOTSUPP;
		fv.suspends++;
		return 0;
	}
	/* Per ring from here. */
	if (st->index >= fv.nr_vqs)
		return -ENOBUFS;
	switch (req) {
	case VHOST_SET_VRING_NUM:
		fv.vq[st->index].num = st->num;
		return 0;
	case VHOST_SET_VRING_BASE:
		fv.vq[st->index].base = st->num;
		return 0;
	case VHOST_GET_VRING_BASE:
		st->num = fv.vq[st->index].base;
		return 0;
	case VHOST_SET_VRING_ADDR:
		fv.vq[a->index].desc = a->desc_user_addr;
		fv.vq[a->index].avail = a->avail_user_addr;
		fv.vq[a->index].used = a->used_user_addr;
		return 0;
	case VHOST_SET_VRING_KICK:
		fv.vq[f->index].kick = f->fd;
		return 0;
	case VHOST_SET_VRING_CALL:
		fv.vq[f->index].call = f->fd;
		return 0;
	case VHOST_VDPA_SET_VRING_ENABLE:
		fv.vq[st->index].enabled = st->num;
		return 0;
	}
	return -ENOTTY;
}

static ssize_t fv_write(void *ctx, int fd, const void *buf, size_t len)
{
	const struct vhost_msg_v2 *m = buf;
	unsigned int i;

	(void)ctx;
	(void)fd;
	if (len != sizeof(*m) || m->type != VHOST_IOTLB_MSG_V2)
		return -EINVAL;
	switch (m->iotlb.type) {
	case VHOST_IOTLB_BATCH_BEGIN:
		fv.in_batch = true;
		break;
	case VHOST_IOTLB_BATCH_END:
		fv.in_batch = false;
		fv.batches++;
		break;
	case VHOST_IOTLB_UPDATE:
		if (m->iotlb.iova < fv.iova_first ||
		    m->iotlb.iova + m->iotlb.size - 1 > fv.iova_last ||
		    fv.nr_map == 8)
			return -EINVAL;
		fv.map[fv.nr_map].iova = m->iotlb.iova;
		fv.map[fv.nr_map].size = m->iotlb.size;
		fv.map[fv.nr_map].uaddr = m->iotlb.uaddr;
		fv.map[fv.nr_map].perm = m->iotlb.perm;
		fv.nr_map++;
		break;
	case VHOST_IOTLB_INVALIDATE:
		fv.invalidates++;
		for (i = 0; i < fv.nr_map; i++) {
			if (fv.map[i].iova != m->iotlb.iova)
				continue;
			fv.map[i] = fv.map[--fv.nr_map];
			break;
		}
		break;
	default:
		return -EINVAL;
	}
	return (ssize_t)len;
}

static const struct vdpa_io fv_io = { .ioctl = fv_ioctl, .write = fv_write };

/* ---- helpers -------------------------------------------------------------- */

static struct virtio_dev *make_disk(struct drv *d, char *err, size_t errlen)
{
	struct virtio_opts o = { .transport = VIRTIO_PCI };

	drv_init(d, 16, false, BIT(VIRTIO_F_VERSION_1));
	return vdpa_dev_create("/dev/vhost-vdpa-7", &blk_vdpa_spec, &o, &d->gm,
			       &fake, &fv_io, err, errlen);
}

static void activation(struct virtio_dev *dev, struct virtio_activation *a,
		       int *fds)
{
	unsigned int q;

	memset(a, 0, sizeof(*a));
	a->gm = dev->gm;
	a->features = dev->acked;
	a->nr_queues = dev->ops->num_queues;
	for (q = 0; q < a->nr_queues; q++) {
		a->q[q].vq = &dev->vq[q];
		a->q[q].kick_fd = fds[2 * q] = eventfd_new();
		a->q[q].call_fd = fds[2 * q + 1] = eventfd_new();
	}
}

/* A one-queue disk the driver has set up with features, not started. */
static struct virtio_dev *ready_disk(struct drv *d, struct virtio_activation *a,
				     int *fds, uint64_t features)
{
	struct virtio_dev *dev;
	char err[256];

	dev = make_disk(d, err, sizeof(err));
	ck_assert_msg(dev != NULL, "%s", err);
	fake_driver_ok(dev, d, 1, features);
	activation(dev, a, fds);
	return dev;
}

static void close_fds(int *fds, unsigned int n)
{
	while (n--)
		if (fds[n] >= 0)
			close(fds[n]);
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(probe_and_offer)
{
	struct virtio_dev *dev;
	struct drv d;
	uint8_t cfg[8];
	char err[256];

	fv_init(2);
	dev = make_disk(&d, err, sizeof(err));
	ck_assert_msg(dev != NULL, "%s", err);
	/* IOTLB v2 and batching chosen; no suspend offered, none taken. */
	ck_assert_uint_eq(fv.backend_set, BIT(VHOST_BACKEND_F_IOTLB_MSG_V2) |
					  BIT(VHOST_BACKEND_F_IOTLB_BATCH));
	/* The device's bits only: FLUSH yes, DISCARD no (not offered);
	 * ACCESS_PLATFORM is between vireo and the device. */
	ck_assert(dev->offered & BIT(F_BLK_FLUSH));
	ck_assert(!(dev->offered & BIT(F_BLK_DISCARD)));
	ck_assert(!(dev->offered & BIT(F_ACCESS_PLATFORM)));
	ck_assert(dev->offered & BIT(VIRTIO_F_EVENT_IDX));
	/* Queues: the config says 4, the device has 2 rings. */
	ck_assert_uint_eq(dev->ops->num_queues, 2);
	ck_assert_uint_eq(dev->ops->queue_size, 128);
	virtio_config_access(dev, 0, cfg, 8, false);
	ck_assert_uint_eq(get_le64(cfg), 4096);
	ck_assert_ptr_nonnull(vdpa_dev_cannot_pause(dev));
	vdpa_dev_destroy(dev);
	ck_assert_uint_eq(fv.status, 0);
	ck_assert_int_eq(vmm.watched, 0);
	drv_fini(&d);
}
END_TEST

/* The fake as set up now is refused at open, err saying what. */
static void refused(const char *what)
{
	struct virtio_dev *dev;
	struct drv d;
	char err[256];

	dev = make_disk(&d, err, sizeof(err));
	ck_assert(dev == NULL);
	ck_assert_msg(strstr(err, what), "%s", err);
	ck_assert_int_eq(vmm.watched, 0);
	drv_fini(&d);
}

START_TEST(wrong_device)
{
	struct virtio_dev *dev;
	struct drv d;
	char err[256];

	fv_init(1);
	refused("/dev/vhost-vdpa-7 is a network device, not a disk");
	fv_init(2);
	fv.backend_features = 0;
	refused("IOTLB v2");
	/* A device that says what cannot be: refused, named. */
	fv_init(2);
	fv.vring_max = 0;
	refused("queues of at most 0 entries");
	fv_init(2);
	fv.config_size = 8;
	refused("its config space is 8 bytes");
	fv_init(2);
	fv.features &= ~BIT(VIRTIO_F_VERSION_1);
	refused("VIRTIO_F_VERSION_1");
	fv_init(2);
	fv.owned = true;		/* another process has it */
	refused("VHOST_SET_OWNER");

	fv_init(2);
	fv.nr_vqs = 1000;		/* capped: at most what vireo has */
	dev = make_disk(&d, err, sizeof(err));
	ck_assert_msg(dev != NULL, "%s", err);
	ck_assert_uint_le(dev->ops->num_queues, VIRTIO_MAX_QUEUES);
	vdpa_dev_destroy(dev);
	drv_fini(&d);
}
END_TEST

/* DRIVER_OK: the device walks the same steps, rings by guest address. */
START_TEST(activation_sequence)
{
	struct virtio_activation a;
	struct virtio_dev *dev;
	struct timespec t0;
	struct drv d;
	int fds[4], i;

	fv_init(2);
	fv.nr_vqs = 1;
	dev = ready_disk(&d, &a, fds, BIT(F_BLK_FLUSH));
	fv.nr_statuses = 0;
	ck_assert_int_eq(dev->ops->activate(dev, &a), 0);
	ck_assert_uint_eq(fv.nr_statuses, 4);
	ck_assert_uint_eq(fv.statuses[0], 0);
	ck_assert_uint_eq(fv.statuses[1], VIRTIO_STATUS_ACKNOWLEDGE |
					  VIRTIO_STATUS_DRIVER);
	ck_assert_uint_eq(fv.statuses[2], fv.statuses[1] |
					  VIRTIO_STATUS_FEATURES_OK);
	ck_assert_uint_eq(fv.statuses[3], fv.statuses[2] |
					  VIRTIO_STATUS_DRIVER_OK);
	ck_assert_uint_eq(fv.driver_features, BIT(F_BLK_FLUSH) |
			  BIT(VIRTIO_F_VERSION_1) | BIT(F_ACCESS_PLATFORM));
	/* Guest RAM at IOVA = GPA, read-write, in one batch. */
	ck_assert_uint_eq(fv.nr_map, 1);
	ck_assert_uint_eq(fv.map[0].iova, 0);
	ck_assert_uint_eq(fv.map[0].size, d.gm.r[0].size);
	ck_assert_uint_eq(fv.map[0].uaddr, (uint64_t)(uintptr_t)d.gm.r[0].hva);
	ck_assert_uint_eq(fv.map[0].perm, VHOST_ACCESS_RW);
	ck_assert_uint_eq(fv.batches, 1);
	ck_assert_uint_eq(fv.vq[0].num, 16);
	ck_assert_uint_eq(fv.vq[0].desc, DRV_DESC);
	ck_assert_uint_eq(fv.vq[0].avail, DRV_DRIVER);
	ck_assert_uint_eq(fv.vq[0].used, DRV_DEVICE);
	ck_assert_int_eq(fv.vq[0].kick, fds[0]);
	ck_assert_int_eq(fv.vq[0].call, fds[1]);
	ck_assert(fv.vq[0].enabled);
	ck_assert(dev->external & 1);
	/*
	 * The guest resets: so does the device, on the reset thread; the
	 * vCPU goes on at once and the status reads 0 once it is done.
	 */
	fv.vq[0].base = 9;
	fv.reset_ms = 300;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_lock(&dev->lock);
	virtio_set_status(dev, 0);
	pthread_mutex_unlock(&dev->lock);
	ck_assert_uint_lt(ms_since(&t0), 250);
	ck_assert_uint_ne(virtio_read_status(dev), 0);
	for (i = 0; i < 100 && virtio_read_status(dev); i++)
		fake_dispatch(20);
	ck_assert_uint_eq(virtio_read_status(dev), 0);
	ck_assert_uint_eq(fv.status, 0);
	/* A second DRIVER_OK maps RAM anew, the old map taken back first;
	 * the rings start where the reset put them. */
	fake_driver_ok(dev, &d, 1, BIT(F_BLK_FLUSH));
	ck_assert_int_eq(dev->ops->activate(dev, &a), 0);
	ck_assert_uint_eq(fv.invalidates, 1);
	ck_assert_uint_eq(fv.nr_map, 1);
	ck_assert_uint_eq(fv.vq[0].base, 0);
	/* Initialised again before status read 0 (Linux's virtio-mmio):
	 * that write waits for the reset. */
	pthread_mutex_lock(&dev->lock);
	virtio_set_status(dev, 0);
	ck_assert_uint_ne(virtio_read_status(dev), 0);
	virtio_set_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	pthread_mutex_unlock(&dev->lock);
	ck_assert_uint_eq(fv.status, 0);
	ck_assert_uint_eq(virtio_read_status(dev), VIRTIO_STATUS_ACKNOWLEDGE);
	fake_dispatch(20);		/* the thread's signal: nothing more */
	ck_assert_uint_eq(virtio_read_status(dev), VIRTIO_STATUS_ACKNOWLEDGE);
	vdpa_dev_destroy(dev);
	close_fds(fds, 2);
	drv_fini(&d);
}
END_TEST

/* A device that refuses or fails a step: NEEDS_RESET, vireo goes on. */
START_TEST(device_refuses)
{
	struct virtio_activation a;
	struct virtio_dev *dev;
	struct drv d;
	int fds[4];

	fv_init(2);
	fv.nr_vqs = 1;
	dev = ready_disk(&d, &a, fds, BIT(F_BLK_FLUSH));
	fv.refuse_features_ok = true;
	ck_assert_int_lt(dev->ops->activate(dev, &a), 0);
	ck_assert_uint_eq(fv.status, 0);
	ck_assert_uint_eq(((struct vdpa_dev *)dev->priv)->failures, 1);

	fv.refuse_features_ok = false;
	fv.fail_req = (int)VHOST_SET_VRING_ADDR;
	ck_assert_int_lt(dev->ops->activate(dev, &a), 0);
	ck_assert_uint_eq(fv.status, 0);
	fv.fail_req = 0;

	/* RAM outside what the device can address. */
	fv.iova_first = 0x1000;
	vdpa_dev_destroy(dev);
	fv.owned = false;		/* closed: maps gone, the next open owns it */
	fv.nr_map = 0;
	close_fds(fds, 2);
	drv_fini(&d);
	dev = ready_disk(&d, &a, fds, 0);
	ck_assert_int_lt(dev->ops->activate(dev, &a), 0);
	ck_assert_uint_eq(fv.nr_map, 0);

	/* Running, the device sets NEEDS_RESET and says so: so does vireo. */
	fv.iova_first = 0;
	((struct vdpa_dev *)dev->priv)->vp.iova_first = 0;
	ck_assert_int_eq(dev->ops->activate(dev, &a), 0);
	ck_assert(!dev->broken);
	fv.status |= VIRTIO_STATUS_NEEDS_RESET;
	eventfd_signal(fv.config_call);
	fake_dispatch(100);
	ck_assert(dev->broken);
	ck_assert(dev->status & VIRTIO_STATUS_NEEDS_RESET);
	vdpa_dev_destroy(dev);
	close_fds(fds, 2);
	drv_fini(&d);
}
END_TEST

/* The device says its config changed: the guest gets a config interrupt. */
START_TEST(config_change)
{
	struct virtio_activation a;
	struct virtio_dev *dev;
	struct drv d;
	uint8_t cfg[8], gen;
	int fds[4];

	fv_init(2);
	fv.nr_vqs = 1;
	dev = ready_disk(&d, &a, fds, 0);
	/* Running: the config eventfd is the device's again after its reset. */
	ck_assert_int_eq(dev->ops->activate(dev, &a), 0);
	ck_assert_int_ge(fv.config_call, 0);
	gen = dev->config_gen;
	put_le64(fv.config, 8192);
	eventfd_signal(fv.config_call);
	fake_dispatch(100);
	ck_assert_uint_ne(dev->config_gen, gen);
	virtio_config_access(dev, 0, cfg, 8, false);
	ck_assert_uint_eq(get_le64(cfg), 8192);
	ck_assert_uint_eq(((struct vdpa_dev *)dev->priv)->config_changes, 1);
	ck_assert(!dev->broken);
	/* Only the writeback byte is the driver's to write. */
	cfg[0] = 1;
	virtio_config_access(dev, 32, cfg, 1, true);
	ck_assert_uint_eq(fv.config[32], 1);
	virtio_config_access(dev, 0, cfg, 8, true);
	ck_assert_uint_eq(get_le64(fv.config), 8192);
	vdpa_dev_destroy(dev);
	close_fds(fds, 2);
	drv_fini(&d);
}
END_TEST

/* A device that can suspend: a pause keeps where its rings stood. */
START_TEST(pause_with_suspend)
{
	struct virtio_activation a;
	struct virtio_dev *dev;
	struct drv d;
	int fds[4];

	fv_init(2);
	fv.nr_vqs = 1;
	fv.backend_features |= BIT(VHOST_BACKEND_F_SUSPEND);
	dev = ready_disk(&d, &a, fds, 0);
	ck_assert(vdpa_dev_cannot_pause(dev) == NULL);
	ck_assert_int_eq(dev->ops->activate(dev, &a), 0);
	fv.vq[0].base = 5;
	dev->ops->deactivate(dev, true);
	ck_assert_uint_eq(fv.suspends, 1);
	ck_assert_uint_eq(dev->vq[0].last_avail, 5);
	fv.vq[0].base = 0;
	a.resume = true;
	ck_assert_int_eq(dev->ops->activate(dev, &a), 0);
	ck_assert_uint_eq(fv.vq[0].base, 5);
	ck_assert(fv.status & VIRTIO_STATUS_DRIVER_OK);
	vdpa_dev_destroy(dev);
	close_fds(fds, 2);
	drv_fini(&d);
}
END_TEST

/* The device stops answering: what it held fails, and what comes after. */
START_TEST(device_gone)
{
	struct virtio_activation a;
	struct virtio_dev *dev;
	struct vdpa_dev *v;
	struct drv d;
	char err[256];
	int fds[4], heads[3], i;
	uint16_t id;
	uint32_t len;

	fv_init(2);
	fv.nr_vqs = 1;
	dev = make_disk(&d, err, sizeof(err));
	ck_assert_msg(dev != NULL, "%s", err);
	v = dev->priv;
	v->stall_limit_ms = 200;
	fake_driver_ok(dev, &d, 1, 0);
	activation(dev, &a, fds);
	ck_assert_int_eq(dev->ops->activate(dev, &a), 0);
	for (i = 0; i < 3; i++) {
		struct drv_buf r[3] = {
			{ DRV_BUFS + 0x100 * i, 16, false },
			{ DRV_BUFS + 0x1000 + 0x1000 * i, 512, true },
			{ DRV_BUFS + 0x10000 + i, 1, true },
		};

		*drv_mem(&d, DRV_BUFS + 0x10000 + i) = 0xee;
		heads[i] = drv_add(&d, r, 3);
	}
	/* The device completes the first, then nothing more. */
	put_le32(drv_mem(&d, d.device_gpa + 4), (uint32_t)heads[0]);
	put_le32(drv_mem(&d, d.device_gpa + 8), 513);
	*drv_mem(&d, DRV_BUFS + 0x10000) = 0;
	put_le16(drv_mem(&d, d.device_gpa + 2), 1);
	for (i = 0; i < 200 && !(v->gone && !v->started); i++)
		fake_dispatch(20);
	ck_assert(v->gone);
	ck_assert(!v->started);
	ck_assert_uint_eq(v->failed, 2);
	ck_assert_uint_eq(fv.status, 0);		/* reset */
	ck_assert(!(dev->external & 1));		/* served here now */
	ck_assert_uint_eq(drv_used_idx(&d), 3);
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert_uint_eq(id, heads[0]);
	ck_assert_uint_eq(*drv_mem(&d, DRV_BUFS + 0x10000), 0);	/* its OK */
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert_uint_eq(*drv_mem(&d, DRV_BUFS + 0x10001), 1);	/* IOERR */
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert_uint_eq(*drv_mem(&d, DRV_BUFS + 0x10002), 1);
	/* A new request fails at once. */
	{
		struct drv_buf r[2] = {
			{ DRV_BUFS + 0x300, 16, false },
			{ DRV_BUFS + 0x10003, 1, true },
		};

		heads[0] = drv_add(&d, r, 2);
	}
	dev->ops->queue_kick(dev, 0);
	ck_assert(drv_get_used(&d, &id, &len));
	ck_assert_uint_eq(id, heads[0]);
	ck_assert_uint_eq(*drv_mem(&d, DRV_BUFS + 0x10003), 1);
	ck_assert(!dev->broken);
	vdpa_dev_destroy(dev);
	close_fds(fds, 2);
	drv_fini(&d);
	ck_assert_int_eq(vmm.watched, 0);
}
END_TEST

/* A vDPA NIC: one queue pair, the device's MAC, no control queue. */
START_TEST(net_device)
{
	struct virtio_opts o = { .transport = VIRTIO_MMIO };
	struct virtio_dev *dev;
	struct drv d;
	uint8_t mac[6];
	char err[256];

	fv_init(1);
	fv.nr_vqs = 3;
	fv.features |= BIT(F_NET_MAC) | BIT(17) | BIT(22);	/* CTRL_VQ, MQ */
	memcpy(fv.config, "\x02\x00\x00\x00\x00\x42", 6);
	drv_init(&d, 16, false, BIT(VIRTIO_F_VERSION_1));
	dev = vdpa_dev_create("/dev/vhost-vdpa-3", &net_vdpa_spec, &o, &d.gm,
			      &fake, &fv_io, err, sizeof(err));
	ck_assert_msg(dev != NULL, "%s", err);
	ck_assert_uint_eq(dev->ops->device_id, 1);
	ck_assert_uint_eq(dev->ops->num_queues, 2);
	ck_assert(dev->offered & BIT(F_NET_MAC));
	ck_assert(!(dev->offered & (BIT(17) | BIT(22))));
	virtio_config_access(dev, 0, mac, 6, false);
	ck_assert_uint_eq(mac[5], 0x42);
	/* Nothing the driver writes reaches a net device's config. */
	mac[5] = 0x43;
	virtio_config_access(dev, 0, mac, 6, true);
	ck_assert_uint_eq(fv.config[5], 0x42);
	vdpa_dev_destroy(dev);
	drv_fini(&d);
	ck_assert_int_eq(vmm.watched, 0);
}
END_TEST

Suite *vdpa_suite(void)
{
	Suite *s = suite_create("vdpa");
	TCase *tc = tcase_create("vhost-vdpa");

	tcase_add_test(tc, probe_and_offer);
	tcase_add_test(tc, wrong_device);
	tcase_add_test(tc, activation_sequence);
	tcase_add_test(tc, device_refuses);
	tcase_add_test(tc, config_change);
	tcase_add_test(tc, pause_with_suspend);
	tcase_add_test(tc, device_gone);
	tcase_add_test(tc, net_device);
	suite_add_tcase(s, tc);
	return s;
}
