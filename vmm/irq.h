/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An interrupt line as devices see it. The VMM wires it to the in-kernel
 * irqchip (vm_irq_line); unit tests wire it to a recorder.
 */
#ifndef VIREO_IRQ_H
#define VIREO_IRQ_H

#include <stdbool.h>

struct irq_line {
	void (*set)(void *opaque, unsigned int gsi, bool level);
	void *opaque;
	unsigned int gsi;
};

static inline void irq_line_set(const struct irq_line *l, bool level)
{
	if (l->set)
		l->set(l->opaque, l->gsi, level);
}

#endif
