/* SPDX-License-Identifier: GPL-2.0 */
/*
 * 8250/16550A UART: divisor latch, FIFO control, loopback, modem status,
 * THRE and RX interrupts (gated by MCR.OUT2 as on a PC). Transmitted bytes
 * leave at once through host->tx; received bytes wait in a bounded buffer.
 */
#ifndef VIREO_SERIAL_H
#define VIREO_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../vmm/bus.h"
#include "../vmm/irq.h"

#define SERIAL_RX_BUF 1024

struct serial_host {
	/* Bytes the guest transmitted (called without the device lock). */
	void (*tx)(void *opaque, const uint8_t *buf, size_t len);
	/* The receive buffer was full and has room again. */
	void (*rx_room)(void *opaque);
	void *opaque;
};

struct serial {
	pthread_mutex_t lock;
	struct irq_line irq;
	struct serial_host host;
	uint8_t ier, lcr, mcr, msr, scr, dll, dlm, fcr;
	bool thre_pending;
	bool irq_level;
	bool rx_was_full;
	unsigned int rx_head, rx_len;
	uint8_t rx[SERIAL_RX_BUF];
};

extern const struct bus_ops serial_ops;	/* 8 ports */

void serial_init(struct serial *s, const struct irq_line *irq,
		 const struct serial_host *host);
void serial_destroy(struct serial *s);
/* Registers as plain data (snapshots); host input in flight is not kept. */
struct serial_state {
	uint8_t ier, lcr, mcr, msr, scr, dll, dlm, fcr;
	uint8_t thre_pending;
	uint8_t pad[7];
};

void serial_save(struct serial *s, struct serial_state *st);
/* Registers back, the interrupt line as they say. */
void serial_restore(struct serial *s, const struct serial_state *st);

/* Queue host input for the guest; returns how many bytes fit. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);

#endif
