// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "unit.h"

void test_mem_init(struct guest_mem *gm, uint64_t gpa, uint64_t size)
{
	size_t page = 4096, span = size + 2 * page;
	uint8_t *p;

	p = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(mprotect(p + page, size, PROT_READ | PROT_WRITE), 0);
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

int main(int argc, char **argv)
{
	SRunner *sr = srunner_create(NULL);
	int run, failed;

#define ADD_SUITE(name) srunner_add_suite(sr, name##_suite());
	UNIT_SUITES(ADD_SUITE)
	if (argc > 1)
		setenv("CK_RUN_SUITE", argv[1], 1);
	srunner_run_all(sr, CK_NORMAL);
	run = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	/* The line tests/run-suite.sh reads. */
	printf("SUITE-RESULT passed=%d failed=%d skipped=0\n", run - failed,
	       failed);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
