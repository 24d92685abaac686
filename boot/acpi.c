// SPDX-License-Identifier: GPL-2.0
#include "acpi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../vmm/layout.h"
#include "../vmm/util.h"
#include "aml.h"

#define SDT_HDR_LEN	36
#define FADT_LEN	276
#define FADT_HW_REDUCED	(1U << 20)
#define FADT_RESET_REG	(1U << 10)
#define FADT_PWR_BUTTON	(1U << 4)
#define FADT_SLP_BUTTON	(1U << 5)
#define IAPC_NO_VGA	(1U << 2)
#define GAS_SYSTEM_IO	1

struct tables {
	uint8_t *buf;
	size_t len;
	size_t used;
	uint64_t base;
};

/* Reserve n bytes, 16-aligned; returns the offset or -1. */
static long tb_alloc(struct tables *t, size_t n)
{
	size_t off = ALIGN_UP(t->used, (size_t)16);

	if (off > t->len || n > t->len - off)
		return -1;
	memset(t->buf + off, 0, n);
	t->used = off + n;
	return (long)off;
}

uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return sum;
}

static void sdt_header(uint8_t *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h, sig, 4);
	put_le32(h + 4, len);
	h[8] = rev;
	memcpy(h + 10, "VIREO ", 6);
	memcpy(h + 16, "VIREOVM ", 8);
	put_le32(h + 24, 1);
	memcpy(h + 28, "VIRO", 4);
	put_le32(h + 32, 1);
}

static void sdt_finish(uint8_t *h)
{
	uint32_t len = get_le32(h + 4);

	h[9] = 0;
	h[9] = (uint8_t)(0 - acpi_checksum(h, len));
}

static void gas_io(uint8_t *g, uint16_t port, uint8_t bits)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = bits;
	g[2] = 0;
	g[3] = 1;		/* byte access */
	put_le64(g + 4, port);
}

static long build_fadt(struct tables *t, const struct acpi_config *cfg,
		       uint64_t dsdt)
{
	long off = tb_alloc(t, FADT_LEN);
	uint8_t *f;

	if (off < 0)
		return -1;
	f = t->buf + off;
	sdt_header(f, "FACP", FADT_LEN, 6);
	put_le32(f + 40, (uint32_t)dsdt);
	f[45] = 0;				/* PM profile: unspecified */
	f[108] = 0x32;				/* RTC century register */
	put_le16(f + 109, IAPC_NO_VGA);
	put_le32(f + 112, FADT_HW_REDUCED | FADT_RESET_REG | FADT_PWR_BUTTON |
			  FADT_SLP_BUTTON);
	gas_io(f + 116, (uint16_t)(cfg->pm_port + 2), 8);
	f[128] = cfg->reset_value;
	f[131] = 5;				/* FADT minor version 6.5 */
	put_le64(f + 140, dsdt);
	gas_io(f + 244, cfg->pm_port, 8);		/* sleep control */
	gas_io(f + 256, (uint16_t)(cfg->pm_port + 1), 8);	/* sleep status */
	memcpy(f + 268, "VIREO\0\0\0", 8);	/* hypervisor vendor */
	sdt_finish(f);
	return off;
}

static long build_madt(struct tables *t, const struct acpi_config *cfg)
{
	size_t len = SDT_HDR_LEN + 8 + 8 * (size_t)cfg->nr_cpus + 12 + 6;
	long off = tb_alloc(t, len);
	uint8_t *m, *p;
	unsigned int i;

	if (off < 0)
		return -1;
	m = t->buf + off;
	sdt_header(m, "APIC", (uint32_t)len, 5);
	put_le32(m + 36, (uint32_t)LAYOUT_LAPIC);
	put_le32(m + 40, 0);			/* no dual-8259 flag */
	p = m + 44;
	for (i = 0; i < cfg->nr_cpus; i++, p += 8) {
		p[0] = 0;			/* processor local APIC */
		p[1] = 8;
		p[2] = (uint8_t)i;		/* ACPI processor UID */
		p[3] = (uint8_t)i;		/* APIC ID */
		put_le32(p + 4, 1);		/* enabled */
	}
	p[0] = 1;				/* I/O APIC */
	p[1] = 12;
	p[2] = 0;				/* IOAPIC ID */
	put_le32(p + 4, (uint32_t)LAYOUT_IOAPIC);
	put_le32(p + 8, 0);			/* GSI base */
	p += 12;
	p[0] = 4;				/* local APIC NMI on LINT1 */
	p[1] = 6;
	p[2] = 0xff;				/* all processors */
	put_le16(p + 3, 0);
	p[5] = 1;
	sdt_finish(m);
	return off;
}

