// SPDX-License-Identifier: GPL-2.0
/*
 * What a vhost-user backend sends back is hostile: the reply parser on
 * its own, then the frontend talking to a "backend" whose whole side of
 * the conversation is the fuzz input (negotiation, a memory table, ring
 * setup, GET_VRING_BASE, GET_CONFIG, GET_INFLIGHT_FD). Nothing may crash,
 * read past a reply, leak an fd, or wait: the input ends in EOF.
 *
 * Input: [0] request for the parser, [1] config size, [2] bit 0 ack,
 *        bits 1-2 fd count; [3] unused; [4..] the backend's bytes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/fuzz/stub-notify.h"
#include "virtio/vhost-user.h"
#include "vmm/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint8_t ram[1 << 16];
	const struct vm_notify n = { &stub_notify_ops, NULL };
	struct guest_mem gm = { .nr = 1, .ram_size = sizeof(ram) };
	struct vhost_ring_addr addr = { 0x1000, 0x2000, 0x3000 };
	struct vu_inflight in;
	struct vhost_user u;
	struct vu_reply r;
	uint8_t cfg[64];
	char why[256];
	int sv[2], fd;
	uint32_t base;

	if (size < 4)
		return 0;
	vu_reply_parse(data[0] % 40, data[1], data[2] & 1, data + 4, size - 4,
		       (data[2] >> 1) & 3, &r, why, sizeof(why));

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return 0;
	if (size - 4 > 0 && write(sv[1], data + 4, MIN(size - 4, (size_t)65536)) < 0)
		goto out;
	shutdown(sv[1], SHUT_WR);
	gm.fd = sv[1];			/* any fd will do as "RAM" */
	gm.r[0] = (struct gm_region){ 0, sizeof(ram), ram, 0 };
	if (vhost_user_init_fd(&u, sv[0], "fuzz", ~0ULL, &n, &lock, NULL, NULL,
			       why, sizeof(why)) == 0) {
		u.v.ops->set_features(&u.v, u.features);
		u.v.ops->set_mem_table(&u.v, &gm);
		u.v.ops->set_vring_num(&u.v, 0, 256);
		u.v.ops->set_vring_base(&u.v, 0, 0);
		u.v.ops->set_vring_addr(&u.v, 0, &addr);
		u.v.ops->set_vring_kick(&u.v, 0, sv[1]);
		u.v.ops->set_vring_enable(&u.v, 0, true);
		u.v.ops->get_vring_base(&u.v, 0, &base);
		vhost_user_get_config(&u, 0, cfg, data[1] % sizeof(cfg) + 1);
		if (vhost_user_get_inflight(&u, 1, 256, &in, &fd) == 0 && fd >= 0)
			close(fd);
	}
	vhost_user_fini(&u);
out:
	close(sv[1]);
	return 0;
}
