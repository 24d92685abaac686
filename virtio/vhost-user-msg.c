// SPDX-License-Identifier: GPL-2.0
#include "vhost-user-msg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../vmm/util.h"

static uint8_t *msg_start(struct vu_msg *m, uint32_t req, uint32_t flags,
			  uint32_t size)
{
	memset(m->buf, 0, VU_HDR_SIZE + size);
	put_le32(m->buf, req);
	put_le32(m->buf + 4, flags | VU_FLAG_VERSION);
	put_le32(m->buf + 8, size);
	m->len = VU_HDR_SIZE + size;
	return m->buf + VU_HDR_SIZE;
}

void vu_msg_none(struct vu_msg *m, uint32_t req, uint32_t flags)
{
	msg_start(m, req, flags, 0);
}

void vu_msg_u64(struct vu_msg *m, uint32_t req, uint32_t flags, uint64_t v)
{
	put_le64(msg_start(m, req, flags, 8), v);
}

void vu_msg_log(struct vu_msg *m, uint64_t size, uint64_t offset)
{
	uint8_t *p = msg_start(m, VU_SET_LOG_BASE, 0, 16);

	put_le64(p, size);
	put_le64(p + 8, offset);
}

void vu_msg_state(struct vu_msg *m, uint32_t req, uint32_t flags,
		  uint32_t index, uint32_t num)
{
	uint8_t *p = msg_start(m, req, flags, 8);

	put_le32(p, index);
	put_le32(p + 4, num);
}

void vu_msg_addr(struct vu_msg *m, uint32_t flags, uint32_t index,
		 uint64_t desc, uint64_t used, uint64_t avail, bool log,
		 uint64_t log_gpa)
{
	uint8_t *p = msg_start(m, VU_SET_VRING_ADDR, flags, 40);

	put_le32(p, index);
	put_le32(p + 4, log ? VU_VRING_F_LOG : 0);
	put_le64(p + 8, desc);
	put_le64(p + 16, used);
	put_le64(p + 24, avail);
	put_le64(p + 32, log ? log_gpa : 0);	/* the used ring's, logged */
}

void vu_msg_mem(struct vu_msg *m, uint32_t flags, const struct vu_region *r,
		unsigned int nr)
{
	uint8_t *p;
	unsigned int i;

	if (nr > VU_MAX_REGIONS)
		nr = VU_MAX_REGIONS;
	p = msg_start(m, VU_SET_MEM_TABLE, flags, 8 + 32 * nr);
	put_le32(p, nr);
	for (i = 0; i < nr; i++) {
		uint8_t *e = p + 8 + 32 * i;

		put_le64(e, r[i].gpa);
		put_le64(e + 8, r[i].size);
		put_le64(e + 16, r[i].uaddr);
		put_le64(e + 24, r[i].mmap_offset);
	}
}

void vu_msg_config(struct vu_msg *m, uint32_t req, uint32_t flags,
		   uint32_t offset, uint32_t size, const uint8_t *data)
{
	uint8_t *p;

	if (size > VU_CONFIG_MAX)
		size = VU_CONFIG_MAX;
	p = msg_start(m, req, flags, VU_CONFIG_HDR + size);
	put_le32(p, offset);
	put_le32(p + 4, size);
	put_le32(p + 8, 0);
	if (data)
		memcpy(p + VU_CONFIG_HDR, data, size);
}

void vu_msg_inflight(struct vu_msg *m, uint32_t req, uint32_t flags,
		     const struct vu_inflight *in)
{
	uint8_t *p = msg_start(m, req, flags, VU_INFLIGHT_SIZE);

	put_le64(p, in->mmap_size);
	put_le64(p + 8, in->mmap_offset);
	put_le16(p + 16, in->num_queues);
	put_le16(p + 18, in->queue_size);
}

bool vu_reply_expected(uint32_t req, uint32_t cfg_size, uint32_t *size,
		       unsigned int *nfds)
{
	*nfds = 0;
	switch (req) {
	case VU_GET_FEATURES:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_QUEUE_NUM:
	case VU_GET_VRING_BASE:
	case VU_SET_LOG_BASE:	/* with LOG_SHMFD; some send it empty */
		*size = 8;
		return true;
	case VU_GET_CONFIG:
		*size = VU_CONFIG_HDR + MIN(cfg_size, (uint32_t)VU_CONFIG_MAX);
		return true;
	case VU_GET_INFLIGHT_FD:
		*size = VU_INFLIGHT_SIZE;
		*nfds = 1;
		return true;
	}
	return false;
}

