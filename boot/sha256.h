/* SPDX-License-Identifier: GPL-2.0 */
/* SHA-256 (FIPS 180-4), used to key the cache of extracted kernels. */
#ifndef VIREO_SHA256_H
#define VIREO_SHA256_H

#include <stddef.h>
#include <stdint.h>

void sha256(const void *data, size_t len, uint8_t out[32]);

#endif
