// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-net's header and frame handling over a SOCK_SEQPACKET socket
 * standing in for the tap: TX frames (header split across descriptors,
 * too short, too long), RX into one buffer, too-big frames without
 * MRG_RXBUF (dropped, counted, the buffer kept), mergeable buffers, RX
 * that stalls with no buffers and resumes on the kick (CVE-2020-16843),
 * the MQ control command (BAD-INPUTS 19, 20).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio-net.h"
#include "fakevmm.h"
#include "unit.h"
#include "vmm/util.h"
#include "vring.h"

#define F_MRG_RXBUF	(1ULL << 15)
#define HDR		12

/* Queues: rx 0, tx 1, ctrl 2. */
static struct drv q[3];
static struct virtio_net *n;
static int peer;			/* the "tap" side */

static unsigned int start_rxdrop;	/* the next start's inject= */
static struct net_config start_faults;	/* and its other faults */

static void start(uint64_t features)
{
	struct net_config cfg = start_faults;

	cfg.fd = -1;
	cfg.rxdrop_pct = start_rxdrop;
	cfg.seed = 99;
	struct virtio_opts o = { .transport = VIRTIO_MMIO };
	char err[256];
	int sv[2];

	memset(&vmm, 0, sizeof(vmm));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0,
				    sv), 0);
	peer = sv[1];
	drv_init_queues(q, 3, 64);
	n = calloc(1, sizeof(*n));
	ck_assert_int_eq(virtio_net_init_fd(n, &cfg, sv[0], &q[0].gm, &o, &fake,
					    err, sizeof(err)), 0);
	fake_driver_ok(&n->vdev, q, 3, features);
	ck_assert_int_eq(n->vdev.ops->activate(&n->vdev, NULL), 0);
}

static void teardown(void)
{

	virtio_net_fini(n);
	free(n);
	close(peer);
	drv_fini_queues(q, 3);
}

/* Host side sends a frame: header (zeros) + len bytes of pattern. */
static void host_send(size_t len)
{
	uint8_t *buf = calloc(1, HDR + len);
	size_t i;

	for (i = 0; i < len; i++)
		buf[HDR + i] = (uint8_t)(i * 7);
	ck_assert_int_eq(send(peer, buf, HDR + len, 0), (ssize_t)(HDR + len));
	free(buf);
}

static void rx_buffer(uint64_t addr, uint32_t len)
{
	struct drv_buf b = { addr, len, true };

	drv_add(&q[0], &b, 1);
}

static void dispatch(void)
{
	int i;

	for (i = 0; i < 5; i++)
		fake_dispatch(10);
}

START_TEST(tx_header_split_across_descriptors)
{
	/* 4 bytes of header, then the rest of the header and the frame. */
	struct drv_buf b[2] = {
		{ DRV_BUFS, 4, false },
		{ DRV_BUFS + 0x1000, HDR - 4 + 60, false },
	};
	uint8_t got[256];
	uint16_t id;
	uint32_t len;

	start(0);
	memset(drv_mem(&q[1], DRV_BUFS), 0, 4);
	memset(drv_mem(&q[1], DRV_BUFS + 0x1000), 0xab, HDR - 4 + 60);
	drv_add(&q[1], b, 2);
	virtio_kick(&n->vdev, 1);
	ck_assert(drv_get_used(&q[1], &id, &len));
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(recv(peer, got, sizeof(got), 0), HDR + 60);
	ck_assert_uint_eq(got[HDR], 0xab);
	ck_assert_uint_eq(n->stats.tx_packets, 1);
	ck_assert_uint_eq(n->stats.tx_bytes, 60);
	teardown();
}
END_TEST

/* A ring full of 60000-byte frames: a kick writes about VQ_TURN_BYTES of
 * them, the rest on later turns. */
START_TEST(tx_work_per_kick_is_bounded)
{
	struct drv_buf f = { DRV_BUFS, HDR + 60000, false };
	uint16_t id;
	uint32_t len;
	unsigned int i, used = 0, want = VQ_TURN_BYTES / (HDR + 60000) + 1;

	start(0);
	memset(drv_mem(&q[1], DRV_BUFS), 0, HDR + 60000);
	for (i = 0; i < 64; i++)
		drv_add(&q[1], &f, 1);
	virtio_kick(&n->vdev, 1);
	while (drv_get_used(&q[1], &id, &len))
		used++;
	ck_assert_uint_eq(used, want);
	for (i = 0; i < 64 / want + 1; i++)
		virtio_kick(&n->vdev, 1);
	while (drv_get_used(&q[1], &id, &len))
		used++;
	ck_assert_uint_eq(used, 64);
	teardown();
}
END_TEST

