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
#include <stdbool.h>
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

/*
 * The guest's time stands still while it is paused, moved or saved: its
 * kvm-clock goes on from the value read at the pause (KVM_SET_CLOCK), and
 * so must its TSCs, or they run ahead of kvm-clock by the pause (the
 * guest kernel's clocksource watchdog then marks the TSC unstable).
 * vcpu_tsc_read() reads vCPU i's TSC. vm_tsc_follow_clock(), called once
 * the clock is set back to clock_ns, moves every vCPU's TSC offset by the
 * same amount, so that vCPU 0's TSC keeps the distance from kvm-clock it
 * had at the pause (tsc0, read beside clock_ns) and the vCPUs' TSCs stay
 * as they were to each other. -errno; 0 when KVM cannot set a TSC offset
 * (before Linux 5.16): the TSCs are then left as they run.
 */
int vcpu_tsc_read(struct vm *vm, unsigned int i, uint64_t *tsc);
/*
 * At a pause: the guest's kvm-clock as its vCPUs read it from their
 * kvm-clock pages at their TSCs (the latest of them; KVM's own count,
 * KVM_GET_CLOCK, for a guest without kvm-clock), and vCPU 0's TSC where
 * its clock reads that (from the TSC its clock was read at).
 * KVM's count is not the guest's: it meets it only when KVM updates the
 * pages, and in the nested test host it ran 49 ms ahead at a pause; set
 * back, it made the guest's kvm-clock jump that far past its TSC. -EIO
 * with *clock_ns 0: KVM gave no clock; with *clock_ns set: no TSC.
 */
int vm_clock_pause(struct vm *vm, uint64_t *clock_ns, uint64_t *tsc0);
/* The TSC ns nanoseconds after tsc, at khz kHz. */
uint64_t tsc_after(uint64_t tsc, uint64_t ns, unsigned int khz);
/* The guest's kvm-clock page (the KVM ABI's pvclock_vcpu_time_info). */
struct pvclock_page {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
};
/*
 * The time page p (as the guest wrote it: anything) gives at TSC tsc;
 * -ENOENT for a page being updated, without a rate, from after tsc, or
 * with a shift no CPU's TSC needs.
 */
int pvclock_ns(const struct pvclock_page *p, uint64_t tsc, uint64_t *ns);
int vm_tsc_follow_clock(struct vm *vm, uint64_t tsc0, uint64_t clock_ns);
/* The TSC a saved vCPU state holds (false: none); add to it. */
bool vcpu_state_tsc(const struct vcpu_state *s, uint64_t *tsc);
void vcpu_state_add_tsc(struct vcpu_state *s, uint64_t delta);

int vm_kvm_state_save(struct vm *vm, struct vm_kvm_state *s);
int vm_kvm_state_load(struct vm *vm, const struct vm_kvm_state *s, char *err,
		      size_t errlen);

#endif
