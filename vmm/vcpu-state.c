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

/* One MSR of the vCPU whose fd is fd; -EIO when KVM cannot read it. */
static int msr_read(int fd, uint32_t index, uint64_t *val)
{
	union one_msr one;

	memset(&one, 0, sizeof(one));
	one.hdr.nmsrs = 1;
	one.hdr.entries[0].index = index;
	if (ioctl(fd, KVM_GET_MSRS, &one) != 1)
		return -EIO;
	*val = one.hdr.entries[0].data;
	return 0;
}

/* KVM_GET_MSRS stops at the first it cannot read: skip it, go on. */
static int msrs_save(struct vcpu *v, struct vcpu_state *s)
{
	uint32_t *idx = NULL, n = 0, i;
	int ret = msr_list(v->vm, &idx, &n);

	if (ret)
		return ret;
	s->msrs = calloc(n ? n : 1, sizeof(*s->msrs));
	if (!s->msrs)
		return -ENOMEM;
	s->nmsrs = 0;
	for (i = 0; i < n; i++) {
		uint64_t val;

		if (msr_read(v->fd, idx[i], &val))
			continue;
		s->msrs[s->nmsrs].index = idx[i];
		s->msrs[s->nmsrs++].data = val;
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

int vcpu_tsc_read(struct vm *vm, unsigned int i, uint64_t *tsc)
{
	return msr_read(vm->vcpus[i].fd, MSR_IA32_TSC, tsc);
}

_Static_assert(sizeof(struct pvclock_page) == 32, "the KVM ABI's layout");

#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01

int pvclock_ns(const struct pvclock_page *p, uint64_t tsc, uint64_t *ns)
{
	uint64_t delta;

	if ((p->version & 1) || !p->tsc_to_system_mul ||
	    tsc < p->tsc_timestamp || p->tsc_shift <= -64 || p->tsc_shift >= 64)
		return -ENOENT;
	delta = tsc - p->tsc_timestamp;
	if (p->tsc_shift < 0)
		delta >>= -p->tsc_shift;
	else
		delta <<= p->tsc_shift;
	*ns = p->system_time +
	      (uint64_t)(((unsigned __int128)delta * p->tsc_to_system_mul) >> 32);
	return 0;
}

/*
 * What the guest reads from vCPU i's kvm-clock page at its TSC now: the
 * clock as the guest has it. KVM_GET_CLOCK gives KVM's own count, which
 * the guest only meets when KVM updates the page; between updates the
 * guest runs on its TSC, and where the TSC's rate differs from the one
 * KVM put in the page (a nested host), the two part by milliseconds.
 */
static int guest_clock(struct vm *vm, unsigned int i, uint64_t *ns,
		       uint64_t *tsc)
{
	struct pvclock_page p;
	uint64_t msr;

	if (msr_read(vm->vcpus[i].fd, MSR_KVM_SYSTEM_TIME_NEW, &msr) || !(msr & 1) ||
	    vcpu_tsc_read(vm, i, tsc) ||
	    gm_read(&vm->mem, &p, msr & ~1ULL, sizeof(p)))
		return -ENOENT;
	return pvclock_ns(&p, *tsc, ns);
}

uint64_t tsc_after(uint64_t tsc, uint64_t ns, unsigned int khz)
{
	return tsc + (uint64_t)((unsigned __int128)ns * khz / 1000000);
}

int vm_clock_pause(struct vm *vm, uint64_t *clock_ns, uint64_t *tsc0)
{
	struct kvm_clock_data c;
	uint64_t g, t, g0 = 0, t0 = 0;
	bool have0 = false;
	unsigned int i;
	int khz;

	*clock_ns = 0;
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &c) < 0)
		return -EIO;
	/* The latest any vCPU has seen: its time never goes back. */
	for (i = 0; i < vm->nr_vcpus; i++) {
		if (guest_clock(vm, i, &g, &t))
			continue;
		if (i == 0) {
			g0 = g;
			t0 = t;
			have0 = true;
		}
		if (g > *clock_ns)
			*clock_ns = g;
	}
	if (!*clock_ns)
		*clock_ns = c.clock;
	if (!vm->nr_vcpus)
		return -EIO;
	/*
	 * vCPU 0's TSC where its own clock reads *clock_ns, from the TSC
	 * its clock was read at: a TSC read after the clocks, by a thread
	 * the host let wait between the two (2 ms seen in the nested test
	 * host), would put the TSC ahead of kvm-clock by that wait.
	 */
	khz = have0 ? ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ) : 0;
	if (khz > 0) {
		*tsc0 = tsc_after(t0, *clock_ns - g0, (unsigned int)khz);
		return 0;
	}
	return vcpu_tsc_read(vm, 0, tsc0) ? -EIO : 0;
}

