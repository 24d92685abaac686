// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-mmio and virtio-pci register state machines against fake guest
 * memory and a fake VMM that records ioeventfds, irqfds and MSI routes.
 * BAD-INPUTS items 3-6 and 22.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "devices/virtio-rng.h"
#include "virtio/mmio.h"
#include "virtio/pci.h"
#include "vmm/util.h"
#include "fakevmm.h"
#include "vring.h"

/* ---- a test device class ---------------------------------------------- */

static int kicks, resets, activations;
/* t_activate hands queue 0 to "someone else" and keeps its fds here. */
static bool t_external;
static int ext_kick_fd, ext_call_fd;
static uint8_t cfg_space[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void t_cfg_read(struct virtio_dev *d, uint32_t off, uint8_t *b, uint32_t len)
{
	(void)d;
	memcpy(b, cfg_space + off, len);
}

static void t_cfg_write(struct virtio_dev *d, uint32_t off, const uint8_t *b,
			uint32_t len)
{
	(void)d;
	memcpy(cfg_space + off, b, len);
}

static int t_activate(struct virtio_dev *d, const struct virtio_activation *a)
{
	activations++;
	ck_assert_uint_eq(a->nr_queues, 2);
	ck_assert_ptr_eq(a->q[0].vq, &d->vq[0]);
	if (t_external) {
		ext_kick_fd = a->q[0].kick_fd;
		ext_call_fd = a->q[0].call_fd;
		virtio_queue_set_external(d, 0);
	}
	return 0;
}

static bool t_reset(struct virtio_dev *d)
{
	(void)d;
	resets++;
	return false;
}

/* Consume buffers like a device would; corrupt rings break the device. */
static void t_kick(struct virtio_dev *d, unsigned int q)
{
	static struct vq_elem e;
	int ret;

	kicks++;
	while ((ret = vq_pop(&d->vq[q], &e)) > 0)
		vq_push(&d->vq[q], &e, 0);
	if (ret < 0) {
		virtio_dev_broken(d);
		return;
	}
	virtio_queue_notify(d, q);
}

static const struct virtio_dev_ops test_ops = {
	.name = "test",
	.device_id = 42,
	.num_queues = 2,
	.queue_size = 64,
	.config_size = sizeof(cfg_space),
	.pci_class = 0xff0000,
	.features = 1ULL << 5,
	.config_read = t_cfg_read,
	.config_write = t_cfg_write,
	.activate = t_activate,
	.reset = t_reset,
	.queue_kick = t_kick,
};

static struct drv drv;		/* only its fake RAM is used here */
static struct virtio_dev dev;

static void common_setup(void)
{
	memset(&vmm, 0, sizeof(vmm));
	vmm.next_gsi = 24;
	kicks = resets = activations = 0;
	t_external = false;
	ext_kick_fd = ext_call_fd = -1;
	memset(&drv, 0, sizeof(drv));
	test_mem_init(&drv.gm, 0, DRV_RAM);
	drv.desc_gpa = DRV_DESC;
	drv.driver_gpa = DRV_DRIVER;
	drv.device_gpa = DRV_DEVICE;
}

static void common_teardown(void)
{
	virtio_dev_destroy(&dev);
	test_mem_fini(&drv.gm);
}

/* ---- virtio-mmio -------------------------------------------------------- */

static struct virtio_mmio m;

static uint32_t mr(uint64_t off)
{
	uint8_t b[4];

	virtio_mmio_ops.read(&m, off, b, 4);
	return get_le32(b);
}

static void mw(uint64_t off, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	virtio_mmio_ops.write(&m, off, b, 4);
}

static void mmio_open(bool legacy, bool packed)
{
	struct virtio_opts o = { .transport = legacy ? VIRTIO_MMIO_LEGACY : VIRTIO_MMIO,
				 .packed = packed };

	common_setup();
	virtio_dev_init(&dev, &test_ops, NULL, &drv.gm, &o);
	ck_assert_int_eq(virtio_mmio_init(&m, &dev, 0xd0000000, 20, legacy, &fake), 0);
}

static void mmio_close(void)
{
	virtio_mmio_fini(&m);
	ck_assert_int_eq(vmm.ioeventfds, 0);
	ck_assert_int_eq(vmm.irqfds, 0);
	ck_assert_int_eq(vmm.watched, 0);
	common_teardown();
}

/* Negotiate and set up queue q the way Linux does. */
static void mmio_driver_up(bool packed)
{
	uint64_t feat = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 5);

	if (packed)
		feat |= 1ULL << VIRTIO_F_RING_PACKED;
	mw(0x070, 1);
	mw(0x070, 3);
	mw(0x024, 0);
	mw(0x020, (uint32_t)feat);
	mw(0x024, 1);
	mw(0x020, (uint32_t)(feat >> 32));
	mw(0x070, 0xb);
	ck_assert_uint_eq(mr(0x070), 0xb);
	mw(0x030, 0);
	mw(0x038, 8);
	mw(0x080, DRV_DESC);
	mw(0x090, DRV_DRIVER);
	mw(0x0a0, DRV_DEVICE);
	mw(0x044, 1);
	ck_assert_uint_eq(mr(0x044), 1);
	mw(0x070, 0xf);
}

/* Whether h is watched by the (fake) event loop. */
static bool is_watched(const struct ev_handler *h)
{
	unsigned int i;

	for (i = 0; i < 64; i++)
		if (vmm.handlers[i] == h)
			return true;
	return false;
}

/*
 * Activation hands queue 0 over: its kick fd is no longer vireo's to
 * drain, its call fd raises InterruptStatus and the line; a reset hands
 * it back.
 */
START_TEST(mmio_external_queue)
{
	mmio_open(false, false);
	t_external = true;
	mmio_driver_up(false);
	ck_assert_int_eq(ext_kick_fd, m.kick[0].h.fd);
	ck_assert_int_eq(ext_call_fd, m.call[0].h.fd);
	ck_assert_uint_eq(dev.external, 1);
	ck_assert(!is_watched(&m.kick[0].h));
	ck_assert(is_watched(&m.kick[1].h));
	ck_assert(is_watched(&m.call[0].h));
	/* A guest kick stays in the fd for the backend. */
	mw(0x050, 0);
	fake_dispatch(0);
	ck_assert_int_eq(kicks, 0);
	ck_assert_uint_eq(dev.kicks, 1);		/* relayed through vireo */
	ck_assert_uint_eq(fired(ext_kick_fd), 1);
	/* The backend's call: status bit 0, line up, counted. */
	eventfd_signal(ext_call_fd);
	ck_assert_int_eq(fake_dispatch(0), 1);
	ck_assert_uint_eq(mr(0x060), 1);
	ck_assert(vmm.line_level[20]);
	ck_assert_uint_eq(dev.interrupts, 1);
	mw(0x064, 1);
	ck_assert(!vmm.line_level[20]);
	/* Reset: queue 0 is the transport's again. */
	mw(0x070, 0);
	ck_assert_uint_eq(dev.external, 0);
	ck_assert(is_watched(&m.kick[0].h));
	ck_assert(!is_watched(&m.call[0].h));
	eventfd_signal(m.call[0].h.fd);
	mmio_close();
}
END_TEST

