/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small AML (ACPI Machine Language) emitter for the DSDT: names,
 * integers, strings, packages, scopes, devices and resource templates.
 * Only what vireo's machine needs; errors (overflow) are sticky and
 * reported once at the end.
 */
#ifndef VIREO_AML_H
#define VIREO_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t len;
	size_t cap;
	bool overflow;
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
void aml_byte(struct aml *a, uint8_t b);
void aml_bytes(struct aml *a, const void *p, size_t n);

/* Open a PkgLength-prefixed body; aml_pkg_end() encodes its length. */
size_t aml_pkg_begin(struct aml *a);
void aml_pkg_end(struct aml *a, size_t mark);

/* A NameString: "\\_SB_.PCI0", "_HID", "^FOO" (segments padded with _). */
void aml_name(struct aml *a, const char *path);
/* The smallest encoding of v (ZeroOp, OneOp, Byte/Word/DWord/QWord). */
void aml_int(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EISA ID "PNP0A08" as the DWord the spec defines. */
void aml_eisaid(struct aml *a, const char *id);

/* Scope(path) { and Device(name) {, closed by aml_pkg_end(). */
size_t aml_scope_begin(struct aml *a, const char *path);
size_t aml_device_begin(struct aml *a, const char *name);

void aml_name_int(struct aml *a, const char *name, uint64_t v);
void aml_name_string(struct aml *a, const char *name, const char *s);
void aml_name_eisaid(struct aml *a, const char *name, const char *id);
/* Name(name, Package() { v[0], ... }) of integers. */
void aml_name_package(struct aml *a, const char *name, const uint64_t *v,
		      unsigned int n);

/* Resource template bytes, wrapped by aml_name_resources(). */
struct aml_res {
	uint8_t b[512];
	size_t len;
	bool overflow;
};

void res_io(struct aml_res *r, uint16_t port, uint8_t len);
void res_mem32_fixed(struct aml_res *r, uint32_t base, uint32_t len);
/* Extended interrupt: level/edge, active high/low, exclusive consumer. */
void res_irq(struct aml_res *r, uint32_t gsi, bool level, bool active_low);
void res_bus_numbers(struct aml_res *r, uint16_t min, uint16_t max);
void res_io_range(struct aml_res *r, uint32_t min, uint32_t max);
void res_mem32_range(struct aml_res *r, uint32_t min, uint32_t max);
void res_mem64_range(struct aml_res *r, uint64_t min, uint64_t max);
/* Name(name, ResourceTemplate() { ... }) with the end tag appended. */
void aml_name_resources(struct aml *a, const char *name,
			const struct aml_res *r);

#endif