/*
 * KVM's clock and vCPU 0's TSC at one moment: the TSC read before and
 * after the clock, the midpoint of the closest of a few tries (a thread
 * the host lets wait between two reads puts them apart by the wait).
 */
static int clock_and_tsc(struct vm *vm, unsigned int khz, uint64_t *clock,
			 uint64_t *tsc)
{
	struct kvm_clock_data c;
	uint64_t a, b, best = UINT64_MAX;
	unsigned int try;

	for (try = 0; try < 8; try++) {
		if (vcpu_tsc_read(vm, 0, &a) ||
		    ioctl(vm->vm_fd, KVM_GET_CLOCK, &c) < 0 ||
		    vcpu_tsc_read(vm, 0, &b))
			return -EIO;
		if (b < a || b - a >= best)
			continue;
		best = b - a;
		*clock = c.clock;
		*tsc = a + best / 2;
		if (best <= tsc_after(0, 50000, khz))	/* 50 us */
			break;
	}
	return best == UINT64_MAX ? -EIO : 0;
}

/*
 * An offset, not a write of IA32_TSC: KVM takes a host write within a
 * second of where the TSC would be for a resynchronisation and keeps the
 * old offset. The same delta on every vCPU: offsets KVM had matched stay
 * matched (its master clock needs them so).
 */
int vm_tsc_follow_clock(struct vm *vm, uint64_t tsc0, uint64_t clock_ns)
{
	uint64_t cur, now, off, want, offs[VM_MAX_VCPUS];
	struct kvm_device_attr attr = {
		.group = KVM_VCPU_TSC_CTRL,
		.attr = KVM_VCPU_TSC_OFFSET,
		.addr = (uint64_t)(uintptr_t)&off,
	};
	unsigned int i;
	int khz, ret;

	if (!vm->nr_vcpus || vm->nr_vcpus > VM_MAX_VCPUS ||
	    ioctl(vm->vcpus[0].fd, KVM_HAS_DEVICE_ATTR, &attr) < 0)
		return 0;
	khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ);
	if (khz <= 0)
		return -EIO;
	if (clock_and_tsc(vm, (unsigned int)khz, &now, &cur))
		return -EIO;
	/* Where vCPU 0's TSC would be had it stood still with the clock. */
	want = tsc0;
	if (now > clock_ns)
		want = tsc_after(tsc0, now - clock_ns, (unsigned int)khz);
	/* All offsets read first; one set refused puts back those set. */
	for (i = 0; i < vm->nr_vcpus; i++) {
		attr.addr = (uint64_t)(uintptr_t)&offs[i];
		if (ioctl(vm->vcpus[i].fd, KVM_GET_DEVICE_ATTR, &attr) < 0)
			return -errno;
	}
	for (i = 0; i < vm->nr_vcpus; i++) {
		off = offs[i] + (want - cur);
		attr.addr = (uint64_t)(uintptr_t)&off;
		if (ioctl(vm->vcpus[i].fd, KVM_SET_DEVICE_ATTR, &attr) < 0) {
			ret = -errno;
			while (i--) {
				attr.addr = (uint64_t)(uintptr_t)&offs[i];
				ioctl(vm->vcpus[i].fd, KVM_SET_DEVICE_ATTR, &attr);
			}
			return ret;
		}
	}
	return 0;
}

bool vcpu_state_tsc(const struct vcpu_state *s, uint64_t *tsc)
{
	uint32_t i;

	for (i = 0; i < s->nmsrs; i++)
		if (s->msrs[i].index == MSR_IA32_TSC) {
			*tsc = s->msrs[i].data;
			return true;
		}
	return false;
}

void vcpu_state_add_tsc(struct vcpu_state *s, uint64_t delta)
{
	uint32_t i;

	for (i = 0; i < s->nmsrs; i++)
		if (s->msrs[i].index == MSR_IA32_TSC)
			s->msrs[i].data += delta;
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
