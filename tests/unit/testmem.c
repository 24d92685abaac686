// SPDX-License-Identifier: GPL-2.0
/* Fake guest memory with guard pages, for unit tests and the benchmark. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "unit.h"

void test_mem_init(struct guest_mem *gm, uint64_t gpa, uint64_t size)
{
	size_t page = 4096, span = size + 2 * page;
	uint8_t *p;

	p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + page, size, PROT_READ | PROT_WRITE)) {
		perror("test_mem_init");
		abort();
	}
	gm->fd = -1;
	gm->nr = 1;
	gm->ram_size = size;
	gm->r[0].gpa = gpa;
	gm->r[0].size = size;
	gm->r[0].hva = p + page;
	gm->r[0].fd_offset = 0;
}

void test_mem_fini(struct guest_mem *gm)
{
	unsigned int i;

	for (i = 0; i < gm->nr; i++)
		munmap(gm->r[i].hva - 4096, gm->r[i].size + 2 * 4096);
	gm->nr = 0;
}

