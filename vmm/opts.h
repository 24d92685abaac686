/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsers for option values ("on", "512M", "02:00:00:00:00:01", ...),
 * shared by the command line (vmm/config.c) and the device classes, which
 * parse their own KEY=VALUE options. Each takes opt, the text naming the
 * option in an error ("--disk 'path=x,cache=y': cache"), and on failure
 * returns -1 with a one-line message in err.
 */
#ifndef VIREO_OPTS_H
#define VIREO_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* val must be one of names[0..n); its index in *out. */
int opt_choice(const char *opt, const char *val, const char *const *names,
	       unsigned int n, int *out, char *err, size_t errlen);
/* "on" or "off". */
int opt_on_off(const char *opt, const char *val, bool *out, char *err,
	       size_t errlen);
/* A decimal number in [min, max]. */
int opt_uint(const char *opt, const char *val, unsigned long min,
	     unsigned long max, unsigned long *out, char *err, size_t errlen);
/* A string of 1 to size - 1 characters, copied into dst; what names it. */
int opt_string(const char *opt, const char *what, const char *val, char *dst,
	       size_t size, char *err, size_t errlen);
/* A unicast MAC address, "02:00:00:00:00:01". */
int opt_mac(const char *opt, const char *val, uint8_t mac[6], char *err,
	    size_t errlen);
/* A size, "512M" (see parse_size()). */
int opt_size(const char *opt, const char *val, uint64_t *out, char *err,
	     size_t errlen);

#endif
