/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Live migration between two vireo processes (ARCHITECTURE.md §5).
 *
 * The stream, source to target, all integers little-endian:
 *   header  "VIREOMIG", u32 version, u32 flags (MIG_LOCAL), u64 RAM size,
 *           u32 page size (4096), u32 CRC-32 of the 28 bytes before it;
 *   records u32 type, u32 sequence number (from 0, +1 each), u64 arg,
 *           u32 payload length, u32 CRC-32 of those 20 bytes and the
 *           payload; then the payload:
 *     CONFIG the machine's configuration as a state file with no state
 *            (machine_config_encode()), once, first: the target builds
 *            the VM from it while pages arrive, not in the downtime;
 *     PAGES  arg = memfd offset of the first page, payload = whole pages
 *            (1..MIG_MAX_RUN of them), inside RAM;
 *     ROUND  arg = the pre-copy round that starts (no payload);
 *     STATE  the state file of the paused VM (snapshot.h), once, of the
 *            machine CONFIG described;
 *     END    arg = pages sent in all; after STATE;
 *     SYNC   arg = the pre-copy round that ends (no payload): the target
 *            answers "VIREO-SY" once it has read everything before it.
 * With MIG_LOCAL (a unix socket, same host) the RAM memfd itself follows
 * the header as SCM_RIGHTS and no PAGES may come. The target answers
 * "VIREO-RD" once it has built the VM from CONFIG, "VIREO-SY" for each
 * SYNC, "VIREO-OK" once the guest runs there, or "VIREO-NO" and a reason.
 *
 * The stream's code is in migrate-stream.c, the source's and target's in
 * migrate.c. The target reads through struct mig_reader, so unit tests and
 * the fuzz target feed it bytes from memory: every field is checked before it
 * is used (BAD-INPUTS 24): magic, version, sizes, sequence, offsets, CRCs.
 */
#ifndef VIREO_MIGRATE_H
#define VIREO_MIGRATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MIG_VERSION		3	/* 2: CONFIG first; 3: SYNC */
#define MIG_LOCAL		1u
#define MIG_HEADER_LEN		32
#define MIG_RECORD_LEN		24
#define MIG_MAX_RUN		256		/* pages in one PAGES record */
#define MIG_MAX_RAM		(1ULL << 40)

enum mig_type {
	MIG_PAGES = 1,
	MIG_ROUND = 2,
	MIG_STATE = 3,
	MIG_END = 4,
	MIG_CONFIG = 5,
	MIG_SYNC = 6,
};

struct mig_header {
	uint32_t version, flags;
	uint64_t ram_size;
};

struct mig_reader {
	/* Read exactly len bytes: len, 0 at a clean end, -errno. */
	ssize_t (*read)(void *ctx, void *buf, size_t len);
	void *ctx;
	/* The CONFIG record's checked bytes (NULL: not looked at). -errno
	 * with err refuses the stream. */
	int (*config)(void *cctx, const uint8_t *blob, size_t len, char *err,
		      size_t errlen);
	void *cctx;
	/* A SYNC record read, arg its arg (NULL: not answered). -errno
	 * with err ends the stream. */
	int (*sync)(void *cctx, uint64_t arg, char *err, size_t errlen);
	/* Where a checked run of len bytes of pages at RAM offset off goes
	 * (NULL, or NULL returned: ram + off). */
	uint8_t *(*pages)(void *cctx, uint64_t off, uint32_t len);
};

/* What the target received. */
struct mig_received {
	uint8_t *state;			/* malloc'ed state file */
	size_t state_len;
	uint64_t pages, rounds;
};

/* CRC-32 (zlib's) of len bytes at p, continuing c. */
uint32_t mig_crc(uint32_t c, const void *p, size_t len);
void mig_header_encode(uint8_t out[MIG_HEADER_LEN], const struct mig_header *h);
int mig_read_header(struct mig_reader *rd, struct mig_header *h, char *err,
		    size_t errlen);
/*
 * The records after the header, into ram (ram_size bytes; NULL for a
 * local stream, which carries no pages), until END. 0, or -errno with
 * err naming what is wrong; r->state is then freed.
 */
int mig_read_body(struct mig_reader *rd, const struct mig_header *h,
		  uint8_t *ram, struct mig_received *r, char *err,
		  size_t errlen);
/* A record's 24 header bytes (its CRC covers payload too). */
void mig_record_encode(uint8_t out[MIG_RECORD_LEN], uint32_t type,
		       uint32_t seq, uint64_t arg, const void *payload,
		       uint32_t len);

/* ---- the source ------------------------------------------------------ */

enum mig_state {
	MIG_NONE,
	MIG_ACTIVE,		/* pre-copy rounds */
	MIG_COMPLETING,		/* paused, the last pages and the state */
	MIG_COMPLETED,		/* the target runs the guest */
	MIG_FAILED,		/* the guest runs here again */
};

struct mig_opts {
	char to[256];			/* unix:PATH or tcp:HOST:PORT */
	bool local;			/* hand over the memfd (unix only) */
	unsigned int max_downtime_ms;	/* default 300 */
	unsigned int bandwidth_mbps;	/* MB/s, 0: unlimited */
	unsigned int max_rounds;	/* default 30 */
};

struct mig_progress {
	enum mig_state state;
	unsigned int round;
	uint64_t pages_sent, bytes_sent, dirty_pages;
	double mbps;			/* of the last round */
	uint64_t total_ms, downtime_ms;
	char error[512];
};

struct machine;
struct migration;
struct ev_loop;

/*
 * Pre-copy's stop rule, after round (from 0) re-sent prev pages (0 for
 * round 0, which sent all of RAM) and left dirty pages, at bytes_per_ms:
 * stop at the round limit, never while the rest does not fit
 * max_downtime_ms, and once it fits, stop when one more round would not
 * pay: the rest takes under MIG_TAIL_MS to send, or it is more than half
 * of what this round re-sent (the guest dirties about as fast as we send).
 */
#define MIG_TAIL_MS		10
bool mig_precopy_done(uint64_t dirty, uint64_t prev, uint64_t bytes_per_ms,
		      unsigned int round, const struct mig_opts *o);

/* Parse "unix:PATH[,local=on]" or "tcp:HOST:PORT" into o. -EINVAL + err. */
int mig_parse_uri(const char *uri, struct mig_opts *o, char *err,
		  size_t errlen);
/*
 * Begin migrating m (running or paused) on a thread of its own; the loop
 * (the caller's thread) is told through eventfds when to pause, and when
 * it is over: mig_poll() then says how. -errno with err (a vhost device,
 * a private RAM mapping with local, one under way already).
 */
int mig_start(struct migration **mp, struct machine *m, struct ev_loop *loop,
	      const struct mig_opts *o, char *err, size_t errlen);
void mig_progress(struct migration *mg, struct mig_progress *p);
/* Stop and free (after it ended, or at exit: the connection is cut). */
void mig_free(struct migration *mg);

/*
 * The target: wait on uri for one stream (the loop keeps serving
 * signals meanwhile), receive it, and build the machine from it (as a
 * restore does, with o's overrides). The guest runs when this returns 0.
 */
struct restore_opts;
struct vm_config;
struct console;
int mig_incoming(struct machine *m, struct vm_config *cfg, const char *uri,
		 const struct restore_opts *o, struct console *con,
		 struct ev_loop *loop, char *err, size_t errlen);

#endif
