/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPUID and MSR policy: what each vCPU reports about itself. One socket of
 * nr cores, one thread each; vCPU i has APIC ID i.
 */
#ifndef VIREO_CPUID_H
#define VIREO_CPUID_H

#include <linux/kvm.h>
#include <stdint.h>

/*
 * Fill out (room for max entries) with vCPU idx's CPUID, starting from
 * what KVM supports. Returns the entry count or -E2BIG.
 */
int cpuid_build(const struct kvm_cpuid2 *supported, unsigned int idx,
		unsigned int nr, struct kvm_cpuid2 *out, unsigned int max);

/*
 * Add the brand string KVM_GET_SUPPORTED_CPUID leaves to the VMM (leaves
 * 0x80000002-4), in place (room for max entries): brand is the host's 48
 * bytes as 12 words (or NULL), used where KVM gave none. 0 or -E2BIG.
 */
int cpuid_add_brand(struct kvm_cpuid2 *c, unsigned int max,
		    const uint32_t *brand);

/* The entry for (function, index) in c, or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, unsigned int function,
				    unsigned int index);

/* MSR values every vCPU starts with; returns the count written. */
unsigned int msr_boot_entries(struct kvm_msr_entry *e, unsigned int max);

#endif
