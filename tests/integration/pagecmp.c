// SPDX-License-Identifier: GPL-2.0
/*
 * Compare two memory files 4 KiB page by page, for snapshot tests inside
 * the test host (busybox's cmp -l prints a line per differing byte: slow
 * under QEMU TCG on a guest's RAM).
 *   pagecmp A B      each differing page's number, in hex, one per line
 *   pagecmp -s A B   "P1 P2 ... (N pages; OFF:X->Y ...)": the first 12
 *                    differing pages, how many, and the first 6 differing
 *                    bytes (offset in hex, bytes in octal, as cmp -l)
 * A file shorter than the other differs in every page past its end.
 * Exit status 0 either way; 2 if a file cannot be read.
 */
#include <stdio.h>
#include <string.h>

#define PAGE 4096

int main(int argc, char **argv)
{
	static unsigned char a[PAGE], b[PAGE];
	unsigned long long page = 0, n = 0;
	unsigned int nbytes = 0;
	char bytes[256] = "";
	int summary = argc == 4 && !strcmp(argv[1], "-s");
	FILE *fa, *fb;

	if (argc != 3 + summary) {
		fprintf(stderr, "usage: pagecmp [-s] A B\n");
		return 2;
	}
	fa = fopen(argv[1 + summary], "rb");
	fb = fopen(argv[2 + summary], "rb");
	if (!fa || !fb) {
		perror("pagecmp");
		return 2;
	}
	for (;; page++) {
		size_t la = fread(a, 1, PAGE, fa), lb = fread(b, 1, PAGE, fb);
		size_t i;

		if (!la && !lb)
			break;
		if (la == lb && !memcmp(a, b, la))
			continue;
		if (!summary) {
			printf("%llx\n", page);
			continue;
		}
		if (++n <= 12)
			printf("%llx ", page);
		for (i = 0; i < PAGE && nbytes < 6; i++) {
			int ca = i < la ? a[i] : -1, cb = i < lb ? b[i] : -1;
			size_t len = strlen(bytes);

			if (ca == cb)
				continue;
			snprintf(bytes + len, sizeof(bytes) - len, " %llx:%o->%o",
				 page * PAGE + i, ca < 0 ? 0 : (unsigned int)ca,
				 cb < 0 ? 0 : (unsigned int)cb);
			nbytes++;
		}
	}
	if (summary)
		printf("(%llu pages;%s)\n", n, bytes);
	return 0;
}
