/* Deterministic random numbers: SplitMix64-seeded xoshiro256**, normals by Box–Muller.
 * The same seed gives the same stream on every machine and thread count. */
#ifndef DM_CORE_RNG_H
#define DM_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
    int has_spare;
    float spare;
} dm_rng;

void dm_rng_seed(dm_rng *r, uint64_t seed);
uint64_t dm_rng_u64(dm_rng *r);
/* Uniform in [0, 1). */
double dm_rng_uniform(dm_rng *r);
/* Standard normal N(0, 1). */
float dm_rng_normal(dm_rng *r);
void dm_rng_fill_normal(dm_rng *r, float *x, size_t n);
/* Mixes two 64-bit values into one (e.g. base seed and sample index). */
uint64_t dm_seed_mix(uint64_t a, uint64_t b);

#endif
