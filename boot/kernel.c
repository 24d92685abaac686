// SPDX-License-Identifier: GPL-2.0
#include "kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../vmm/layout.h"
#include "sha256.h"

const char *kernel_cache_dir(const struct kernel_opts *opts)
{
	static char dir[PATH_MAX];
	const char *e;

	if (opts->cache_dir)
		return opts->cache_dir;
	e = getenv("VIREO_CACHE_DIR");
	if (e && *e)
		return e;
	e = getenv("XDG_CACHE_HOME");
	if (e && *e && snprintf(dir, sizeof(dir), "%s/vireo", e) < (int)sizeof(dir))
		return dir;
	e = getenv("HOME");
	if (e && *e &&
	    snprintf(dir, sizeof(dir), "%s/.cache/vireo", e) < (int)sizeof(dir))
		return dir;
	return NULL;
}

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	char *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Ours, and nobody else may write it. */
static bool private_to_us(const struct stat *st)
{
	return st->st_uid == geteuid() && !(st->st_mode & 022);
}

static bool cache_path(const struct kernel_opts *opts, const struct kernel *k,
		       char *path, size_t len)
{
	const char *dir = kernel_cache_dir(opts);
	struct stat st;
	uint8_t h[32];
	char hex[65];
	int i;

	if (!dir || mkdir_p(dir))
		return false;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || !private_to_us(&st))
		return false;
	sha256(k->file.data, k->file.len, h);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	return snprintf(path, len, "%s/vmlinux-%s", dir, hex) < (int)len;
}

/* Store the extracted ELF; best effort, a failure only costs time. */
static void cache_store(const char *path, const uint8_t *elf, size_t len)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return;
	*slash = '\0';
	if (snprintf(tmp, sizeof(tmp), "%s/.tmp-XXXXXX", dir) >= (int)sizeof(tmp))
		return;
	fd = mkstemp(tmp);
	if (fd < 0)
		return;
	if (write_full(fd, elf, len) != (ssize_t)len || fsync(fd) < 0 ||
	    rename(tmp, path) < 0)
		unlink(tmp);
	close(fd);
}

/* A cache hit: our own file, not a symlink, and a valid ELF. */
static bool cache_lookup(struct kernel *k, const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || !private_to_us(&st) ||
	    file_map_fd(fd, KERNEL_ELF_MAX, &k->cached) || !k->cached.len) {
		close(fd);
		return false;
	}
	close(fd);
	/* A cache entry is input like any other: validate it. */
	if (elf_parse(k->cached.data, k->cached.len, &k->info, NULL, 0)) {
		file_unmap(&k->cached);
		unlink(path);
		return false;
	}
	k->elf = k->cached.data;
	k->elf_len = k->cached.len;
	k->cache_hit = true;
	return true;
}

static int kernel_extract(struct kernel *k, const struct kernel_opts *opts,
			  char *err, size_t errlen)
{
	char path[PATH_MAX];
	bool cacheable;
	int ret;

	k->format = payload_detect(k->bz.payload, k->bz.payload_len);
	if (k->format == PAYLOAD_ELF) {
		k->elf = k->bz.payload;
		k->elf_len = k->bz.payload_len;
		return 0;
	}
	cacheable = opts->use_cache && cache_path(opts, k, path, sizeof(path));
	if (cacheable && cache_lookup(k, path))
		return 0;
	ret = payload_decompress(k->bz.payload, k->bz.payload_len,
				 KERNEL_ELF_MAX, &k->extracted, &k->elf_len,
				 err, errlen);
	if (ret)
		return ret;
	k->elf = k->extracted;
	/* Only a kernel that parses is worth keeping. */
	if (cacheable && !elf_parse(k->elf, k->elf_len, &k->info, NULL, 0))
		cache_store(path, k->elf, k->elf_len);
	return 0;
}

int kernel_open(struct kernel *k, const char *path,
		const struct kernel_opts *opts, char *err, size_t errlen)
{
	char why[256];
	int ret;

	memset(k, 0, sizeof(*k));
	ret = file_map(path, KERNEL_FILE_MAX, &k->file);
	if (ret == -EFBIG) {
		errf(err, errlen, "larger than %llu MiB; not a kernel?",
		     KERNEL_FILE_MAX >> 20);
		return ret;
	}
	if (ret == -EINVAL) {
		errf(err, errlen, "not a regular file");
		return ret;
	}
	if (ret) {
		errf(err, errlen, "%s", strerror(-ret));
		return ret;
	}
	if (k->file.len == 0) {
		errf(err, errlen, "the file is empty");
		return -EINVAL;
	}
	if (elf_probe(k->file.data, k->file.len)) {
		k->format = PAYLOAD_ELF;
		k->elf = k->file.data;
		k->elf_len = k->file.len;
	} else if (bzimage_probe(k->file.data, k->file.len)) {
		k->is_bzimage = true;
		ret = bzimage_parse(k->file.data, k->file.len, &k->bz, err, errlen);
		if (!ret)
			ret = kernel_extract(k, opts, err, errlen);
		if (ret)
			goto err;
	} else {
		errf(err, errlen, "neither a bzImage nor an ELF vmlinux");
		ret = -EINVAL;
		goto err;
	}
	if (!k->cache_hit) {
		ret = elf_parse(k->elf, k->elf_len, &k->info, why, sizeof(why));
		if (ret) {
			errf(err, errlen, "%s%s", k->is_bzimage ?
			     "the vmlinux inside the bzImage: " : "", why);
			goto err;
		}
	}
	if (k->info.lo < LAYOUT_HIGH_MEM) {
		errf(err, errlen, "a kernel segment starts at %#llx, inside "
		     "the boot area below 1 MiB",
		     (unsigned long long)k->info.lo);
		ret = -EINVAL;
		goto err;
	}
	return 0;
err:
	kernel_close(k);
	return ret;
}

void kernel_close(struct kernel *k)
{
	free(k->extracted);
	file_unmap(&k->cached);
	file_unmap(&k->file);
	memset(k, 0, sizeof(*k));
}
