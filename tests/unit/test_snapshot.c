// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot state files as untrusted input (BAD-INPUTS 24): a round trip,
 * then every kind of damage refused with a message naming it: bad magic,
 * truncation, a flipped byte (CRC), another format version, counts and
 * lengths out of range, an unknown device class. Also the queue and
 * device-model state checks a restore relies on.
 */
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio-blk.h"
#include "devices/virtio-rng.h"
#include "fakevmm.h"
#include "unit.h"
#include "vmm/snapshot.h"
#include "vring.h"

static void fill(struct snapshot *s, unsigned int cpus)
{
	unsigned int i;

	memset(s, 0, sizeof(*s));
	s->mem_size = 64 << 20;
	s->cpus = cpus;
	s->vcpu = calloc(cpus, sizeof(*s->vcpu));
	for (i = 0; i < cpus; i++) {
		s->vcpu[i].regs.rip = 0x1000 + i;
		s->vcpu[i].xsave_size = sizeof(struct kvm_xsave);
		s->vcpu[i].xsave = calloc(1, sizeof(struct kvm_xsave));
		s->vcpu[i].nmsrs = 2;
		s->vcpu[i].msrs = calloc(2, sizeof(struct kvm_msr_entry));
		s->vcpu[i].msrs[1].index = 0x10;
		s->vcpu[i].msrs[1].data = 1234;
	}
	s->rtc.cmos[5] = 0x42;
	s->nr_devs = 1;
	s->dev = calloc(1, sizeof(*s->dev));
	s->dev[0].cls = &virtio_blk_class;
	strcpy(s->dev[0].id, "blk0");
	strcpy(s->dev[0].spec, "path=/tmp/x.img");
	s->dev[0].pci = true;
	s->dev[0].virtio.nr_queues = 1;
	s->dev[0].virtio.acked = 1ULL << 32;
	s->dev[0].dev_state_len = 1;
	s->dev[0].dev_state[0] = 1;
}

static uint8_t *encode(const struct snapshot *s, size_t *len)
{
	uint8_t *b;

	ck_assert_int_eq(snapshot_encode(s, &b, len), 0);
	return b;
}

static void expect_refused(const uint8_t *b, size_t len, const char *needle)
{
	struct snapshot t;
	char err[256] = "";

	ck_assert_int_eq(snapshot_parse(b, len, &t, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, needle), "'%s' lacks '%s'", err, needle);
}

START_TEST(round_trip)
{
	struct snapshot s, t;
	char err[256];
	size_t len;
	uint8_t *b;

	fill(&s, 2);
	b = encode(&s, &len);
	ck_assert_int_eq(snapshot_parse(b, len, &t, err, sizeof(err)), 0);
	ck_assert_uint_eq(t.mem_size, 64 << 20);
	ck_assert_uint_eq(t.cpus, 2);
	ck_assert_uint_eq(t.vcpu[1].regs.rip, 0x1001);
	ck_assert_uint_eq(t.vcpu[1].nmsrs, 2);
	ck_assert_uint_eq(t.vcpu[1].msrs[1].data, 1234);
	ck_assert_uint_eq(t.rtc.cmos[5], 0x42);
	ck_assert_ptr_eq(t.dev[0].cls, &virtio_blk_class);
	ck_assert_str_eq(t.dev[0].spec, "path=/tmp/x.img");
	ck_assert_uint_eq(t.dev[0].dev_state_len, 1);
	ck_assert(t.dev[0].pci);
	snapshot_free(&t);
	snapshot_free(&s);
	free(b);
}
END_TEST

