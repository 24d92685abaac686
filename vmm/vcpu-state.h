/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What KVM holds of a stopped guest, as plain data (no fds, no pointers
 * into live objects): every vCPU's registers, FPU/XSAVE, XCRs, MSRs,
 * LAPIC, pending events, MP state and debug registers, and the VM's PIT,
 * PIC/IOAPIC and kvm-clock. Saved with the vCPUs parked (vm_pause()),
 * loaded into a VM whose vCPUs have not run yet.
 */
#ifndef VIREO_VCPU_STATE_H
#define VIREO_VCPU_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#include "vm.h"

#define VCPU_MAX_MSRS		512

struct vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs dregs;
	uint32_t xsave_size;		/* bytes of xsave */
	uint8_t *xsave;
	uint32_t nmsrs;
	struct kvm_msr_entry *msrs;
};

struct vm_kvm_state {
	struct kvm_clock_data clock;
	struct kvm_pit_state2 pit;
	struct kvm_irqchip pic_master, pic_slave, ioapic;
};

int vcpu_state_save(struct vm *vm, unsigned int i, struct vcpu_state *s);
/* After the vCPU's CPUID is set; -errno with err naming the part. */
int vcpu_state_load(struct vm *vm, unsigned int i, const struct vcpu_state *s,
		    char *err, size_t errlen);
void vcpu_state_free(struct vcpu_state *s);

int vm_kvm_state_save(struct vm *vm, struct vm_kvm_state *s);
int vm_kvm_state_load(struct vm *vm, const struct vm_kvm_state *s, char *err,
		      size_t errlen);

#endif