START_TEST(mmio_identity_and_wiring)
{
	mmio_open(false, false);
	ck_assert_uint_eq(mr(0x000), 0x74726976);
	ck_assert_uint_eq(mr(0x004), 2);
	ck_assert_uint_eq(mr(0x008), 42);
	/* Wired: the GSI line (low), one ioeventfd per queue, no irqfd. */
	ck_assert_int_eq(vmm.irqfds, 0);
	ck_assert(!vmm.line_level[20]);
	ck_assert_int_eq(vmm.ioeventfds, 2);
	ck_assert_uint_eq(vmm.last_ioeventfd_addr, 0xd0000050);
	/* Registers are 32-bit only; other widths read 0. */
	{
		uint8_t b[2] = { 0xaa, 0xaa };

		virtio_mmio_ops.read(&m, 0, b, 2);
		ck_assert_uint_eq(b[0], 0);
	}
	mmio_close();
	mmio_open(true, false);
	ck_assert_uint_eq(mr(0x004), 1);
	mmio_close();
}
END_TEST

START_TEST(mmio_feature_negotiation)
{
	mmio_open(false, true);
	mw(0x014, 0);
	ck_assert_uint_eq(mr(0x010) & (1U << 5), 1U << 5);
	mw(0x014, 1);
	ck_assert_uint_eq(mr(0x010) & 5, 5);		/* VERSION_1 | RING_PACKED */
	mw(0x014, 2);
	ck_assert_uint_eq(mr(0x010), 0);
	/* An unoffered bit: FEATURES_OK does not stick. */
	mw(0x070, 3);
	mw(0x024, 0);
	mw(0x020, 1U << 6);
	mw(0x024, 1);
	mw(0x020, 1);
	mw(0x070, 0xb);
	ck_assert_uint_eq(mr(0x070) & 8, 0);
	/* Without VERSION_1 on a modern transport: not either. */
	mw(0x070, 0);
	mw(0x070, 3);
	mw(0x024, 0);
	mw(0x020, 1U << 5);
	mw(0x070, 0xb);
	ck_assert_uint_eq(mr(0x070) & 8, 0);
	/* DRIVER_OK without FEATURES_OK is not latched either. */
	mw(0x070, 0x7);
	ck_assert_uint_eq(mr(0x070) & 4, 0);
	ck_assert_int_eq(activations, 0);
	/* Proper: accepted; later feature writes are ignored. */
	mw(0x070, 0);
	mw(0x070, 3);
	mw(0x024, 1);
	mw(0x020, 1);
	mw(0x070, 0xb);
	ck_assert_uint_eq(mr(0x070), 0xb);
	mw(0x024, 0);
	mw(0x020, 1U << 5);
	ck_assert_uint_eq(dev.acked, 1ULL << 32);
	/* Status bits cannot be cleared without a reset. */
	mw(0x070, 0x3);
	ck_assert_uint_eq(mr(0x070), 0xb);
	mmio_close();
}
END_TEST

START_TEST(mmio_queue_setup_rules)
{
	mmio_open(false, false);
	/* A queue past the device's count: reads 0, writes go nowhere. */
	mw(0x030, 7);
	ck_assert_uint_eq(mr(0x034), 0);
	mw(0x038, 8);
	mw(0x044, 1);
	ck_assert_uint_eq(mr(0x044), 0);
	mw(0x050, 7);				/* notify: ignored */
	/* Before DRIVER_OK: a ring outside RAM is refused, a good one taken. */
	mw(0x070, 1);
	mw(0x070, 3);
	mw(0x024, 1);
	mw(0x020, 1);
	mw(0x070, 0xb);
	mw(0x030, 1);
	mw(0x038, 8);
	mw(0x080, 0xfee00000);
	mw(0x090, DRV_DRIVER);
	mw(0x0a0, DRV_DEVICE);
	mw(0x044, 1);
	ck_assert_uint_eq(mr(0x044), 0);
	mw(0x080, DRV_DESC + 0x1000);
	mw(0x044, 1);
	ck_assert_uint_eq(mr(0x044), 1);
	mw(0x070, 0);
	mmio_driver_up(false);
	ck_assert_int_eq(activations, 1);
	/* After enable and DRIVER_OK, size/address writes are ignored. */
	mw(0x030, 0);
	mw(0x038, 4);
	mw(0x080, 0x1234000);
	ck_assert_uint_eq(dev.vq[0].size, 8);
	ck_assert_uint_eq(dev.vq[0].desc_gpa, DRV_DESC);
	/* Notify of a not-ready queue: no device call. */
	mw(0x050, 1);
	virtio_kick(&dev, 1);
	ck_assert_int_eq(kicks, 1);		/* only DRIVER_OK's own look */
	mmio_close();
}
END_TEST

START_TEST(mmio_interrupts_and_reset)
{
	struct drv_buf b = { DRV_BUFS, 8, true };
	int sets;

	mmio_open(false, false);
	mmio_driver_up(false);
	/* A kick through the register reaches the kick eventfd. */
	mw(0x050, 0);
	ck_assert_uint_eq(fired(m.kick[0].h.fd), 1);
	/* Work -> used buffer -> InterruptStatus bit 0 and the line up;
	 * the driver's ACK lowers it, with one call each way. */
	memcpy(&drv.vq, &dev.vq[0], sizeof(drv.vq));
	drv.size = 8;
	drv.next[0] = 1;
	drv_add(&drv, &b, 1);
	virtio_kick(&dev, 0);
	ck_assert_uint_eq(mr(0x060), 1);
	ck_assert(vmm.line_level[20]);
	sets = vmm.line_sets;
	mw(0x064, 1);				/* ack */
	ck_assert_uint_eq(mr(0x060), 0);
	ck_assert(!vmm.line_level[20]);
	ck_assert_int_eq(vmm.line_sets, sets + 1);
	/* Reset: the device is told, queues and interrupt state go. */
	mw(0x070, 0);
	ck_assert_int_eq(resets, 1);
	ck_assert_uint_eq(mr(0x070), 0);
	ck_assert(!dev.vq[0].ready);
	/* After reset nothing reaches guest memory or the irq line. */
	sets = vmm.line_sets;
	drv_add(&drv, &b, 1);
	virtio_kick(&dev, 0);
	ck_assert(!vmm.line_level[20]);
	ck_assert_int_eq(vmm.line_sets, sets);
	ck_assert_uint_eq(drv_used_idx(&drv), 1);
	mmio_close();
}
END_TEST

