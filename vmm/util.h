/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by every room: logging, checked arithmetic and
 * whole-file I/O. die() is for start-up only, before the guest runs.
 */
#ifndef VIREO_UTIL_H
#define VIREO_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#define KiB (1024ULL)
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)

/* Print "vireo: <message>" on stderr. */
void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like pr_err(), then exit(1). Only before the guest runs. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* Format into a caller's error buffer; always NUL-terminates. */
void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* a + b into *res; false on unsigned 64-bit overflow. */
static inline bool add_overflows(uint64_t a, uint64_t b, uint64_t *res)
{
	return __builtin_add_overflow(a, b, res);
}

/* read()/write() until len bytes moved; -errno on error, short on EOF. */
ssize_t read_full(int fd, void *buf, size_t len);
ssize_t pread_full(int fd, void *buf, size_t len, off_t off);
ssize_t pwrite_full(int fd, const void *buf, size_t len, off_t off);
ssize_t write_full(int fd, const void *buf, size_t len);

/*
 * Map a whole file read-only. Files larger than max are refused (-EFBIG).
 * Release with file_unmap().
 */
struct file_map {
	const uint8_t *data;
	size_t len;
};
int file_map(const char *path, size_t max, struct file_map *fm);
/* The same for an open regular file; the fd stays the caller's. */
int file_map_fd(int fd, size_t max, struct file_map *fm);

/*
 * Regular files cannot be polled and may block: a thread copies from one
 * fd to the other until EOF (or the writer fails), so the event loop only
 * ever sees a pipe. Used both ways: a file feeding a pipe the loop reads
 * (console input), a pipe the loop writes (non-blocking) draining into a
 * file (file-backed console ports). At the end the thread closes to, and
 * from too if close_from. *t (if given) is set for pthread_join, else the
 * thread is detached.
 */
int fd_pump_start(int from, int to, bool close_from, pthread_t *t);
void file_unmap(struct file_map *fm);

/* Parse "512M", "2G", "4096K", "1T" (bare numbers are MiB). */
int parse_size(const char *s, uint64_t *out);

/*
 * A listening, non-blocking unix stream socket at path (backlog 1). A stale
 * socket left by an earlier run is replaced; any other file there is
 * refused. Returns the fd, or -errno with err naming what (e.g. "--balloon
 * socket") and the path.
 */
int unix_listen(const char *path, const char *what, char *err, size_t errlen);
/*
 * The socket path's identity (device, inode, change time; 0 if there is
 * none), and its removal only while it is still the one that identity
 * names: a vireo going away must not remove the socket a newer one made
 * at the same path.
 */
uint64_t unix_path_id(const char *path);
void unix_unlink_own(const char *path, uint64_t id);

/* Little-endian loads and stores on byte arrays. */
static inline uint16_t get_le16(const void *p)
{
	const uint8_t *b = p;

	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t get_le32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static inline uint64_t get_le64(const void *p)
{
	return get_le32(p) | (uint64_t)get_le32((const uint8_t *)p + 4) << 32;
}

static inline void put_le16(void *p, uint16_t v)
{
	uint8_t *b = p;

	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(void *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16((uint8_t *)p + 2, (uint16_t)(v >> 16));
}

static inline void put_le64(void *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32((uint8_t *)p + 4, (uint32_t)(v >> 32));
}

/* Load/store an access of len 1, 2, 4 or 8 bytes held little-endian. */
uint64_t get_access(const void *data, unsigned int len);
void put_access(void *data, unsigned int len, uint64_t v);

/* Milliseconds since t (CLOCK_MONOTONIC). */
uint64_t ms_since(const struct timespec *t);
uint64_t us_since(const struct timespec *t);

#endif
