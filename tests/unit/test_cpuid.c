// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "boot/cpuid.h"
#include "unit.h"

#define MAXE 64

static struct kvm_cpuid2 *table(bool amd)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + MAXE * sizeof(c->entries[0]));
	struct kvm_cpuid_entry2 *e = c->entries;

	e[0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x1f,
		.ebx = amd ? 0x68747541 : 0x756e6547 };
	e[1] = (struct kvm_cpuid_entry2){ .function = 1, .ebx = 0x00ff0800,
		.edx = 1U << 28 };
	e[2] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0xfc004121 };
	e[3] = (struct kvm_cpuid_entry2){ .function = 4, .index = 3,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0xfc03c163 };
	e[4] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 99, .edx = 99 };
	e[5] = (struct kvm_cpuid_entry2){ .function = 0x1f, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 99 };
	e[6] = (struct kvm_cpuid_entry2){ .function = 0x80000000, .eax = 0x8000001e };
	e[7] = (struct kvm_cpuid_entry2){ .function = 0x80000001 };
	e[8] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .ecx = 0xffff };
	e[9] = (struct kvm_cpuid_entry2){ .function = 0x8000001e, .eax = 77 };
	c->nent = 10;
	return c;
}

START_TEST(per_vcpu_topology)
{
	bool amd = _i;
	struct kvm_cpuid2 *sup = table(amd);
	struct kvm_cpuid2 *out = calloc(1, sizeof(*out) + MAXE * sizeof(out->entries[0]));
	struct kvm_cpuid_entry2 *e;
	unsigned int idx, nr = 6;

	for (idx = 0; idx < nr; idx++) {
		ck_assert_int_gt(cpuid_build(sup, idx, nr, out, MAXE), 0);
		e = cpuid_find(out, 1, 0);
		ck_assert_uint_eq(e->ebx >> 24, idx);		/* initial APIC ID */
		ck_assert_uint_eq((e->ebx >> 16) & 0xff, nr);
		ck_assert_uint_eq(e->ebx & 0xffff, 0x0800);	/* CLFLUSH kept */
		ck_assert(e->ecx & (1U << 31));			/* hypervisor */
		ck_assert(e->edx & (1U << 28));			/* HTT */
		/* 0xB: SMT level then core level, x2APIC ID in EDX. */
		e = cpuid_find(out, 0xb, 0);
		ck_assert_uint_eq(e->ebx, 1);
		ck_assert_uint_eq(e->ecx, 0x100);
		ck_assert_uint_eq(e->edx, idx);
		e = cpuid_find(out, 0xb, 1);
		ck_assert_uint_eq(e->eax, 3);			/* 6 cores: 3 bits */
		ck_assert_uint_eq(e->ebx, nr);
		ck_assert_uint_eq(e->ecx, 0x201);
		e = cpuid_find(out, 0xb, 2);
		ck_assert_uint_eq(e->ecx & 0xff00, 0);		/* invalid: end */
		e = cpuid_find(out, 0x1f, 1);
		ck_assert_uint_eq(e->ebx, nr);
		if (amd) {
			e = cpuid_find(out, 0x80000008, 0);
			ck_assert_uint_eq(e->ecx & 0xff, nr - 1);
			ck_assert_uint_eq((e->ecx >> 12) & 0xf, 3);
			e = cpuid_find(out, 0x8000001e, 0);
			ck_assert_uint_eq(e->eax, idx);
			ck_assert(cpuid_find(out, 0x80000001, 0)->ecx & 2);
		} else {
			e = cpuid_find(out, 4, 0);
			ck_assert_uint_eq(e->eax >> 26, nr - 1);
			ck_assert_uint_eq((e->eax >> 14) & 0xfff, 0);	/* L1: per core */
			e = cpuid_find(out, 4, 3);
			ck_assert_uint_eq((e->eax >> 14) & 0xfff, nr - 1);	/* L3 shared */
			ck_assert_uint_eq(cpuid_find(out, 0x80000008, 0)->ecx, 0xffff);
		}
	}
	free(sup);
	free(out);
}
END_TEST

