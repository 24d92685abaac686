// SPDX-License-Identifier: GPL-2.0
#include "x86.h"

#include <errno.h>
#include <string.h>

#include "../vmm/layout.h"
#include "../vmm/util.h"

#define E820_RAM	1
#define E820_RESERVED	2

#define CR0_PE		0x1ULL
#define CR0_ET		0x10ULL
#define CR0_NE		0x20ULL
#define CR0_PG		0x80000000ULL
#define CR4_PAE		0x20ULL
#define EFER_LME	0x100ULL
#define EFER_LMA	0x400ULL

#define GDT_CODE32	1
#define GDT_CODE64	2
#define GDT_DATA	3
#define GDT_TSS		4	/* a 16-byte system descriptor: 4 and 5 */
#define GDT_ENTRIES	6

#define PVH_MAGIC	0x336ec578U

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

static unsigned int e820_add(struct boot_e820_entry *e, unsigned int n,
			     unsigned int max, uint64_t addr, uint64_t size,
			     uint32_t type)
{
	if (n < max && size)
		e[n++] = (struct boot_e820_entry){ addr, size, type };
	return n;
}

unsigned int e820_build(const struct guest_mem *gm, struct boot_e820_entry *e,
			unsigned int max)
{
	uint64_t low = gm_low_end(gm);
	unsigned int n = 0, i;

	n = e820_add(e, n, max, 0, MIN(low, LAYOUT_EBDA), E820_RAM);
	n = e820_add(e, n, max, LAYOUT_EBDA, LAYOUT_HIGH_MEM - LAYOUT_EBDA,
		     E820_RESERVED);
	if (low > LAYOUT_HIGH_MEM)
		n = e820_add(e, n, max, LAYOUT_HIGH_MEM, low - LAYOUT_HIGH_MEM,
			     E820_RAM);
	n = e820_add(e, n, max, LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE,
		     E820_RESERVED);
	for (i = 1; i < gm->nr; i++)
		n = e820_add(e, n, max, gm->r[i].gpa, gm->r[i].size, E820_RAM);
	return n;
}

uint32_t boot_cmdline_max(const struct setup_header *hdr)
{
	/* cmdline_size exists from protocol 2.06; x86 COMMAND_LINE_SIZE. */
	if (hdr && hdr->version >= 0x0206 && hdr->cmdline_size)
		return MIN(hdr->cmdline_size, (uint32_t)LAYOUT_CMDLINE_MAX - 1);
	return hdr ? 255 : 2047;
}

int initrd_place(const struct guest_mem *gm, const struct setup_header *hdr,
		 uint64_t kernel_end, uint64_t size, uint64_t *gpa)
{
	uint64_t max = 0x7fffffffULL, top, addr;

	if (hdr && hdr->version >= 0x0203 && hdr->initrd_addr_max)
		max = hdr->initrd_addr_max;
	top = MIN(gm_low_end(gm), max + 1);
	kernel_end = ALIGN_UP(kernel_end, 4096);
	if (size > top || ALIGN_DOWN(top - size, 4096) < kernel_end)
		return -ENOSPC;
	addr = ALIGN_DOWN(top - size, 4096);
	if (!gm_ptr(gm, addr, size))
		return -ENOSPC;
	*gpa = addr;
	return 0;
}

static void write_gdt(uint64_t *gdt)
{
	memset(gdt, 0, GDT_ENTRIES * sizeof(*gdt));
	gdt[GDT_CODE32] = 0x00cf9b000000ffffULL;	/* 32-bit code, flat */
	gdt[GDT_CODE64] = 0x00af9b000000ffffULL;	/* 64-bit code */
	gdt[GDT_DATA] = 0x00cf93000000ffffULL;		/* data, flat */
	gdt[GDT_TSS] = 0x00008b0000000067ULL;		/* busy TSS at 0 */
	gdt[GDT_TSS + 1] = 0;
}