START_TEST(tx_bad_lengths_are_dropped)
{
	struct drv_buf shorter = { DRV_BUFS, HDR + 10, false };
	struct drv_buf huge = { DRV_BUFS, HDR + NET_FRAME_MAX + 1, false };
	struct drv_buf in_only = { DRV_BUFS, 100, true };
	uint8_t got[64];
	uint16_t id;
	uint32_t len;
	int i;

	start(0);
	drv_add(&q[1], &shorter, 1);
	drv_add(&q[1], &huge, 1);
	drv_add(&q[1], &in_only, 1);
	virtio_kick(&n->vdev, 1);
	for (i = 0; i < 3; i++)
		ck_assert(drv_get_used(&q[1], &id, &len));
	ck_assert_uint_eq(n->stats.tx_malformed, 3);
	ck_assert_uint_eq(n->stats.tx_packets, 0);
	ck_assert_int_lt(recv(peer, got, sizeof(got), 0), 0);
	ck_assert(!n->vdev.broken);
	/* The device-writable one broke the transmit layout. */
	ck_assert_uint_eq(n->vdev.violations[VIOL_REQUEST_LAYOUT], 1);
	teardown();
}
END_TEST

/* A receive buffer with a readable part, a control command without its
 * ack byte: each the driver's violation of the NIC's request layout. */
START_TEST(rx_and_ctrl_layouts)
{
	struct drv_buf rx[2] = { { DRV_BUFS, 16, false },
				 { DRV_BUFS + 0x1000, 1526, true } };
	struct drv_buf ctrl = { DRV_BUFS + 0x4000, 2, false };
	uint16_t id;
	uint32_t len;

	start(0);
	drv_add(&q[0], rx, 2);
	virtio_kick(&n->vdev, 0);
	host_send(100);
	dispatch();
	ck_assert(drv_get_used(&q[0], &id, &len));
	ck_assert_uint_eq(n->vdev.violations[VIOL_REQUEST_LAYOUT], 1);
	drv_add(&q[2], &ctrl, 1);
	virtio_kick(&n->vdev, 2);
	ck_assert(drv_get_used(&q[2], &id, &len));
	ck_assert_uint_eq(n->vdev.violations[VIOL_REQUEST_LAYOUT], 2);
	teardown();
}
END_TEST

/*
 * The other receive faults at 100%: each frame delivered twice, its
 * used length one byte short (the first copy), its checksum broken
 * (a payload byte flipped, NEEDS_CSUM and DATA_VALID cleared); all
 * counted as injected.
 */
START_TEST(rx_injected_dup_short_badcsum)
{
	uint16_t id;
	uint32_t len;
	uint8_t *p;

	start_faults.rxdup_pct = 100;
	start_faults.shortlen_pct = 100;
	start_faults.badcsum_pct = 100;
	start(0);
	memset(&start_faults, 0, sizeof(start_faults));
	rx_buffer(DRV_BUFS, 1526);
	rx_buffer(DRV_BUFS + 0x1000, 1526);
	virtio_kick(&n->vdev, 0);
	host_send(100);
	dispatch();
	ck_assert(drv_get_used(&q[0], &id, &len));
	ck_assert_uint_eq(len, HDR + 100 - 1);		/* one short */
	ck_assert(drv_get_used(&q[0], &id, &len));
	ck_assert_uint_eq(len, HDR + 100);		/* the duplicate */
	p = drv_mem(&q[0], DRV_BUFS);
	ck_assert_uint_eq(p[0] & 3, 0);
	ck_assert_uint_eq(p[HDR + 99], (uint8_t)((99 * 7) ^ 0x5a));
	ck_assert_uint_eq(n->vdev.injected, 3);
	teardown();
}
END_TEST

/* inject=linkflap@MS: the link status in config space goes down, then
 * up, with a config interrupt each time; counted as injected. */
START_TEST(link_flaps)
{
	uint8_t cfg[8];
	unsigned int i;

	start_faults.linkflap_ms = 20;
	start((1ULL << 16));			/* VIRTIO_NET_F_STATUS */
	memset(&start_faults, 0, sizeof(start_faults));
	virtio_config_access(&n->vdev, 6, cfg, 2, false);
	ck_assert_uint_eq(get_le16(cfg) & 1, 1);
	for (i = 0; i < 50 && !n->vdev.injected; i++)
		fake_dispatch(10);
	virtio_config_access(&n->vdev, 6, cfg, 2, false);
	ck_assert_uint_eq(get_le16(cfg) & 1, 0);		/* down */
	for (i = 0; i < 50 && n->vdev.injected < 2; i++)
		fake_dispatch(10);
	virtio_config_access(&n->vdev, 6, cfg, 2, false);
	ck_assert_uint_eq(get_le16(cfg) & 1, 1);		/* up */
	ck_assert_uint_ge(n->vdev.config_gen, 2);
	teardown();
}
END_TEST

