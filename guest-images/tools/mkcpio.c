// SPDX-License-Identifier: GPL-2.0
/*
 * mkcpio - write a reproducible newc cpio archive from a spec file.
 *
 * Device nodes need no privileges and every header carries fixed inode
 * numbers, owners and a zero mtime, so the same inputs always give the same
 * bytes. Spec lines (one entry each, '#' starts a comment):
 *
 *   dir   NAME MODE
 *   file  NAME HOSTPATH MODE
 *   slink NAME TARGET
 *   nod   NAME MODE c|b MAJOR MINOR
 *
 * Usage: mkcpio SPEC > archive.cpio
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned int next_ino = 1;
static unsigned long long offset;

static void put(const void *buf, size_t len)
{
	if (len && fwrite(buf, 1, len, stdout) != len) {
		perror("mkcpio: write");
		exit(1);
	}
	offset += len;
}

static void pad4(void)
{
	static const char zero[4];

	put(zero, (4 - offset % 4) % 4);
}

static void header(const char *name, unsigned int mode, size_t size,
		   unsigned int rmaj, unsigned int rmin)
{
	char hdr[136];
	size_t namesize = strlen(name) + 1;

	if (size > 0xffffffffu || namesize > 4096) {
		fprintf(stderr, "mkcpio: %s: too large for newc\n", name);
		exit(1);
	}
	snprintf(hdr, sizeof(hdr),
		 "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 (unsigned int)next_ino++, mode, 0, 0, 1, 0, (unsigned int)size,
		 0, 0, rmaj, rmin, (unsigned int)namesize, 0);
	put(hdr, 110);
	put(name, namesize);
	pad4();
}

static void add_file(const char *name, const char *path, unsigned int mode)
{
	FILE *f = fopen(path, "rb");
	char buf[65536];
	struct stat st;
	size_t n, total = 0;

	if (!f || fstat(fileno(f), &st)) {
		fprintf(stderr, "mkcpio: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	header(name, S_IFREG | mode, st.st_size, 0, 0);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		put(buf, n);
		total += n;
	}
	if (ferror(f) || total != (size_t)st.st_size) {
		fprintf(stderr, "mkcpio: %s: changed while reading\n", path);
		exit(1);
	}
	fclose(f);
	pad4();
}

static void add_slink(const char *name, const char *target)
{
	header(name, S_IFLNK | 0777, strlen(target), 0, 0);
	put(target, strlen(target));
	pad4();
}

int main(int argc, char **argv)
{
	char line[4096], kind[16], a[1024], b[2048], c[16];
	unsigned int mode, maj, min;
	unsigned long lineno = 0;
	FILE *spec;

	if (argc != 2) {
		fprintf(stderr, "usage: mkcpio SPEC > archive.cpio\n");
		return 2;
	}
	spec = fopen(argv[1], "r");
	if (!spec) {
		fprintf(stderr, "mkcpio: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), spec)) {
		char *name;

		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\n")] == '\0')
			continue;
		if (sscanf(line, "%15s %1023s", kind, a) != 2)
			goto bad;
		name = a[0] == '/' ? a + 1 : a;
		if (!strcmp(kind, "dir") && sscanf(line, "%*s %*s %o", &mode) == 1)
			header(name, S_IFDIR | mode, 0, 0, 0);
		else if (!strcmp(kind, "file") &&
			 sscanf(line, "%*s %*s %2047s %o", b, &mode) == 2)
			add_file(name, b, mode);
		else if (!strcmp(kind, "slink") &&
			 sscanf(line, "%*s %*s %2047s", b) == 1)
			add_slink(name, b);
		else if (!strcmp(kind, "nod") &&
			 sscanf(line, "%*s %*s %o %15s %u %u", &mode, c, &maj, &min) == 4 &&
			 (c[0] == 'c' || c[0] == 'b'))
			header(name, (c[0] == 'c' ? S_IFCHR : S_IFBLK) | mode, 0, maj, min);
		else
			goto bad;
	}
	header("TRAILER!!!", 0, 0, 0, 0);
	/* Round the archive to 512 bytes like cpio(1) does. */
	while (offset % 512)
		put("", 1);
	return fflush(stdout) ? 1 : 0;
bad:
	fprintf(stderr, "mkcpio: %s:%lu: cannot parse: %s", argv[1], lineno, line);
	return 1;
}
