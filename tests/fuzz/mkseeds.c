// SPDX-License-Identifier: GPL-2.0
/* Write seed inputs for the fuzz targets into DIR/<target>/. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/unit/unit.h"

static void put(const char *dir, const char *name, const uint8_t *b, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != n) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	static const enum payload_format fmts[] = {
		PAYLOAD_GZIP, PAYLOAD_XZ, PAYLOAD_LZMA, PAYLOAD_LZ4, PAYLOAD_ZSTD,
	};
	char kdir[256], ddir[256], name[64];
	size_t elen, clen, blen, i;
	uint8_t *elf, *c, *bz, dev[256];

	if (argc != 2)
		return 2;
	snprintf(kdir, sizeof(kdir), "%s/kernel", argv[1]);
	snprintf(ddir, sizeof(ddir), "%s/devices", argv[1]);
	mkdir(argv[1], 0755);
	mkdir(kdir, 0755);
	mkdir(ddir, 0755);
	elf = make_elf(0x100000, 512, 4096, true, &elen);
	put(kdir, "elf", elf, elen);
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		c = compress_payload(fmts[i], elf, elen, &clen);
		bz = make_bzimage(c, clen, &blen);
		snprintf(name, sizeof(name), "bzimage-%s", payload_format_name(fmts[i]));
		put(kdir, name, bz, blen);
		snprintf(name, sizeof(name), "payload-%s", payload_format_name(fmts[i]));
		put(kdir, name, c, clen);
		free(c);
		free(bz);
	}
	/* A Linux-like probe of COM1 and a CMOS read, as device ops. */
	for (i = 0; i < sizeof(dev); i += 4) {
		dev[i] = (uint8_t)(i / 4 % 5);
		dev[i + 1] = (uint8_t)((i / 4) & 4);
		dev[i + 2] = (uint8_t)(i * 3);
		dev[i + 3] = (uint8_t)(i ^ 0x5a);
	}
	put(ddir, "ops", dev, sizeof(dev));
	return 0;
}
