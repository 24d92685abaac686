// SPDX-License-Identifier: GPL-2.0
#include "vcpu-state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util.h"

/* The MSRs KVM saves and restores for this host (cached). */
static int msr_list(struct vm *vm, uint32_t **out, uint32_t *n)
{
	struct kvm_msr_list probe = { 0 }, *l;

	if (vm->msr_index) {
		*out = vm->msr_index;
		*n = vm->nr_msr_index;
		return 0;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 &&
	    errno != E2BIG)
		return -errno;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return -ENOMEM;
	l->nmsrs = probe.nmsrs;
	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		free(l);
		return -errno;
	}
	vm->nr_msr_index = MIN(l->nmsrs, (uint32_t)VCPU_MAX_MSRS);
	vm->msr_index = calloc(vm->nr_msr_index, sizeof(uint32_t));
	if (!vm->msr_index) {
		free(l);
		return -ENOMEM;
	}
	memcpy(vm->msr_index, l->indices, vm->nr_msr_index * sizeof(uint32_t));
	free(l);
	*out = vm->msr_index;
	*n = vm->nr_msr_index;
	return 0;
}

/* A kvm_msrs of one entry. */
union one_msr {
	struct kvm_msrs hdr;
	uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
};

/* KVM_GET_MSRS stops at the first it cannot read: skip it, go on. */
static int msrs_save(struct vcpu *v, struct vcpu_state *s)
{
	union one_msr one;
	uint32_t *idx = NULL, n = 0, i;
	int ret = msr_list(v->vm, &idx, &n);

	if (ret)
		return ret;
	s->msrs = calloc(n ? n : 1, sizeof(*s->msrs));
	if (!s->msrs)
		return -ENOMEM;
	s->nmsrs = 0;
	for (i = 0; i < n; i++) {
		memset(&one, 0, sizeof(one));
		one.hdr.nmsrs = 1;
		one.hdr.entries[0].index = idx[i];
		if (ioctl(v->fd, KVM_GET_MSRS, &one) == 1)
			s->msrs[s->nmsrs++] = one.hdr.entries[0];
	}
	return 0;
}

int vcpu_state_save(struct vm *vm, unsigned int i, struct vcpu_state *s)
{
	struct vcpu *v = &vm->vcpus[i];
	struct kvm_xsave *x;
	int size, ret;

	memset(s, 0, sizeof(*s));
	if (ioctl(v->fd, KVM_GET_REGS, &s->regs) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s->sregs) < 0 ||
	    ioctl(v->fd, KVM_GET_XCRS, &s->xcrs) < 0 ||
	    ioctl(v->fd, KVM_GET_LAPIC, &s->lapic) < 0 ||
	    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &s->events) < 0 ||
	    ioctl(v->fd, KVM_GET_MP_STATE, &s->mp) < 0 ||
	    ioctl(v->fd, KVM_GET_DEBUGREGS, &s->dregs) < 0)
		return -errno;
	size = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (size < (int)sizeof(struct kvm_xsave))
		size = sizeof(struct kvm_xsave);
	x = calloc(1, (size_t)size);
	if (!x)
		return -ENOMEM;
	ret = ioctl(v->fd, size > (int)sizeof(struct kvm_xsave) ?
			   KVM_GET_XSAVE2 : KVM_GET_XSAVE, x);
	if (ret < 0) {
		ret = -errno;
		free(x);
		return ret;
	}
	s->xsave = (uint8_t *)x;
	s->xsave_size = (uint32_t)size;
	return msrs_save(v, s);
}

/* Set MSRs one by one, the TSC first (its deadline is relative to it). */
static int msrs_load(struct vcpu *v, const struct vcpu_state *s)
{
	union one_msr one;
	uint32_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < s->nmsrs; i++) {
			bool tsc = s->msrs[i].index == MSR_IA32_TSC;

			if (tsc != (pass == 0))
				continue;
			memset(&one, 0, sizeof(one));
			one.hdr.nmsrs = 1;
			one.hdr.entries[0] = s->msrs[i];
			/* One this KVM refuses is left as it is. */
			ioctl(v->fd, KVM_SET_MSRS, &one);
		}
	}
	return 0;
}

int vcpu_state_load(struct vm *vm, unsigned int i, const struct vcpu_state *s,
		    char *err, size_t errlen)
{
	struct vcpu *v = &vm->vcpus[i];
	const char *what;

	what = "special registers";
	if (ioctl(v->fd, KVM_SET_SREGS, &s->sregs) < 0)
		goto fail;
	what = "registers";
	if (ioctl(v->fd, KVM_SET_REGS, &s->regs) < 0)
		goto fail;
	what = "XSAVE state";
	if (s->xsave && ioctl(v->fd, KVM_SET_XSAVE, s->xsave) < 0)
		goto fail;
	what = "XCRs";
	if (ioctl(v->fd, KVM_SET_XCRS, &s->xcrs) < 0)
		goto fail;
	msrs_load(v, s);
	what = "LAPIC";
	if (ioctl(v->fd, KVM_SET_LAPIC, &s->lapic) < 0)
		goto fail;
	what = "pending events";
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &s->events) < 0)
		goto fail;
	what = "MP state";
	if (ioctl(v->fd, KVM_SET_MP_STATE, &s->mp) < 0)
		goto fail;
	what = "debug registers";
	if (ioctl(v->fd, KVM_SET_DEBUGREGS, &s->dregs) < 0)
		goto fail;
	return 0;
fail:
	errf(err, errlen, "vCPU %u: KVM refused its %s: %s", i, what,
	     strerror(errno));
	return -EINVAL;
}

void vcpu_state_free(struct vcpu_state *s)
{
	free(s->xsave);
	free(s->msrs);
	s->xsave = NULL;
	s->msrs = NULL;
}

int vm_kvm_state_save(struct vm *vm, struct vm_kvm_state *s)
{
	memset(s, 0, sizeof(*s));
	s->pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	s->pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	s->ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &s->clock) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_PIT2, &s->pit) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s->pic_master) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s->pic_slave) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &s->ioapic) < 0)
		return -errno;
	return 0;
}

int vm_kvm_state_load(struct vm *vm, const struct vm_kvm_state *s, char *err,
		      size_t errlen)
{
	struct kvm_clock_data clock = { .clock = s->clock.clock };
	const char *what = "PIT";

	if (ioctl(vm->vm_fd, KVM_SET_PIT2, &s->pit) < 0)
		goto fail;
	what = "PIC";
	if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s->pic_master) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s->pic_slave) < 0)
		goto fail;
	what = "IOAPIC";
	if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &s->ioapic) < 0)
		goto fail;
	/* The guest's clock goes on from where it stopped: no jump. */
	what = "kvm-clock";
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		goto fail;
	return 0;
fail:
	errf(err, errlen, "KVM refused the saved %s state: %s", what,
	     strerror(errno));
	return -EINVAL;
}