START_TEST(mmio_needs_reset_then_recovers)
{
	mmio_open(false, false);
	mmio_driver_up(false);
	/* A corrupt ring: NEEDS_RESET and a config interrupt. */
	put_le16(drv_mem(&drv, DRV_DRIVER + 2), 100);
	virtio_kick(&dev, 0);
	ck_assert_uint_eq(mr(0x070) & 0x40, 0x40);
	ck_assert_uint_eq(mr(0x060) & 2, 2);
	ck_assert(vmm.line_level[20]);
	/* The device does nothing more until reset. */
	kicks = 0;
	virtio_kick(&dev, 0);
	ck_assert_int_eq(kicks, 0);
	/* The driver resets and sets up again: it works. */
	mw(0x070, 0);
	ck_assert_uint_eq(mr(0x070), 0);
	ck_assert(!vmm.line_level[20]);
	put_le16(drv_mem(&drv, DRV_DRIVER + 2), 0);
	mmio_driver_up(false);
	ck_assert_uint_eq(mr(0x070) & 0x40, 0);
	virtio_kick(&dev, 0);
	ck_assert_int_ge(kicks, 1);
	mmio_close();
}
END_TEST

START_TEST(mmio_config_bounds)
{
	uint8_t b[8];

	mmio_open(false, false);
	virtio_mmio_ops.read(&m, 0x100 + 6, b, 2);
	ck_assert_uint_eq(b[0], 7);
	memset(b, 0xaa, sizeof(b));
	virtio_mmio_ops.read(&m, 0x100 + 6, b, 4);	/* past the end */
	ck_assert_uint_eq(b[0], 0);
	virtio_mmio_ops.read(&m, 0x100 + 200, b, 1);
	ck_assert_uint_eq(b[0], 0);
	b[0] = 0x55;
	virtio_mmio_ops.write(&m, 0x100 + 7, b, 2);	/* dropped */
	ck_assert_uint_eq(cfg_space[7], 8);
	virtio_mmio_ops.write(&m, 0x100 + 7, b, 1);
	ck_assert_uint_eq(cfg_space[7], 0x55);
	cfg_space[7] = 8;
	mmio_close();
}
END_TEST

/* ---- the driver-violation log -------------------------------------- */

static void put_desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = drv_mem(&drv, DRV_DESC + 16ULL * i);

	put_le64(d, addr);
	put_le32(d + 8, len);
	put_le16(d + 12, flags);
	put_le16(d + 14, next);
}

/* Make head available in slot 0 of a fresh split ring of 8 and kick. */
static void offer_head(uint16_t head, uint16_t idx)
{
	put_le16(drv_mem(&drv, DRV_DRIVER + 4), head);
	put_le16(drv_mem(&drv, DRV_DRIVER + 2), idx);
	virtio_kick(&dev, 0);
}

/* Reset and set up again, with extra features acked. */
static void mmio_again(uint64_t extra)
{
	uint64_t feat = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 5) | extra;

	mw(0x070, 0);
	memset(drv_mem(&drv, DRV_DESC), 0, 0x1000);
	memset(drv_mem(&drv, DRV_DRIVER), 0, 0x100);
	memset(drv_mem(&drv, DRV_DEVICE), 0, 0x100);
	mw(0x070, 3);
	mw(0x024, 0);
	mw(0x020, (uint32_t)feat);
	mw(0x024, 1);
	mw(0x020, (uint32_t)(feat >> 32));
	mw(0x070, 0xb);
	mw(0x030, 0);
	mw(0x038, 8);
	mw(0x080, DRV_DESC);
	mw(0x090, DRV_DRIVER);
	mw(0x0a0, DRV_DEVICE);
	mw(0x044, 1);
	mw(0x070, 0xf);
	ck_assert_uint_eq(mr(0x070), 0xf);
}

#define F_NEXT		1
#define F_WRITE		2
#define F_INDIRECT	4

/* One event of kind k (and no other new one); the device needs a reset. */
static void expect(enum viol_kind k, uint64_t *before)
{
	ck_assert_msg(dev.violations[k] == 1, "%s: %llu events", viol_name(k),
		      (unsigned long long)dev.violations[k]);
	ck_assert_uint_eq(dev.nr_violations, *before + 1);
	*before = dev.nr_violations;
}

START_TEST(mmio_driver_violations)
{
	FILE *log = tmpfile();
	uint64_t n = 0;
	char line[512];
	bool seen = false;
	uint8_t b[4];

	ck_assert_ptr_nonnull(log);
	viol_setup(log, false);
	mmio_open(false, false);
	/* Register sequences. */
	mw(0x070, 1);
	mw(0x070, 3);
	mw(0x070, 7);				/* DRIVER_OK, no FEATURES_OK */
	expect(VIOL_DRIVER_OK_NO_FEATURES_OK, &n);
	mw(0x024, 0);
	mw(0x020, 1U << 6);			/* not offered */
	mw(0x024, 1);
	mw(0x020, 1);
	mw(0x070, 0xb);
	expect(VIOL_UNOFFERED_FEATURES, &n);
	mw(0x070, 0);
	mw(0x070, 3);
	mw(0x024, 0);
	mw(0x020, 1U << 5);			/* no VERSION_1 */
	mw(0x024, 1);
	mw(0x020, 0);
	mw(0x070, 0xb);
	expect(VIOL_NO_VERSION_1, &n);
	mmio_again(0);
	mw(0x024, 0);
	mw(0x020, 1U << 5);			/* after FEATURES_OK */
	expect(VIOL_FEATURES_AFTER_FEATURES_OK, &n);
	mw(0x070, 0x7);				/* FEATURES_OK cleared */
	expect(VIOL_STATUS_CLEARED, &n);
	mw(0x030, 0);
	mw(0x038, 4);				/* size of a live queue */
	expect(VIOL_QUEUE_WRITE_LIVE, &n);
	mw(0x050, 7);				/* no such queue */
	expect(VIOL_NOTIFY_BAD_QUEUE, &n);
	virtio_mmio_ops.read(&m, 0x100 + 6, b, 4);	/* past the end */
	expect(VIOL_CONFIG_RANGE, &n);
	ck_assert(!dev.broken);			/* not --strict */

	/* Rings: each breaks the device and says why. */
	put_desc(0, DRV_BUFS, 8, F_NEXT, 1);
	put_desc(1, DRV_BUFS, 8, F_NEXT, 0);
	offer_head(0, 1);
	expect(VIOL_DESC_LOOP, &n);
	ck_assert(dev.broken);
	mmio_again(0);
	put_desc(0, DRV_BUFS, 8, F_WRITE | F_NEXT, 1);
	put_desc(1, DRV_BUFS, 8, 0, 0);
	offer_head(0, 1);
	expect(VIOL_READ_AFTER_WRITE, &n);
	mmio_again(0);
	put_desc(0, DRV_BUFS, 16, F_INDIRECT, 0);
	offer_head(0, 1);
	expect(VIOL_INDIRECT_NO_FEATURE, &n);
	mmio_again(1ULL << VIRTIO_F_INDIRECT_DESC);
	put_desc(0, DRV_BUFS, 16, F_INDIRECT | F_NEXT, 1);
	offer_head(0, 1);
	expect(VIOL_INDIRECT_NEXT, &n);
	mmio_again(1ULL << VIRTIO_F_INDIRECT_DESC);
	put_desc(0, DRV_BUFS, 16, F_INDIRECT, 0);
	put_le16(drv_mem(&drv, DRV_BUFS + 12), F_INDIRECT);	/* its entry */
	offer_head(0, 1);
	expect(VIOL_INDIRECT_NESTED, &n);
	mmio_again(0);
	offer_head(0, 100);
	expect(VIOL_AVAIL_JUMP, &n);
	mmio_again(0);
	offer_head(9, 1);
	expect(VIOL_DESC_INDEX, &n);
	mmio_again(0);
	put_desc(0, 0xfee00000, 8, 0, 0);
	offer_head(0, 1);
	expect(VIOL_DESC_OUTSIDE_RAM, &n);

	/* The log: one JSON line per event, with the spec section. */
	rewind(log);
	while (fgets(line, sizeof(line), log))
		if (strstr(line, "\"kind\": \"descriptor_loop\", \"spec\": "
				 "\"2.7.5.2\", \"queue\": 0") &&
		    strstr(line, "\"device\": \"test\""))
			seen = true;
	ck_assert(seen);
	viol_summary(&dev, line, sizeof(line));
	ck_assert_msg(strstr(line, "16 driver violations (") &&
		      strstr(line, "descriptor_loop 1"), "%s", line);

	/* --strict: a violation alone puts the device in NEEDS_RESET. */
	viol_setup(NULL, true);
	mmio_again(0);
	mw(0x070, 0x7);
	ck_assert(dev.broken);
	ck_assert_uint_eq(mr(0x070) & 0x40, 0x40);
	viol_setup(NULL, false);
	fclose(log);
	mmio_close();
}
END_TEST

