// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/*
 * unit-tests [SUITE]: every suite, or the one named.
 * unit-tests --shard K/N: every Nth suite from the Kth (tests/unit/run.sh
 * runs the shards side by side).
 */
int main(int argc, char **argv)
{
	SRunner *sr;
	unsigned int k = 0, n = 1, i = 0;
	int run, failed;

	if (argc > 2 && !strcmp(argv[1], "--shard")) {
		if (sscanf(argv[2], "%u/%u", &k, &n) != 2 || !n || k >= n) {
			fprintf(stderr, "unit-tests: --shard K/N, K < N\n");
			return 2;
		}
	} else if (argc > 1) {
		setenv("CK_RUN_SUITE", argv[1], 1);
	}
	sr = srunner_create(NULL);
#define ADD_SUITE(name)                                         \
	if (i++ % n == k)                                       \
		srunner_add_suite(sr, name##_suite());
	UNIT_SUITES(ADD_SUITE)
	srunner_run_all(sr, CK_NORMAL);
	run = srunner_ntests_run(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	/* The line tests/run-suite.sh reads. */
	printf("SUITE-RESULT passed=%d failed=%d skipped=0\n", run - failed,
	       failed);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
