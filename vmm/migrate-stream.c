// SPDX-License-Identifier: GPL-2.0
/* The migration stream (migrate.h): encoders, and the checked reader. */
#include "migrate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "snapshot.h"
#include "util.h"

bool mig_precopy_done(uint64_t dirty, uint64_t prev, uint64_t bytes_per_ms,
		      unsigned int round, const struct mig_opts *o)
{
	/* Bytes, with the rate capped so that no product overflows. */
	uint64_t rest = dirty * 4096, rate = MIN(bytes_per_ms, 1ULL << 40);

	if (round + 1 >= o->max_rounds)
		return true;
	if (rest > rate * o->max_downtime_ms)
		return false;
	if (rest <= rate * MIG_TAIL_MS)
		return true;
	/* After round 0 (all of RAM) the first re-send always pays. */
	return round > 0 && dirty * 2 > prev;
}

uint32_t mig_crc(uint32_t c, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;

		c = (uint32_t)crc32(c, b, n);
		b += n;
		len -= n;
	}
	return c;
}

void mig_header_encode(uint8_t out[MIG_HEADER_LEN], const struct mig_header *h)
{
	memcpy(out, "VIREOMIG", 8);
	put_le32(out + 8, h->version);
	put_le32(out + 12, h->flags);
	put_le64(out + 16, h->ram_size);
	put_le32(out + 24, 4096);
	put_le32(out + 28, mig_crc(0, out, 28));
}

void mig_record_encode(uint8_t out[MIG_RECORD_LEN], uint32_t type,
		       uint32_t seq, uint64_t arg, const void *payload,
		       uint32_t len)
{
	put_le32(out, type);
	put_le32(out + 4, seq);
	put_le64(out + 8, arg);
	put_le32(out + 16, len);
	put_le32(out + 20, mig_crc(mig_crc(0, out, 20), payload, len));
}

/* Exactly len bytes, or an error naming what was being read. */
static int read_exact(struct mig_reader *rd, void *buf, size_t len,
		      const char *what, char *err, size_t errlen)
{
	ssize_t n = rd->read(rd->ctx, buf, len);

	if (n == (ssize_t)len)
		return 0;
	if (n < 0)
		errf(err, errlen, "reading %s: %s", what,
		     n == -EAGAIN ? "the source sent nothing for a minute" :
		     strerror((int)-n));
	else
		errf(err, errlen, "the stream ended in %s (truncated)", what);
	return n < 0 ? (int)n : -EPROTO;
}

int mig_read_header(struct mig_reader *rd, struct mig_header *h, char *err,
		    size_t errlen)
{
	uint8_t b[MIG_HEADER_LEN];
	int ret = read_exact(rd, b, sizeof(b), "the header", err, errlen);

	if (ret)
		return ret;
	if (memcmp(b, "VIREOMIG", 8)) {
		errf(err, errlen, "not a vireo migration stream (bad magic)");
		return -EPROTO;
	}
	if (get_le32(b + 28) != mig_crc(0, b, 28)) {
		errf(err, errlen, "the stream's header is corrupt (CRC mismatch)");
		return -EPROTO;
	}
	h->version = get_le32(b + 8);
	h->flags = get_le32(b + 12);
	h->ram_size = get_le64(b + 16);
	if (h->version != MIG_VERSION) {
		errf(err, errlen, "stream version %u; this vireo reads version "
		     "%u (run the same vireo on both ends)", h->version,
		     MIG_VERSION);
		return -EPROTO;
	}
	if (h->flags & ~MIG_LOCAL) {
		errf(err, errlen, "unknown stream flags %#x", h->flags);
		return -EPROTO;
	}
	if (get_le32(b + 24) != 4096) {
		errf(err, errlen, "page size %u; vireo uses 4096",
		     get_le32(b + 24));
		return -EPROTO;
	}
	if (!h->ram_size || h->ram_size % 4096 || h->ram_size > MIG_MAX_RAM) {
		errf(err, errlen, "RAM size %llu is not a whole number of "
		     "pages up to 1 TiB", (unsigned long long)h->ram_size);
		return -EPROTO;
	}
	return 0;
}

static const char *type_name(uint32_t type)
{
	switch (type) {
	case MIG_PAGES: return "pages";
	case MIG_CONFIG: return "configuration";
	case MIG_ROUND: return "round";
	case MIG_SYNC: return "sync";
	case MIG_STATE: return "state";
	case MIG_END: return "end";
	}
	return "unknown";
}

