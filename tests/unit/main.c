// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>

#include "unit.h"

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