START_TEST(damage_refused)
{
	struct snapshot s;
	size_t len, i;
	uint8_t *b, *c;

	fill(&s, 1);
	b = encode(&s, &len);
	c = malloc(len);
	expect_refused((const uint8_t *)"garbage", 7, "not a vireo state file");
	for (i = 1; i < len; i += len / 7)
		expect_refused(b, i, i < sizeof(struct fdt_header) ?
			       "not a vireo state file" : "truncated");
	/* Any byte changed past the header: the CRC catches it. */
	for (i = 64; i < len; i += 97) {
		memcpy(c, b, len);
		c[i] ^= 0x20;
		{
			struct snapshot t;
			char err[256] = "";

			ck_assert_int_eq(snapshot_parse(c, len, &t, err,
							sizeof(err)), -EINVAL);
		}
	}
	/* Another device-tree version: refused before libfdt walks it
	 * (1.6.1's fdt_check_full() crashed on a version-6 tree the
	 * fuzzer built). */
	memcpy(c, b, len);
	fdt_set_version(c, 6);
	fdt_set_last_comp_version(c, 2);
	expect_refused(c, len, "device tree is version 6");
	/* A well-formed file with another version. */
	memcpy(c, b, len);
	fdt_setprop_inplace_u32(c, 0, "vireo-snapshot", 9);
	snapshot_seal(c, len);
	expect_refused(c, len, "format version 9");
	/* Counts that disagree, behind a good CRC. */
	memcpy(c, b, len);
	fdt_setprop_inplace_u32(c, fdt_path_offset(c, "/machine"), "cpus", 3);
	snapshot_seal(c, len);
	expect_refused(c, len, "3 vCPUs, 1 cpu nodes");
	memcpy(c, b, len);
	fdt_setprop_inplace_u64(c, fdt_path_offset(c, "/machine"), "memory", 4095);
	snapshot_seal(c, len);
	expect_refused(c, len, "out of range");
	memcpy(c, b, len);
	{
		int n = fdt_path_offset(c, "/devices/device@0");

		ck_assert_int_eq(fdt_setprop_inplace(c, n, "class", "gpu", 4), 0);
	}
	snapshot_seal(c, len);
	expect_refused(c, len, "unknown device class 'gpu'");
	memcpy(c, b, len);
	{
		int n = fdt_path_offset(c, "/cpus/cpu@0");
		int plen;

		fdt_getprop(c, n, "msrs", &plen);
		ck_assert_int_eq(fdt_setprop_inplace_namelen_partial(
			c, n, "msrs", 4, 0, "\1\1\1\1", 4), 0);
		(void)plen;
	}
	snapshot_seal(c, len);
	{
		struct snapshot t;
		char err[256];

		/* Contents are KVM's to judge; the shape is still right. */
		ck_assert_int_eq(snapshot_parse(c, len, &t, err, sizeof(err)), 0);
		snapshot_free(&t);
	}
	free(c);
	free(b);
	snapshot_free(&s);
}
END_TEST

/* A ring's positions survive a save and restore; bad ones are refused. */
START_TEST(queue_state)
{
	struct drv d;
	struct drv_buf buf = { DRV_BUFS, 64, true };
	struct vq_elem e;
	struct vq_state st;
	struct virtq vq;
	uint64_t f = 1ULL << VIRTIO_F_VERSION_1;

	drv_init(&d, 8, false, f);
	drv_add(&d, &buf, 1);
	drv_add(&d, &buf, 1);
	ck_assert_int_eq(vq_pop(&d.vq, &e), 1);
	ck_assert_int_eq(vq_push(&d.vq, &e, 64), 0);
	vq_save(&d.vq, &st);
	ck_assert_uint_eq(st.last_avail, 1);
	ck_assert_uint_eq(st.used_idx, 1);
	memset(&vq, 0, sizeof(vq));
	vq.max_size = 8;
	ck_assert_int_eq(vq_restore(&vq, &d.gm, f, &st), 0);
	ck_assert_uint_eq(vq.last_avail, 1);
	ck_assert_int_eq(vq_pop(&vq, &e), 1);		/* the second buffer */
	/* A used index the memory does not hold, or a ring outside RAM. */
	st.used_idx = 5;
	ck_assert_int_eq(vq_restore(&vq, &d.gm, f, &st), -EINVAL);
	ck_assert(!vq.ready);
	st.used_idx = 1;
	st.desc_gpa = DRV_RAM - 16;
	ck_assert_int_eq(vq_restore(&vq, &d.gm, f, &st), -EINVAL);
	st.desc_gpa = d.desc_gpa;
	st.size = 7;					/* not a power of 2 */
	ck_assert_int_eq(vq_restore(&vq, &d.gm, f, &st), -EINVAL);
	drv_fini(&d);
}
END_TEST