int mig_read_body(struct mig_reader *rd, const struct mig_header *h,
		  uint8_t *ram, struct mig_received *r, char *err,
		  size_t errlen)
{
	uint8_t b[MIG_RECORD_LEN], *into, *config = NULL;
	uint32_t seq, type, len, c;
	uint64_t arg;
	char what[64];
	int ret;

	memset(r, 0, sizeof(*r));
	for (seq = 0;; seq++) {
		snprintf(what, sizeof(what), "record %u", seq);
		ret = read_exact(rd, b, sizeof(b), what, err, errlen);
		if (ret)
			goto fail;
		type = get_le32(b);
		arg = get_le64(b + 8);
		len = get_le32(b + 16);
		if (get_le32(b + 4) != seq) {
			errf(err, errlen, "record %u came numbered %u (out of "
			     "order or lost)", seq, get_le32(b + 4));
			goto bad;
		}
		c = mig_crc(0, b, 20);
		into = NULL;
		if (!seq && type != MIG_CONFIG) {
			errf(err, errlen, "record 0 is %s, not the configuration",
			     type_name(type));
			goto bad;
		}
		switch (type) {
		case MIG_CONFIG:
			if (seq) {
				errf(err, errlen, "record %u: a configuration "
				     "after the first record", seq);
				goto bad;
			}
			if (!len || len > SNAPSHOT_MAX_SIZE)
				goto bad_len;
			config = malloc(len);
			if (!config) {
				ret = -ENOMEM;
				errf(err, errlen, "no memory for a %u-byte "
				     "configuration", len);
				goto fail;
			}
			into = config;
			break;
		case MIG_PAGES:
			if (!ram) {
				errf(err, errlen, "record %u: pages in a local "
				     "stream (the memory was handed over)", seq);
				goto bad;
			}
			if (!len || len % 4096 || len > MIG_MAX_RUN * 4096 ||
			    arg % 4096 || arg >= h->ram_size ||
			    len > h->ram_size - arg) {
				errf(err, errlen, "record %u: %u bytes of pages at "
				     "%#llx, outside RAM of %llu bytes or not "
				     "whole pages", seq, len,
				     (unsigned long long)arg,
				     (unsigned long long)h->ram_size);
				goto bad;
			}
			into = rd->pages ? rd->pages(rd->cctx, arg, len) : NULL;
			if (!into)
				into = ram + arg;
			r->pages += len / 4096;
			break;
		case MIG_ROUND:
			if (len)
				goto bad_len;
			r->rounds = arg;
			break;
		case MIG_SYNC:
			if (len)
				goto bad_len;
			break;
		case MIG_STATE:
			if (r->state) {
				errf(err, errlen, "record %u: a second state", seq);
				goto bad;
			}
			if (!len || len > SNAPSHOT_MAX_SIZE)
				goto bad_len;
			r->state = malloc(len);
			if (!r->state) {
				ret = -ENOMEM;
				errf(err, errlen, "no memory for a %u-byte state", len);
				goto fail;
			}
			r->state_len = len;
			into = r->state;
			break;
		case MIG_END:
			if (len)
				goto bad_len;
			if (!r->state) {
				errf(err, errlen, "record %u: the end before the "
				     "state", seq);
				goto bad;
			}
			if (arg != r->pages) {
				errf(err, errlen, "the source sent %llu pages, %llu "
				     "arrived", (unsigned long long)arg,
				     (unsigned long long)r->pages);
				goto bad;
			}
			break;
		default:
			errf(err, errlen, "record %u: unknown type %u", seq, type);
			goto bad;
		}
		if (into) {
			snprintf(what, sizeof(what), "record %u's %s", seq,
				 type_name(type));
			ret = read_exact(rd, into, len, what, err, errlen);
			if (ret)
				goto fail;
			c = mig_crc(c, into, len);
		}
		if (c != get_le32(b + 20)) {
			errf(err, errlen, "record %u (%s): CRC mismatch, the "
			     "stream is corrupt", seq, type_name(type));
			goto bad;
		}
		if (config) {
			ret = rd->config ? rd->config(rd->cctx, config, len, err,
						      errlen) : 0;
			free(config);
			config = NULL;
			if (ret)
				goto fail;
		}
		if (type == MIG_SYNC && rd->sync) {
			ret = rd->sync(rd->cctx, arg, err, errlen);
			if (ret)
				goto fail;
		}
		if (type == MIG_END)
			return 0;
	}
bad_len:
	errf(err, errlen, "record %u (%s): a length of %u is wrong for it",
	     seq, type_name(type), len);
bad:
	ret = -EPROTO;
fail:
	free(config);
	free(r->state);
	r->state = NULL;
	r->state_len = 0;
	return ret;
}

int mig_parse_uri(const char *uri, struct mig_opts *o, char *err,
		  size_t errlen)
{
	const char *comma;
	size_t n;

	if (strncmp(uri, "unix:", 5) && strncmp(uri, "tcp:", 4)) {
		errf(err, errlen, "'%s': a migration goes to unix:PATH or "
		     "tcp:HOST:PORT", uri);
		return -EINVAL;
	}
	comma = strchr(uri, ',');
	n = comma ? (size_t)(comma - uri) : strlen(uri);
	if (comma) {
		if (strcmp(comma, ",local=on") && strcmp(comma, ",local=off")) {
			errf(err, errlen, "'%s': the only option is local=on|off",
			     uri);
			return -EINVAL;
		}
		o->local = !strcmp(comma, ",local=on");
	}
	if (n >= sizeof(o->to) || n <= 5) {
		errf(err, errlen, "'%s': the address is %s", uri,
		     n <= 5 ? "empty" : "too long");
		return -EINVAL;
	}
	memcpy(o->to, uri, n);
	o->to[n] = '\0';
	if (o->local && strncmp(o->to, "unix:", 5)) {
		errf(err, errlen, "'%s': local=on hands the memory over a unix "
		     "socket, so the target must be unix:PATH on this host", uri);
		return -EINVAL;
	}
	if (!strncmp(o->to, "tcp:", 4) && !strrchr(o->to + 4, ':')) {
		errf(err, errlen, "'%s': tcp:HOST:PORT", uri);
		return -EINVAL;
	}
	return 0;
}

