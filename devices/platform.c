// SPDX-License-Identifier: GPL-2.0
#include "platform.h"

#include <errno.h>
#include <string.h>

static void fire(const struct platform_hook *h, enum platform_event ev)
{
	if (h->event)
		h->event(h->opaque, ev);
}

/* ---- i8042 ----------------------------------------------------------- */

#define I8042_DATA	0	/* port 0x60 */
#define I8042_CMD	4	/* port 0x64 */
#define STS_OBF		0x01
#define STS_SYS		0x04
#define STS_CMD		0x08
#define CTR_KBD_INT	0x01
#define CTR_KBD_OFF	0x10
#define CTR_XLATE	0x40
#define KBD_ACK		0xfa

void i8042_init(struct i8042 *k, const struct platform_hook *hook)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->hook = *hook;
	k->cmd_byte = 0x45;	/* kbd irq on, system flag, translate */
}

void i8042_save(struct i8042 *k, struct i8042_state *st)
{
	pthread_mutex_lock(&k->lock);
	memset(st, 0, sizeof(*st));
	st->cmd_byte = k->cmd_byte;
	st->out = k->out;
	st->out_full = k->out_full;
	st->pending = k->pending;
	st->last_was_cmd = k->last_was_cmd;
	pthread_mutex_unlock(&k->lock);
}

void i8042_restore(struct i8042 *k, const struct i8042_state *st)
{
	pthread_mutex_lock(&k->lock);
	k->cmd_byte = st->cmd_byte;
	k->out = st->out;
	k->out_full = st->out_full != 0;
	k->pending = st->pending;
	k->last_was_cmd = st->last_was_cmd != 0;
	pthread_mutex_unlock(&k->lock);
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

void i8042_set_irq(struct i8042 *k, const struct irq_line *irq)
{
	k->irq = *irq;
}

/* IRQ 1 follows "a byte to read" while the keyboard interrupt is on. */
static void update_irq(struct i8042 *k)
{
	bool level = k->out_full && (k->cmd_byte & CTR_KBD_INT);

	if (level != k->irq_level) {
		k->irq_level = level;
		irq_line_set(&k->irq, level);
	}
}

static void i8042_reply(struct i8042 *k, uint8_t v)
{
	k->out = v;
	k->out_full = true;
	k->queued = 0;
}

/* Bytes from the keyboard: the first to read now, the rest queued. */
static int kbd_send(struct i8042 *k, const uint8_t *b, unsigned int n)
{
	unsigned int i = 0;

	if (k->queued + n > I8042_QUEUE)
		return -EBUSY;
	if (!k->out_full) {
		k->out = b[i++];
		k->out_full = true;
	}
	for (; i < n; i++)
		k->queue[k->queued++] = b[i];
	return 0;
}

/*
 * A byte the driver wrote to the keyboard: a command, or the argument of
 * the last one. Enough of a PS/2 keyboard for Linux's atkbd.
 */
static void kbd_write(struct i8042 *k, uint8_t b)
{
	static const uint8_t ack = KBD_ACK;
	uint8_t id[3] = { KBD_ACK, 0xab, 0x83 };

	k->queued = 0;
	k->out_full = false;
	if (k->pending == 0xed || k->pending == 0xf3 || k->pending == 0xf0) {
		/* LEDs, typematic rate, scan code set: taken. Set 0 asks
		 * which set: 2 (translated: 0x41). */
		uint8_t set[2] = { KBD_ACK, (k->cmd_byte & CTR_XLATE) ? 0x41 : 2 };

		kbd_send(k, set, k->pending == 0xf0 && b == 0 ? 2 : 1);
		k->pending = 0;
		return;
	}
	switch (b) {
	case 0xff: {			/* reset: ACK, self-test passed */
		uint8_t r[2] = { KBD_ACK, 0xaa };

		kbd_send(k, r, 2);
		break;
	}
	case 0xf2:			/* identify: an MF2 keyboard */
		if (k->cmd_byte & CTR_XLATE)
			id[2] = 0x41;
		kbd_send(k, id, 3);
		break;
	case 0xee: {			/* echo */
		uint8_t e = 0xee;

		kbd_send(k, &e, 1);
		break;
	}
	case 0xed:
	case 0xf0:
	case 0xf3:
		k->pending = b;
		kbd_send(k, &ack, 1);
		break;
	default:			/* enable, disable, defaults, ... */
		kbd_send(k, &ack, 1);
	}
}

int i8042_ctrl_alt_del(struct i8042 *k)
{
	/* Make Ctrl, Alt, Delete; break Delete, Alt, Ctrl. */
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53,
					0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
					0x71, 0xf0, 0x11, 0xf0, 0x14 };
	int ret;

	pthread_mutex_lock(&k->lock);
	if (k->cmd_byte & CTR_XLATE)
		ret = kbd_send(k, set1, sizeof(set1));
	else
		ret = kbd_send(k, set2, sizeof(set2));
	if (!ret)
		k->keys_sent++;
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

/* Returns true if the command pulsed the CPU reset line. */
static bool i8042_command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case 0x20:			/* read command byte */
		i8042_reply(k, k->cmd_byte);
		break;
	case 0x60:			/* write command byte */
	case 0xd1:			/* write output port */
	case 0xd2:			/* write keyboard output buffer */
	case 0xd3:			/* write aux output buffer */
	case 0xd4:			/* write to the aux device */
		k->pending = cmd;
		break;
	case 0xa7:
		k->cmd_byte |= 0x20;	/* disable aux */
		break;
	case 0xa8:
		k->cmd_byte &= (uint8_t)~0x20;
		break;
	case 0xa9:			/* aux interface test */
	case 0xab:			/* kbd interface test */
		i8042_reply(k, 0x00);
		break;
	case 0xaa:			/* controller self test */
		i8042_reply(k, 0x55);
		break;
	case 0xad:
		k->cmd_byte |= 0x10;	/* disable kbd */
		break;
	case 0xae:
		k->cmd_byte &= (uint8_t)~0x10;
		break;
	case 0xd0:			/* read output port: no reset, A20 */
		i8042_reply(k, 0x03);
		break;
	default:
		/* 0xf0-0xff pulse output lines; bit 0 clear = CPU reset. */
		if (cmd >= 0xf0 && !(cmd & 1))
			return true;
	}
	return false;
}

