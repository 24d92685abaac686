// SPDX-License-Identifier: GPL-2.0
#include "serial.h"

#include <string.h>

#define UART_RX		0	/* DLAB=0 read */
#define UART_TX		0	/* DLAB=0 write */
#define UART_IER	1
#define UART_IIR	2	/* read */
#define UART_FCR	2	/* write */
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7

#define IER_RDI		0x01
#define IER_THRI	0x02
#define IER_RLSI	0x04
#define IER_MSI		0x08
#define IIR_NO_INT	0x01
#define IIR_MSI		0x00
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_FIFO	0xc0
#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define LCR_DLAB	0x80
#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40
#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80
#define MSR_DELTAS	0x0f

void serial_init(struct serial *s, const struct irq_line *irq,
		 const struct serial_host *host)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->irq = *irq;
	s->host = *host;
	s->msr = MSR_DCD | MSR_DSR | MSR_CTS;
	s->dll = 12;		/* 9600 baud */
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

/* The highest-priority pending interrupt, as IIR reports it. */
static uint8_t serial_iir(const struct serial *s)
{
	if ((s->ier & IER_RDI) && s->rx_len)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->thre_pending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && (s->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

/* Recompute the line after every change; edges reach the irqchip. */
static void serial_update_irq(struct serial *s)
{
	bool level = serial_iir(s) != IIR_NO_INT && (s->mcr & MCR_OUT2);

	if (level != s->irq_level) {
		s->irq_level = level;
		irq_line_set(&s->irq, level);
	}
}

void serial_save(struct serial *s, struct serial_state *st)
{
	pthread_mutex_lock(&s->lock);
	memset(st, 0, sizeof(*st));
	st->ier = s->ier;
	st->lcr = s->lcr;
	st->mcr = s->mcr;
	st->msr = s->msr;
	st->scr = s->scr;
	st->dll = s->dll;
	st->dlm = s->dlm;
	st->fcr = s->fcr;
	st->thre_pending = s->thre_pending;
	pthread_mutex_unlock(&s->lock);
}

void serial_restore(struct serial *s, const struct serial_state *st)
{
	pthread_mutex_lock(&s->lock);
	s->ier = st->ier & 0x0f;
	s->lcr = st->lcr;
	s->mcr = st->mcr & 0x1f;
	s->msr = st->msr;
	s->scr = st->scr;
	s->dll = st->dll;
	s->dlm = st->dlm;
	s->fcr = st->fcr;
	s->thre_pending = st->thre_pending != 0;
	s->irq_level = false;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static bool rx_push(struct serial *s, uint8_t b)
{
	if (s->rx_len == SERIAL_RX_BUF) {
		s->rx_was_full = true;
		return false;
	}
	s->rx[(s->rx_head + s->rx_len) % SERIAL_RX_BUF] = b;
	s->rx_len++;
	return true;
}

/* Loopback wires MCR outputs to MSR inputs; a change sets the deltas. */
static void serial_update_msr(struct serial *s)
{
	uint8_t in, old = s->msr;

	if (s->mcr & MCR_LOOP) {
		in = ((s->mcr & MCR_RTS) ? MSR_CTS : 0) |
		     ((s->mcr & MCR_DTR) ? MSR_DSR : 0) |
		     ((s->mcr & MCR_OUT1) ? MSR_RI : 0) |
		     ((s->mcr & MCR_OUT2) ? MSR_DCD : 0);
	} else {
		in = MSR_DCD | MSR_DSR | MSR_CTS;
	}
	s->msr = (uint8_t)((old & MSR_DELTAS) | in);
	if ((old ^ in) & MSR_CTS)
		s->msr |= MSR_DCTS;
	if ((old ^ in) & MSR_DSR)
		s->msr |= MSR_DDSR;
	if ((old ^ in) & MSR_DCD)
		s->msr |= MSR_DDCD;
	if ((old & MSR_RI) && !(in & MSR_RI))
		s->msr |= MSR_TERI;
}

/* Returns the byte to transmit, or -1. */
static int serial_write_reg(struct serial *s, unsigned int reg, uint8_t v)
{
	uint8_t old;

	switch (reg) {
	case UART_TX:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			break;
		}
		/* Sent at once: the holding register is empty again. */
		s->thre_pending = true;
		if (!(s->mcr & MCR_LOOP))
			return v;
		rx_push(s, v);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			break;
		}
		old = s->ier;
		s->ier = v & 0x0f;
		/* Enabling THRI while THR is empty raises it at once. */
		if (!(old & IER_THRI) && (s->ier & IER_THRI))
			s->thre_pending = true;
		break;
	case UART_FCR:
		s->fcr = v & (FCR_ENABLE | 0xc0);
		if (v & FCR_CLEAR_RX) {
			s->rx_head = s->rx_len = 0;
		}
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		serial_update_msr(s);
		break;
	case UART_SCR:
		s->scr = v;
		break;
	}
	return -1;
}

static uint8_t serial_read_reg(struct serial *s, unsigned int reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RX:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (!s->rx_len)
			return 0;
		v = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_RX_BUF;
		s->rx_len--;
		return v;
	case UART_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case UART_IIR:
		v = serial_iir(s);
		/* Reading IIR acknowledges a THRE interrupt. */
		if (v == IIR_THRI)
			s->thre_pending = false;
		return (uint8_t)(v | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0));
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return (uint8_t)((s->rx_len ? LSR_DR : 0) | LSR_THRE | LSR_TEMT);
	case UART_MSR:
		v = s->msr;
		s->msr &= (uint8_t)~MSR_DELTAS;
		return v;
	case UART_SCR:
		return s->scr;
	}
	return 0xff;
}

static void serial_io_read(void *opaque, uint64_t off, uint8_t *data,
			   unsigned int len)
{
	struct serial *s = opaque;
	bool room = false;

	memset(data, 0xff, len);
	if (len != 1 || off > 7)
		return;
	pthread_mutex_lock(&s->lock);
	data[0] = serial_read_reg(s, (unsigned int)off);
	if (s->rx_was_full && s->rx_len < SERIAL_RX_BUF / 2) {
		s->rx_was_full = false;
		room = true;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (room && s->host.rx_room)
		s->host.rx_room(s->host.opaque);
}

static void serial_io_write(void *opaque, uint64_t off, const uint8_t *data,
			    unsigned int len)
{
	struct serial *s = opaque;
	uint8_t byte;
	int tx;

	if (len != 1 || off > 7)
		return;
	pthread_mutex_lock(&s->lock);
	tx = serial_write_reg(s, (unsigned int)off, data[0]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	/*
	 * Host output may block (a slow terminal throttles the guest): never
	 * while holding the lock the event loop needs for input.
	 */
	if (tx >= 0 && s->host.tx) {
		byte = (uint8_t)tx;
		s->host.tx(s->host.opaque, &byte, 1);
	}
}

const struct bus_ops serial_ops = {
	.read = serial_io_read,
	.write = serial_io_write,
};

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < len; i++)
		if (!rx_push(s, buf[i]))
			break;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return i;
}
