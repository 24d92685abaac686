// SPDX-License-Identifier: GPL-2.0
#include "cpuid.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define CPUID_1_ECX_HYPERVISOR	(1U << 31)
#define CPUID_BRAND_FIRST	0x80000002U
#define CPUID_BRAND_LAST	0x80000004U
#define CPUID_1_EDX_HTT		(1U << 28)
#define CPUID_80000001_ECX_CMP_LEGACY (1U << 1)

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, unsigned int function,
				    unsigned int index)
{
	unsigned int i;

	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != function)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}

/* Bits needed to number n things (ceil(log2(n))). */
static unsigned int id_bits(unsigned int n)
{
	unsigned int b = 0;

	while ((1U << b) < n)
		b++;
	return b;
}

static bool vendor_is_amd(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, 0, 0);

	/* "AuthenticAMD" or "HygonGenuine": EBX "Auth" or "Hygo". */
	return e && (e->ebx == 0x68747541 || e->ebx == 0x6f677948);
}

static int add_entry(struct kvm_cpuid2 *c, unsigned int max,
		     const struct kvm_cpuid_entry2 *e)
{
	if (c->nent >= max)
		return -E2BIG;
	c->entries[c->nent++] = *e;
	return 0;
}

/* Leaf 0xB / 0x1F: SMT level (1 thread), then core level (nr cores). */
static int add_topology_leaf(struct kvm_cpuid2 *c, unsigned int max,
			     unsigned int leaf, unsigned int idx,
			     unsigned int nr)
{
	struct kvm_cpuid_entry2 e = {
		.function = leaf,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
		.edx = idx,
	};
	int ret;

	e.index = 0;
	e.eax = 0;
	e.ebx = 1;
	e.ecx = 1U << 8 | 0;
	ret = add_entry(c, max, &e);
	if (ret)
		return ret;
	e.index = 1;
	e.eax = id_bits(nr);
	e.ebx = nr;
	e.ecx = 2U << 8 | 1;
	ret = add_entry(c, max, &e);
	if (ret)
		return ret;
	e.index = 2;
	e.eax = 0;
	e.ebx = 0;
	e.ecx = 2;
	return add_entry(c, max, &e);
}

int cpuid_add_brand(struct kvm_cpuid2 *c, unsigned int max,
		    const uint32_t *brand)
{
	struct kvm_cpuid_entry2 *e, *ext;
	unsigned int f;
	int ret;

	ext = cpuid_find(c, 0x80000000, 0);
	if (!brand || !ext || !(brand[0] | brand[1] | brand[2] | brand[3]))
		return 0;
	for (f = CPUID_BRAND_FIRST; f <= CPUID_BRAND_LAST; f++) {
		const uint32_t *w = brand + 4 * (f - CPUID_BRAND_FIRST);

		e = cpuid_find(c, f, 0);
		if (!e) {
			struct kvm_cpuid_entry2 add = { .function = f };

			ret = add_entry(c, max, &add);
			if (ret)
				return ret;
			e = &c->entries[c->nent - 1];
		} else if (e->eax | e->ebx | e->ecx | e->edx) {
			continue;	/* KVM's own: keep it */
		}
		e->eax = w[0];
		e->ebx = w[1];
		e->ecx = w[2];
		e->edx = w[3];
	}
	if (ext->eax < CPUID_BRAND_LAST)
		ext->eax = CPUID_BRAND_LAST;
	return 0;
}

int cpuid_build(const struct kvm_cpuid2 *supported, unsigned int idx,
		unsigned int nr, struct kvm_cpuid2 *out, unsigned int max)
{
	struct kvm_cpuid_entry2 *e;
	unsigned int i, max_leaf = 0;
	bool amd, had_1f = false;
	int ret;

	out->nent = 0;
	out->padding = 0;
	for (i = 0; i < supported->nent; i++) {
		const struct kvm_cpuid_entry2 *s = &supported->entries[i];

		if (s->function == 0)
			max_leaf = s->eax;
		if (s->function == 0x1f)
			had_1f = true;
		/* Topology leaves are rebuilt below. */
		if (s->function == 0xb || s->function == 0x1f)
			continue;
		ret = add_entry(out, max, s);
		if (ret)
			return ret;
	}
	amd = vendor_is_amd(out);

	e = cpuid_find(out, 1, 0);
	if (e) {
		e->ebx = (e->ebx & 0x0000ffff) | (idx << 24) |
			 ((nr & 0xff) << 16);
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (nr > 1)
			e->edx |= CPUID_1_EDX_HTT;
		else
			e->edx &= ~CPUID_1_EDX_HTT;
	}
	/* Deterministic cache parameters: cores per package, sharing. */
	for (i = 0; i < out->nent; i++) {
		e = &out->entries[i];
		if (e->function != 4 || amd)
			continue;
		e->eax &= 0x3ff;
		if (!(e->eax & 0x1f))
			continue;
		e->eax |= ((nr - 1) & 0x3f) << 26;
		if (((e->eax >> 5) & 7) == 3)
			e->eax |= ((nr - 1) & 0xfff) << 14;
	}
	if (max_leaf >= 0xb) {
		ret = add_topology_leaf(out, max, 0xb, idx, nr);
		if (ret)
			return ret;
	}
	if (had_1f && max_leaf >= 0x1f) {
		ret = add_topology_leaf(out, max, 0x1f, idx, nr);
		if (ret)
			return ret;
	}
	if (amd) {
		e = cpuid_find(out, 0x80000001, 0);
		if (e && nr > 1)
			e->ecx |= CPUID_80000001_ECX_CMP_LEGACY;
		e = cpuid_find(out, 0x80000008, 0);
		if (e)
			e->ecx = (e->ecx & ~0xf0ffU) | (id_bits(nr) << 12) |
				 ((nr - 1) & 0xff);
		e = cpuid_find(out, 0x8000001e, 0);
		if (e) {
			e->eax = idx;
			e->ebx = idx & 0xff;	/* core id, 1 thread per core */
			e->ecx = 0;		/* node 0, one node */
			e->edx = 0;
		}
	}
	return (int)out->nent;
}

unsigned int msr_boot_entries(struct kvm_msr_entry *e, unsigned int max)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} msrs[] = {
		{ 0x174, 0 },			/* IA32_SYSENTER_CS */
		{ 0x175, 0 },			/* IA32_SYSENTER_ESP */
		{ 0x176, 0 },			/* IA32_SYSENTER_EIP */
		{ 0xc0000081, 0 },		/* STAR */
		{ 0xc0000082, 0 },		/* LSTAR */
		{ 0xc0000083, 0 },		/* CSTAR */
		{ 0xc0000084, 0 },		/* SYSCALL_MASK */
		{ 0xc0000102, 0 },		/* KERNEL_GS_BASE */
		{ 0x1a0, 1 },			/* MISC_ENABLE: fast strings */
		{ 0x2ff, (1U << 11) | 6 },	/* MTRRdefType: on, WB */
	};
	unsigned int i;

	for (i = 0; i < sizeof(msrs) / sizeof(msrs[0]) && i < max; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].index = msrs[i].index;
		e[i].data = msrs[i].data;
	}
	return i;
}
