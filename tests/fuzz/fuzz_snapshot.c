// SPDX-License-Identifier: GPL-2.0
/*
 * A snapshot's state file is untrusted (BAD-INPUTS 24): the whole input
 * is a state file for snapshot_parse(), which must accept only what it
 * can vouch for and never read outside the buffer. To get past the CRC,
 * an input whose first byte is odd is sealed (its CRC fixed) first.
 */
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot s;
	char err[256];
	uint8_t *b;

	if (size < 1)
		return 0;
	b = malloc(size);
	if (!b)
		return 0;
	memcpy(b, data + 1, size - 1);
	/* (fdt_check_full() only on version 17: libfdt 1.6.1 reads through
	 * NULL on some version-6 trees, as snapshot_parse() knows.) */
	if ((data[0] & 1) && size - 1 >= 40 && fdt_version(b) == 17 &&
	    fdt_check_full(b, size - 1) == 0)
		snapshot_seal(b, size - 1);
	if (snapshot_parse(b, size - 1, &s, err, sizeof(err)) == 0)
		snapshot_free(&s);
	free(b);
	return 0;
}
