// SPDX-License-Identifier: GPL-2.0
/*
 * Guest port I/O on the legacy devices: COM1, CMOS RTC, i8042, ACPI PM and
 * pvpanic, driven by arbitrary access sequences (offset, width, direction,
 * value), with host input arriving in between.
 */
#include <string.h>

#include "devices/platform.h"
#include "devices/rtc.h"
#include "devices/serial.h"

static void irq_set(void *opaque, unsigned int gsi, bool level)
{
	(void)opaque;
	(void)gsi;
	(void)level;
}

static void event(void *opaque, enum platform_event ev)
{
	(void)opaque;
	(void)ev;
}

static void tx(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque;
	(void)buf;
	(void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct irq_line irq = { irq_set, NULL, 4 };
	struct serial_host host = { tx, NULL, NULL };
	struct platform_hook hook = { event, NULL };
	static struct serial com1;
	static struct rtc rtc;
	static struct i8042 kbd;
	static struct pm pm;
	static struct pvpanic pv;
	struct {
		const struct bus_ops *ops;
		void *dev;
		unsigned int span;
	} devs[] = {
		{ &serial_ops, &com1, 8 }, { &rtc_ops, &rtc, 2 },
		{ &i8042_ops, &kbd, 5 }, { &pm_ops, &pm, 3 },
		{ &pvpanic_ops, &pv, 1 },
	};
	size_t i;

	serial_init(&com1, &irq, &host);
	rtc_init(&rtc);
	i8042_init(&kbd, &hook);
	pm_init(&pm, &hook, 5, 0x0e);
	pvpanic_init(&pv, &hook);
	for (i = 0; i + 4 <= size; i += 4) {
		unsigned int d = data[i] % 6, len = 1u << (data[i + 1] & 3);
		uint8_t buf[8];

		if (d == 5) {
			serial_receive(&com1, data + i + 2, 2);
			continue;
		}
		memset(buf, data[i + 3], sizeof(buf));
		if (data[i + 1] & 4)
			devs[d].ops->write(devs[d].dev,
					   (data[i + 2] >> 1) % (devs[d].span + 2),
					   buf, len);
		else
			devs[d].ops->read(devs[d].dev,
					  (data[i + 2] >> 1) % (devs[d].span + 2),
					  buf, len);
	}
	serial_destroy(&com1);
	rtc_destroy(&rtc);
	i8042_destroy(&kbd);
	return 0;
}
