// SPDX-License-Identifier: GPL-2.0
/*
 * In-process virtqueue benchmark (no KVM): chains per second through the
 * device side (pop + push + notification check) for split and packed
 * rings, with 1- and 4-descriptor chains, driven by the unit tests' mock
 * driver in batches of 64 (add 64, pop/push 64, notify once, collect 64).
 * Each case runs REPS times; the median is reported with the packed/split
 * ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/unit/vring.h"

#define RING	256
#define BATCH	64
#ifndef CHAINS			/* -DCHAINS=N -DREPS=1: for callgrind */
#define CHAINS	(2 * 1000 * 1000)
#endif
#ifndef REPS
#define REPS	5
#endif

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Chains per second, device side plus the mock driver's share. */
static double run(bool packed, unsigned int ndesc)
{
	static struct drv d;
	static struct vq_elem e[BATCH];
	struct drv_buf b[4];
	unsigned int i, k, done = 0;
	uint16_t id;
	uint32_t len;
	double t0;

	for (i = 0; i < 4; i++)
		b[i] = (struct drv_buf){ DRV_BUFS + 4096ULL * i, 512, i + 1 == ndesc };
	drv_init(&d, RING, packed, 1ULL << VIRTIO_F_EVENT_IDX);
	t0 = now();
	while (done < CHAINS) {
		for (k = 0; k < BATCH; k++)
			drv_add(&d, b, ndesc);
		for (k = 0; k < BATCH; k++)
			if (vq_pop(&d.vq, &e[k]) != 1)
				abort();
		for (k = 0; k < BATCH; k++)
			vq_push(&d.vq, &e[k], 512);
		vq_should_notify(&d.vq);
		for (k = 0; k < BATCH; k++)
			if (!drv_get_used(&d, &id, &len))
				abort();
		done += BATCH;
	}
	t0 = now() - t0;
	drv_fini(&d);
	return done / t0;
}

int main(void)
{
	unsigned int ndesc;

	printf("virtqueue: chains/s through pop + push + notify check, batches of %d, median of %d\n",
	       BATCH, REPS);
	for (ndesc = 1; ndesc <= 4; ndesc += 3) {
		double s[REPS], p[REPS];
		int r;

		for (r = 0; r < REPS; r++) {	/* interleaved */
			s[r] = run(false, ndesc);
			p[r] = run(true, ndesc);
		}
		qsort(s, REPS, sizeof(double), cmp);
		qsort(p, REPS, sizeof(double), cmp);
		printf("BENCH-VQ desc=%u split=%.2fM packed=%.2fM ratio_packed_split=%.2f\n",
		       ndesc, s[REPS / 2] / 1e6, p[REPS / 2] / 1e6,
		       p[REPS / 2] / s[REPS / 2]);
	}
	return 0;
}
