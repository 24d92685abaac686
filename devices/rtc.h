/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MC146818 CMOS RTC on ports 0x70/0x71: the host's UTC wall clock in BCD
 * or binary, 12/24-hour modes, a settable offset (SET bit), the update-in-
 * progress window, and 114 bytes of NVRAM. Alarm, periodic and update
 * interrupts are not generated (register C always reads 0).
 */
#ifndef VIREO_RTC_H
#define VIREO_RTC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "../vmm/bus.h"

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t cmos[128];
	int64_t offset_ns;		/* guest clock - host clock */
	struct timespec latched;	/* time the fields are read from */
	struct timespec latched_at;	/* host monotonic time of the latch */
	/* The clock source; tests replace it. */
	void (*now)(struct timespec *ts);
};

extern const struct bus_ops rtc_ops;	/* 2 ports */

/* As plain data: the CMOS RAM, its index, the guest clock's offset. */
struct rtc_state {
	uint8_t index;
	uint8_t pad[7];
	int64_t offset_ns;
	uint8_t cmos[128];
};

void rtc_init(struct rtc *r);
void rtc_save(struct rtc *r, struct rtc_state *st);
void rtc_restore(struct rtc *r, const struct rtc_state *st);
void rtc_destroy(struct rtc *r);

#endif
