// SPDX-License-Identifier: GPL-2.0
/* Write seed inputs for the fuzz targets into DIR/<target>/. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <string.h>

#include "tests/unit/unit.h"
#include "vmm/util.h"

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

/* One available buffer in a 4-entry ring, split and packed. */
static void vring_seeds(const char *top)
{
	static uint8_t b[2 + 0x3000];
	char dir[256];
	int packed;

	snprintf(dir, sizeof(dir), "%s/vring", top);
	mkdir(dir, 0755);
	for (packed = 0; packed < 2; packed++) {
		uint8_t *ram = b + 2, *d0 = ram;

		memset(b, 0, sizeof(b));
		b[0] = (uint8_t)(packed | 2 | 4);
		b[1] = 2;
		put_le64(d0, 0x2800);
		put_le32(d0 + 8, 64);
		if (packed) {
			put_le16(d0 + 12, 0);
			put_le16(d0 + 14, 2 | 1 << 7);	/* WRITE | AVAIL */
		} else {
			put_le16(d0 + 12, 2);		/* WRITE */
			put_le16(ram + 0x1000 + 2, 1);	/* avail idx */
		}
		put(dir, packed ? "packed" : "split", b, sizeof(b));
	}
}

static size_t op(uint8_t *p, size_t at, uint8_t target, uint16_t off,
		 bool wr, uint32_t v)
{
	p[at] = target;
	put_le16(p + at + 1, off);
	p[at + 3] = (uint8_t)(2 | (wr ? 4 : 0));	/* 32-bit */
	put_le32(p + at + 4, v);
	return at + 8;
}

/* A Linux-like virtio-mmio bring-up, then kicks. */
static void transport_seeds(const char *top)
{
	static uint8_t b[512];
	char dir[256];
	size_t n = 0;

	snprintf(dir, sizeof(dir), "%s/transport", top);
	mkdir(dir, 0755);
	n = op(b, n, 0, 0x070, true, 1);
	n = op(b, n, 0, 0x070, true, 3);
	n = op(b, n, 0, 0x024, true, 1);
	n = op(b, n, 0, 0x020, true, 5);
	n = op(b, n, 0, 0x070, true, 0xb);
	n = op(b, n, 0, 0x030, true, 0);
	n = op(b, n, 0, 0x038, true, 8);
	n = op(b, n, 0, 0x080, true, 0x1000);
	n = op(b, n, 0, 0x090, true, 0x2000);
	n = op(b, n, 0, 0x0a0, true, 0x3000);
	n = op(b, n, 0, 0x044, true, 1);
	n = op(b, n, 0, 0x070, true, 0xf);
	n = op(b, n, 4, 0, false, 0);
	n = op(b, n, 0, 0x060, false, 0);
	n = op(b, n, 0, 0x064, true, 1);
	put(dir, "mmio-bringup", b, n);
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
	vring_seeds(argv[1]);
	transport_seeds(argv[1]);
	return 0;
}