/* PUT /faults at run time: rules replaced, the link flapped and then
 * brought back up when the flapping stops; bad rules refused. */
START_TEST(faults_at_run_time)
{
	char err[256];
	uint8_t cfg[2];
	unsigned int i;

	start(1ULL << 16);			/* VIRTIO_NET_F_STATUS */
	ck_assert_int_eq(virtio_net_class.set_faults(&n->vdev, "rxdup%30", 5,
						     err, sizeof(err)), 0);
	ck_assert_uint_eq(n->cfg.rxdup_pct, 30);
	ck_assert_int_eq(virtio_net_class.set_faults(&n->vdev, "linkflap@20",
						     0, err, sizeof(err)), 0);
	ck_assert_uint_eq(n->cfg.rxdup_pct, 0);
	for (i = 0; i < 50 && !n->flap_down; i++)
		fake_dispatch(10);
	ck_assert(n->flap_down);
	ck_assert_int_eq(virtio_net_class.set_faults(&n->vdev, "", 0, err,
						     sizeof(err)), 0);
	ck_assert(!n->flap_down);
	virtio_config_access(&n->vdev, 6, cfg, 2, false);
	ck_assert_uint_eq(get_le16(cfg) & 1, 1);
	ck_assert_int_eq(virtio_net_class.set_faults(&n->vdev, "frob%3", 0,
						     err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "rules are"));
	teardown();
}
END_TEST

START_TEST(rx_one_buffer)
{
	uint16_t id;
	uint32_t len;
	uint8_t *p;

	start(0);
	rx_buffer(DRV_BUFS, 1526);
	virtio_kick(&n->vdev, 0);
	host_send(100);
	dispatch();
	ck_assert(drv_get_used(&q[0], &id, &len));
	ck_assert_uint_eq(len, HDR + 100);
	p = drv_mem(&q[0], DRV_BUFS);
	ck_assert_uint_eq(get_le16(p + 10), 1);		/* num_buffers */
	ck_assert_uint_eq(p[HDR + 3], 21);
	ck_assert_uint_eq(n->stats.rx_packets, 1);
	teardown();
}
END_TEST

/* inject=rxdrop%P: about P% of frames never reach the guest; each one
 * counted as injected, the rest delivered whole. */
/* iothread=on: frames from the tap are read and delivered on the I/O
 * thread, with no event loop running. */
START_TEST(rx_on_iothread)
{
	char line[512];
	uint16_t id;
	uint32_t len = 0;
	bool got = false;
	int i;

	start_faults.iothread = true;
	start(0);
	start_faults.iothread = false;
	pthread_mutex_lock(&n->vdev.lock);
	rx_buffer(DRV_BUFS, 1526);
	pthread_mutex_unlock(&n->vdev.lock);
	virtio_kick(&n->vdev, 0);
	host_send(200);
	for (i = 0; i < 200 && !got; i++) {
		pthread_mutex_lock(&n->vdev.lock);
		got = drv_get_used(&q[0], &id, &len);
		pthread_mutex_unlock(&n->vdev.lock);
		if (!got)
			usleep(10000);
	}
	ck_assert(got);
	ck_assert_uint_eq(len, HDR + 200);
	ck_assert_uint_eq(drv_mem(&q[0], DRV_BUFS)[HDR + 3], 21);
	virtio_net_stats_line(n, line, sizeof(line));
	ck_assert_msg(strstr(line, "; I/O thread: "), "%s", line);
	ck_assert_int_eq(vmm.watched, 0);	/* the taps are the thread's */
	teardown();
}
END_TEST

START_TEST(rx_injected_drops)
{
	unsigned int i, got = 0;
	uint16_t id;
	uint32_t len;

	start_rxdrop = 50;
	start(0);
	start_rxdrop = 0;
	for (i = 0; i < 40; i++)
		rx_buffer(DRV_BUFS + 0x800 * i, 1526);
	virtio_kick(&n->vdev, 0);
	for (i = 0; i < 40; i++)
		host_send(60);
	dispatch();
	while (drv_get_used(&q[0], &id, &len)) {
		ck_assert_uint_eq(len, HDR + 60);
		got++;
	}
	ck_assert_uint_eq(got + n->vdev.injected, 40);
	ck_assert_uint_eq(n->stats.rx_dropped, n->vdev.injected);
	ck_assert_uint_ge(n->vdev.injected, 8);
	ck_assert_uint_le(n->vdev.injected, 32);
	ck_assert_uint_eq(n->vdev.nr_violations, 0);
	teardown();
}
END_TEST

