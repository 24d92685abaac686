// SPDX-License-Identifier: GPL-2.0
#include "rtc.h"

#include <stdbool.h>
#include <string.h>

#define REG_SEC		0x00
#define REG_MIN		0x02
#define REG_HOUR	0x04
#define REG_WDAY	0x06
#define REG_MDAY	0x07
#define REG_MON		0x08
#define REG_YEAR	0x09
#define REG_A		0x0a
#define REG_B		0x0b
#define REG_C		0x0c
#define REG_D		0x0d
#define REG_CENTURY	0x32

#define A_UIP		0x80
#define B_SET		0x80
#define B_DM_BINARY	0x04
#define B_24H		0x02
#define D_VRT		0x80
#define HOUR_PM		0x80

#define NSEC		1000000000LL
#define UIP_WINDOW_NS	2000000LL	/* UIP is set 2 ms before a tick */
#define RTC_MAX_OFFSET_S (200LL * 366 * 86400)

static void host_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

void rtc_init(struct rtc *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->now = host_now;
	r->cmos[REG_A] = 0x26;		/* 32.768 kHz, 1024 Hz periodic */
	r->cmos[REG_B] = B_24H;		/* BCD, 24-hour */
	r->cmos[REG_D] = D_VRT;
}

void rtc_save(struct rtc *r, struct rtc_state *st)
{
	pthread_mutex_lock(&r->lock);
	memset(st, 0, sizeof(*st));
	st->index = r->index;
	st->offset_ns = r->offset_ns;
	memcpy(st->cmos, r->cmos, sizeof(st->cmos));
	pthread_mutex_unlock(&r->lock);
}

void rtc_restore(struct rtc *r, const struct rtc_state *st)
{
	pthread_mutex_lock(&r->lock);
	r->index = st->index & 0x7f;
	r->offset_ns = st->offset_ns;
	memcpy(r->cmos, st->cmos, sizeof(r->cmos));
	pthread_mutex_unlock(&r->lock);
}

void rtc_destroy(struct rtc *r)
{
	pthread_mutex_destroy(&r->lock);
}

/* The clock's fields; the alarm registers (1, 3, 5) are plain storage. */
static bool is_time_reg(unsigned int reg)
{
	switch (reg) {
	case REG_SEC:
	case REG_MIN:
	case REG_HOUR:
	case REG_WDAY:
	case REG_MDAY:
	case REG_MON:
	case REG_YEAR:
	case REG_CENTURY:
		return true;
	}
	return false;
}

