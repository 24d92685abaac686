// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/acpi.h"
#include "boot/aml.h"
#include "unit.h"
#include "vmm/layout.h"
#include "vmm/util.h"

#define BASE 0xe0000ULL

static uint8_t buf[0x10000];

static struct acpi_config config(unsigned int cpus)
{
	static const struct acpi_pci_host pci = {
		.ecam = LAYOUT_PCI_ECAM,
		.mmio32_base = 0xc0000000,
		.mmio32_size = 0x10000000,
		.intx_gsi = { 16, 17, 18, 19 },
		.nr_slots = 4,
	};
	struct acpi_config c = {
		.nr_cpus = cpus,
		.pm_port = 0x600,
		.reset_value = 0x0e,
		.s5_slp_typ = 5,
		.pvpanic_port = 0x505,
		.nr_isa = 3,
		.isa = {
			{ "COM1", "PNP0501", 0x3f8, 8, 4, 0, 0 },
			{ "RTC_", "PNP0B00", 0x70, 2, 8, 0, 0 },
			{ "KBD_", "PNP0303", 0x60, 1, 1, 0x64, 1 },
		},
		.nr_mmio = 2,
		.mmio = { { 0xd0000000, 0x200, 5 }, { 0xd0001000, 0x200, 6 } },
		.pci = &pci,
	};

	return c;
}

static uint8_t *at(uint64_t gpa)
{
	ck_assert_uint_ge(gpa, BASE);
	ck_assert_uint_lt(gpa, BASE + sizeof(buf));
	return buf + (gpa - BASE);
}

/* Find a table through RSDP -> XSDT, checking every checksum on the way. */
static uint8_t *find_table(const char *sig)
{
	uint8_t *x = at(get_le64(buf + 24));
	uint32_t i, n = (get_le32(x + 4) - 36) / 8;

	for (i = 0; i < n; i++) {
		uint8_t *t = at(get_le64(x + 36 + 8 * i));

		ck_assert_uint_eq(acpi_checksum(t, get_le32(t + 4)), 0);
		if (!memcmp(t, sig, 4))
			return t;
	}
	return NULL;
}

static bool contains(const uint8_t *p, size_t len, const void *needle, size_t n)
{
	return memmem(p, len, needle, n) != NULL;
}

START_TEST(rsdp_and_xsdt)
{
	struct acpi_config c = config(2);
	uint8_t *x;

	ck_assert_int_gt(acpi_build(buf, sizeof(buf), BASE, &c), 0);
	ck_assert_int_eq(memcmp(buf, "RSD PTR ", 8), 0);
	ck_assert_uint_eq(acpi_checksum(buf, 20), 0);
	ck_assert_uint_eq(acpi_checksum(buf, 36), 0);
	ck_assert_uint_eq(buf[15], 2);
	x = at(get_le64(buf + 24));
	ck_assert_int_eq(memcmp(x, "XSDT", 4), 0);
	ck_assert_uint_eq(acpi_checksum(x, get_le32(x + 4)), 0);
	ck_assert_ptr_nonnull(find_table("FACP"));
	ck_assert_ptr_nonnull(find_table("APIC"));
	ck_assert_ptr_nonnull(find_table("MCFG"));
}
END_TEST

START_TEST(fadt_hw_reduced)
{
	struct acpi_config c = config(1);
	uint8_t *f, *d;

	ck_assert_int_gt(acpi_build(buf, sizeof(buf), BASE, &c), 0);
	f = find_table("FACP");
	ck_assert_uint_eq(get_le32(f + 4), 276);
	ck_assert_uint_eq(f[8], 6);
	ck_assert(get_le32(f + 112) & (1U << 20));	/* HW_REDUCED_ACPI */
	ck_assert(get_le32(f + 112) & (1U << 10));	/* RESET_REG_SUP */
	/* Reset register: system I/O, 8 bits, at pm_port + 2. */
	ck_assert_uint_eq(f[116], 1);
	ck_assert_uint_eq(f[117], 8);
	ck_assert_uint_eq(get_le64(f + 120), 0x602);
	ck_assert_uint_eq(f[128], 0x0e);
	ck_assert_uint_eq(get_le64(f + 244 + 4), 0x600);	/* sleep control */
	ck_assert_uint_eq(get_le64(f + 256 + 4), 0x601);	/* sleep status */
	ck_assert_uint_eq(f[108], 0x32);			/* RTC century */
	d = at(get_le64(f + 140));
	ck_assert_int_eq(memcmp(d, "DSDT", 4), 0);
	ck_assert_uint_eq(get_le32(f + 40), get_le64(f + 140));
	ck_assert_uint_eq(acpi_checksum(d, get_le32(d + 4)), 0);
}
END_TEST

