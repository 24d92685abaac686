// SPDX-License-Identifier: GPL-2.0
#include "opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int opt_choice(const char *opt, const char *val, const char *const *names,
	       unsigned int n, int *out, char *err, size_t errlen)
{
	char known[256];
	size_t used = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!strcmp(val, names[i])) {
			*out = (int)i;
			return 0;
		}
	}
	known[0] = '\0';
	for (i = 0; i < n && used < sizeof(known); i++)
		used += (size_t)snprintf(known + used, sizeof(known) - used,
					 "%s%s", i ? ", " : "", names[i]);
	errf(err, errlen, "%s '%s' is not one of: %s", opt, val, known);
	return -1;
}

int opt_on_off(const char *opt, const char *val, bool *out, char *err,
	       size_t errlen)
{
	static const char *const names[] = { "off", "on" };
	int choice;

	if (opt_choice(opt, val, names, 2, &choice, err, errlen))
		return -1;
	*out = choice == 1;
	return 0;
}

int opt_uint(const char *opt, const char *val, unsigned long min,
	     unsigned long max, unsigned long *out, char *err, size_t errlen)
{
	char *end;

	errno = 0;
	*out = strtoul(val, &end, 10);
	if (errno || end == val || *end || *val == '-' || *out < min ||
	    *out > max) {
		errf(err, errlen, "%s: '%s' is not a number from %lu to %lu",
		     opt, val, min, max);
		return -1;
	}
	return 0;
}

int opt_string(const char *opt, const char *what, const char *val, char *dst,
	       size_t size, char *err, size_t errlen)
{
	if (!*val || strlen(val) >= size) {
		errf(err, errlen, "%s: %s must be 1 to %zu characters", opt,
		     what, size - 1);
		return -1;
	}
	strcpy(dst, val);
	return 0;
}

int opt_mac(const char *opt, const char *val, uint8_t mac[6], char *err,
	    size_t errlen)
{
	unsigned int b[6], i;
	char tail;

	if (sscanf(val, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2],
		   &b[3], &b[4], &b[5], &tail) != 6 || strlen(val) != 17) {
		errf(err, errlen, "%s: '%s' is not a MAC address like "
		     "02:00:00:00:00:01", opt, val);
		return -1;
	}
	if (b[0] & 1) {
		errf(err, errlen, "%s: '%s' is a multicast address (the first "
		     "byte must be even)", opt, val);
		return -1;
	}
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

int opt_size(const char *opt, const char *val, uint64_t *out, char *err,
	     size_t errlen)
{
	if (parse_size(val, out)) {
		errf(err, errlen, "%s: '%s' is not a size (e.g. 128M)", opt, val);
		return -1;
	}
	return 0;
}