int vu_reply_parse(uint32_t req, uint32_t cfg_size, bool ack,
		   const uint8_t *buf, size_t len, unsigned int nfds,
		   struct vu_reply *r, char *why, size_t whylen)
{
	uint32_t rreq, flags, size, want;
	unsigned int want_fds;
	const uint8_t *p = buf + VU_HDR_SIZE;

	memset(r, 0, sizeof(*r));
	if (!vu_reply_expected(req, cfg_size, &want, &want_fds)) {
		if (!ack) {
			errf(why, whylen, "%s has no reply", vu_request_name(req));
			return -EPROTO;
		}
		want = 8;
		want_fds = 0;
	}
	if (len < VU_HDR_SIZE) {
		errf(why, whylen, "a short reply to %s (%zu bytes)",
		     vu_request_name(req), len);
		return -EPROTO;
	}
	rreq = get_le32(buf);
	flags = get_le32(buf + 4);
	size = get_le32(buf + 8);
	if ((flags & 0x3) != VU_FLAG_VERSION || !(flags & VU_FLAG_REPLY)) {
		errf(why, whylen, "a reply to %s with flags %#x (want version 1 "
		     "and the reply bit)", vu_request_name(req), flags);
		return -EPROTO;
	}
	if (rreq != req) {
		errf(why, whylen, "a reply to %s came back as request %u",
		     vu_request_name(req), rreq);
		return -EPROTO;
	}
	if (req == VU_SET_LOG_BASE && size == 0)
		want = 0;	/* an empty reply (DPDK's), or a u64 (QEMU's) */
	if (size != want || len != VU_HDR_SIZE + (size_t)size) {
		errf(why, whylen, "a reply to %s of %u bytes (%zu arrived; want "
		     "%u)", vu_request_name(req), size,
		     len >= VU_HDR_SIZE ? len - VU_HDR_SIZE : 0, want);
		return -EPROTO;
	}
	if (nfds != want_fds) {
		errf(why, whylen, "a reply to %s with %u file descriptors (want "
		     "%u)", vu_request_name(req), nfds, want_fds);
		return -EPROTO;
	}
	switch (want == 8 ? 0 : want == 0 ? VU_SET_LOG_BASE : req) {
	case 0:
		r->u64 = get_le64(p);
		r->index = get_le32(p);
		r->num = get_le32(p + 4);
		break;
	case VU_GET_CONFIG:
		r->cfg_offset = get_le32(p);
		r->cfg_size = get_le32(p + 4);
		if (r->cfg_size != size - VU_CONFIG_HDR) {
			errf(why, whylen, "GET_CONFIG reply says %u bytes of "
			     "config in a %u-byte payload", r->cfg_size, size);
			return -EPROTO;
		}
		memcpy(r->cfg, p + VU_CONFIG_HDR, r->cfg_size);
		break;
	case VU_SET_LOG_BASE:
		break;
	case VU_GET_INFLIGHT_FD:
		r->inflight.mmap_size = get_le64(p);
		r->inflight.mmap_offset = get_le64(p + 8);
		r->inflight.num_queues = get_le16(p + 16);
		r->inflight.queue_size = get_le16(p + 18);
		break;
	}
	return 0;
}

const char *vu_request_name(uint32_t req)
{
	static const char *const names[] = {
		[VU_GET_FEATURES] = "GET_FEATURES",
		[VU_SET_FEATURES] = "SET_FEATURES",
		[VU_SET_OWNER] = "SET_OWNER",
		[VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
		[VU_SET_LOG_BASE] = "SET_LOG_BASE",
		[VU_SET_VRING_NUM] = "SET_VRING_NUM",
		[VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
		[VU_SET_VRING_BASE] = "SET_VRING_BASE",
		[VU_GET_VRING_BASE] = "GET_VRING_BASE",
		[VU_SET_VRING_KICK] = "SET_VRING_KICK",
		[VU_SET_VRING_CALL] = "SET_VRING_CALL",
		[VU_SET_VRING_ERR] = "SET_VRING_ERR",
		[VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
		[VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
		[VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
		[VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
		[VU_GET_CONFIG] = "GET_CONFIG",
		[VU_SET_CONFIG] = "SET_CONFIG",
		[VU_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
		[VU_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
	};

	return req < ARRAY_SIZE(names) && names[req] ? names[req] : "a request";
}