static struct kvm_segment seg(unsigned int index, uint8_t type, bool l,
			      bool db)
{
	struct kvm_segment s = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = (uint16_t)(index * 8),
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = db,
		.s = 1,
		.l = l,
		.g = 1,
	};

	return s;
}

static void common_sregs(struct kvm_sregs *s, bool long_mode)
{
	struct kvm_segment data = seg(GDT_DATA, 0x3, false, true);

	s->cs = long_mode ? seg(GDT_CODE64, 0xb, true, false) :
			    seg(GDT_CODE32, 0xb, false, true);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = seg(GDT_TSS, 0xb, false, false);
	s->tr.s = 0;
	s->tr.g = 0;
	s->tr.limit = 0x67;
	s->ldt = (struct kvm_segment){ .type = 0x2, .present = 1, .limit = 0xffff };
	s->gdt.base = LAYOUT_GDT;
	s->gdt.limit = GDT_ENTRIES * 8 - 1;
	s->idt.base = 0;
	s->idt.limit = 0;
}

/* Identity-map 0..4 GiB with 2 MiB pages: PML4, PDPT, 4 PDs. */
static int write_page_tables(const struct guest_mem *gm)
{
	uint64_t *pml4 = gm_ptr(gm, LAYOUT_PML4, 6 * 4096);
	uint64_t *pdpt, *pd;
	unsigned int i;

	if (!pml4)
		return -EFAULT;
	memset(pml4, 0, 6 * 4096);
	pdpt = pml4 + 512;
	pd = pdpt + 512;
	pml4[0] = (LAYOUT_PML4 + 0x1000) | 0x3;
	for (i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PML4 + 0x2000 + i * 0x1000ULL) | 0x3;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;
	return 0;
}

static int write_cmdline(const struct guest_mem *gm, const struct boot_info *bi,
			 char *err, size_t errlen)
{
	const char *cmd = bi->cmdline ? bi->cmdline : "";
	size_t len = strlen(cmd);
	uint32_t max = boot_cmdline_max(bi->protocol == BOOT_LINUX64 ? bi->hdr : NULL);

	if (len > max) {
		errf(err, errlen, "the command line is %zu bytes; this kernel "
		     "accepts at most %u", len, max);
		return -E2BIG;
	}
	return gm_write(gm, LAYOUT_CMDLINE, cmd, len + 1);
}

static int setup_linux64(const struct guest_mem *gm, const struct boot_info *bi,
			 struct vcpu_boot_state *st)
{
	struct boot_params *bp = gm_ptr(gm, LAYOUT_ZERO_PAGE, sizeof(*bp));
	struct setup_header *h;

	if (!bp)
		return -EFAULT;
	memset(bp, 0, sizeof(*bp));
	h = &bp->hdr;
	if (bi->hdr) {
		memcpy(h, bi->hdr, MIN(bi->hdr_len, sizeof(*h)));
	} else {
		/* A plain vmlinux has no setup header: describe one. */
		h->boot_flag = 0xaa55;
		h->header = 0x53726448;
		h->version = 0x020f;
		h->kernel_alignment = 0x1000000;
		h->cmdline_size = boot_cmdline_max(NULL);
		h->initrd_addr_max = 0x7fffffff;
	}
	h->type_of_loader = 0xff;
	h->loadflags |= LOADED_HIGH;
	h->loadflags &= (uint8_t)~QUIET_FLAG;
	h->cmd_line_ptr = (uint32_t)LAYOUT_CMDLINE;
	h->ramdisk_image = (uint32_t)bi->initrd_gpa;
	h->ramdisk_size = (uint32_t)bi->initrd_size;
	h->hardware_subarch = 0;
	bp->ext_ramdisk_image = (uint32_t)(bi->initrd_gpa >> 32);
	bp->ext_ramdisk_size = (uint32_t)(bi->initrd_size >> 32);
	bp->acpi_rsdp_addr = bi->rsdp;
	bp->e820_entries = (uint8_t)e820_build(gm, bp->e820_table,
					       ARRAY_SIZE(bp->e820_table));
	if (write_page_tables(gm))
		return -EFAULT;