/* The device model's checks: features, queue count, status bits. */
START_TEST(device_state)
{
	struct virtio_opts o = { .transport = VIRTIO_MMIO };
	struct virtio_rng *r = calloc(1, sizeof(*r));
	struct virtio_state st;
	struct drv d;
	char err[256];

	memset(&vmm, 0, sizeof(vmm));
	drv_init(&d, 8, false, 1ULL << VIRTIO_F_VERSION_1);
	ck_assert_int_eq(virtio_rng_init(r, &d.gm, &o, &fake), 0);
	fake_driver_ok(&r->vdev, &d, 1, 0);
	r->vdev.vq[0].max_size = 256;
	virtio_dev_save(&r->vdev, &st);
	ck_assert_int_eq(virtio_dev_restore(&r->vdev, &st, err, sizeof(err)), 0);
	ck_assert(r->vdev.quiesced);
	st.acked |= 1ULL << 40;
	ck_assert_int_eq(virtio_dev_restore(&r->vdev, &st, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "does not offer"));
	st.acked &= ~(1ULL << 40);
	st.nr_queues = 3;
	ck_assert_int_eq(virtio_dev_restore(&r->vdev, &st, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "3 queues saved"));
	st.nr_queues = 1;
	st.status |= 0x20;
	ck_assert_int_eq(virtio_dev_restore(&r->vdev, &st, err, sizeof(err)), -EINVAL);
	virtio_rng_fini(r);
	free(r);
	drv_fini(&d);
}
END_TEST

/*
 * The clock kept at a pause is read from the guest's kvm-clock page: the
 * pvclock formula, and whatever a guest writes there is refused or read,
 * never undefined (UBSan aborts on an over-wide shift).
 */
START_TEST(guest_clock_page)
{
	struct pvclock_page p = {
		.tsc_timestamp = 1000, .system_time = 5000000,
		.tsc_to_system_mul = 1U << 31, .tsc_shift = 1,
	};
	uint64_t ns = 0;
	int shift;

	/* 3000 cycles past: << 1, then * 2^31 >> 32: 3000 ns. */
	ck_assert_int_eq(pvclock_ns(&p, 4000, &ns), 0);
	ck_assert_uint_eq(ns, 5003000);
	p.tsc_shift = -2;	/* 3000 >> 2 = 750, halved */
	ck_assert_int_eq(pvclock_ns(&p, 4000, &ns), 0);
	ck_assert_uint_eq(ns, 5000375);
	ck_assert_int_eq(pvclock_ns(&p, 999, &ns), -ENOENT);	/* before */
	p.version = 3;						/* updating */
	ck_assert_int_eq(pvclock_ns(&p, 4000, &ns), -ENOENT);
	p.version = 4;
	p.tsc_to_system_mul = 0;
	ck_assert_int_eq(pvclock_ns(&p, 4000, &ns), -ENOENT);
	p.tsc_to_system_mul = UINT32_MAX;
	p.system_time = UINT64_MAX;				/* wraps */
	for (shift = -128; shift < 128; shift++) {
		p.tsc_shift = (int8_t)shift;
		ck_assert_int_eq(pvclock_ns(&p, UINT64_MAX, &ns),
				 shift <= -64 || shift >= 64 ? -ENOENT : 0);
	}
	/*
	 * The TSC a pause keeps is vCPU 0's where its clock reads the
	 * latest any vCPU saw, from the TSC its own clock was read at:
	 * 1 ms on at 2 GHz, and no overflow for an hour at 5 GHz.
	 */
	ck_assert_uint_eq(tsc_after(1000, 1000000, 2000000), 2001000);
	ck_assert_uint_eq(tsc_after(0, 3600000000000ULL, 5000000),
			  18000000000000ULL);
	ck_assert_uint_eq(tsc_after(7, 0, 5000000), 7);
}
END_TEST

Suite *snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("state");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, damage_refused);
	tcase_add_test(tc, queue_state);
	tcase_add_test(tc, device_state);
	tcase_add_test(tc, guest_clock_page);
	suite_add_tcase(s, tc);
	return s;
}
