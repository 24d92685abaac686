// SPDX-License-Identifier: GPL-2.0
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"

static void vpr(const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	/* One write so lines from different threads do not interleave. */
	fprintf(stderr, "vireo: %s\n", buf);
}

void pr_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpr(fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpr(fmt, ap);
	va_end(ap);
	exit(1);
}

void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

ssize_t write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int file_map_fd(int fd, size_t max, struct file_map *fm)
{
	struct stat st;
	void *p;

	fm->data = NULL;
	fm->len = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	if (st.st_size == 0)
		return 0;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	fm->data = p;
	fm->len = (size_t)st.st_size;
	return 0;
}

int file_map(const char *path, size_t max, struct file_map *fm)
{
	int fd, ret;

	fm->data = NULL;
	fm->len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = file_map_fd(fd, max, fm);
	close(fd);
	return ret;
}

void file_unmap(struct file_map *fm)
{
	if (fm->data)
		munmap((void *)fm->data, fm->len);
	fm->data = NULL;
	fm->len = 0;
}

int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 20;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		end++;
		break;
	case 'M':
		shift = 20;
		end++;
		break;
	case 'G':
		shift = 30;
		end++;
		break;
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		return -EINVAL;
	}
	/* Accept "M", "MB" and "MiB" spellings. */
	if (*end == 'i')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

uint64_t get_access(const void *data, unsigned int len)
{
	switch (len) {
	case 1:
		return *(const uint8_t *)data;
	case 2:
		return get_le16(data);
	case 4:
		return get_le32(data);
	case 8:
		return get_le64(data);
	}
	return 0;
}

void put_access(void *data, unsigned int len, uint64_t v)
{
	switch (len) {
	case 1:
		*(uint8_t *)data = (uint8_t)v;
		break;
	case 2:
		put_le16(data, (uint16_t)v);
		break;
	case 4:
		put_le32(data, (uint32_t)v);
		break;
	case 8:
		put_le64(data, v);
		break;
	default:
		memset(data, 0xff, len);
	}
}

uint64_t unix_path_id(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return 0;
	/* (an inode number can be reused at once; with its change time) */
	return ((uint64_t)st.st_dev << 32 ^ (uint64_t)st.st_ino) * 1000003u ^
	       ((uint64_t)st.st_ctim.tv_sec * 1000000000u +
		(uint64_t)st.st_ctim.tv_nsec);
}

void unix_unlink_own(const char *path, uint64_t id)
{
	if (id && unix_path_id(path) == id)
		unlink(path);
}

int unix_listen(const char *path, const char *what, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errf(err, errlen, "%s '%s': path too long (at most %zu bytes)",
		     what, path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errf(err, errlen, "%s '%s' exists and is not a socket; "
			     "remove it or choose another path", what, path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1) < 0) {
		ret = -errno;
		errf(err, errlen, "%s: cannot listen on '%s': %s", what, path,
		     strerror(errno));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	return fd;
}

struct fd_pump {
	int from, to;
	bool close_from;
};

static void *fd_pump_main(void *arg)
{
	struct fd_pump *fp = arg;
	char buf[16384];
	ssize_t n;

	while ((n = read(fp->from, buf, sizeof(buf))) > 0 ||
	       (n < 0 && errno == EINTR)) {
		sandbox_thread(SB_WORKER);
		if (n > 0 && write_full(fp->to, buf, (size_t)n) < 0)
			break;
	}
	close(fp->to);
	if (fp->close_from)
		close(fp->from);
	free(fp);
	return NULL;
}

int fd_pump_start(int from, int to, bool close_from, pthread_t *t)
{
	struct fd_pump *fp = malloc(sizeof(*fp));
	pthread_t th;

	if (!fp)
		return -ENOMEM;
	fp->from = from;
	fp->to = to;
	fp->close_from = close_from;
	if (pthread_create(&th, NULL, fd_pump_main, fp)) {
		free(fp);
		return -EAGAIN;
	}
	if (t)
		*t = th;
	else
		pthread_detach(th);
	return 0;
}

uint64_t ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)((now.tv_sec - t->tv_sec) * 1000 +
			  (now.tv_nsec - t->tv_nsec) / 1000000);
}

uint64_t us_since(const struct timespec *t)
{
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - t->tv_sec) * 1000000 +
	     (now.tv_nsec - t->tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}
