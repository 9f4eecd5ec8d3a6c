#include "core/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void dm_rng_seed(dm_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
    r->has_spare = 0;
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

uint64_t dm_rng_u64(dm_rng *r) {
    uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rotl(s[3], 45);
    return out;
}

double dm_rng_uniform(dm_rng *r) {
    return (double)(dm_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

float dm_rng_normal(dm_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = 1.0 - dm_rng_uniform(r), u2 = dm_rng_uniform(r); /* u1 in (0, 1] */
    double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
    r->spare = (float)(rad * sin(th));
    r->has_spare = 1;
    return (float)(rad * cos(th));
}

void dm_rng_fill_normal(dm_rng *r, float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = dm_rng_normal(r);
}

uint64_t dm_seed_mix(uint64_t a, uint64_t b) {
    uint64_t x = a ^ (b * 0xd1342543de82ef95ull);
    return splitmix64(&x);
}
