// SPDX-License-Identifier: GPL-2.0
/* Write seed inputs for the fuzz targets into DIR/<target>/. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <string.h>

#include "devices/virtio-blk.h"
#include "tests/unit/unit.h"
#include "vmm/migrate.h"
#include "vmm/snapshot.h"
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

/* Replies a well-behaved backend gives to vireo's negotiation. */
static size_t vu_reply(uint8_t *b, uint32_t req, uint32_t size, uint64_t v)
{
	put_le32(b, req);
	put_le32(b + 4, 5);
	put_le32(b + 8, size);
	memset(b + 12, 0, size);
	if (size >= 8)
		put_le64(b + 12, v);
	return 12 + size;
}

static void vhost_user_seeds(const char *top)
{
	uint8_t b[1024];
	char dir[256];
	size_t n = 4;

	snprintf(dir, sizeof(dir), "%s/vhost_user", top);
	mkdir(dir, 0755);
	memset(b, 0, 4);
	b[0] = 1;
	b[1] = 8;
	n += vu_reply(b + n, 1, 8, (1ULL << 32) | (1ULL << 30) | (1ULL << 29));
	n += vu_reply(b + n, 15, 8, 0x20b);	/* MQ, REPLY_ACK, CONFIG */
	n += vu_reply(b + n, 17, 8, 2);		/* two queues */
	n += vu_reply(b + n, 3, 8, 0);		/* acks from here */
	n += vu_reply(b + n, 2, 8, 0);
	n += vu_reply(b + n, 5, 8, 0);
	n += vu_reply(b + n, 8, 8, 0);
	n += vu_reply(b + n, 10, 8, 0);
	n += vu_reply(b + n, 9, 8, 0);
	n += vu_reply(b + n, 12, 8, 0);
	n += vu_reply(b + n, 18, 8, 0);
	n += vu_reply(b + n, 11, 8, 7ULL << 32);
	n += vu_reply(b + n, 24, 12 + 9, 9ULL << 32);
	put(dir, "negotiation", b, n);
}

/* A migration stream's record header (the fuzz target fixes the CRCs). */
static size_t mig_rec(uint8_t *b, uint32_t type, uint32_t seq, uint64_t arg,
		      uint32_t len)
{
	put_le32(b, type);
	put_le32(b + 4, seq);
	put_le64(b + 8, arg);
	put_le32(b + 16, len);
	put_le32(b + 20, 0);
	memset(b + 24, 0x11, len);
	return 24 + len;
}

/* Sealed (first byte odd), not local: a configuration, a round, a page,
 * a sync, a state, the end. */
static void migrate_seeds(const char *top)
{
	static uint8_t b[2 + 32 + 6 * 24 + 16 + 4096 + 16];
	char dir[256];
	size_t n = 2;

	snprintf(dir, sizeof(dir), "%s/migrate", top);
	mkdir(dir, 0755);
	b[0] = 1;
	memcpy(b + n, "VIREOMIG", 8);
	put_le32(b + n + 8, MIG_VERSION);
	put_le32(b + n + 12, 0);
	put_le64(b + n + 16, 1 << 20);
	put_le32(b + n + 24, 4096);
	n += 32;
	n += mig_rec(b + n, 5, 0, 0, 16);
	n += mig_rec(b + n, 2, 1, 0, 0);
	n += mig_rec(b + n, 1, 2, 4096, 4096);
	n += mig_rec(b + n, 6, 3, 0, 0);
	n += mig_rec(b + n, 3, 4, 0, 16);
	n += mig_rec(b + n, 4, 5, 1, 0);
	put(dir, "stream", b, n);
}

/*
 * A valid state file (one vCPU, one disk), as the input byte 0x01 (the
 * fuzzer reseals it after each mutation) and 0x00 (it does not): without
 * it the fuzzer never gets past the FDT header and the CRC.
 */
static void snapshot_seeds(const char *top)
{
	struct snapshot s;
	char dir[256];
	uint8_t *b, *in;
	size_t len;

	memset(&s, 0, sizeof(s));
	s.mem_size = 64 << 20;
	s.cpus = 1;
	s.vcpu = calloc(1, sizeof(*s.vcpu));
	s.vcpu[0].regs.rip = 0x1000;
	s.vcpu[0].xsave_size = sizeof(struct kvm_xsave);
	s.vcpu[0].xsave = calloc(1, sizeof(struct kvm_xsave));
	s.vcpu[0].nmsrs = 1;
	s.vcpu[0].msrs = calloc(1, sizeof(struct kvm_msr_entry));
	s.nr_devs = 1;
	s.dev = calloc(1, sizeof(*s.dev));
	s.dev[0].cls = &virtio_blk_class;
	strcpy(s.dev[0].id, "blk0");
	strcpy(s.dev[0].spec, "path=/x.img");
	s.dev[0].pci = true;
	s.dev[0].virtio.nr_queues = 1;
	s.dev[0].virtio.acked = 1ULL << 32;
	s.dev[0].dev_state_len = 1;
	s.dev[0].dev_state[0] = 1;
	if (snapshot_encode(&s, &b, &len)) {
		fprintf(stderr, "mkseeds: cannot encode a state file\n");
		exit(1);
	}
	snprintf(dir, sizeof(dir), "%s/snapshot", top);
	mkdir(dir, 0755);
	in = malloc(len + 1);
	memcpy(in + 1, b, len);
	in[0] = 1;
	put(dir, "state-resealed", in, len + 1);
	in[0] = 0;
	put(dir, "state", in, len + 1);
	free(in);
	free(b);
	snapshot_free(&s);
}

/* fuzz_pagewalk: a 4-level walk of 0xffffffffc0000dcc to a 4 KiB page. */
static void pagewalk_seeds(const char *top)
{
	static uint8_t in[17 + 0x6000];
	const uint64_t cr3 = 0x1000, la = 0xffffffffc0000dccull;
	const uint64_t e[][2] = { { 0x1000 + 511 * 8, 0x2063 },
				  { 0x1000 + 273 * 8, 0x2063 },
				  { 0x2000 + 511 * 8, 0x3063 },
				  { 0x3000, 0x4063 }, { 0x4000, 0x5163 } };
	char dir[256];
	size_t i;

	snprintf(dir, sizeof(dir), "%s/pagewalk", top);
	mkdir(dir, 0755);
	memcpy(in, &cr3, 8);
	memcpy(in + 8, &la, 8);
	for (i = 0; i < sizeof(e) / sizeof(e[0]); i++)
		memcpy(in + 17 + e[i][0], &e[i][1], 8);
	put(dir, "walk4", in, sizeof(in));
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
	vhost_user_seeds(argv[1]);
	migrate_seeds(argv[1]);
	snapshot_seeds(argv[1]);
	pagewalk_seeds(argv[1]);
	return 0;
}
