/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small platform devices that end or report the guest's life:
 *  - i8042: the keyboard controller's reset pulse (command 0xFE, or an
 *    output-port write with bit 0 clear), self tests and command byte,
 *    and a keyboard on its first port that answers the driver's commands
 *    (ACK, reset, identify) and can press Ctrl-Alt-Del (IRQ 1).
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
#include "../vmm/irq.h"

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

#define I8042_QUEUE	16

struct i8042 {
	pthread_mutex_t lock;
	struct platform_hook hook;
	struct irq_line irq;	/* the keyboard's, IRQ 1 (none: polled) */
	bool irq_level;
	uint8_t cmd_byte;
	uint8_t out;
	bool out_full;
	/*
	 * A controller command waiting for its data byte (0x60, 0xd1), or a
	 * keyboard command waiting for its argument (0xed, 0xf0, 0xf3).
	 */
	uint8_t pending;
	bool last_was_cmd;
	/* Keyboard bytes after out (not in snapshots: a reply in flight). */
	uint8_t queue[I8042_QUEUE];
	unsigned int queued;
	uint64_t keys_sent;	/* Ctrl-Alt-Del presses */
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
/* The keyboard interrupts the guest on this line. */
void i8042_set_irq(struct i8042 *k, const struct irq_line *irq);
/*
 * Press and release Ctrl-Alt-Del on the keyboard. -EBUSY if the keyboard
 * has no room (the guest is not reading it).
 */
int i8042_ctrl_alt_del(struct i8042 *k);

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