START_TEST(madt_one_lapic_per_cpu)
{
	unsigned int cpus = (unsigned int)_i, seen = 0, ioapics = 0;
	struct acpi_config c = config(cpus);
	uint8_t *m, *p, *end;

	ck_assert_int_gt(acpi_build(buf, sizeof(buf), BASE, &c), 0);
	m = find_table("APIC");
	ck_assert_uint_eq(get_le32(m + 36), LAYOUT_LAPIC);
	end = m + get_le32(m + 4);
	for (p = m + 44; p < end; p += p[1]) {
		ck_assert_uint_ge(p[1], 2);
		if (p[0] == 0) {
			ck_assert_uint_eq(p[3], seen);		/* APIC ID */
			ck_assert_uint_eq(get_le32(p + 4), 1);	/* enabled */
			seen++;
		} else if (p[0] == 1) {
			ck_assert_uint_eq(get_le32(p + 4), LAYOUT_IOAPIC);
			ck_assert_uint_eq(get_le32(p + 8), 0);
			ioapics++;
		}
	}
	ck_assert_ptr_eq(p, end);
	ck_assert_uint_eq(seen, cpus);
	ck_assert_uint_eq(ioapics, 1);
}
END_TEST

START_TEST(dsdt_contents)
{
	static const uint8_t s5[] = { 0x08, 0x5c, '_', 'S', '5', '_', 0x12 };
	static const uint8_t pnp0501[] = { 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t pnp0a08[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t io505[] = { 0x47, 0x01, 0x05, 0x05, 0x05, 0x05 };
	struct acpi_config c = config(1);
	uint8_t *d;
	size_t len;

	ck_assert_int_gt(acpi_build(buf, sizeof(buf), BASE, &c), 0);
	d = at(get_le64(find_table("FACP") + 140));
	len = get_le32(d + 4);
	ck_assert(contains(d, len, s5, sizeof(s5)));
	ck_assert(contains(d, len, pnp0501, sizeof(pnp0501)));
	ck_assert(contains(d, len, pnp0a08, sizeof(pnp0a08)));
	ck_assert(contains(d, len, "QEMU0001", 8));
	ck_assert(contains(d, len, io505, sizeof(io505)));
	ck_assert(contains(d, len, "LNRO0005", 8));
	ck_assert(contains(d, len, "VR01", 4));
}
END_TEST

START_TEST(too_small_buffer)
{
	struct acpi_config c = config(254);
	uint8_t small[256];

	ck_assert_int_lt(acpi_build(small, sizeof(small), BASE, &c), 0);
	c.nr_cpus = 0;
	ck_assert_int_lt(acpi_build(buf, sizeof(buf), BASE, &c), 0);
}
END_TEST

START_TEST(pkglength_encodings)
{
	static uint8_t b[20000];
	static const uint8_t body[6000];
	struct aml a;
	size_t m;

	/* 1 byte: total (body + itself) <= 63. */
	aml_init(&a, b, sizeof(b));
	m = aml_pkg_begin(&a);
	aml_bytes(&a, body, 10);
	aml_pkg_end(&a, m);
	ck_assert_uint_eq(a.len, 11);
	ck_assert_uint_eq(b[0], 11);
	/* 2 bytes: up to 0xfff. */
	aml_init(&a, b, sizeof(b));
	m = aml_pkg_begin(&a);
	aml_bytes(&a, body, 100);
	aml_pkg_end(&a, m);
	ck_assert_uint_eq(a.len, 102);
	ck_assert_uint_eq(b[0], 0x40 | (102 & 0xf));
	ck_assert_uint_eq(b[1], 102 >> 4);
	/* 3 bytes. */
	aml_init(&a, b, sizeof(b));
	m = aml_pkg_begin(&a);
	aml_bytes(&a, body, 5000);
	aml_pkg_end(&a, m);
	ck_assert_uint_eq(a.len, 5003);
	ck_assert_uint_eq(b[0], 0x80 | (5003 & 0xf));
	ck_assert_uint_eq(b[1], (5003 >> 4) & 0xff);
	ck_assert_uint_eq(b[2], 5003 >> 12);
	/* Overflow is sticky, never a write past the buffer. */
	aml_init(&a, b, 8);
	aml_bytes(&a, body, 9);
	ck_assert(a.overflow);
	ck_assert_uint_eq(a.len, 0);
}
END_TEST

START_TEST(aml_names_and_ints)
{
	static const uint8_t want_name[] = { 0x5c, 0x2e, '_', 'S', 'B', '_',
					     'P', 'C', 'I', '0' };
	uint8_t b[64];
	struct aml a;

	aml_init(&a, b, sizeof(b));
	aml_name(&a, "\\_SB_.PCI0");
	ck_assert_uint_eq(a.len, sizeof(want_name));
	ck_assert_int_eq(memcmp(b, want_name, sizeof(want_name)), 0);
	aml_init(&a, b, sizeof(b));
	aml_name(&a, "_S5");			/* padded with '_' */
	ck_assert_int_eq(memcmp(b, "_S5_", 4), 0);
	aml_init(&a, b, sizeof(b));
	aml_int(&a, 0);
	aml_int(&a, 1);
	aml_int(&a, 0xff);
	aml_int(&a, 0x1234);
	aml_int(&a, 0x12345678);
	aml_int(&a, 0x123456789aULL);
	ck_assert_uint_eq(a.len, 1 + 1 + 2 + 3 + 5 + 9);
	ck_assert_uint_eq(b[2], 0x0a);
	ck_assert_uint_eq(b[4], 0x0b);
	ck_assert_uint_eq(b[7], 0x0c);
	ck_assert_uint_eq(b[12], 0x0e);
}
END_TEST

/* The DSDT must survive Intel's reference disassembler. */
START_TEST(dsdt_disassembles)
{
	struct acpi_config c = config(2);
	char dir[] = "/tmp/vireo-acpi-XXXXXX", cmd[512], path[128];
	uint8_t *d;
	FILE *f;
	char *text;
	long n;

	ck_assert_msg(access("/usr/bin/iasl", X_OK) == 0,
		      "iasl (acpica-tools) is needed: run 'make deps'");
	ck_assert_int_gt(acpi_build(buf, sizeof(buf), BASE, &c), 0);
	d = at(get_le64(find_table("FACP") + 140));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dsdt.dat", dir);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	fwrite(d, 1, get_le32(d + 4), f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d dsdt.dat >log 2>&1", dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/dsdt.dsl", dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	text = calloc(1, 1 << 20);
	n = (long)fread(text, 1, (1 << 20) - 1, f);
	fclose(f);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(strstr(text, "Name (\\_S5, Package (0x04)"));
	ck_assert_ptr_nonnull(strstr(text, "EisaId (\"PNP0501\")"));
	/* The keyboard controller: its data and command ports. */
	ck_assert_ptr_nonnull(strstr(text, "EisaId (\"PNP0303\")"));
	ck_assert_ptr_nonnull(strstr(text, "0x0064,             // Range Minimum"));
	ck_assert_ptr_nonnull(strstr(text, "EisaId (\"PNP0A08\")"));
	ck_assert_ptr_nonnull(strstr(text, "\"LNRO0005\""));
	ck_assert_ptr_nonnull(strstr(text, "Memory32Fixed (ReadWrite"));
	ck_assert_ptr_nonnull(strstr(text, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive"));
	ck_assert_ptr_nonnull(strstr(text, "Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive"));
	ck_assert_ptr_nonnull(strstr(text, "WordBusNumber (ResourceProducer"));
	ck_assert_ptr_null(strstr(text, "Unknown"));
	free(text);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *acpi_suite(void)
{
	Suite *s = suite_create("acpi");
	TCase *tc = tcase_create("tables");

	tcase_add_test(tc, rsdp_and_xsdt);
	tcase_add_test(tc, fadt_hw_reduced);
	tcase_add_loop_test(tc, madt_one_lapic_per_cpu, 1, 9);
	tcase_add_loop_test(tc, madt_one_lapic_per_cpu, 254, 255);
	tcase_add_test(tc, dsdt_contents);
	tcase_add_test(tc, too_small_buffer);
	tcase_add_test(tc, pkglength_encodings);
	tcase_add_test(tc, aml_names_and_ints);
	tcase_add_test(tc, dsdt_disassembles);
	suite_add_tcase(s, tc);
	return s;
}
