/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhost-user messages (QEMU's docs/interop/vhost-user.rst), the
 * frontend's side: building requests and checking the backend's replies.
 * No I/O here: vu_reply_parse() is the one parser of bytes a backend
 * sends, and is fuzzed (tests/fuzz/fuzz_vhost_user.c).
 *
 * A message is a 12-byte header (request, flags, payload size, all
 * little-endian u32) and the payload; file descriptors travel beside it
 * (SCM_RIGHTS).
 */
#ifndef VIREO_VHOST_USER_MSG_H
#define VIREO_VHOST_USER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_GET_INFLIGHT_FD = 31,
	VU_SET_INFLIGHT_FD = 32,
};

/* Protocol features vireo knows (GET/SET_PROTOCOL_FEATURES). */
#define VU_PROTOCOL_F_MQ		0
#define VU_PROTOCOL_F_LOG_SHMFD		1
#define VU_PROTOCOL_F_REPLY_ACK		3
#define VU_PROTOCOL_F_CONFIG		9
#define VU_PROTOCOL_F_INFLIGHT_SHMFD	12

/* The virtio feature bit that says protocol features exist. */
#define VU_F_PROTOCOL_FEATURES		30

#define VU_FLAG_VERSION		0x1
#define VU_FLAG_REPLY		0x4
#define VU_FLAG_NEED_REPLY	0x8
#define VU_VRING_NOFD		0x100	/* in a KICK/CALL/ERR u64 */
#define VU_VRING_F_LOG		0x1	/* SET_VRING_ADDR's flags */

#define VU_HDR_SIZE		12
#define VU_MAX_REGIONS		8
#define VU_CONFIG_HDR		12
#define VU_CONFIG_MAX		256
#define VU_INFLIGHT_SIZE	24
/* The largest payload vireo sends or accepts. */
#define VU_MAX_PAYLOAD		(8 + 32 * VU_MAX_REGIONS)

struct vu_region {
	uint64_t gpa, size, uaddr, mmap_offset;
};

struct vu_inflight {
	uint64_t mmap_size, mmap_offset;
	uint16_t num_queues, queue_size;
};

/* A message on the wire: header + payload, little-endian. */
struct vu_msg {
	uint8_t buf[VU_HDR_SIZE + VU_MAX_PAYLOAD];
	size_t len;
};

/* What a reply said, once checked. */
struct vu_reply {
	uint64_t u64;			/* GET_FEATURES, GET_QUEUE_NUM, ack */
	uint32_t index, num;		/* GET_VRING_BASE */
	uint32_t cfg_offset, cfg_size;	/* GET_CONFIG */
	uint8_t cfg[VU_CONFIG_MAX];
	struct vu_inflight inflight;	/* GET_INFLIGHT_FD */
};

/* Requests; flags gets VU_FLAG_VERSION added. */
void vu_msg_u64(struct vu_msg *m, uint32_t req, uint32_t flags, uint64_t v);
void vu_msg_none(struct vu_msg *m, uint32_t req, uint32_t flags);
void vu_msg_state(struct vu_msg *m, uint32_t req, uint32_t flags,
		  uint32_t index, uint32_t num);
/* log: the backend logs its used-ring writes at guest address log_gpa. */
void vu_msg_addr(struct vu_msg *m, uint32_t flags, uint32_t index,
		 uint64_t desc, uint64_t used, uint64_t avail, bool log,
		 uint64_t log_gpa);
/* nr <= VU_MAX_REGIONS. */
void vu_msg_mem(struct vu_msg *m, uint32_t flags, const struct vu_region *r,
		unsigned int nr);
/* size <= VU_CONFIG_MAX; data may be NULL (GET_CONFIG sends zeros). */
void vu_msg_config(struct vu_msg *m, uint32_t req, uint32_t flags,
		   uint32_t offset, uint32_t size, const uint8_t *data);
/* SET_LOG_BASE: the log's size and offset in the fd that goes with it. */
void vu_msg_log(struct vu_msg *m, uint64_t size, uint64_t offset);
void vu_msg_inflight(struct vu_msg *m, uint32_t req, uint32_t flags,
		     const struct vu_inflight *in);

/*
 * Which reply a request gets, if any: payload size and fd count. For
 * GET_CONFIG the size depends on what was asked (cfg_size). False if the
 * request has no reply (unless REPLY_ACK asked for one: then 8, 0).
 */
bool vu_reply_expected(uint32_t req, uint32_t cfg_size, uint32_t *size,
		       unsigned int *nfds);

/*
 * Check a reply to request req: the header (version, REPLY flag, the same
 * request code, the expected size), the payload length, and the fds that
 * came with it. buf holds len bytes (header + payload). 0 and *r filled,
 * or -EPROTO with why saying what was wrong.
 */
int vu_reply_parse(uint32_t req, uint32_t cfg_size, bool ack,
		   const uint8_t *buf, size_t len, unsigned int nfds,
		   struct vu_reply *r, char *why, size_t whylen);

/* A request's name for messages ("GET_VRING_BASE"). */
const char *vu_request_name(uint32_t req);

#endif