static void i8042_io_read(void *opaque, uint64_t off, uint8_t *data,
			  unsigned int len)
{
	struct i8042 *k = opaque;

	memset(data, 0xff, len);
	if (len != 1)
		return;
	pthread_mutex_lock(&k->lock);
	if (off == I8042_CMD) {
		data[0] = (uint8_t)((k->out_full ? STS_OBF : 0) | STS_SYS |
				    (k->last_was_cmd ? STS_CMD : 0));
	} else if (off == I8042_DATA) {
		data[0] = k->out;
		k->out_full = false;
		if (k->queued) {
			/* The next byte: a new edge on IRQ 1. */
			update_irq(k);
			k->out = k->queue[0];
			memmove(k->queue, k->queue + 1, --k->queued);
			k->out_full = true;
		}
		update_irq(k);
	}
	pthread_mutex_unlock(&k->lock);
}

static void i8042_io_write(void *opaque, uint64_t off, const uint8_t *data,
			   unsigned int len)
{
	struct i8042 *k = opaque;
	bool reset = false;

	if (len != 1)
		return;
	pthread_mutex_lock(&k->lock);
	if (off == I8042_CMD) {
		k->last_was_cmd = true;
		k->pending = 0;
		reset = i8042_command(k, data[0]);
	} else if (off == I8042_DATA) {
		k->last_was_cmd = false;
		if (k->pending == 0x60) {
			k->cmd_byte = data[0];
			k->pending = 0;
		} else if (k->pending == 0xd1) {
			reset = !(data[0] & 1);
			k->pending = 0;
		} else if (k->pending == 0xd2) {
			k->pending = 0;
			k->queued = 0;
			k->out_full = false;
			kbd_send(k, data, 1);
		} else if (k->pending == 0xd3 || k->pending == 0xd4) {
			k->pending = 0;		/* no aux device answers */
		} else if (!(k->cmd_byte & CTR_KBD_OFF) || k->pending) {
			kbd_write(k, data[0]);
		}
	}
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	if (reset)
		fire(&k->hook, PLATFORM_RESET);
}

const struct bus_ops i8042_ops = {
	.read = i8042_io_read,
	.write = i8042_io_write,
};

/* ---- ACPI sleep and reset registers ---------------------------------- */

#define PM_SLEEP_CTL	0
#define PM_SLEEP_STS	1
#define PM_RESET	2
#define SLP_EN		0x20
#define SLP_TYP_SHIFT	2
#define SLP_TYP_MASK	0x1c

void pm_init(struct pm *p, const struct platform_hook *hook,
	     uint8_t slp_typ_s5, uint8_t reset_value)
{
	p->hook = *hook;
	p->slp_typ_s5 = slp_typ_s5;
	p->reset_value = reset_value;
}

static void pm_io_read(void *opaque, uint64_t off, uint8_t *data,
		       unsigned int len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
}

static void pm_io_write(void *opaque, uint64_t off, const uint8_t *data,
			unsigned int len)
{
	struct pm *p = opaque;
	uint8_t v = data[0];

	if (len != 1)
		return;
	if (off == PM_SLEEP_CTL && (v & SLP_EN) &&
	    ((v & SLP_TYP_MASK) >> SLP_TYP_SHIFT) == p->slp_typ_s5)
		fire(&p->hook, PLATFORM_POWEROFF);
	else if (off == PM_RESET && v == p->reset_value)
		fire(&p->hook, PLATFORM_RESET);
}

const struct bus_ops pm_ops = {
	.read = pm_io_read,
	.write = pm_io_write,
};

/* ---- pvpanic ---------------------------------------------------------- */

void pvpanic_init(struct pvpanic *p, const struct platform_hook *hook)
{
	p->hook = *hook;
}

static void pvpanic_io_read(void *opaque, uint64_t off, uint8_t *data,
			    unsigned int len)
{
	(void)opaque;
	(void)off;
	memset(data, 0, len);
	data[0] = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
}

static void pvpanic_io_write(void *opaque, uint64_t off, const uint8_t *data,
			     unsigned int len)
{
	struct pvpanic *p = opaque;

	(void)off;
	if (len != 1)
		return;
	if (data[0] & PVPANIC_PANICKED)
		fire(&p->hook, PLATFORM_PANIC);
	else if (data[0] & PVPANIC_CRASH_LOADED)
		fire(&p->hook, PLATFORM_CRASH_LOADED);
}

const struct bus_ops pvpanic_ops = {
	.read = pvpanic_io_read,
	.write = pvpanic_io_write,
};
