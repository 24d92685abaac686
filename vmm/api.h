/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control API: HTTP/1.1 with JSON bodies on a unix socket, served
 * from the event loop (never blocking it: sockets are non-blocking, a
 * request is handled when its last byte arrived, replies that do not fit
 * the socket wait for EPOLLOUT). HTTP is parsed with http-parser and JSON
 * with jansson (Debian's libhttp-parser-dev, libjansson-dev).
 *
 * Resources follow Firecracker's API where the concept matches (see the
 * README): GET /, /machine-config, /boot-source, /drives/{id},
 * /network-interfaces/{id}, /actions, /vm, /snapshot/create,
 * /snapshot/load, /balloon, /balloon/statistics, /vm/config, and vireo's
 * /metrics. Success is 204 (GET: 200 + JSON); errors are 4xx with
 * {"fault_message": "..."}. Malformed, oversized, unknown-field and
 * wrong-state requests are refused and change nothing (BAD-INPUTS 26).
 *
 * What a request does is the backend's (struct api_backend): the parsing
 * and validation here is fuzzed against a stub one.
 */
#ifndef VIREO_API_H
#define VIREO_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "irq.h"
#include "loop.h"

#define API_MAX_BODY		(64 * 1024)
#define API_MAX_URL		1024
#define API_MAX_CONNS		8

enum api_state {
	API_NOT_STARTED,
	API_RUNNING,
	API_PAUSED,
};

/* One validated request, as the backend sees it. */
enum api_action {
	API_MACHINE_CONFIG,	/* vcpu_count, mem_size_mib, track_dirty */
	API_BOOT_SOURCE,
	API_DRIVE,
	API_NET,
	API_BALLOON,
	API_START,
	API_CTRL_ALT_DEL,
	API_POWEROFF,
	API_FLUSH_METRICS,
	API_PAUSE,
	API_RESUME,
	API_SNAPSHOT,
	API_LOAD,
	API_BALLOON_TARGET,
	API_BALLOON_STATS_PERIOD,
	API_MIGRATE,
	API_FAULTS,		/* PUT /faults/ID: fault injection now */
};

struct api_request {
	enum api_action action;
	bool patch;			/* PATCH: only the fields given */
	/* machine-config */
	int vcpu_count;			/* -1: not given */
	int64_t mem_size_mib;
	int track_dirty;		/* -1: not given */
	/* boot-source */
	const char *kernel, *initrd, *boot_args;
	/* drives, network-interfaces, snapshots: ids and paths */
	const char *id;
	const char *path;
	int read_only;			/* -1: not given */
	int root;
	const char *tap;
	const char *mac;
	/* snapshot */
	const char *state_path, *mem_path;
	bool diff;
	bool resume;
	unsigned int nr_overrides;
	const char *override_id[16], *override_tap[16];
	/* balloon */
	int64_t amount_mib;		/* -1: not given */
	int deflate_on_oom;
	int64_t stats_period;
	/* migrate (path: the destination) */
	int mig_local;			/* -1: not given */
	int64_t max_downtime_ms, bandwidth_mbps, max_rounds;
	/* faults (id: the device; path: the inject= spec) */
	int64_t seed;			/* -1: not given */
};

struct api_backend {
	enum api_state (*state)(void *ctx);
	/*
	 * Do it; < 0 with err for the fault message (4xx); API_LATER: it
	 * goes on off the loop (writing a snapshot), and the backend answers
	 * with api_finish() when it has ended.
	 */
	int (*act)(void *ctx, const struct api_request *r, char *err,
		   size_t errlen);
	/* The JSON of a GET (/vm/config, /machine-config, /balloon, ...):
	 * a new reference, or NULL with err (404 or 400). */
	json_t *(*get)(void *ctx, const char *what, char *err, size_t errlen);
};

struct api_conn;

struct api {
	struct vm_notify notify;
	const struct api_backend *be;
	void *ctx;
	char id[64];			/* GET /'s "id" */
	char path[108];
	uint64_t path_id;		/* unix_path_id() once listening */
	struct ev_handler listen_h;
	bool listening;
	struct api_conn *conns[API_MAX_CONNS];
	struct api_conn *later;		/* waits for api_finish() */
	uint64_t requests, errors;
};

#define API_LATER	1

/*
 * The request whose act() returned API_LATER has ended: 204, or with
 * err a 400 naming it. The client still waiting gets it.
 */
void api_finish(struct api *a, const char *err);

/* Listen on path (a stale socket is replaced). -errno with err. */
int api_init(struct api *a, const char *path, const struct vm_notify *notify,
	     const struct api_backend *be, void *ctx, char *err,
	     size_t errlen);
void api_fini(struct api *a);

/*
 * One request through the same path a socket's takes: method, URL and
 * body to status and a reply body (malloc'ed JSON text or NULL). For
 * tests and the fuzz target.
 */
int api_handle(struct api *a, const char *method, const char *url,
	       const char *body, size_t len, char **reply);

/* Feed raw HTTP bytes of one connection (tests, fuzzing): replies go to out. */
struct api_conn *api_conn_new(struct api *a, int fd);
void api_conn_feed(struct api_conn *c, const uint8_t *buf, size_t len);
void api_conn_free(struct api_conn *c);

#endif
