// SPDX-License-Identifier: GPL-2.0
#include "violation.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../vmm/util.h"
#include "virtio.h"

static const struct {
	const char *name;
	const char *section;	/* virtio 1.2 */
} kinds[VIOL_NR_KINDS] = {
	[VIOL_NONE] = { "none", "" },
	[VIOL_DRIVER_OK_NO_FEATURES_OK] = { "driver_ok_without_features_ok", "3.1.1" },
	[VIOL_UNOFFERED_FEATURES] = { "unoffered_features", "2.2.1" },
	[VIOL_FEATURES_AFTER_FEATURES_OK] = { "features_after_features_ok", "3.1.1" },
	[VIOL_STATUS_CLEARED] = { "status_bit_cleared", "2.1.1" },
	[VIOL_NO_VERSION_1] = { "version_1_not_accepted", "6.1" },
	[VIOL_QUEUE_WRITE_LIVE] = { "queue_register_written_live", "4.1.4.3.2, 4.2.2.2" },
	[VIOL_NOTIFY_BAD_QUEUE] = { "notify_bad_queue", "4.1.4.4.1, 4.2.2.2" },
	[VIOL_CONFIG_RANGE] = { "config_access_out_of_range", "4.1.4.3.2, 4.2.2.2" },
	[VIOL_MSIX_VECTOR] = { "msix_vector_out_of_range", "4.1.4.3.2" },
	[VIOL_DESC_LOOP] = { "descriptor_loop", "2.7.5.2" },
	[VIOL_CHAIN_TOO_LONG] = { "chain_longer_than_queue", "2.7.5.2" },
	[VIOL_HEAD_IN_FLIGHT] = { "buffer_made_available_twice", "2.7.13, 2.8.21" },
	[VIOL_AVAIL_JUMP] = { "avail_index_jump", "2.7.6" },
	[VIOL_READ_AFTER_WRITE] = { "readable_after_writable", "2.7.5.2" },
	[VIOL_INDIRECT_NO_FEATURE] = { "indirect_not_negotiated", "2.7.5.3.1" },
	[VIOL_INDIRECT_NESTED] = { "indirect_nested", "2.7.5.3.1" },
	[VIOL_INDIRECT_NEXT] = { "indirect_with_next", "2.7.5.3.1" },
	[VIOL_INDIRECT_SIZE] = { "indirect_table_size", "2.7.5.3.1" },
	[VIOL_DESC_OUTSIDE_RAM] = { "buffer_outside_ram", "2.7.5" },
	[VIOL_DESC_INDEX] = { "descriptor_index_out_of_range", "2.7.5.2" },
	[VIOL_PACKED_FLAGS] = { "packed_flags_impossible", "2.8.21" },
	[VIOL_BUFFER_TOO_LARGE] = { "buffer_too_large", "2.7.5.2" },
	[VIOL_REQUEST_LAYOUT] = { "request_layout", "5.x (the device's requests)" },
	[VIOL_NOTIFY_DISABLED] = { "notify_disabled_queue", "2.9" },
	[VIOL_CONFIG_WIDTH] = { "config_access_width", "4.1.3.1, 4.2.2.2" },
};

static struct {
	pthread_mutex_t lock;
	FILE *file;
	bool strict;
	int pipe_fd;		/* --driver-log: a pump thread drains it */
	pthread_t pump;
	uint64_t dropped;	/* events the pipe had no room for */
} sink = { PTHREAD_MUTEX_INITIALIZER, NULL, false, -1, 0, 0 };

const char *viol_name(enum viol_kind k)
{
	return k < VIOL_NR_KINDS ? kinds[k].name : "unknown";
}

const char *viol_section(enum viol_kind k)
{
	return k < VIOL_NR_KINDS ? kinds[k].section : "";
}

void viol_setup(FILE *file, bool strict)
{
	pthread_mutex_lock(&sink.lock);
	sink.file = file;
	sink.strict = strict;
	pthread_mutex_unlock(&sink.lock);
}

bool viol_strict(void)
{
	return sink.strict;
}