static long build_mcfg(struct tables *t, const struct acpi_pci_host *pci)
{
	size_t len = SDT_HDR_LEN + 8 + 16;
	long off = tb_alloc(t, len);
	uint8_t *m;

	if (off < 0)
		return -1;
	m = t->buf + off;
	sdt_header(m, "MCFG", (uint32_t)len, 1);
	put_le64(m + 44, pci->ecam);
	put_le16(m + 52, 0);			/* segment */
	m[54] = 0;				/* first bus */
	m[55] = 0;				/* last bus */
	sdt_finish(m);
	return off;
}

static void dsdt_pci(struct aml *a, const struct acpi_pci_host *pci)
{
	struct aml_res res = { .len = 0 };
	size_t dev, prt, entry;
	unsigned int slot, pin;

	dev = aml_device_begin(a, "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A08");
	aml_name_eisaid(a, "_CID", "PNP0A03");
	aml_name_int(a, "_SEG", 0);
	aml_name_int(a, "_BBN", 0);
	aml_name_int(a, "_UID", 0);
	res_bus_numbers(&res, 0, 0);
	res_io_range(&res, 0x0000, 0x0cf7);
	res_io_range(&res, 0x0d00, 0xffff);
	res_mem32_range(&res, pci->mmio32_base,
			pci->mmio32_base + pci->mmio32_size - 1);
	aml_name_resources(a, "_CRS", &res);

	/* _PRT: Package { Package { slot<<16 | 0xffff, pin, 0, gsi } } */
	aml_byte(a, 0x08);
	aml_name(a, "_PRT");
	aml_byte(a, 0x12);
	prt = aml_pkg_begin(a);
	aml_byte(a, (uint8_t)(pci->nr_slots * 4));
	for (slot = 0; slot < pci->nr_slots; slot++) {
		for (pin = 0; pin < 4; pin++) {
			aml_byte(a, 0x12);
			entry = aml_pkg_begin(a);
			aml_byte(a, 4);
			aml_int(a, (uint64_t)slot << 16 | 0xffff);
			aml_int(a, pin);
			aml_int(a, 0);
			aml_int(a, pci->intx_gsi[(slot + pin) % 4]);
			aml_pkg_end(a, entry);
		}
	}
	aml_pkg_end(a, prt);
	aml_pkg_end(a, dev);

	/* The ECAM window, claimed as a motherboard resource. */
	dev = aml_device_begin(a, "RES0");
	aml_name_eisaid(a, "_HID", "PNP0C02");
	aml_name_int(a, "_UID", 1);
	memset(&res, 0, sizeof(res));
	res_mem32_fixed(&res, (uint32_t)pci->ecam, (uint32_t)LAYOUT_PCI_ECAM_SIZE);
	aml_name_resources(a, "_CRS", &res);
	aml_pkg_end(a, dev);
}

