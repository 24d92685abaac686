// SPDX-License-Identifier: GPL-2.0
#include <elf.h>
#include <stdio.h>
#include <lz4.h>
#include <lz4hc.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "unit.h"
#include "vmm/util.h"

/* Used outside check's runner too (seed generation): no ck_assert here. */
#define require(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: %s failed\n", __FILE__,	\
				__LINE__, #cond);			\
			abort();					\
		}							\
	} while (0)

uint8_t *make_elf(uint64_t paddr, size_t filesz, size_t memsz, bool pvh,
		  size_t *len)
{
	size_t code_off = 4096, total = code_off + filesz, i;
	uint8_t *b = calloc(1, total);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	Elf64_Phdr *ph = (Elf64_Phdr *)(b + sizeof(*eh));
	uint8_t *note = b + sizeof(*eh) + 2 * sizeof(*ph);

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = paddr + 0x10;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	ph[0].p_type = PT_LOAD;
	ph[0].p_offset = code_off;
	ph[0].p_vaddr = 0xffffffff80000000ULL + paddr;
	ph[0].p_paddr = paddr;
	ph[0].p_filesz = filesz;
	ph[0].p_memsz = memsz;
	ph[0].p_flags = PF_R | PF_X;
	ph[1].p_type = PT_NOTE;
	ph[1].p_offset = (uint64_t)(note - b);
	ph[1].p_filesz = pvh ? 20 : 0;
	if (pvh) {
		put_le32(note, 4);		/* namesz */
		put_le32(note + 4, 4);		/* descsz */
		put_le32(note + 8, 18);		/* PHYS32_ENTRY */
		memcpy(note + 12, "Xen", 4);
		put_le32(note + 16, (uint32_t)(paddr + 0x20));
	}
	for (i = 0; i < filesz; i++)
		b[code_off + i] = (uint8_t)(i * 7 + (i >> 9));
	*len = total;
	return b;
}

uint8_t *make_bzimage(const uint8_t *payload, size_t plen, size_t *len)
{
	size_t pm = 1024, off = 0x100, total = pm + off + plen + 64;
	uint8_t *b = calloc(1, total);

	b[0x1f1] = 1;				/* setup_sects */
	put_le16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = 0x6a;			/* header ends at 0x26c */
	memcpy(b + 0x202, "HdrS", 4);
	put_le16(b + 0x206, 0x020f);
	b[0x211] = 0x01;			/* LOADED_HIGH */
	put_le32(b + 0x22c, 0x7fffffff);	/* initrd_addr_max */
	put_le32(b + 0x230, 0x200000);		/* kernel_alignment */
	b[0x234] = 1;				/* relocatable */
	put_le32(b + 0x238, 2047);		/* cmdline_size */
	put_le32(b + 0x248, (uint32_t)off);	/* payload_offset */
	put_le32(b + 0x24c, (uint32_t)plen);	/* payload_length */
	put_le32(b + 0x260, 0x4000000);		/* init_size */
	memcpy(b + pm + off, payload, plen);
	*len = total;
	return b;
}

static uint8_t *append_size(uint8_t *buf, size_t n, size_t size, size_t *out)
{
	put_le32(buf + n, (uint32_t)size);
	*out = n + 4;
	return buf;
}

uint8_t *compress_payload(enum payload_format f, const uint8_t *data,
			  size_t len, size_t *out_len)
{
	size_t cap = len + len / 2 + (1 << 16), n = 0;
	uint8_t *out = malloc(cap);

	switch (f) {
	case PAYLOAD_GZIP: {
		z_stream z;

		memset(&z, 0, sizeof(z));
		deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
			     Z_DEFAULT_STRATEGY);
		z.next_in = (Bytef *)data;
		z.avail_in = (uInt)len;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		require(deflate(&z, Z_FINISH) == Z_STREAM_END);
		*out_len = z.total_out;		/* ISIZE is gzip's own trailer */
		deflateEnd(&z);
		return out;
	}
	case PAYLOAD_XZ: {
		lzma_options_lzma opt;
		lzma_filter filters[] = {
			{ .id = LZMA_FILTER_X86, .options = NULL },
			{ .id = LZMA_FILTER_LZMA2, .options = &opt },
			{ .id = LZMA_VLI_UNKNOWN, .options = NULL },
		};

		lzma_lzma_preset(&opt, 6);
		require(lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, NULL,
						  data, len, out, &n, cap) == LZMA_OK);
		return append_size(out, n, len, out_len);
	}
	case PAYLOAD_LZMA: {
		lzma_stream s = LZMA_STREAM_INIT;
		lzma_options_lzma opt;

		lzma_lzma_preset(&opt, 6);
		require(lzma_alone_encoder(&s, &opt) == LZMA_OK);
		s.next_in = data;
		s.avail_in = len;
		s.next_out = out;
		s.avail_out = cap;
		require(lzma_code(&s, LZMA_FINISH) == LZMA_STREAM_END);
		n = s.total_out;
		lzma_end(&s);
		return append_size(out, n, len, out_len);
	}
	case PAYLOAD_LZ4: {
		/* Legacy frame: magic, then [u32 csize][block] per 8 MiB. */
		size_t pos = 0;

		put_le32(out, 0x184c2102);
		n = 4;
		while (pos < len) {
			int chunk = (int)MIN(len - pos, (size_t)8 << 20);
			int c = LZ4_compress_HC((const char *)data + pos,
						(char *)out + n + 4, chunk,
						(int)(cap - n - 8), 9);

			require(c > 0);
			put_le32(out + n, (uint32_t)c);
			n += 4 + (size_t)c;
			pos += (size_t)chunk;
		}
		return append_size(out, n, len, out_len);
	}
	case PAYLOAD_ZSTD:
		n = ZSTD_compress(out, cap, data, len, 19);
		require(!ZSTD_isError(n));
		return append_size(out, n, len, out_len);
	default:
		require(!"no encoder for this format");
	}
	return NULL;
}
