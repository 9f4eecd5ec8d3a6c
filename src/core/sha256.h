/* SHA-256 (FIPS 180-4), for recording which model file made a dataset. */
#ifndef DM_CORE_SHA256_H
#define DM_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t h[8];
    uint64_t len; /* bytes hashed */
    uint8_t buf[64];
    size_t fill;
} dm_sha256;

void dm_sha256_init(dm_sha256 *s);
void dm_sha256_update(dm_sha256 *s, const void *data, size_t n);
/* Writes 64 lowercase hex digits + NUL. */
void dm_sha256_hex(dm_sha256 *s, char out[65]);

#endif