static long build_dsdt(struct tables *t, const struct acpi_config *cfg)
{
	uint64_t s5[4] = { cfg->s5_slp_typ, 0, 0, 0 };
	struct aml a;
	size_t sb, dev;
	unsigned int i;
	long off = tb_alloc(t, SDT_HDR_LEN);

	if (off < 0)
		return -1;
	aml_init(&a, t->buf + t->used, t->len - t->used);
	aml_name_package(&a, "\\_S5_", s5, 4);
	sb = aml_scope_begin(&a, "\\_SB_");
	for (i = 0; i < cfg->nr_isa; i++) {
		const struct acpi_isa_dev *d = &cfg->isa[i];
		struct aml_res res = { .len = 0 };

		dev = aml_device_begin(&a, d->name);
		aml_name_eisaid(&a, "_HID", d->hid);
		aml_name_int(&a, "_UID", i);
		res_io(&res, d->port, d->len);
		if (d->port2)
			res_io(&res, d->port2, d->len2);
		if (d->irq >= 0)
			res_irq(&res, (uint32_t)d->irq, false, false);
		aml_name_resources(&a, "_CRS", &res);
		aml_pkg_end(&a, dev);
	}
	if (cfg->pvpanic_port) {
		struct aml_res res = { .len = 0 };

		dev = aml_device_begin(&a, "PEVT");
		aml_name_string(&a, "_HID", "QEMU0001");
		res_io(&res, cfg->pvpanic_port, 1);
		aml_name_resources(&a, "_CRS", &res);
		aml_pkg_end(&a, dev);
	}
	for (i = 0; i < cfg->nr_mmio; i++) {
		struct aml_res res = { .len = 0 };
		char name[5];

		snprintf(name, sizeof(name), "VR%02X", i & 0xff);
		dev = aml_device_begin(&a, name);
		aml_name_string(&a, "_HID", "LNRO0005");
		aml_name_int(&a, "_UID", i);
		res_mem32_fixed(&res, (uint32_t)cfg->mmio[i].addr, cfg->mmio[i].len);
		/* Level-triggered: the line follows InterruptStatus. */
		res_irq(&res, cfg->mmio[i].gsi, true, false);
		aml_name_resources(&a, "_CRS", &res);
		aml_pkg_end(&a, dev);
	}
	if (cfg->pci)
		dsdt_pci(&a, cfg->pci);
	aml_pkg_end(&a, sb);
	if (a.overflow)
		return -1;
	t->used += a.len;
	sdt_header(t->buf + off, "DSDT", (uint32_t)(SDT_HDR_LEN + a.len), 2);
	sdt_finish(t->buf + off);
	return off;
}

long acpi_build(uint8_t *buf, size_t len, uint64_t base,
		const struct acpi_config *cfg)
{
	struct tables t = { buf, len, 0, base };
	long rsdp, xsdt, fadt, madt, dsdt, mcfg = -1;
	unsigned int n = 2, i;
	uint8_t *r, *x;

	if (!cfg->nr_cpus || cfg->nr_cpus > 255 ||
	    cfg->nr_mmio > ACPI_MAX_MMIO_DEVS || cfg->nr_isa > ACPI_MAX_ISA_DEVS)
		return -EINVAL;
	rsdp = tb_alloc(&t, 36);
	dsdt = build_dsdt(&t, cfg);
	fadt = dsdt < 0 ? -1 : build_fadt(&t, cfg, base + (uint64_t)dsdt);
	madt = build_madt(&t, cfg);
	if (cfg->pci) {
		mcfg = build_mcfg(&t, cfg->pci);
		n++;
		if (mcfg < 0)
			return -ENOSPC;
	}
	xsdt = tb_alloc(&t, SDT_HDR_LEN + 8 * (size_t)n);
	if (rsdp < 0 || dsdt < 0 || fadt < 0 || madt < 0 || xsdt < 0)
		return -ENOSPC;

	x = buf + xsdt;
	sdt_header(x, "XSDT", SDT_HDR_LEN + 8 * n, 1);
	put_le64(x + 36, base + (uint64_t)fadt);
	put_le64(x + 44, base + (uint64_t)madt);
	if (mcfg >= 0)
		put_le64(x + 52, base + (uint64_t)mcfg);
	sdt_finish(x);

	r = buf + rsdp;
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "VIREO ", 6);
	r[15] = 2;				/* ACPI 2.0+ */
	put_le32(r + 20, 36);
	put_le64(r + 24, base + (uint64_t)xsdt);
	r[8] = (uint8_t)(0 - acpi_checksum(r, 20));
	r[32] = (uint8_t)(0 - acpi_checksum(r, 36));
	for (i = 0; i < 3; i++)
		r[33 + i] = 0;
	return (long)t.used;
}

int acpi_install(const struct guest_mem *gm, const struct acpi_config *cfg,
		 uint64_t *rsdp)
{
	uint8_t *p = gm_ptr(gm, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
	long n;

	if (!p)
		return -EFAULT;
	n = acpi_build(p, LAYOUT_ACPI_SIZE, LAYOUT_ACPI, cfg);
	if (n < 0)
		return (int)n;
	*rsdp = LAYOUT_ACPI;
	return 0;
}
