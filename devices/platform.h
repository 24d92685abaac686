/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small platform devices that end or report the guest's life:
 *  - i8042: enough of the keyboard controller for the reset pulse
 *    (command 0xFE, or an output-port write with bit 0 clear), the self
 *    tests and the command byte. No keyboard is attached.
 *  - pm: the ACPI hardware-reduced sleep control/status and reset
 *    registers the FADT points at (S5 = power off).
 *  - pvpanic: QEMU's pvpanic port (ACPI QEMU0001); a guest panic ends the
 *    run with an error.
 */
#ifndef VIREO_PLATFORM_H
#define VIREO_PLATFORM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../vmm/bus.h"

enum platform_event {
	PLATFORM_POWEROFF,
	PLATFORM_RESET,
	PLATFORM_PANIC,
	PLATFORM_CRASH_LOADED,
};

struct platform_hook {
	void (*event)(void *opaque, enum platform_event ev);
	void *opaque;
};

struct i8042 {
	pthread_mutex_t lock;
	struct platform_hook hook;
	uint8_t cmd_byte;
	uint8_t out;
	bool out_full;
	uint8_t pending;	/* command waiting for its data byte */
	bool last_was_cmd;
};

struct i8042_state {
	uint8_t cmd_byte, out, out_full, pending, last_was_cmd;
	uint8_t pad[3];
};

extern const struct bus_ops i8042_ops;	/* ports 0x60..0x64: 5 bytes */
void i8042_init(struct i8042 *k, const struct platform_hook *hook);
void i8042_save(struct i8042 *k, struct i8042_state *st);
void i8042_restore(struct i8042 *k, const struct i8042_state *st);
void i8042_destroy(struct i8042 *k);

struct pm {
	struct platform_hook hook;
	uint8_t slp_typ_s5;
	uint8_t reset_value;
};

extern const struct bus_ops pm_ops;	/* 3 ports: ctl, sts, reset */
void pm_init(struct pm *p, const struct platform_hook *hook,
	     uint8_t slp_typ_s5, uint8_t reset_value);

struct pvpanic {
	struct platform_hook hook;
};

#define PVPANIC_PANICKED	0x01
#define PVPANIC_CRASH_LOADED	0x02

extern const struct bus_ops pvpanic_ops;	/* 1 port */
void pvpanic_init(struct pvpanic *p, const struct platform_hook *hook);

#endif