START_TEST(rx_too_big_without_mrg_rxbuf)
{
	uint16_t id;
	uint32_t len;

	start(0);
	rx_buffer(DRV_BUFS, 200);
	virtio_kick(&n->vdev, 0);
	host_send(500);		/* does not fit: dropped */
	host_send(60);		/* fits the same buffer */
	dispatch();
	ck_assert(drv_get_used(&q[0], &id, &len));
	ck_assert_uint_eq(len, HDR + 60);
	ck_assert(!drv_get_used(&q[0], &id, &len));
	ck_assert_uint_eq(n->stats.rx_too_big, 1);
	ck_assert_uint_eq(n->stats.rx_dropped, 1);
	ck_assert_uint_eq(n->stats.rx_packets, 1);
	teardown();
}
END_TEST

START_TEST(rx_mergeable_buffers)
{
	uint32_t lens[4], len;
	uint16_t id;
	unsigned int i;

	start(F_MRG_RXBUF);
	for (i = 0; i < 5; i++)
		rx_buffer(DRV_BUFS + 0x1000ULL * i, 100);
	virtio_kick(&n->vdev, 0);
	host_send(350 - HDR);
	dispatch();
	for (i = 0; i < 4; i++) {
		ck_assert(drv_get_used(&q[0], &id, &lens[i]));
		ck_assert_uint_eq(id, i);
	}
	ck_assert(!drv_get_used(&q[0], &id, &len));
	ck_assert_uint_eq(lens[0], 100);
	ck_assert_uint_eq(lens[3], 50);
	ck_assert_uint_eq(get_le16(drv_mem(&q[0], DRV_BUFS) + 10), 4);
	teardown();
}
END_TEST

START_TEST(rx_stalls_then_resumes_on_kick)
{
	uint16_t id;
	uint32_t len;

	start(0);
	host_send(80);
	host_send(90);
	dispatch();
	/* No buffers: the frame waits, the socket is no longer watched. */
	ck_assert(n->pair[0].rx_stalled);
	ck_assert(!n->pair[0].watched);
	ck_assert_uint_eq(n->stats.rx_dropped, 0);
	rx_buffer(DRV_BUFS, 1526);
	rx_buffer(DRV_BUFS + 0x1000, 1526);
	virtio_kick(&n->vdev, 0);
	dispatch();
	ck_assert(drv_get_used(&q[0], &id, &len));
	ck_assert_uint_eq(len, HDR + 80);
	ck_assert(drv_get_used(&q[0], &id, &len));
	ck_assert_uint_eq(len, HDR + 90);
	ck_assert(n->pair[0].watched);
	teardown();
}
END_TEST

/* RX frames to the driver, each with a buffer posted for it. */
static void rx_frames(unsigned int count)
{
	static unsigned int slot;
	unsigned int i;

	for (i = 0; i < count; i++, slot++) {
		rx_buffer(DRV_BUFS + (uint64_t)(slot % 64) * 0x1000, 1526);
		host_send(100);
	}
	dispatch();
}

/*
 * RX tells the driver of each frame as it lands (it can start on the
 * first while the rest are copied), within what the driver asked for.
 */
START_TEST(rx_interrupts_follow_suppression)
{
	uint8_t *flags;

	start(1ULL << VIRTIO_F_EVENT_IDX);
	flags = drv_mem(&q[0], q[0].driver_gpa);
	/* Interrupts on, no EVENT_IDX: one per frame. */
	rx_frames(2);
	ck_assert_uint_eq(n->stats.rx_packets, 2);
	ck_assert_uint_eq(n->vdev.interrupts, 2);
	/* VRING_AVAIL_F_NO_INTERRUPT: none. */
	put_le16(flags, 1);
	rx_frames(2);
	ck_assert_uint_eq(n->stats.rx_packets, 4);
	ck_assert_uint_eq(n->vdev.interrupts, 2);
	/* EVENT_IDX, the driver wants to hear of its next used buffer: one
	 * interrupt for a burst of four frames. */
	n->vdev.vq[0].event_idx = true;
	drv_set_used_event(&q[0], 4);
	rx_frames(4);
	ck_assert_uint_eq(n->stats.rx_packets, 8);
	ck_assert_uint_eq(n->vdev.interrupts, 3);
	teardown();
}
END_TEST