/* --driver-log PATH: lines go through the writer thread, all of them
 * out by viol_close(). */
START_TEST(driver_log_file)
{
	char path[] = "/tmp/vireo-drvlog-XXXXXX", err[256], line[512];
	int fd = mkstemp(path), lines = 0, i;
	FILE *f;

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(viol_open(path, false, err, sizeof(err)), 0);
	mmio_open(false, false);
	for (i = 0; i < 50; i++)
		mw(0x050, 7);			/* QueueNotify, no such queue */
	mmio_close();
	viol_close();
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		ck_assert_ptr_nonnull(strstr(line, "\"kind\": \"notify_bad_queue\""));
		ck_assert_ptr_nonnull(strstr(line, "\"}"));
		lines++;
	}
	fclose(f);
	unlink(path);
	ck_assert_int_eq(lines, 50);
	ck_assert_int_lt(viol_open("/nonexistent/dir/log", false, err,
				   sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/dir/log"));
	viol_setup(NULL, false);
}
END_TEST

/* Walker-level kinds the test device cannot reach: a buffer made
 * available twice while in flight, and packed flags that cannot be. */
START_TEST(ring_violation_kinds)
{
	struct drv d;
	struct vq_elem e;
	struct drv_buf b = { DRV_BUFS, 8, true };
	int head;

	drv_init(&d, 8, false, 1ULL << VIRTIO_F_VERSION_1);
	head = drv_add(&d, &b, 1);
	ck_assert_int_eq(vq_pop(&d.vq, &e), 1);
	drv_set_avail_ring(&d, 1, (uint16_t)head);		/* again */
	drv_set_avail_idx(&d, 2);
	ck_assert_int_eq(vq_pop(&d.vq, &e), -EBADMSG);
	ck_assert_uint_eq(d.vq.bad, VIOL_HEAD_IN_FLIGHT);
	drv_fini(&d);

	drv_init(&d, 8, true, (1ULL << VIRTIO_F_VERSION_1) |
		 (1ULL << VIRTIO_F_RING_PACKED));
	/* A head saying NEXT, its successor not made available. */
	put_le64(drv_mem(&d, d.desc_gpa), DRV_BUFS);
	put_le32(drv_mem(&d, d.desc_gpa + 8), 8);
	put_le16(drv_mem(&d, d.desc_gpa + 14), 1 | 1u << 7);	/* NEXT|AVAIL */
	ck_assert_int_eq(vq_pop(&d.vq, &e), -EBADMSG);
	ck_assert_uint_eq(d.vq.bad, VIOL_PACKED_FLAGS);
	drv_fini(&d);
}
END_TEST

START_TEST(mmio_legacy_pfn)
{
	mmio_open(true, false);
	/* Legacy: no VERSION_1 offered, no FEATURES_OK needed. */
	mw(0x014, 1);
	ck_assert_uint_eq(mr(0x010), 0);
	mw(0x070, 3);
	mw(0x020, 1U << 5);
	mw(0x028, 4096);				/* GuestPageSize */
	mw(0x030, 0);
	mw(0x038, 8);
	mw(0x03c, 4096);				/* QueueAlign */
	mw(0x040, DRV_DESC >> 12);			/* QueuePFN */
	ck_assert_uint_eq(mr(0x040), DRV_DESC >> 12);
	ck_assert(dev.vq[0].ready);
	ck_assert_uint_eq(dev.vq[0].driver_gpa, DRV_DESC + 16 * 8);
	ck_assert_uint_eq(dev.vq[0].device_gpa, DRV_DESC + 4096);
	mw(0x070, 7);
	ck_assert_uint_eq(mr(0x070), 7);
	ck_assert_int_eq(activations, 1);
	/* Legacy acking a bit never offered (RING_PACKED): no queue. */
	mw(0x070, 0);
	mw(0x070, 3);
	mw(0x024, 1);
	mw(0x020, 1U << 2);				/* bit 34 */
	mw(0x028, 4096);
	mw(0x030, 0);
	mw(0x038, 6);
	mw(0x040, DRV_DESC >> 12);
	ck_assert(!dev.vq[0].ready);
	/* A page size of 0 makes no ring. */
	mw(0x070, 0);
	mw(0x028, 0);
	mw(0x038, 8);
	mw(0x040, 0x100);
	ck_assert(!dev.vq[0].ready);
	mmio_close();
}
END_TEST

/* ---- PCI ----------------------------------------------------------------- */

static struct pci_host host;
static struct virtio_pci p;

static uint32_t cfg_read(unsigned int slot, uint32_t off, unsigned int len)
{
	uint8_t b[4] = { 0 };

	pci_config_access(&host, slot, off, b, len, false);
	return (uint32_t)get_access(b, len);
}

static void cfg_write(unsigned int slot, uint32_t off, unsigned int len,
		      uint32_t v)
{
	uint8_t b[4];

	put_access(b, len, v);
	pci_config_access(&host, slot, off, b, len, true);
}

static uint64_t bar(void)
{
	return pci_bar_base(&p.f, 0);
}

static uint32_t br(uint64_t off, unsigned int len)
{
	uint8_t b[4] = { 0 };

	pci_host_mmio_ops.read(&host, bar() + off - host.mmio_base, b, len);
	return (uint32_t)get_access(b, len);
}

static void bw(uint64_t off, unsigned int len, uint32_t v)
{
	uint8_t b[4];

	put_access(b, len, v);
	pci_host_mmio_ops.write(&host, bar() + off - host.mmio_base, b, len);
}

static void pci_open(void)
{
	struct virtio_opts o = { .transport = VIRTIO_PCI };

	common_setup();
	virtio_dev_init(&dev, &test_ops, NULL, &drv.gm, &o);
	pci_host_init(&host, 0xc0000000, 0x10000000);
	virtio_pci_init(&p, &dev, test_ops.pci_class, &fake);
	ck_assert_int_eq(pci_host_add(&host, &p.f), 0);
	ck_assert_int_eq(virtio_pci_wire(&p, 16 + p.f.slot % 4), 0);
}

static void pci_close(void)
{
	virtio_pci_fini(&p);
	ck_assert_int_eq(vmm.ioeventfds, 0);
	ck_assert_int_eq(vmm.irqfds, 0);
	ck_assert_int_eq(vmm.watched, 0);
	pci_host_fini(&host);
	common_teardown();
}

/*
 * Config widths (a device type with known fields: the test device posing
 * as a console, cols u16, rows u16, max_nr_ports u32), and notifications
 * for a queue that is not enabled, or none at all over PCI.
 */
START_TEST(width_and_notify_violations)
{
	struct virtio_opts o = { .transport = VIRTIO_MMIO };
	struct virtio_dev_ops ops = test_ops;
	uint64_t n = 0;
	uint8_t b[4];
	int legacy, k;

	ops.device_id = 3;
	viol_setup(NULL, false);
	for (legacy = 0; legacy < 2; legacy++) {
		common_setup();
		o.transport = legacy ? VIRTIO_MMIO_LEGACY : VIRTIO_MMIO;
		virtio_dev_init(&dev, &ops, NULL, &drv.gm, &o);
		ck_assert_int_eq(virtio_mmio_init(&m, &dev, 0xd0000000, 20,
						  legacy, &fake), 0);
		n = 0;
		virtio_mmio_ops.read(&m, 0x100, b, 2);		/* cols */
		virtio_mmio_ops.read(&m, 0x104, b, 4);		/* max_nr_ports */
		ck_assert_uint_eq(dev.nr_violations, 0);
		virtio_mmio_ops.read(&m, 0x100, b, 4);		/* cols + rows */
		virtio_mmio_ops.read(&m, 0x105, b, 1);		/* a byte of one */
		virtio_mmio_ops.write(&m, 0x102, b, 1);
		/* Legacy drivers may read byte by byte. */
		ck_assert_uint_eq(dev.violations[VIOL_CONFIG_WIDTH],
				  legacy ? 0 : 3);
		mmio_close();
	}

	/* Queue 1 was never enabled; a kick for it is the driver's fault,
	 * a kick for queue 0 written before a reset is not. */
	mmio_open(false, false);
	mmio_driver_up(false);
	k = kicks;
	eventfd_signal(m.kick[1].h.fd);
	fake_dispatch(0);
	expect(VIOL_NOTIFY_DISABLED, &n);
	ck_assert_int_eq(kicks, k);
	eventfd_signal(m.kick[0].h.fd);
	mw(0x070, 0);					/* reset */
	fake_dispatch(0);
	ck_assert_uint_eq(dev.nr_violations, n);
	mmio_driver_up(false);
	eventfd_signal(m.kick[0].h.fd);
	fake_dispatch(0);
	ck_assert_uint_eq(dev.nr_violations, n);
	ck_assert_int_gt(kicks, k);
	mmio_close();

	/* A kick whose queue was handed over (to an I/O thread, a vhost
	 * backend) while it waited for the lock stays for the new owner. */
	mmio_open(false, false);
	t_external = true;
	mmio_driver_up(false);
	ck_assert_uint_eq(dev.external, 1);
	eventfd_signal(m.kick[0].h.fd);
	virtio_kick_fd(&dev, 0, m.kick[0].h.fd);
	ck_assert_uint_eq(fired(m.kick[0].h.fd), 1);
	t_external = false;
	mmio_close();

	/* PCI: a notification past the last queue. */
	n = 0;
	pci_open();
	bw(VPCI_NOTIFY + VPCI_NOTIFY_MULT * 5, 2, 5);
	expect(VIOL_NOTIFY_BAD_QUEUE, &n);
	pci_close();
}
END_TEST

START_TEST(pci_config_space)
{
	unsigned int s;
	uint8_t cap, types = 0;
	bool msix = false;

	pci_open();
	s = p.f.slot;
	ck_assert_uint_eq(s, 1);
	ck_assert_uint_eq(cfg_read(s, 0, 2), 0x1af4);
	ck_assert_uint_eq(cfg_read(s, 2, 2), 0x1040 + 42);
	ck_assert_uint_eq(cfg_read(s, 0x0b, 1), 0xff);
	ck_assert_uint_eq(cfg_read(s, 6, 2) & 0x10, 0x10);
	/* Absent functions read all ones. */
	ck_assert_uint_eq(cfg_read(7, 0, 4), 0xffffffff);
	/* Misaligned and odd-sized accesses read 0, writes are dropped. */
	ck_assert_uint_eq(cfg_read(s, 1, 2), 0);
	ck_assert_uint_eq(cfg_read(s, 2, 4), 0);
	cfg_write(s, 0x3d, 2, 0xffff);
	ck_assert_uint_eq(cfg_read(s, 0x3d, 1), 1);
	/* Read-only identity. */
	cfg_write(s, 0, 4, 0);
	ck_assert_uint_eq(cfg_read(s, 0, 2), 0x1af4);
	/* Walk the capability list. */
	for (cap = (uint8_t)cfg_read(s, 0x34, 1); cap; cap = (uint8_t)cfg_read(s, cap + 1, 1)) {
		ck_assert_uint_ge(cap, 0x40);
		if (cfg_read(s, cap, 1) == 0x11)
			msix = true;
		else
			types |= (uint8_t)(1 << cfg_read(s, cap + 3, 1));
	}
	ck_assert(msix);
	ck_assert_uint_eq(types, 0x3e);		/* common, notify, isr, device, pci */
	/* CF8/CFC sees the same space. */
	{
		uint8_t b[4];

		put_le32(b, 0x80000000u | s << 11 | 0);
		pci_host_pio_ops.write(&host, 0, b, 4);
		pci_host_pio_ops.read(&host, 4, b, 4);
		ck_assert_uint_eq(get_le32(b), 0x1af4 | (0x1040 + 42) << 16);
		pci_host_pio_ops.read(&host, 6, b, 2);	/* 0xCFE: device ID */
		ck_assert_uint_eq(get_le16(b), 0x1040 + 42);
		/* and ECAM */
		pci_host_ecam_ops.read(&host, (uint64_t)s << 15, b, 4);
		ck_assert_uint_eq(get_le16(b), 0x1af4);
		pci_host_ecam_ops.read(&host, (uint64_t)s << 15 | 0x100, b, 4);
		ck_assert_uint_eq(get_le32(b), 0);	/* no extended caps */
	}
	pci_close();
}
END_TEST

START_TEST(pci_bar_sizing_and_moves)
{
	unsigned int s;
	uint32_t old;

	pci_open();
	s = p.f.slot;
	old = cfg_read(s, 0x10, 4);
	ck_assert_uint_eq(old % VPCI_BAR_SIZE, 0);
	ck_assert_uint_eq(vmm.last_ioeventfd_addr, old + VPCI_NOTIFY + 4);
	/* Sizing: all ones reads back the size mask. */
	cfg_write(s, 4, 2, 0);				/* decode off */
	ck_assert_int_eq(vmm.ioeventfds, 0);		/* kicks follow decode */
	cfg_write(s, 0x10, 4, 0xffffffff);
	ck_assert_uint_eq(cfg_read(s, 0x10, 4), ~(uint32_t)(VPCI_BAR_SIZE - 1));
	/* Move it, decode on: the notify ioeventfds follow. */
	cfg_write(s, 0x10, 4, 0xc8000000);
	cfg_write(s, 4, 2, 2);
	ck_assert_int_eq(vmm.ioeventfds, 2);
	ck_assert_uint_eq(vmm.last_ioeventfd_addr, 0xc8000000 + VPCI_NOTIFY + 4);
	ck_assert_uint_eq(br(0x12, 2), 2);		/* num_queues */
	/* The old place decodes nothing now. */
	{
		uint8_t b[2];

		pci_host_mmio_ops.read(&host, old + 0x12 - host.mmio_base, b, 2);
		ck_assert_uint_eq(get_le16(b), 0xffff);
	}
	pci_close();
}
END_TEST

static void pci_driver_up(void)
{
	bw(0x14, 1, 1);
	bw(0x14, 1, 3);
	bw(0x08, 4, 1);
	bw(0x0c, 4, 1);				/* VERSION_1 */
	bw(0x14, 1, 0xb);
	ck_assert_uint_eq(br(0x14, 1), 0xb);
	bw(0x16, 2, 0);
	bw(0x18, 2, 8);
	bw(0x20, 4, DRV_DESC);
	bw(0x24, 4, 0);
	bw(0x28, 4, DRV_DRIVER);
	bw(0x30, 4, DRV_DEVICE);
	bw(0x1a, 2, 1);				/* MSI-X vector 1 */
	bw(0x1c, 2, 1);
	ck_assert_uint_eq(br(0x1c, 2), 1);
	bw(0x14, 1, 0xf);
}

START_TEST(pci_common_config)
{
	pci_open();
	ck_assert_uint_eq(br(0x12, 2), 2);
	bw(0x00, 4, 1);
	ck_assert_uint_eq(br(0x04, 4), 1);		/* VERSION_1 in word 1 */
	/* A vector beyond the table reads back as NO_VECTOR. */
	bw(0x16, 2, 0);
	bw(0x1a, 2, 9);
	ck_assert_uint_eq(br(0x1a, 2), 0xffff);
	bw(0x10, 2, 77);
	ck_assert_uint_eq(br(0x10, 2), 0xffff);
	/* Both are the driver's violations; NO_VECTOR itself is not. */
	ck_assert_uint_eq(dev.violations[VIOL_MSIX_VECTOR], 2);
	bw(0x10, 2, 0xffff);
	ck_assert_uint_eq(dev.violations[VIOL_MSIX_VECTOR], 2);
	/* A queue index past the count reads size 0. */
	bw(0x16, 2, 5);
	ck_assert_uint_eq(br(0x18, 2), 0);
	/* Wrong widths on common fields read 0. */
	ck_assert_uint_eq(br(0x12, 4), 0);
	pci_driver_up();
	ck_assert_int_eq(activations, 1);
	/* queue_enable 0 is not allowed: ignored, and logged. */
	bw(0x16, 2, 0);
	bw(0x1c, 2, 0);
	ck_assert_uint_eq(br(0x1c, 2), 1);
	ck_assert_uint_eq(dev.violations[VIOL_QUEUE_WRITE_LIVE], 1);
	bw(0x18, 2, 4);				/* queue_size, enabled */
	ck_assert_uint_eq(dev.violations[VIOL_QUEUE_WRITE_LIVE], 2);
	/* Reset returns vectors to NO_VECTOR. */
	bw(0x14, 1, 0);
	ck_assert_uint_eq(br(0x1a, 2), 0xffff);
	ck_assert_int_eq(resets, 1);
	pci_close();
}
END_TEST

START_TEST(pci_msix_masking)
{
	struct drv_buf b = { DRV_BUFS, 8, true };
	unsigned int s;
	uint16_t ctrl;

	pci_open();
	s = p.f.slot;
	pci_driver_up();
	/* Enable MSI-X; program vector 1; it starts masked. */
	ctrl = (uint16_t)cfg_read(s, VPCI_CAP_MSIX + 2, 2);
	ck_assert_uint_eq(ctrl & 0x7ff, 2);		/* 3 vectors */
	cfg_write(s, VPCI_CAP_MSIX + 2, 2, ctrl | 0x8000);
	bw(VPCI_MSIX_TABLE + 16, 4, 0xfee00000);
	bw(VPCI_MSIX_TABLE + 24, 4, 0x41);
	ck_assert_uint_eq(br(VPCI_MSIX_TABLE + 28, 4), 1);
	memcpy(&drv.vq, &dev.vq[0], sizeof(drv.vq));
	drv.size = 8;
	for (int i = 0; i < 8; i++)
		drv.next[i] = (uint16_t)(i + 1);
	drv_add(&drv, &b, 1);
	virtio_kick(&dev, 0);
	/* Masked: pending bit, nothing sent. */
	ck_assert_uint_eq(br(VPCI_MSIX_PBA, 4), 2);
	ck_assert_int_eq(vmm.msi_routes, 0);
	ck_assert_uint_eq(fired(p.vec[1].fd), 0);
	/* Unmask: the route is made and the pending message delivered. */
	bw(VPCI_MSIX_TABLE + 28, 4, 0);
	ck_assert_uint_eq(br(VPCI_MSIX_PBA, 4), 0);
	ck_assert_int_eq(vmm.msi_routes, 1);
	ck_assert_uint_eq(vmm.msi_data[24], 0x41);
	ck_assert_uint_eq(fired(p.vec[1].fd), 1);
	/* The function mask holds everything back too. */
	cfg_write(s, VPCI_CAP_MSIX + 2, 2, ctrl | 0xc000);
	drv_add(&drv, &b, 1);
	virtio_kick(&dev, 0);
	ck_assert_uint_eq(fired(p.vec[1].fd), 0);
	ck_assert_uint_eq(br(VPCI_MSIX_PBA, 4), 2);
	cfg_write(s, VPCI_CAP_MSIX + 2, 2, ctrl | 0x8000);
	ck_assert_uint_eq(fired(p.vec[1].fd), 1);
	/* Table entries past the count read 0; odd widths too. */
	ck_assert_uint_eq(br(VPCI_MSIX_TABLE + 16 * 5, 4), 0);
	ck_assert_uint_eq(br(VPCI_MSIX_TABLE + 16, 2), 0);
	/* A 64-bit access is two dword accesses. */
	{
		uint8_t b8[8];

		put_le64(b8, 0x00000000fee01000ULL);
		pci_host_mmio_ops.write(&host, bar() + VPCI_MSIX_TABLE + 32 -
					host.mmio_base, b8, 8);
		ck_assert_uint_eq(br(VPCI_MSIX_TABLE + 32, 4), 0xfee01000);
	}
	/* Pending from before a reset is not delivered after it. */
	bw(VPCI_MSIX_TABLE + 28, 4, 1);			/* mask vector 1 */
	drv_add(&drv, &b, 1);
	virtio_kick(&dev, 0);
	ck_assert_uint_eq(br(VPCI_MSIX_PBA, 4), 2);
	ck_assert_uint_eq(br(VPCI_MSIX_PBA, 1), 2);
	bw(0x14, 1, 0);					/* reset */
	ck_assert_uint_eq(br(VPCI_MSIX_PBA, 4), 0);
	bw(VPCI_MSIX_TABLE + 28, 4, 0);			/* unmask */
	ck_assert_uint_eq(fired(p.vec[1].fd), 0);
	pci_close();
}
END_TEST

/*
 * An external queue's call fd: relayed (ISR + INTx) while MSI-X is off,
 * an irqfd on the vector's route while it is on and unmasked, relayed
 * into the pending bit while masked, handed back at reset.
 */
START_TEST(pci_external_queue)
{
	unsigned int s;
	uint16_t ctrl;
	int irqfds;

	pci_open();
	s = p.f.slot;
	t_external = true;
	pci_driver_up();
	ck_assert_int_eq(ext_kick_fd, p.kick[0].h.fd);
	ck_assert_int_eq(ext_call_fd, p.call[0].h.fd);
	ck_assert(!is_watched(&p.kick[0].h));
	ck_assert(is_watched(&p.call[0].h));
	/* MSI-X off: ISR and INTx. */
	eventfd_signal(ext_call_fd);
	ck_assert_int_eq(fake_dispatch(0), 1);
	ck_assert_uint_ge(fired(p.intx_fd), 1);
	ck_assert_uint_eq(br(VPCI_ISR, 1), 1);
	ck_assert_uint_eq(dev.interrupts, 1);
	/* MSI-X on, vector 1 programmed and unmasked: straight to KVM. */
	ctrl = (uint16_t)cfg_read(s, VPCI_CAP_MSIX + 2, 2);
	cfg_write(s, VPCI_CAP_MSIX + 2, 2, ctrl | 0x8000);
	bw(VPCI_MSIX_TABLE + 16, 4, 0xfee00000);
	bw(VPCI_MSIX_TABLE + 24, 4, 0x41);
	irqfds = vmm.irqfds;
	bw(VPCI_MSIX_TABLE + 28, 4, 0);
	ck_assert_int_eq(vmm.irqfds, irqfds + 1);
	ck_assert_int_eq(vmm.last_irqfd_fd, ext_call_fd);
	ck_assert_uint_eq(vmm.last_irqfd_gsi, (unsigned int)p.vec[1].gsi);
	ck_assert_uint_eq(vmm.msi_data[p.vec[1].gsi % 64], 0x41);
	ck_assert(!is_watched(&p.call[0].h));
	/* A new message for the vector: the route follows. */
	bw(VPCI_MSIX_TABLE + 24, 4, 0x42);
	ck_assert_uint_eq(vmm.msi_data[p.vec[1].gsi % 64], 0x42);
	/* Masked: vireo relays into the pending bit. */
	bw(VPCI_MSIX_TABLE + 28, 4, 1);
	ck_assert_int_eq(vmm.irqfds, irqfds);
	ck_assert(is_watched(&p.call[0].h));
	eventfd_signal(ext_call_fd);
	ck_assert_int_eq(fake_dispatch(0), 1);
	ck_assert_uint_eq(br(VPCI_MSIX_PBA, 4), 2);
	/* Unmasked: the pending message goes, the irqfd is back. */
	bw(VPCI_MSIX_TABLE + 28, 4, 0);
	ck_assert_uint_eq(br(VPCI_MSIX_PBA, 4), 0);
	ck_assert_uint_eq(fired(p.vec[1].fd), 1);
	ck_assert(!is_watched(&p.call[0].h));
	ck_assert_int_eq(vmm.irqfds, irqfds + 2);	/* and vector 1's own */
	/* Function mask: relayed again. */
	cfg_write(s, VPCI_CAP_MSIX + 2, 2, ctrl | 0xc000);
	ck_assert(is_watched(&p.call[0].h));
	cfg_write(s, VPCI_CAP_MSIX + 2, 2, ctrl | 0x8000);
	ck_assert(!is_watched(&p.call[0].h));
	/* Reset: back to the transport; the call irqfd is gone. */
	irqfds = vmm.irqfds;
	bw(0x14, 1, 0);
	ck_assert_uint_eq(dev.external, 0);
	ck_assert_int_eq(vmm.irqfds, irqfds - 1);
	ck_assert(is_watched(&p.kick[0].h));
	ck_assert(!is_watched(&p.call[0].h));
	pci_close();
}
END_TEST

START_TEST(pci_intx_fallback)
{
	struct drv_buf b = { DRV_BUFS, 8, true };

	pci_open();
	pci_driver_up();
	memcpy(&drv.vq, &dev.vq[0], sizeof(drv.vq));
	drv.size = 8;
	for (int i = 0; i < 8; i++)
		drv.next[i] = (uint16_t)(i + 1);
	drv_add(&drv, &b, 1);
	virtio_kick(&dev, 0);
	/* MSI-X off: ISR bit 0 and the level INTx irqfd. */
	ck_assert_uint_ge(fired(p.intx_fd), 1);
	ck_assert_uint_eq(br(VPCI_ISR, 1), 1);
	ck_assert_uint_eq(br(VPCI_ISR, 1), 0);		/* read clears */
	/* INTx disabled in the command register: ISR yes, line no. */
	cfg_write(p.f.slot, 4, 2, 0x0406);
	drv_add(&drv, &b, 1);
	virtio_kick(&dev, 0);
	ck_assert_uint_eq(fired(p.intx_fd), 0);
	ck_assert_uint_eq(br(VPCI_ISR, 1), 1);
	cfg_write(p.f.slot, 4, 2, 0x0006);
	/* A kick through the notify region (no ioeventfd) still arrives. */
	bw(VPCI_NOTIFY + 4, 2, 1);
	ck_assert_uint_eq(fired(p.kick[1].h.fd), 1);
	bw(VPCI_NOTIFY + 4 * 9, 2, 9);			/* no such queue */
	pci_close();
}
END_TEST

START_TEST(pci_cfg_access_window)
{
	unsigned int s;
	uint32_t c = VPCI_CAP_PCI_CFG;

	pci_open();
	s = p.f.slot;
	/* Read num_queues through VIRTIO_PCI_CAP_PCI_CFG. */
	cfg_write(s, c + 4, 1, 0);
	cfg_write(s, c + 8, 4, 0x12);
	cfg_write(s, c + 12, 4, 2);
	ck_assert_uint_eq(cfg_read(s, c + 16, 2), 2);
	/* A bad length or BAR does nothing. */
	cfg_write(s, c + 16, 2, 0x7777);
	cfg_write(s, c + 12, 4, 3);
	ck_assert_uint_eq(cfg_read(s, c + 16, 2), 0x7777);	/* not refreshed */
	cfg_write(s, c + 12, 4, 2);
	cfg_write(s, c + 4, 1, 3);			/* BAR 3: none */
	ck_assert_uint_eq(cfg_read(s, c + 16, 2), 0x7777);
	cfg_write(s, c + 4, 1, 0);
	/* Write status through the window. */
	cfg_write(s, c + 8, 4, 0x14);
	cfg_write(s, c + 12, 4, 1);
	cfg_write(s, c + 16, 1, 1);
	ck_assert_uint_eq(dev.status, 1);
	pci_close();
}
END_TEST

/* A device's work per kick is bounded (a ring's worth), then it yields. */
/* An rng on mmio over a driver queue of size entries, running. */
static struct virtio_rng *rng_start(uint16_t size)
{
	struct virtio_opts o = { .transport = VIRTIO_MMIO };
	struct virtio_rng *r = calloc(1, sizeof(*r));

	common_setup();
	drv_init(&drv, size, false, 0);
	ck_assert_int_eq(virtio_rng_init(r, &drv.gm, &o, &fake), 0);
	ck_assert_int_eq(virtio_mmio_init(&m, &r->vdev, 0xd0000000, 20, false, &fake), 0);
	r->vdev.acked = 1ULL << VIRTIO_F_VERSION_1;
	r->vdev.status = 0xf;
	r->vdev.vq[0] = drv.vq;
	r->vdev.vq[0].max_size = 256;
	return r;
}

static void rng_stop(struct virtio_rng *r)
{
	struct virtio_opts o = { .transport = VIRTIO_MMIO };

	virtio_mmio_fini(&m);
	virtio_rng_fini(r);
	free(r);
	drv_fini(&drv);
	/* drv_init() owned that memory; common_teardown() frees its own. */
	test_mem_init(&drv.gm, 0, DRV_RAM);
	virtio_dev_init(&dev, &test_ops, NULL, &drv.gm, &o);
	common_teardown();
}

START_TEST(rng_kick_budget)
{
	struct drv_buf b = { DRV_BUFS, 16, true };
	struct virtio_rng *r = rng_start(8);
	unsigned int i;

	for (i = 0; i < 3; i++)
		drv_add(&drv, &b, 1);
	virtio_kick(&r->vdev, 0);
	ck_assert_uint_eq(drv_used_idx(&drv), 3);
	ck_assert_uint_eq(fired(m.kick[0].h.fd), 0);	/* done: no yield */
	for (i = 0; i < 3; i++) {
		uint16_t id;
		uint32_t len;

		ck_assert(drv_get_used(&drv, &id, &len));
		ck_assert_uint_eq(len, 16);
	}
	for (i = 0; i < 8; i++)
		drv_add(&drv, &b, 1);
	virtio_kick(&r->vdev, 0);
	ck_assert_uint_eq(drv_used_idx(&drv), 11);
	/* A full ring's worth: it yields, continuing on the next turn. */
	ck_assert_uint_eq(fired(m.kick[0].h.fd), 1);
	rng_stop(r);
}
END_TEST

/* 256 aliased 64 KiB buffers: a kick fills VQ_TURN_BYTES' worth, then
 * yields; not a ring's worth (16 MiB). */
START_TEST(rng_bytes_per_kick_bounded)
{
	struct drv_buf b = { DRV_BUFS, RNG_MAX_REQUEST, true };
	struct virtio_rng *r = rng_start(256);
	unsigned int i;

	for (i = 0; i < 256; i++)
		drv_add(&drv, &b, 1);
	virtio_kick(&r->vdev, 0);
	ck_assert_uint_eq(r->bytes, VQ_TURN_BYTES);
	ck_assert_uint_eq(drv_used_idx(&drv), VQ_TURN_BYTES / RNG_MAX_REQUEST);
	ck_assert_uint_eq(fired(m.kick[0].h.fd), 1);
	rng_stop(r);
}
END_TEST

Suite *transport_suite(void)
{
	Suite *s = suite_create("transport");
	TCase *tc = tcase_create("mmio");

	tcase_add_test(tc, mmio_identity_and_wiring);
	tcase_add_test(tc, mmio_feature_negotiation);
	tcase_add_test(tc, mmio_queue_setup_rules);
	tcase_add_test(tc, mmio_driver_violations);
	tcase_add_test(tc, ring_violation_kinds);
	tcase_add_test(tc, width_and_notify_violations);
	tcase_add_test(tc, driver_log_file);
	tcase_add_test(tc, mmio_interrupts_and_reset);
	tcase_add_test(tc, mmio_needs_reset_then_recovers);
	tcase_add_test(tc, mmio_config_bounds);
	tcase_add_test(tc, mmio_legacy_pfn);
	tcase_add_test(tc, mmio_external_queue);
	suite_add_tcase(s, tc);
	tc = tcase_create("pci");
	tcase_add_test(tc, pci_config_space);
	tcase_add_test(tc, pci_bar_sizing_and_moves);
	tcase_add_test(tc, pci_common_config);
	tcase_add_test(tc, pci_msix_masking);
	tcase_add_test(tc, pci_intx_fallback);
	tcase_add_test(tc, pci_external_queue);
	tcase_add_test(tc, pci_cfg_access_window);
	tcase_add_test(tc, rng_kick_budget);
	tcase_add_test(tc, rng_bytes_per_kick_bounded);
	suite_add_tcase(s, tc);
	return s;
}
