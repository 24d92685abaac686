/* SPDX-License-Identifier: GPL-2.0 */
/*
 * x86 boot structures: the e820 map, the Linux 64-bit boot protocol
 * (boot_params, identity page tables, GDT, register state) and the PVH
 * entry (hvm_start_info, 32-bit flat protected mode).
 */
#ifndef VIREO_X86_H
#define VIREO_X86_H

#include <asm/bootparam.h>
#include <linux/kvm.h>
#include <stdint.h>

#include "../vmm/mem.h"

/* Initial state of the boot vCPU. */
struct vcpu_boot_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
};

enum boot_protocol {
	BOOT_AUTO,		/* PVH for an ELF with the note, else linux64 */
	BOOT_LINUX64,		/* 64-bit entry with boot_params */
	BOOT_PVH,		/* Xen PVH entry with hvm_start_info */
};

struct boot_info {
	enum boot_protocol protocol;	/* resolved: LINUX64 or PVH */
	uint64_t entry;			/* 64-bit entry (LINUX64) */
	uint32_t pvh_entry;		/* 32-bit entry (PVH) */
	const struct setup_header *hdr;	/* from a bzImage, or NULL */
	size_t hdr_len;
	const char *cmdline;
	uint64_t initrd_gpa;
	uint64_t initrd_size;
	uint64_t rsdp;
};

/*
 * The e820 map of gm: RAM, the reserved BIOS area, the PCI ECAM window.
 * Returns the number of entries (at most max).
 */
unsigned int e820_build(const struct guest_mem *gm, struct boot_e820_entry *e,
			unsigned int max);

/* Longest command line the kernel accepts (without the NUL). */
uint32_t boot_cmdline_max(const struct setup_header *hdr);

/*
 * Where to put an initrd of size bytes: page-aligned, as high as the
 * kernel allows, above kernel_end. -ENOSPC if it does not fit.
 */
int initrd_place(const struct guest_mem *gm, const struct setup_header *hdr,
		 uint64_t kernel_end, uint64_t size, uint64_t *gpa);

/*
 * Put a real-mode stub at the reset vector (f000:fff0) that writes
 * reset_value to reset_port. Linux on hardware-reduced ACPI reboots by
 * jumping there (EFI, then "BIOS" restart): with no firmware, the stub
 * turns that into a clean reset. 0 or -EFAULT.
 */
int boot_reset_vector(const struct guest_mem *gm, uint16_t reset_port,
		      uint8_t reset_value);

/* Write the boot structures and fill the BSP state. 0 or -errno. */
int boot_setup(const struct guest_mem *gm, const struct boot_info *bi,
	       struct vcpu_boot_state *st, char *err, size_t errlen);

#endif
