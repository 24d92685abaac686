// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-console with MULTIPORT: the control protocol (DEVICE_READY ->
 * DEVICE_ADD, PORT_READY -> PORT_NAME / PORT_OPEN), a file port, a socket
 * port (data both ways, throttled writes, reconnects), malformed control
 * messages (BAD-INPUTS 21).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio-console.h"
#include "fakevmm.h"
#include "unit.h"
#include "vmm/util.h"
#include "vring.h"

#define MULTIPORT (1ULL << 1)

/* Queues: ctrl rx 2, ctrl tx 3, port 1: rx 4, tx 5, port 2: rx 6, tx 7. */
static struct drv q[8];
static struct virtio_console *c;
static char dir[64], sock[128], logpath[128];

static void ctrl_in_buffers(unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct drv_buf b = { DRV_BUFS + 0x10000 + 128ULL * (i % 64), 128, true };

		drv_add(&q[2], &b, 1);
	}
}

/* The driver says something on the control tx queue. */
static void ctrl_say(uint32_t id, uint16_t event, uint16_t value)
{
	struct drv_buf b = { DRV_BUFS + 0x20000, 8, false };

	put_le32(drv_mem(&q[3], b.addr), id);
	put_le16(drv_mem(&q[3], b.addr + 4), event);
	put_le16(drv_mem(&q[3], b.addr + 6), value);
	drv_add(&q[3], &b, 1);
	virtio_kick(&c->vdev, 3);
}

/* Next control message from the device: 0 if none. */
static int ctrl_next(uint32_t *id, uint16_t *event, uint16_t *value, char *name)
{
	uint16_t bid;
	uint32_t len;
	uint64_t at;

	if (!drv_get_used(&q[2], &bid, &len))
		return 0;
	/* Buffers were posted in order: ID i is at slot i. */
	at = DRV_BUFS + 0x10000 + 128ULL * (bid % 64);
	*id = get_le32(drv_mem(&q[2], at));
	*event = get_le16(drv_mem(&q[2], at + 4));
	*value = get_le16(drv_mem(&q[2], at + 6));
	if (name) {
		memcpy(name, drv_mem(&q[2], at + 8), len - 8);
		name[len - 8] = '\0';
	}
	return 1;
}

static void setup(void)
{
	struct cport_config ports[3] = { { .kind = CPORT_NONE } };
	struct virtio_opts o = { .transport = VIRTIO_MMIO };
	char err[256];

	memset(&vmm, 0, sizeof(vmm));
	strcpy(dir, "/tmp/vireo-vcon-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/agent.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/log.txt", dir);
	ports[1] = (struct cport_config){ .kind = CPORT_SOCKET, .name = "agent" };
	strcpy(ports[1].path, sock);
	ports[2] = (struct cport_config){ .kind = CPORT_FILE, .name = "log" };
	strcpy(ports[2].path, logpath);
	drv_init_queues(q, 8, 64);
	c = calloc(1, sizeof(*c));
	ck_assert_int_eq(virtio_console_init(c, &q[0].gm, &o, ports, 3, NULL, &fake,
					     err, sizeof(err)), 0);
	fake_driver_ok(&c->vdev, q, 8, MULTIPORT);
}

static void teardown(void)
{
	char cmd[128];

	virtio_console_fini(c);
	free(c);
	drv_fini_queues(q, 8);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Bring the ports up as Linux does; returns the PORT_OPEN seen for 2. */
static void handshake(void)
{
	uint32_t id;
	uint16_t ev, val;
	char name[80];
	bool added[3] = { false }, named_agent = false, log_open = false;

	ctrl_in_buffers(32);
	ctrl_say(0, 0, 1);				/* DEVICE_READY */
	while (ctrl_next(&id, &ev, &val, NULL)) {
		ck_assert_uint_eq(ev, 1);		/* DEVICE_ADD */
		ck_assert_uint_lt(id, 3);
		added[id] = true;
	}
	ck_assert(added[0] && added[1] && added[2]);
	ctrl_say(1, 3, 1);				/* PORT_READY */
	ctrl_say(2, 3, 1);
	while (ctrl_next(&id, &ev, &val, name)) {
		if (ev == 7 && id == 1)
			named_agent = !strcmp(name, "agent");
		if (ev == 6 && id == 2 && val == 1)
			log_open = true;
		/* No client yet: port 1 is not open on the host side. */
		ck_assert(!(ev == 6 && id == 1 && val == 1));
	}
	ck_assert(named_agent);
	ck_assert(log_open);
}

START_TEST(control_protocol)
{
	uint32_t id;
	uint16_t ev, val;

	handshake();
	/* Malformed: short messages and unknown ports are ignored. */
	{
		struct drv_buf b = { DRV_BUFS + 0x20000, 4, false };

		drv_add(&q[3], &b, 1);
		virtio_kick(&c->vdev, 3);
	}
	ctrl_say(99, 3, 1);
	ctrl_say(1, 42, 1);
	ck_assert(!ctrl_next(&id, &ev, &val, NULL));
	ck_assert(!c->vdev.broken);
}
END_TEST

/* A guest buffer outside RAM on a data queue: needs-reset, nothing else. */
START_TEST(bad_descriptor_breaks_device)
{
	struct drv_buf b = { DRV_RAM + 0x1000, 16, false };

	handshake();
	drv_add(&q[7], &b, 1);
	virtio_kick(&c->vdev, 7);
	ck_assert(c->vdev.broken);
	ck_assert(c->vdev.status & VIRTIO_STATUS_NEEDS_RESET);
}
END_TEST

START_TEST(file_port_output)
{
	struct drv_buf b = { DRV_BUFS, 11, false };
	char buf[64] = { 0 };
	ssize_t n = 0;
	int fd, i;

	handshake();
	memcpy(drv_mem(&q[7], DRV_BUFS), "hello-file\n", 11);
	drv_add(&q[7], &b, 1);
	virtio_kick(&c->vdev, 7);
	/* The port's writer thread appends it, off the loop. */
	for (i = 0; i < 200; i++) {
		fd = open(logpath, O_RDONLY);
		n = read(fd, buf, sizeof(buf));
		close(fd);
		if (n == 11)
			break;
		usleep(10000);
	}
	ck_assert_int_eq(n, 11);
	ck_assert_str_eq(buf, "hello-file\n");
}
END_TEST

/* One 4 GiB buffer (255 aliased 16 MiB descriptors) for the file port: a
 * kick moves at most VQ_TURN_BYTES of it and keeps its place. */
START_TEST(file_port_huge_buffer)
{
	struct drv_buf big[255];
	unsigned int i;
	uint64_t first;

	handshake();
	for (i = 0; i < 255; i++)
		big[i] = (struct drv_buf){ DRV_BUFS, 16u << 20, false };
	drv_add(&q[7], big, 255);
	virtio_kick(&c->vdev, 7);
	first = c->port[2].tx_off;
	ck_assert(c->port[2].tx_pending);
	ck_assert_uint_gt(first, 0);
	ck_assert_uint_le(first, VQ_TURN_BYTES);
	virtio_kick(&c->vdev, 7);
	ck_assert_uint_le(c->port[2].tx_off, first + VQ_TURN_BYTES);
}
END_TEST

static int client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, sock);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	fake_dispatch(100);				/* the accept */
	return fd;
}