START_TEST(ctrl_mq_pairs_checked)
{
	struct drv_buf b[2] = {
		{ DRV_BUFS, 4, false },
		{ DRV_BUFS + 0x100, 1, true },
	};
	uint16_t id;
	uint32_t len;
	uint8_t *cmd;

	start(0);
	cmd = drv_mem(&q[2], DRV_BUFS);
	cmd[0] = 4;			/* MQ */
	cmd[1] = 0;			/* VQ_PAIRS_SET */
	put_le16(cmd + 2, 1);
	drv_add(&q[2], b, 2);
	virtio_kick(&n->vdev, 2);
	ck_assert(drv_get_used(&q[2], &id, &len));
	/* MQ was not negotiated: refused. */
	ck_assert_uint_eq(*drv_mem(&q[2], DRV_BUFS + 0x100), 1);
	n->vdev.acked |= 1ULL << 22;
	put_le16(cmd + 2, 2);		/* more pairs than the device has */
	drv_add(&q[2], b, 2);
	virtio_kick(&n->vdev, 2);
	ck_assert(drv_get_used(&q[2], &id, &len));
	ck_assert_uint_eq(*drv_mem(&q[2], DRV_BUFS + 0x100), 1);
	put_le16(cmd + 2, 1);
	drv_add(&q[2], b, 2);
	virtio_kick(&n->vdev, 2);
	ck_assert(drv_get_used(&q[2], &id, &len));
	ck_assert_uint_eq(*drv_mem(&q[2], DRV_BUFS + 0x100), 0);
	teardown();
}
END_TEST

/* A moved device asks the driver to announce itself; the ack clears it. */
START_TEST(announce_after_a_move)
{
	struct drv_buf b[2] = {
		{ DRV_BUFS, 2, false },
		{ DRV_BUFS + 0x100, 1, true },
	};
	uint8_t cfg[12], *cmd;
	uint16_t id;
	uint32_t len;

	start(1ULL << 21);		/* GUEST_ANNOUNCE */
	virtio_net_announce(&n->vdev);
	n->vdev.ops->config_read(&n->vdev, 0, cfg, sizeof(cfg));
	ck_assert_uint_eq(get_le16(cfg + 6) & 2, 2);
	cmd = drv_mem(&q[2], DRV_BUFS);
	cmd[0] = 3;			/* ANNOUNCE */
	cmd[1] = 0;			/* ACK */
	drv_add(&q[2], b, 2);
	virtio_kick(&n->vdev, 2);
	ck_assert(drv_get_used(&q[2], &id, &len));
	ck_assert_uint_eq(*drv_mem(&q[2], DRV_BUFS + 0x100), 0);
	n->vdev.ops->config_read(&n->vdev, 0, cfg, sizeof(cfg));
	ck_assert_uint_eq(get_le16(cfg + 6) & 2, 0);
	ck_assert_uint_eq(n->announce_acks, 1);
	teardown();
	/* Without the feature: no announce, and the ack is refused. */
	start(0);
	virtio_net_announce(&n->vdev);
	n->vdev.ops->config_read(&n->vdev, 0, cfg, sizeof(cfg));
	ck_assert_uint_eq(get_le16(cfg + 6) & 2, 0);
	cmd = drv_mem(&q[2], DRV_BUFS);
	cmd[0] = 3;
	cmd[1] = 0;
	drv_add(&q[2], b, 2);
	virtio_kick(&n->vdev, 2);
	ck_assert(drv_get_used(&q[2], &id, &len));
	ck_assert_uint_eq(*drv_mem(&q[2], DRV_BUFS + 0x100), 1);
	teardown();
}
END_TEST

Suite *net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("frames");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, tx_header_split_across_descriptors);
	tcase_add_test(tc, tx_bad_lengths_are_dropped);
	tcase_add_test(tc, tx_work_per_kick_is_bounded);
	tcase_add_test(tc, rx_one_buffer);
	tcase_add_test(tc, rx_and_ctrl_layouts);
	tcase_add_test(tc, rx_on_iothread);
	tcase_add_test(tc, rx_injected_drops);
	tcase_add_test(tc, rx_injected_dup_short_badcsum);
	tcase_add_test(tc, link_flaps);
	tcase_add_test(tc, faults_at_run_time);
	tcase_add_test(tc, rx_too_big_without_mrg_rxbuf);
	tcase_add_test(tc, rx_mergeable_buffers);
	tcase_add_test(tc, rx_stalls_then_resumes_on_kick);
	tcase_add_test(tc, rx_interrupts_follow_suppression);
	tcase_add_test(tc, ctrl_mq_pairs_checked);
	tcase_add_test(tc, announce_after_a_move);
	suite_add_tcase(s, tc);
	return s;
}