START_TEST(single_cpu_and_limits)
{
	struct kvm_cpuid2 *sup = table(false);
	struct kvm_cpuid2 *out = calloc(1, sizeof(*out) + MAXE * sizeof(out->entries[0]));
	struct kvm_msr_entry m[16];

	ck_assert_int_gt(cpuid_build(sup, 0, 1, out, MAXE), 0);
	ck_assert(!(cpuid_find(out, 1, 0)->edx & (1U << 28)));
	ck_assert_uint_eq(cpuid_find(out, 0xb, 1)->eax, 0);
	/* A table that does not fit is an error, not an overrun. */
	ck_assert_int_lt(cpuid_build(sup, 0, 1, out, 5), 0);
	ck_assert_uint_gt(msr_boot_entries(m, 16), 5);
	ck_assert_uint_eq(msr_boot_entries(m, 2), 2);
	free(sup);
	free(out);
}
END_TEST

/* "vireo test CPU" in the 12 words of leaves 0x80000002-4. */
static void test_brand(uint32_t w[12])
{
	char s[48] = "vireo test CPU";

	memcpy(w, s, sizeof(s));
}

START_TEST(brand_from_host)
{
	struct kvm_cpuid2 *c = table(true);
	struct kvm_cpuid_entry2 *e;
	uint32_t brand[12], got[12];
	unsigned int f, n = c->nent;

	test_brand(brand);
	/* Without a host brand, nothing changes. */
	ck_assert_int_eq(cpuid_add_brand(c, MAXE, NULL), 0);
	ck_assert_uint_eq(c->nent, n);
	/* KVM gave no brand leaves: they are added, and the host's words
	 * read back as the same string. */
	ck_assert_int_eq(cpuid_add_brand(c, MAXE, brand), 0);
	ck_assert_uint_eq(c->nent, n + 3);
	for (f = 0; f < 3; f++) {
		e = cpuid_find(c, 0x80000002 + f, 0);
		ck_assert_ptr_nonnull(e);
		got[4 * f] = e->eax;
		got[4 * f + 1] = e->ebx;
		got[4 * f + 2] = e->ecx;
		got[4 * f + 3] = e->edx;
	}
	ck_assert_str_eq((char *)got, "vireo test CPU");
	ck_assert_uint_eq(cpuid_find(c, 0x80000000, 0)->eax, 0x8000001e);
	free(c);

	/* KVM's own brand stays; a low extended maximum is raised to
	 * cover the brand; a full table is an error, not an overrun. */
	c = table(false);
	c->entries[6].eax = 0x80000001;
	c->entries[c->nent++] = (struct kvm_cpuid_entry2){
		.function = 0x80000002, .eax = 0x4b4b4b4b };
	n = c->nent;
	ck_assert_int_eq(cpuid_add_brand(c, MAXE, brand), 0);
	ck_assert_uint_eq(cpuid_find(c, 0x80000002, 0)->eax, 0x4b4b4b4b);
	ck_assert_uint_eq(cpuid_find(c, 0x80000003, 0)->eax, brand[4]);
	ck_assert_uint_eq(cpuid_find(c, 0x80000000, 0)->eax, 0x80000004);
	ck_assert_uint_eq(c->nent, n + 2);
	free(c);
	c = table(false);
	ck_assert_int_lt(cpuid_add_brand(c, c->nent + 1, brand), 0);
	free(c);
}
END_TEST

Suite *cpuid_suite(void)
{
	Suite *s = suite_create("cpuid");
	TCase *tc = tcase_create("policy");

	tcase_add_loop_test(tc, per_vcpu_topology, 0, 2);
	tcase_add_test(tc, single_cpu_and_limits);
	tcase_add_test(tc, brand_from_host);
	suite_add_tcase(s, tc);
	return s;
}
