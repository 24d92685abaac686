// SPDX-License-Identifier: GPL-2.0
/*
 * tsline: copy standard input to standard output a line at a time, each
 * line prefixed with the CLOCK_MONOTONIC milliseconds it arrived at
 * ("12345.678 <line>"). Two processes' outputs read through it compare on
 * one clock: the migration benchmark finds how long a guest printed
 * nothing across its move (the last line on the source to the first on
 * the target), the same way for every VMM.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

int main(void)
{
	char line[4096];
	int at_start = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		if (at_start) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			printf("%lld.%03ld ", (long long)ts.tv_sec * 1000 +
			       ts.tv_nsec / 1000000, (ts.tv_nsec / 1000) % 1000);
		}
		fputs(line, stdout);
		/* A line longer than the buffer goes on without a new stamp. */
		at_start = strchr(line, '\n') != NULL;
	}
	return 0;
}
