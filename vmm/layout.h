/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The default x86_64 machine's physical address map.
 *
 *   0x0000_0000  RAM (low)           real-mode area, boot structures
 *   0x0009_FC00  reserved            EBDA-style hole up to 1 MiB
 *   0x000E_0000  reserved            ACPI tables (RSDP is found here)
 *   0x0010_0000  RAM                 kernel, initrd, the rest of low RAM
 *   0xC000_0000  32-bit MMIO hole    PCI BARs, virtio-mmio, ECAM,
 *                                    IOAPIC, LAPIC
 *   0x1_0000_0000 RAM (high)         whatever did not fit below the hole
 */
#ifndef VIREO_LAYOUT_H
#define VIREO_LAYOUT_H

/* Low memory used while booting. */
#define LAYOUT_GDT		0x500ULL
#define LAYOUT_PVH_INFO		0x6000ULL	/* hvm_start_info + tables */
#define LAYOUT_ZERO_PAGE	0x7000ULL	/* struct boot_params */
#define LAYOUT_BOOT_STACK	0x8ff0ULL
#define LAYOUT_PML4		0x9000ULL	/* + PDPT + 4 PDs: 0x9000-0xefff */
#define LAYOUT_CMDLINE		0x20000ULL
#define LAYOUT_CMDLINE_MAX	0x10000ULL
#define LAYOUT_EBDA		0x9fc00ULL
#define LAYOUT_ACPI		0xe0000ULL	/* RSDP first, then the tables */
#define LAYOUT_ACPI_SIZE	0x1f000ULL
#define LAYOUT_MPTABLE		0xff000ULL	/* MP floating pointer + table */
#define LAYOUT_RESET_VECTOR	0xffff0ULL	/* f000:fff0, a reset stub */
#define LAYOUT_HIGH_MEM		0x100000ULL	/* 1 MiB */

/* The 32-bit MMIO hole. */
#define LAYOUT_MMIO_HOLE	0xc0000000ULL
#define LAYOUT_PCI_MMIO32	0xc0000000ULL	/* PCI BAR window */
#define LAYOUT_PCI_MMIO32_SIZE	0x10000000ULL
#define LAYOUT_VIRTIO_MMIO	0xd0000000ULL	/* 4 KiB per device */
#define LAYOUT_VIRTIO_MMIO_SIZE	0x1000ULL
#define LAYOUT_VIRTIO_MMIO_MAX	64
#define LAYOUT_PCI_ECAM		0xe0000000ULL	/* bus 0 only: 1 MiB */
#define LAYOUT_PCI_ECAM_SIZE	0x100000ULL
#define LAYOUT_KVM_IDENT_MAP	0xfeffc000ULL	/* VMX helpers: 4 pages */
#define LAYOUT_KVM_TSS		0xfeffd000ULL
#define LAYOUT_IOAPIC		0xfec00000ULL
#define LAYOUT_LAPIC		0xfee00000ULL
#define LAYOUT_4G		0x100000000ULL

/* PIO ports owned by vireo's platform devices. */
#define PORT_I8042_DATA		0x60
#define PORT_I8042_CMD		0x64
#define PORT_CMOS		0x70	/* index; data at 0x71 */
#define PORT_POST		0x80
#define PORT_COM1		0x3f8
#define PORT_PVPANIC		0x505
#define PORT_PM			0x600	/* sleep ctl, sleep sts, reset */
#define PORT_PM_SLEEP_CTL	(PORT_PM + 0)
#define PORT_PM_SLEEP_STS	(PORT_PM + 1)
#define PORT_PM_RESET		(PORT_PM + 2)
#define PM_RESET_VALUE		0x0e
#define PM_SLP_TYP_S5		5

/* ISA interrupt lines (GSI = IRQ on the in-kernel IOAPIC). */
#define IRQ_KBD			1
#define IRQ_COM1		4
#define IRQ_RTC			8
#define IRQ_PCI_INTX		16	/* INTA of slot s: 16 + s % 4 */
/* virtio-mmio lines: IOAPIC pins 20-23, then free ISA lines. */
#define IRQ_VIRTIO_MMIO_LIST	{ 20, 21, 22, 23, 5, 7, 9, 10, 11, 12, 14, 15 }

#endif