START_TEST(socket_port_both_ways)
{
	struct drv_buf out = { DRV_BUFS, 5, false };
	struct drv_buf in = { DRV_BUFS + 0x1000, 64, true };
	uint32_t id, len;
	uint16_t ev, val, bid;
	char buf[64];
	int fd, i;

	handshake();
	/* Guest output while no client is there stays in the ring. */
	memcpy(drv_mem(&q[5], DRV_BUFS), "early", 5);
	drv_add(&q[5], &out, 1);
	virtio_kick(&c->vdev, 5);
	ck_assert(!drv_get_used(&q[5], &bid, &len));
	fd = client();
	/* The guest hears the host side open, and the held data flows. */
	ck_assert(ctrl_next(&id, &ev, &val, NULL));
	ck_assert_uint_eq(id, 1);
	ck_assert_uint_eq(ev, 6);
	ck_assert_uint_eq(val, 1);
	ck_assert(drv_get_used(&q[5], &bid, &len));
	ck_assert_int_eq(read(fd, buf, 5), 5);
	ck_assert_int_eq(memcmp(buf, "early", 5), 0);
	/* Host -> guest into posted receive buffers, but only once the
	 * guest has opened the port (Linux drops data on a closed one). */
	drv_add(&q[4], &in, 1);
	virtio_kick(&c->vdev, 4);
	ck_assert_int_eq(write(fd, "ping\n", 5), 5);
	for (i = 0; i < 5; i++)
		fake_dispatch(20);
	ck_assert(!drv_get_used(&q[4], &bid, &len));
	ck_assert_uint_eq(c->port[1].rx_len, 5);
	ctrl_say(1, 6, 1);				/* PORT_OPEN */
	for (i = 0; i < 20 && !drv_get_used(&q[4], &bid, &len); i++)
		fake_dispatch(50);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(memcmp(drv_mem(&q[4], DRV_BUFS + 0x1000), "ping\n", 5), 0);
	/* The client goes: PORT_OPEN 0; a new one can come. */
	close(fd);
	for (i = 0; i < 20 && c->port[1].conn_fd < 0; i++)
		fake_dispatch(50);
	fake_dispatch(100);
	ck_assert(!c->port[1].host_open);
	ck_assert(ctrl_next(&id, &ev, &val, NULL));
	ck_assert_uint_eq(ev, 6);
	ck_assert_uint_eq(val, 0);
	fd = client();
	ck_assert(c->port[1].host_open);
	close(fd);
}
END_TEST

START_TEST(host_input_is_bounded)
{
	char junk[8192];
	int fd, i;

	handshake();
	fd = client();
	/* No receive buffers: at most CON_RX_BUF is taken, then reading
	 * stops (the rest waits in the socket, not in vireo). */
	memset(junk, 'j', sizeof(junk));
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), (int)sizeof(junk));
	for (i = 0; i < 10; i++)
		fake_dispatch(20);
	ck_assert_uint_eq(c->port[1].rx_len, CON_RX_BUF);
	ck_assert(c->port[1].rx_paused);
	close(fd);
}
END_TEST

Suite *vcon_suite(void)
{
	Suite *s = suite_create("vcon");
	TCase *tc = tcase_create("multiport");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, control_protocol);
	tcase_add_test(tc, bad_descriptor_breaks_device);
	tcase_add_test(tc, file_port_output);
	tcase_add_test(tc, file_port_huge_buffer);
	tcase_add_test(tc, socket_port_both_ways);
	tcase_add_test(tc, host_input_is_bounded);
	suite_add_tcase(s, tc);
	return s;
}
