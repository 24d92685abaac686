// SPDX-License-Identifier: GPL-2.0
/*
 * The guest page-table walker and the page reports of the stuck-interrupt
 * check (vmm/mem.c): the tables are the guest's, so every entry is
 * hostile. Any byte read outside RAM is an ASan error.
 *
 * Input: [0..7] CR3, [8..15] the linear address, [16] bit 0 LA57,
 *        bit 1 long mode off, [17..] RAM contents (64 KiB).
 */
#include <stdlib.h>
#include <string.h>

#include "vmm/mem.h"

#define RAM_SIZE 0x10000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem gm = { .fd = -1, .nr = 1 };
	uint64_t cr3, la, gpa = 0;
	char buf[400];
	uint8_t *ram;

	if (size < 17)
		return 0;
	memcpy(&cr3, data, 8);
	memcpy(&la, data + 8, 8);
	ram = calloc(1, RAM_SIZE);
	memcpy(ram, data + 17, size - 17 < RAM_SIZE ? size - 17 : RAM_SIZE);
	gm.r[0] = (struct gm_region){ 0, RAM_SIZE, ram, 0 };
	gm.ram_size = RAM_SIZE;
	if (gm_walk(&gm, 0x80050033, cr3, data[16] & 1 ? 0x1000 : 0,
		    data[16] & 2 ? 0 : 0xd01, la, &gpa, buf, sizeof(buf)) == 0)
		gm_read(&gm, buf, gpa, 8);
	gm_page_said(&gm, cr3 & GM_PTE_ADDR, buf, sizeof(buf));
	gm_top_tables_said(&gm, cr3 & GM_PTE_ADDR, buf, sizeof(buf));
	free(ram);
	return 0;
}
