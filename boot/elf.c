// SPDX-License-Identifier: GPL-2.0
#include "elf.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "../vmm/util.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

bool elf_probe(const uint8_t *buf, size_t len)
{
	return len >= 4 && !memcmp(buf, ELFMAG, SELFMAG);
}

/* Walk a PT_NOTE segment for the Xen PVH entry note. */
static void elf_find_pvh(const uint8_t *p, uint64_t len, struct elf_info *info)
{
	uint64_t pos = 0;

	while (len - pos >= 12) {
		uint32_t namesz = get_le32(p + pos);
		uint32_t descsz = get_le32(p + pos + 4);
		uint32_t type = get_le32(p + pos + 8);
		uint64_t name = pos + 12;
		uint64_t desc = name + ALIGN_UP((uint64_t)namesz, 4);
		uint64_t next = desc + ALIGN_UP((uint64_t)descsz, 4);

		if (desc > len || next > len || next <= pos)
			return;
		if (namesz == 4 && !memcmp(p + name, "Xen", 4) &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY && descsz >= 4) {
			info->has_pvh = true;
			info->pvh_entry = get_le32(p + desc);
		}
		pos = next;
	}
}

int elf_parse(const uint8_t *buf, size_t len, struct elf_info *info,
	      char *err, size_t errlen)
{
	Elf64_Ehdr eh;
	uint64_t phend;
	unsigned int i;
	bool entry_ok = false;

	memset(info, 0, sizeof(*info));
	if (len < sizeof(eh) || !elf_probe(buf, len)) {
		errf(err, errlen, "not an ELF file");
		return -EINVAL;
	}
	memcpy(&eh, buf, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64) {
		errf(err, errlen, "not an x86_64 ELF (vireo boots 64-bit x86 kernels)");
		return -EINVAL;
	}
	if (eh.e_type != ET_EXEC) {
		errf(err, errlen, "ELF type %u is not an executable", eh.e_type);
		return -EINVAL;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > 64 ||
	    add_overflows(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr),
			  &phend) || phend > len) {
		errf(err, errlen, "corrupt ELF program headers");
		return -EINVAL;
	}
	info->lo = UINT64_MAX;
	for (i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint64_t fend, mend;

		memcpy(&ph, buf + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_NOTE) {
			if (!add_overflows(ph.p_offset, ph.p_filesz, &fend) &&
			    fend <= len)
				elf_find_pvh(buf + ph.p_offset, ph.p_filesz, info);
			continue;
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz ||
		    add_overflows(ph.p_offset, ph.p_filesz, &fend) || fend > len ||
		    add_overflows(ph.p_paddr, ph.p_memsz, &mend)) {
			errf(err, errlen, "ELF segment %u lies outside the file "
			     "or wraps the address space", i);
			return -EINVAL;
		}
		if (info->nseg == ELF_MAX_SEGMENTS) {
			errf(err, errlen, "more than %d loadable ELF segments",
			     ELF_MAX_SEGMENTS);
			return -EINVAL;
		}
		info->seg[info->nseg++] = (struct elf_segment){
			ph.p_paddr, ph.p_offset, ph.p_filesz, ph.p_memsz,
		};
		info->lo = MIN(info->lo, ph.p_paddr);
		info->hi = MAX(info->hi, mend);
		if (eh.e_entry >= ph.p_paddr && eh.e_entry < mend)
			entry_ok = true;
	}
	if (!info->nseg) {
		errf(err, errlen, "the ELF has no loadable segments");
		return -EINVAL;
	}
	if (!entry_ok) {
		errf(err, errlen, "the ELF entry point %#llx is in no loadable "
		     "segment", (unsigned long long)eh.e_entry);
		return -EINVAL;
	}
	info->entry = eh.e_entry;
	if (info->has_pvh && (info->pvh_entry < info->lo ||
			      info->pvh_entry >= info->hi))
		info->has_pvh = false;
	return 0;
}

int elf_load(const uint8_t *buf, const struct elf_info *info,
	     const struct guest_mem *gm, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < info->nseg; i++) {
		const struct elf_segment *s = &info->seg[i];
		uint8_t *dst = gm_ptr(gm, s->paddr, s->memsz);

		if (!dst) {
			errf(err, errlen, "the kernel's segment at %#llx-%#llx "
			     "does not fit in guest RAM (try a larger --memory)",
			     (unsigned long long)s->paddr,
			     (unsigned long long)(s->paddr + s->memsz));
			return -ERANGE;
		}
		memcpy(dst, buf + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}