static uint8_t to_bcd(unsigned int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static unsigned int from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

static uint8_t enc(const struct rtc *r, unsigned int v)
{
	return (r->cmos[REG_B] & B_DM_BINARY) ? (uint8_t)v : to_bcd(v);
}

static unsigned int dec(const struct rtc *r, uint8_t v)
{
	return (r->cmos[REG_B] & B_DM_BINARY) ? v : from_bcd(v);
}

static void guest_time(struct rtc *r, struct timespec *ts)
{
	int64_t ns;

	r->now(ts);
	ns = (int64_t)ts->tv_sec * NSEC + ts->tv_nsec + r->offset_ns;
	ts->tv_sec = ns / NSEC;
	ts->tv_nsec = ns % NSEC;
	if (ts->tv_nsec < 0) {
		ts->tv_nsec += NSEC;
		ts->tv_sec--;
	}
}

static void rtc_latch(struct rtc *r)
{
	guest_time(r, &r->latched);
	clock_gettime(CLOCK_MONOTONIC, &r->latched_at);
}

static uint8_t encode_hour(const struct rtc *r, unsigned int h)
{
	unsigned int h12;

	if (r->cmos[REG_B] & B_24H)
		return enc(r, h);
	h12 = h % 12 ? h % 12 : 12;
	return (uint8_t)(enc(r, h12) | (h >= 12 ? HOUR_PM : 0));
}

static unsigned int decode_hour(const struct rtc *r, uint8_t v)
{
	unsigned int h;

	if (r->cmos[REG_B] & B_24H)
		return dec(r, v);
	h = dec(r, v & 0x7f) % 12;
	return (v & HOUR_PM) ? h + 12 : h;
}

/* Refresh the time registers from the latched clock. */
static void rtc_fill(struct rtc *r)
{
	struct timespec mono;
	struct tm tm;
	time_t t;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	if (mono.tv_sec - r->latched_at.tv_sec > 1 || !r->latched_at.tv_sec)
		rtc_latch(r);
	t = r->latched.tv_sec;
	gmtime_r(&t, &tm);
	r->cmos[REG_SEC] = enc(r, (unsigned int)tm.tm_sec);
	r->cmos[REG_MIN] = enc(r, (unsigned int)tm.tm_min);
	r->cmos[REG_HOUR] = encode_hour(r, (unsigned int)tm.tm_hour);
	r->cmos[REG_WDAY] = enc(r, (unsigned int)tm.tm_wday + 1);
	r->cmos[REG_MDAY] = enc(r, (unsigned int)tm.tm_mday);
	r->cmos[REG_MON] = enc(r, (unsigned int)tm.tm_mon + 1);
	r->cmos[REG_YEAR] = enc(r, (unsigned int)(tm.tm_year + 1900) % 100);
	r->cmos[REG_CENTURY] = enc(r, (unsigned int)(tm.tm_year + 1900) / 100);
}

/* The guest set the clock: keep the difference to the host's. */
static void rtc_commit(struct rtc *r)
{
	struct timespec now;
	struct tm tm;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	tm.tm_sec = (int)dec(r, r->cmos[REG_SEC]);
	tm.tm_min = (int)dec(r, r->cmos[REG_MIN]);
	tm.tm_hour = (int)decode_hour(r, r->cmos[REG_HOUR]);
	tm.tm_mday = (int)dec(r, r->cmos[REG_MDAY]);
	tm.tm_mon = (int)dec(r, r->cmos[REG_MON]) - 1;
	tm.tm_year = (int)(dec(r, r->cmos[REG_CENTURY]) * 100 +
			   dec(r, r->cmos[REG_YEAR])) - 1900;
	/* Out-of-range fields (bad BCD included) leave the clock alone. */
	if (tm.tm_sec > 59 || tm.tm_min > 59 || tm.tm_hour > 23 ||
	    tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_mon < 0 || tm.tm_mon > 11)
		return;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return;
	r->now(&now);
	/* Beyond ±200 years the offset would not fit: keep the old clock. */
	if ((int64_t)t - now.tv_sec > RTC_MAX_OFFSET_S ||
	    now.tv_sec - (int64_t)t > RTC_MAX_OFFSET_S)
		return;
	r->offset_ns = ((int64_t)t - now.tv_sec) * NSEC - now.tv_nsec;
	r->latched_at.tv_sec = 0;
}

static uint8_t rtc_read_reg(struct rtc *r, unsigned int reg)
{
	struct timespec ts;
	uint8_t v;

	switch (reg) {
	case REG_A:
		guest_time(r, &ts);
		rtc_latch(r);
		v = r->cmos[REG_A] & 0x7f;
		if (!(r->cmos[REG_B] & B_SET) && ts.tv_nsec >= NSEC - UIP_WINDOW_NS)
			v |= A_UIP;
		return v;
	case REG_C:
		v = r->cmos[REG_C];
		r->cmos[REG_C] = 0;
		return v;
	case REG_D:
		return D_VRT;
	}
	if (is_time_reg(reg) && !(r->cmos[REG_B] & B_SET)) {
		if (reg == REG_SEC)
			rtc_latch(r);
		rtc_fill(r);
	}
	return r->cmos[reg];
}

static void rtc_write_reg(struct rtc *r, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case REG_A:
		r->cmos[REG_A] = v & 0x7f;
		return;
	case REG_B:
		if ((r->cmos[REG_B] & B_SET) && !(v & B_SET)) {
			r->cmos[REG_B] = v;
			rtc_commit(r);
			return;
		}
		if (!(r->cmos[REG_B] & B_SET) && (v & B_SET))
			rtc_fill(r);	/* freeze what the guest saw */
		r->cmos[REG_B] = v;
		return;
	case REG_C:
	case REG_D:
		return;
	}
	if (is_time_reg(reg) && !(r->cmos[REG_B] & B_SET)) {
		rtc_fill(r);
		r->cmos[reg] = v;
		rtc_commit(r);
		return;
	}
	r->cmos[reg] = v;
}

static void rtc_io_read(void *opaque, uint64_t off, uint8_t *data,
			unsigned int len)
{
	struct rtc *r = opaque;

	memset(data, 0xff, len);
	if (len != 1 || off != 1)
		return;
	pthread_mutex_lock(&r->lock);
	data[0] = rtc_read_reg(r, r->index);
	pthread_mutex_unlock(&r->lock);
}

static void rtc_io_write(void *opaque, uint64_t off, const uint8_t *data,
			 unsigned int len)
{
	struct rtc *r = opaque;

	if (len != 1)
		return;
	pthread_mutex_lock(&r->lock);
	if (off == 0)
		r->index = data[0] & 0x7f;	/* bit 7 masks NMI */
	else
		rtc_write_reg(r, r->index, data[0]);
	pthread_mutex_unlock(&r->lock);
}

const struct bus_ops rtc_ops = {
	.read = rtc_io_read,
	.write = rtc_io_write,
};
