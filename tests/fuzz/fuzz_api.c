// SPDX-License-Identifier: GPL-2.0
/*
 * The control API's input is hostile: raw HTTP bytes through a connection
 * (framing, headers, bodies, pipelining, in odd-sized pieces), and JSON
 * bodies straight to each resource, against a backend that accepts
 * everything. Nothing may crash or read past what arrived.
 *
 * Input: [0] bit 0: HTTP mode, else [0] >> 1 picks the method and [1]
 *        the resource for a body of [2..]; HTTP mode feeds [1..] in pieces
 *        of ([0] >> 1) + 1 bytes.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/api.h"
#include "vmm/util.h"

void api_conn_flush_for_tests(struct api_conn *c);

static enum api_state b_state(void *ctx)
{
	(void)ctx;
	return API_RUNNING;
}

static int b_act(void *ctx, const struct api_request *r, char *err,
		 size_t errlen)
{
	size_t i;

	(void)ctx; (void)err; (void)errlen;
	/* Touch every string the request carries. */
	for (i = 0; i < r->nr_overrides; i++)
		if (strlen(r->override_id[i]) + strlen(r->override_tap[i]) == 0)
			return -1;
	return (r->kernel && !*r->kernel) ? -1 : 0;
}

static json_t *b_get(void *ctx, const char *what, char *err, size_t errlen)
{
	(void)ctx; (void)err; (void)errlen;
	return json_pack("{s:s}", "what", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct api_backend be = { b_state, b_act, b_get };
	static const char *const methods[] = { "GET", "PUT", "PATCH", "POST" };
	static const char *const urls[] = {
		"/", "/machine-config", "/boot-source", "/drives/d0",
		"/network-interfaces/eth0", "/actions", "/vm", "/snapshot/create",
		"/snapshot/load", "/balloon", "/balloon/statistics", "/vm/config",
		"/metrics", "/drives/", "/x",
	};
	static struct api a;
	char buf[4096], *reply = NULL;

	if (size < 2)
		return 0;
	memset(&a, 0, sizeof(a));
	a.be = &be;
	if (data[0] & 1) {
		size_t piece = (size_t)(data[0] >> 1) + 1, off;
		struct api_conn *c;
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
			return 0;
		c = api_conn_new(&a, sv[0]);
		for (off = 1; c && off < size; off += piece) {
			api_conn_feed(c, data + off, MIN(piece, size - off));
			api_conn_flush_for_tests(c);
			while (read(sv[1], buf, sizeof(buf)) > 0)
				;
		}
		if (c)
			api_conn_free(c);
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	api_handle(&a, methods[(data[0] >> 1) % 4], urls[data[1] % 15],
		   (const char *)data + 2, size - 2, &reply);
	free(reply);
	return 0;
}