	common_sregs(&st->sregs, true);
	st->sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	st->sregs.cr3 = LAYOUT_PML4;
	st->sregs.cr4 = CR4_PAE;
	st->sregs.efer = EFER_LME | EFER_LMA;
	st->regs.rip = bi->entry;
	st->regs.rsi = LAYOUT_ZERO_PAGE;
	st->regs.rsp = LAYOUT_BOOT_STACK;
	st->regs.rflags = 0x2;
	return 0;
}

static int setup_pvh(const struct guest_mem *gm, const struct boot_info *bi,
		     struct vcpu_boot_state *st)
{
	struct boot_e820_entry e820[32];
	struct hvm_start_info si = {
		.magic = PVH_MAGIC,
		.version = 1,
		.cmdline_paddr = LAYOUT_CMDLINE,
		.rsdp_paddr = bi->rsdp,
	};
	uint64_t modlist = LAYOUT_PVH_INFO + 0x40;
	uint64_t memmap = LAYOUT_PVH_INFO + 0x80;
	unsigned int i, n;

	if (bi->initrd_size) {
		struct hvm_modlist_entry m = {
			.paddr = bi->initrd_gpa,
			.size = bi->initrd_size,
		};

		if (gm_write(gm, modlist, &m, sizeof(m)))
			return -EFAULT;
		si.nr_modules = 1;
		si.modlist_paddr = modlist;
	}
	n = e820_build(gm, e820, ARRAY_SIZE(e820));
	for (i = 0; i < n; i++) {
		struct hvm_memmap_entry m = {
			.addr = e820[i].addr,
			.size = e820[i].size,
			.type = e820[i].type,
		};

		if (gm_write(gm, memmap + i * sizeof(m), &m, sizeof(m)))
			return -EFAULT;
	}
	si.memmap_paddr = memmap;
	si.memmap_entries = n;
	if (gm_write(gm, LAYOUT_PVH_INFO, &si, sizeof(si)))
		return -EFAULT;

	common_sregs(&st->sregs, false);
	st->sregs.cr0 = CR0_PE | CR0_ET;
	st->sregs.cr4 = 0;
	st->sregs.efer = 0;
	st->regs.rip = bi->pvh_entry;
	st->regs.rbx = LAYOUT_PVH_INFO;
	st->regs.rflags = 0x2;
	return 0;
}

int boot_reset_vector(const struct guest_mem *gm, uint16_t reset_port,
		      uint8_t reset_value)
{
	const uint8_t stub[16] = {
		0xba, (uint8_t)reset_port, (uint8_t)(reset_port >> 8), /* mov dx */
		0xb0, reset_value,				/* mov al */
		0xee,						/* out dx, al */
		0xf4,						/* 1: hlt */
		0xeb, 0xfd,					/* jmp 1b */
	};

	return gm_write(gm, LAYOUT_RESET_VECTOR, stub, sizeof(stub));
}

int boot_setup(const struct guest_mem *gm, const struct boot_info *bi,
	       struct vcpu_boot_state *st, char *err, size_t errlen)
{
	uint64_t *gdt = gm_ptr(gm, LAYOUT_GDT, GDT_ENTRIES * 8);
	int ret;

	memset(st, 0, sizeof(*st));
	if (!gdt) {
		ret = -EFAULT;
		goto err;
	}
	write_gdt(gdt);
	ret = write_cmdline(gm, bi, err, errlen);
	if (ret == -E2BIG)
		return ret;
	if (!ret && bi->protocol == BOOT_PVH)
		ret = setup_pvh(gm, bi, st);
	else if (!ret)
		ret = setup_linux64(gm, bi, st);
	if (!ret)
		return 0;
err:
	errf(err, errlen, "guest RAM is too small for the boot structures");
	return ret;
}
