// SPDX-License-Identifier: GPL-2.0
/*
 * Device request parsers on guest-written rings: virtio-blk requests,
 * virtio-console control messages and port data, virtio-net TX frames,
 * RX buffers and control commands, virtio-balloon PFN lists, stats and
 * free page reports, and the balloon's target and report. Guest RAM (rings,
 * descriptors, buffers) comes from the input; every queue of the chosen
 * device is kicked. Checks that nothing crashes or reaches outside RAM.
 *
 * Input: [device][features][ring layout bits][balloon target (8), unused (24)][RAM...]
 * Queue q has its descriptor table at q * 0x1000, the driver area at
 * + 0x400 and the device area at + 0x800, 16 entries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio-balloon.h"
#include "devices/virtio-blk.h"
#include "devices/virtio-console.h"
#include "devices/virtio-net.h"

#include "stub-notify.h"
#include "vmm/util.h"

static void irq(void *t, int source) { (void)t; (void)source; }
static void later(void *t, unsigned int q) { (void)t; (void)q; }

#define RAM_SIZE	0x40000
#define HDR		35

/* Negotiate, enable the queues that validate, DRIVER_OK, kick them all. */
static void drive(struct virtio_dev *d, const uint8_t *data)
{
	unsigned int q, round;

	static const struct virtio_transport_ops tops = {
		.interrupt = irq,
		.kick_later = later,
	};

	d->tops = &tops;
	d->modern = true;
	d->acked = d->offered & ~((uint64_t)data[1] << 24 | (uint64_t)data[2] << 32);
	d->acked |= 1ULL << VIRTIO_F_VERSION_1;
	d->acked &= d->offered;
	for (q = 0; q < d->ops->num_queues && q < 16; q++) {
		struct virtq *vq = &d->vq[q];

		vq->size = 16;
		vq->desc_gpa = q * 0x1000ULL;
		vq->driver_gpa = q * 0x1000ULL + 0x400;
		vq->device_gpa = q * 0x1000ULL + 0x800;
		vq_enable(vq, d->gm, d->acked);
	}
	d->status = 0xf;
	if (d->ops->activate && d->ops->activate(d, NULL) < 0)
		return;
	for (round = 0; round < 2; round++)
		for (q = 0; q < d->ops->num_queues && q < 16; q++)
			virtio_kick(d, (q + data[1]) % d->ops->num_queues);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static union {
		struct virtio_blk blk;
		struct virtio_console con;
		struct virtio_net net;
		struct virtio_balloon balloon;
	} u;
	struct vm_notify n = { &stub_notify_ops, NULL };
	struct virtio_opts o = { .transport = VIRTIO_MMIO };
	struct guest_mem gm = { .fd = -1, .nr = 1 };
	uint8_t *ram;
	char err[256];

	if (size < HDR)
		return 0;
	ram = calloc(1, RAM_SIZE);
	memcpy(ram, data + HDR, size - HDR < RAM_SIZE ? size - HDR : RAM_SIZE);
	gm.r[0] = (struct gm_region){ 0, RAM_SIZE, ram, 0 };
	gm.ram_size = RAM_SIZE;
	o.packed = data[0] & 0x80;

	switch (data[0] % 4) {
	case 0: {
		struct blk_config bc = { .cache = data[0] & 0x10 ?
					 BLK_CACHE_UNSAFE : BLK_CACHE_WRITEBACK,
					 .readonly = data[0] & 0x20 };
		int fd = memfd_create("fuzz-disk", 0);

		if (fd < 0 || ftruncate(fd, 1 << 20))
			abort();
		snprintf(bc.path, sizeof(bc.path), "/proc/self/fd/%d", fd);
		if (!virtio_blk_init(&u.blk, &bc, &gm, &o, &n, err, sizeof(err))) {
			drive(&u.blk.vdev, data);
			virtio_blk_fini(&u.blk);
		}
		close(fd);
		break;
	}
	case 1: {
		struct cport_config ports[3] = {
			{ .kind = CPORT_NONE },
			{ .kind = CPORT_FILE, .name = "log", .path = "/dev/null" },
			{ .kind = CPORT_FILE, .name = "two", .path = "/dev/null" },
		};

		if (!virtio_console_init(&u.con, &gm, &o, ports, 3, NULL, &n, err,
					 sizeof(err))) {
			drive(&u.con.vdev, data);
			virtio_console_fini(&u.con);
		}
		break;
	}
	case 2: {
		struct net_config nc = { .fd = -1, .mac_set = true };
		int sv[2], i;

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv))
			abort();
		/* Frames waiting for the guest: short, normal, large. */
		for (i = 0; i < 3; i++)
			send(sv[1], ram, i == 0 ? 20 : i == 1 ? 1500 : 9000, 0);
		if (!virtio_net_init_fd(&u.net, &nc, sv[0], &gm, &o, &n, err,
					sizeof(err))) {
			drive(&u.net.vdev, data);
			virtio_net_fini(&u.net);
		} else {
			close(sv[0]);
		}
		close(sv[1]);
		break;
	}
	default: {
		struct balloon_config bc = { .free_page_reporting = true,
					     .deflate_on_oom = true };

		if (!virtio_balloon_init(&u.balloon, &bc, &gm, &o, &n, err,
					 sizeof(err))) {
			drive(&u.balloon.vdev, data);
			struct balloon_report r;

			virtio_balloon_set_target(&u.balloon, get_le64(data + 3));
			virtio_balloon_report(&u.balloon, &r);
			virtio_balloon_fini(&u.balloon);
		}
		break;
	}
	}
	free(ram);
	return 0;
}