int viol_open(const char *path, bool strict, char *err, size_t errlen)
{
	int fd, pfd[2], ret;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		errf(err, errlen, "--driver-log %s: %s", path, strerror(errno));
		return -errno;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0 || fcntl(pfd[1], F_SETFL, O_NONBLOCK)) {
		errf(err, errlen, "--driver-log %s: a pipe: %s", path,
		     strerror(errno));
		close(fd);
		return -EIO;
	}
	fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20);	/* best effort */
	ret = fd_pump_start(pfd[0], fd, true, &sink.pump);
	if (ret) {
		errf(err, errlen, "--driver-log %s: cannot start its writer",
		     path);
		close(pfd[0]);
		close(pfd[1]);
		close(fd);
		return ret;
	}
	pthread_mutex_lock(&sink.lock);
	sink.pipe_fd = pfd[1];
	sink.strict = strict;
	pthread_mutex_unlock(&sink.lock);
	return 0;
}

void viol_close(void)
{
	int fd;

	pthread_mutex_lock(&sink.lock);
	fd = sink.pipe_fd;
	sink.pipe_fd = -1;
	pthread_mutex_unlock(&sink.lock);
	if (fd < 0)
		return;
	close(fd);			/* the writer drains what is left */
	pthread_join(sink.pump, NULL);
	if (sink.dropped)
		pr_err("--driver-log: %llu events were not written (the file "
		       "could not keep up); the counts are complete",
		       (unsigned long long)sink.dropped);
}

/* A JSON string's body into buf: quotes, backslashes, controls escaped. */
static size_t json_text(char *buf, size_t len, size_t at, const char *s)
{
	for (; *s && at + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			at += (size_t)snprintf(buf + at, len - at, "\\%c", c);
		else if (c < 0x20)
			at += (size_t)snprintf(buf + at, len - at, "\\u%04x", c);
		else
			buf[at++] = (char)c;
	}
	buf[at] = '\0';
	return at;
}

/*
 * One JSON line, written whole: to the log's pipe without waiting (the
 * thread that saw the event may be a vCPU or the event loop; a full pipe
 * drops the line and counts it), or to a test's FILE.
 */
static void log_event(const struct virtio_dev *d, const char *kind,
		      const char *section, int queue, const char *detail)
{
	char line[1024];
	struct timespec ts;
	size_t n;

	if (sink.pipe_fd < 0 && !sink.file)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = (size_t)snprintf(line, sizeof(line), "{\"time\": %lld.%03ld, "
			     "\"device\": \"", (long long)ts.tv_sec,
			     ts.tv_nsec / 1000000);
	n = json_text(line, sizeof(line), n, d->id[0] ? d->id : d->ops->name);
	n += (size_t)snprintf(line + n, sizeof(line) - n, "\", \"kind\": \"%s\", "
			      "\"spec\": \"%s\", \"queue\": %d, \"detail\": \"",
			      kind, section, queue);
	n = json_text(line, sizeof(line) - 4, n, detail);
	n += (size_t)snprintf(line + n, sizeof(line) - n, "\"}\n");
	pthread_mutex_lock(&sink.lock);
	if (sink.pipe_fd >= 0) {
		if (write(sink.pipe_fd, line, n) != (ssize_t)n)
			sink.dropped++;
	} else if (sink.file) {
		fputs(line, sink.file);
		fflush(sink.file);
	}
	pthread_mutex_unlock(&sink.lock);
}

void virtio_violation(struct virtio_dev *d, enum viol_kind k, int queue,
		      const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	if (k <= VIOL_NONE || k >= VIOL_NR_KINDS)
		return;
	d->violations[k]++;
	d->nr_violations++;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_event(d, kinds[k].name, kinds[k].section, queue, detail);
	if (sink.strict)
		virtio_dev_broken(d);
}

void virtio_injected(struct virtio_dev *d, int queue, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	d->injected++;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_event(d, "injected", "", queue, detail);
}

void viol_summary(const struct virtio_dev *d, char *buf, size_t len)
{
	size_t n;
	int k;

	buf[0] = 0;
	if (!d->nr_violations || len < 2)
		return;
	n = (size_t)snprintf(buf, len, "%llu driver violations (",
			     (unsigned long long)d->nr_violations);
	for (k = VIOL_NONE + 1; k < VIOL_NR_KINDS && n < len; k++) {
		if (!d->violations[k])
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s %llu",
				      buf[n - 1] == '(' ? "" : ", ", kinds[k].name,
				      (unsigned long long)d->violations[k]);
	}
	if (n < len)
		snprintf(buf + n, len - n, ")");
}

uint64_t inject_rand(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 2685821657736338717ULL;
}
