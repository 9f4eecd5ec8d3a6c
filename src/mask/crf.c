/* Dense CRF (Krähenbühl & Koltun 2011) with mean-field inference, and the permutohedral lattice
 * (Adams, Baek & Davis 2010) that makes its appearance-kernel message passing O(n).
 *
 * Why a permutohedral lattice and not a bilateral grid: the appearance kernel lives in 5-D
 * (x, y, r, g, b). A grid samples every cell of the 5-D box (2^5 corners per splat, memory that
 * grows with the product of the extents); the lattice touches only the d+1 = 6 vertices of the
 * simplex around each pixel and stores only occupied vertices in a hash table, so its cost is
 * linear in pixels and quadratic in d. The smoothness kernel depends on position only, so on the
 * pixel grid it is an exact separable Gaussian blur; no lattice needed there. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mask/crf.h"

/* ------------------------------------------------------------------ permutohedral lattice */

struct dm_lattice {
    int n, d, vd_max;
    int m;                /* lattice vertices in use */
    int *offset;          /* n*(d+1): vertex of each simplex corner of each pixel */
    float *weight;        /* n*(d+1): its barycentric weight */
    int *neighbor;        /* m*(d+1)*2: vertex one step -/+ along each lattice direction, -1 none */
    float *val_a, *val_b; /* m*vd_max: blur ping-pong buffers */
};

/* Open-addressing hash of lattice keys (the first d of the d+1 coordinates; the last is implied
 * because coordinates sum to 0). Each slot keeps the key's full hash next to its index, so a probe
 * touches the key array only on a probable match: one cache miss per lookup instead of two, which
 * matters when colour noise makes the lattice large. Grows by doubling while it is built. */
typedef struct {
    int index;     /* key index, -1 empty */
    unsigned hash; /* full hash of that key */
} slot_t;

typedef struct {
    int d;
    int *keys; /* cap_keys * d */
    int n_keys, cap_keys;
    slot_t *slot; /* table_size entries */
    unsigned table_size;
} key_table;

static unsigned key_hash(const int *k, int d) {
    unsigned h = 2166136261u;
    for (int i = 0; i < d; i++) h = (h ^ (unsigned)k[i]) * 16777619u;
    /* the multiply only carries low bits upward and the table is indexed by the low bits, while
     * lattice keys share residues mod d+1: fold the high bits down (murmur3's finaliser) */
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* Slot where key is, or the empty slot where it would go. */
static unsigned table_probe(const key_table *t, const int *key, unsigned hash) {
    unsigned mask = t->table_size - 1, h = hash & mask;
    for (;;) {
        const slot_t *e = &t->slot[h];
        if (e->index < 0) return h;
        if (e->hash == hash &&
            memcmp(t->keys + (long)e->index * t->d, key, (size_t)t->d * sizeof(int)) == 0)
            return h;
        h = (h + 1) & mask;
    }
}

/* Index of key, or -1 when absent. */
static int table_find(const key_table *t, const int *key) {
    return t->slot[table_probe(t, key, key_hash(key, t->d))].index;
}

static slot_t *new_slots(unsigned size) {
    slot_t *slot = malloc((size_t)size * sizeof *slot);
    if (slot)
        for (unsigned i = 0; i < size; i++) slot[i] = (slot_t){-1, 0};
    return slot;
}

static int table_grow(key_table *t) {
    unsigned size = t->table_size * 2;
    slot_t *slot = new_slots(size);
    if (!slot) return 0;
    for (unsigned i = 0; i < t->table_size; i++) {
        slot_t e = t->slot[i];
        if (e.index < 0) continue;
        unsigned h = e.hash & (size - 1);
        while (slot[h].index >= 0) h = (h + 1) & (size - 1);
        slot[h] = e;
    }
    free(t->slot);
    t->slot = slot;
    t->table_size = size;
    return 1;
}

/* Index of key, inserting it when absent; -1 when out of memory. */
static int table_insert(key_table *t, const int *key) {
    if ((unsigned)(t->n_keys + 1) * 2 > t->table_size && !table_grow(t)) return -1;
    unsigned hash = key_hash(key, t->d), h = table_probe(t, key, hash);
    if (t->slot[h].index >= 0) return t->slot[h].index;
    if (t->n_keys == t->cap_keys) {
        int cap = t->cap_keys * 2;
        int *k = realloc(t->keys, (size_t)cap * t->d * sizeof *k);
        if (!k) return -1;
        t->keys = k;
        t->cap_keys = cap;
    }
    int s = t->n_keys++;
    memcpy(t->keys + (long)s * t->d, key, (size_t)t->d * sizeof(int));
    t->slot[h] = (slot_t){s, hash};
    return s;
}

enum { LATTICE_MAX_D = 16 };

dm_status dm_lattice_build(dm_lattice **out, const float *features, int n, int d, int vd_max,
                           dm_error *err) {
    *out = NULL;
    if (d < 1 || d > LATTICE_MAX_D || n < 1 || vd_max < 1)
        return dm_fail_code(err, DM_EUSAGE, "permutohedral lattice: bad size n=%d d=%d vd=%d", n, d,
                            vd_max);
    dm_lattice *L = calloc(1, sizeof *L);
    /* sized for about one vertex per pixel up front (typical images need fewer; noise needs
     * more and grows the table), so building rarely rehashes */
    key_table t = {.d = d, .cap_keys = n < 1024 ? 1024 : n, .table_size = 2048};
    while (t.table_size < 2u * (unsigned)t.cap_keys) t.table_size *= 2;
    t.keys = malloc((size_t)t.cap_keys * d * sizeof(int));
    t.slot = new_slots(t.table_size);
    if (L) {
        L->n = n, L->d = d, L->vd_max = vd_max;
        L->offset = malloc((size_t)n * (d + 1) * sizeof(int));
        L->weight = malloc((size_t)n * (d + 1) * sizeof(float));
    }
    if (!L || !t.keys || !t.slot || !L->offset || !L->weight) goto oom;

    /* Elevation onto the hyperplane sum(x) = 0 of R^(d+1), scaled so that the [1 2 1] blur along
     * the d+1 lattice directions amounts to a unit-variance Gaussian in feature space. */
    float scale[LATTICE_MAX_D];
    const float inv_std = (float)(d + 1) * sqrtf(2.0f / 3.0f);
    for (int i = 0; i < d; i++) scale[i] = inv_std / sqrtf((float)((i + 1) * (i + 2)));

    float el[LATTICE_MAX_D + 1], bary[LATTICE_MAX_D + 2];
    int rem0[LATTICE_MAX_D + 1], rank[LATTICE_MAX_D + 1], key[LATTICE_MAX_D];
    const int d1 = d + 1;
    for (int p = 0; p < n; p++) {
        const float *f = features + (long)p * d;
        float sm = 0;
        for (int i = d; i > 0; i--) {
            float cf = f[i - 1] * scale[i - 1];
            el[i] = sm - (float)i * cf;
            sm += cf;
        }
        el[0] = sm;

        /* nearest lattice point of remainder 0: each coordinate rounded to a multiple of d+1 */
        int sum = 0;
        for (int i = 0; i <= d; i++) {
            float v = el[i] / (float)d1;
            float up = ceilf(v) * (float)d1, down = floorf(v) * (float)d1;
            rem0[i] = (int)(up - el[i] < el[i] - down ? up : down);
            sum += rem0[i] / d1;
        }
        /* rank of each coordinate's residual (0 = largest) */
        for (int i = 0; i <= d; i++) rank[i] = 0;
        for (int i = 0; i < d; i++)
            for (int j = i + 1; j <= d; j++) {
                if (el[i] - (float)rem0[i] < el[j] - (float)rem0[j])
                    rank[i]++;
                else
                    rank[j]++;
            }
        /* the rounded point must itself lie on the plane (coordinates summing to 0): move the
         * |sum| coordinates with the most extreme residuals by d+1 and re-rank */
        if (sum > 0) {
            for (int i = 0; i <= d; i++) {
                if (rank[i] >= d1 - sum) {
                    rem0[i] -= d1;
                    rank[i] += sum - d1;
                } else {
                    rank[i] += sum;
                }
            }
        } else if (sum < 0) {
            for (int i = 0; i <= d; i++) {
                if (rank[i] < -sum) {
                    rem0[i] += d1;
                    rank[i] += d1 + sum;
                } else {
                    rank[i] += sum;
                }
            }
        }
        /* barycentric coordinates of the point in its simplex */
        for (int i = 0; i <= d + 1; i++) bary[i] = 0;
        for (int i = 0; i <= d; i++) {
            float v = (el[i] - (float)rem0[i]) / (float)d1;
            bary[d - rank[i]] += v;
            bary[d + 1 - rank[i]] -= v;
        }
        bary[0] += 1.0f + bary[d + 1];

        /* the simplex's d+1 vertices: rem0 plus the canonical simplex vertex r, whose
         * coordinate is r for ranks <= d-r and r-(d+1) for the others */
        for (int r = 0; r <= d; r++) {
            for (int i = 0; i < d; i++) key[i] = rem0[i] + (rank[i] <= d - r ? r : r - d1);
            int idx = table_insert(&t, key);
            if (idx < 0) goto oom;
            L->offset[(long)p * d1 + r] = idx;
            L->weight[(long)p * d1 + r] = bary[r];
        }
    }

    /* neighbours along each lattice direction j: the step (d+1) e_j - 1 and its opposite */
    L->m = t.n_keys;
    L->neighbor = malloc((size_t)L->m * d1 * 2 * sizeof(int));
    L->val_a = malloc((size_t)L->m * vd_max * sizeof(float));
    L->val_b = malloc((size_t)L->m * vd_max * sizeof(float));
    if (!L->neighbor || !L->val_a || !L->val_b) goto oom;
    int n1[LATTICE_MAX_D], n2[LATTICE_MAX_D];
    for (int s = 0; s < L->m; s++) {
        const int *k = t.keys + (long)s * d;
        for (int j = 0; j <= d; j++) {
            for (int i = 0; i < d; i++) {
                n1[i] = k[i] - 1;
                n2[i] = k[i] + 1;
            }
            if (j < d) {
                n1[j] = k[j] + d;
                n2[j] = k[j] - d;
            }
            L->neighbor[((long)s * d1 + j) * 2 + 0] = table_find(&t, n1);
            L->neighbor[((long)s * d1 + j) * 2 + 1] = table_find(&t, n2);
        }
    }
    free(t.keys);
    free(t.slot);
    *out = L;
    return DM_OK;

oom:
    free(t.keys);
    free(t.slot);
    dm_lattice_free(L);
    return dm_fail(err, "permutohedral lattice: out of memory for %d points in %d-D", n, d);
}

void dm_lattice_filter(dm_lattice *L, const float *in, int vd, float *out) {
    const int d1 = L->d + 1;
    float *a = L->val_a, *b = L->val_b;
    memset(a, 0, (size_t)L->m * vd * sizeof *a);
    /* splat: each pixel's value spread onto its simplex vertices by barycentric weight */
    for (long p = 0; p < L->n; p++) {
        const float *v = in + p * vd;
        for (int r = 0; r < d1; r++) {
            float w = L->weight[p * d1 + r];
            float *dst = a + (long)L->offset[p * d1 + r] * vd;
            for (int c = 0; c < vd; c++) dst[c] += w * v[c];
        }
    }
    /* blur: [1 2 1]/2 along each lattice direction in turn (missing vertices hold 0) */
    for (int j = 0; j < d1; j++) {
        for (long s = 0; s < L->m; s++) {
            int m1 = L->neighbor[(s * d1 + j) * 2], m2 = L->neighbor[(s * d1 + j) * 2 + 1];
            const float *v = a + s * vd;
            const float *v1 = m1 >= 0 ? a + (long)m1 * vd : NULL;
            const float *v2 = m2 >= 0 ? a + (long)m2 * vd : NULL;
            float *o = b + s * vd;
            for (int c = 0; c < vd; c++)
                o[c] = v[c] + 0.5f * ((v1 ? v1[c] : 0.0f) + (v2 ? v2[c] : 0.0f));
        }
        float *tmp = a;
        a = b;
        b = tmp;
    }
    /* slice: interpolate back at each pixel with the same barycentric weights */
    for (long p = 0; p < L->n; p++) {
        float *o = out + p * vd;
        for (int c = 0; c < vd; c++) o[c] = 0;
        for (int r = 0; r < d1; r++) {
            float w = L->weight[p * d1 + r];
            const float *src = a + (long)L->offset[p * d1 + r] * vd;
            for (int c = 0; c < vd; c++) o[c] += w * src[c];
        }
    }
}

int dm_lattice_points(const dm_lattice *L) {
    return L->m;
}

void dm_lattice_free(dm_lattice *L) {
    if (!L) return;
    free(L->offset);
    free(L->weight);
    free(L->neighbor);
    free(L->val_a);
    free(L->val_b);
    free(L);
}

/* ------------------------------------------------------------------ smoothness kernel */

enum { GAUSS_MAX_RADIUS = 64 };

/* One axis of a normalised truncated Gaussian: out[i] = sum_t g[t] in[i+t] / sum_t g[t] over
 * the taps that fall inside [0, len). stride walks the axis. */
static void gauss_axis(const float *in, float *out, int len, long stride, const float *g, int R) {
    for (int i = 0; i < len; i++) {
        int t0 = i - R < 0 ? -i : -R, t1 = i + R >= len ? len - 1 - i : R;
        float acc = 0, norm = 0;
        for (int t = t0; t <= t1; t++) {
            acc += g[t + R] * in[(long)(i + t) * stride];
            norm += g[t + R];
        }
        out[(long)i * stride] = acc / norm;
    }
}

void dm_gauss_blur_normalized(const float *in, int L, int H, int W, float sigma, float *out,
                              float *tmp) {
    long n = (long)H * W;
    if (!(sigma > 0)) {
        memcpy(out, in, (size_t)L * n * sizeof *out);
        return;
    }
    int R = (int)ceilf(3 * sigma);
    if (R > GAUSS_MAX_RADIUS) R = GAUSS_MAX_RADIUS;
    float g[2 * GAUSS_MAX_RADIUS + 1];
    for (int t = -R; t <= R; t++) g[t + R] = expf(-(float)(t * t) / (2 * sigma * sigma));
    for (int l = 0; l < L; l++) {
        const float *src = in + l * n;
        float *dst = out + l * n;
        for (int y = 0; y < H; y++) gauss_axis(src + (long)y * W, tmp + (long)y * W, W, 1, g, R);
        for (int x = 0; x < W; x++) gauss_axis(tmp + x, dst + x, H, W, g, R);
    }
}

/* ------------------------------------------------------------------ mean field */

void dm_crf_params_default(dm_crf_params *p) {
    p->smooth_sigma_xy = 3;
    p->smooth_weight = 3;
    p->bilateral_sigma_xy = 60;
    p->bilateral_sigma_rgb = 13;
    p->bilateral_weight = 5;
    p->iterations = 5;
    p->bg_power = 0;
    p->prob_floor = 1e-4f;
}

/* Q_i = softmax over labels of e (L values, in place). */
static void softmax(float *e, int L) {
    float mx = e[0];
    for (int l = 1; l < L; l++)
        if (e[l] > mx) mx = e[l];
    float sum = 0;
    for (int l = 0; l < L; l++) {
        e[l] = expf(e[l] - mx);
        sum += e[l];
    }
    for (int l = 0; l < L; l++) e[l] /= sum;
}

dm_status dm_crf_mean_field(const dm_crf_params *p, const uint8_t *rgb, int H, int W,
                            const float *prob, int L, float *Q_out, dm_error *err) {
    if (H < 1 || W < 1 || L < 2 || L > DM_MASK_MAX_CLASSES + 1)
        return dm_fail_code(err, DM_EUSAGE, "crf: bad size %dx%d with %d labels", H, W, L);
    if (!(p->bilateral_sigma_xy > 0) || !(p->bilateral_sigma_rgb > 0) || p->iterations < 0)
        return dm_fail_code(
            err, DM_EUSAGE,
            "crf: bilateral sigmas must be > 0 and iterations >= 0 (got %g, %g, %d)",
            (double)p->bilateral_sigma_xy, (double)p->bilateral_sigma_rgb, p->iterations);
    long n = (long)H * W;
    float *feat = malloc((size_t)n * 5 * sizeof *feat);
    float *unary = malloc((size_t)n * L * sizeof *unary); /* label-major */
    float *qpix = malloc((size_t)n * L * sizeof *qpix);   /* pixel-major, for the lattice */
    float *mb = malloc((size_t)n * L * sizeof *mb);
    float *ms = malloc((size_t)n * L * sizeof *ms);
    float *tmp = malloc((size_t)n * sizeof *tmp);
    float *inv_norm = malloc((size_t)n * sizeof *inv_norm);
    dm_lattice *lat = NULL;
    dm_status st = DM_OK;
    if (!feat || !unary || !qpix || !mb || !ms || !tmp || !inv_norm) {
        st = dm_fail(err, "crf: out of memory for a %dx%d image", H, W);
        goto done;
    }

    /* appearance features: position and colour, each divided by its std */
    float sxy = 1.0f / p->bilateral_sigma_xy, srgb = 1.0f / p->bilateral_sigma_rgb;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            long i = (long)y * W + x;
            float *f = feat + i * 5;
            f[0] = (float)x * sxy;
            f[1] = (float)y * sxy;
            f[2] = (float)rgb[i * 3 + 0] * srgb;
            f[3] = (float)rgb[i * 3 + 1] * srgb;
            f[4] = (float)rgb[i * 3 + 2] * srgb;
        }
    st = dm_lattice_build(&lat, feat, (int)n, 5, L, err);
    if (st != DM_OK) goto done;
    /* normalisation: the kernel's total weight at each pixel (filter of ones) */
    for (long i = 0; i < n; i++) tmp[i] = 1;
    dm_lattice_filter(lat, tmp, 1, inv_norm);
    for (long i = 0; i < n; i++) inv_norm[i] = 1.0f / (inv_norm[i] + 1e-20f);

    float floor_p = p->prob_floor > 0 ? p->prob_floor : 1e-20f;
    for (long k = 0; k < (long)L * n; k++) {
        float v = prob[k];
        if (!(v > floor_p)) v = floor_p; /* also maps NaN to the floor */
        if (v > 1) v = 1;
        unary[k] = -logf(v);
    }
    /* initial Q = softmax(-unary) */
    float e[DM_MASK_MAX_CLASSES + 1];
    for (long i = 0; i < n; i++) {
        for (int l = 0; l < L; l++) e[l] = -unary[l * n + i];
        softmax(e, L);
        for (int l = 0; l < L; l++) Q_out[l * n + i] = e[l];
    }
    for (int it = 0; it < p->iterations; it++) {
        for (long i = 0; i < n; i++)
            for (int l = 0; l < L; l++) qpix[i * L + l] = Q_out[l * n + i];
        dm_lattice_filter(lat, qpix, L, mb);
        if (p->smooth_weight != 0)
            dm_gauss_blur_normalized(Q_out, L, H, W, p->smooth_sigma_xy, ms, tmp);
        /* Potts: the penalty for label l is w * sum_{l' != l} m(l') = w (1 - m(l)) for
         * normalised messages, i.e. a bonus w m(l) up to a per-pixel constant */
        for (long i = 0; i < n; i++) {
            for (int l = 0; l < L; l++) {
                float v = -unary[l * n + i] + p->bilateral_weight * mb[i * L + l] * inv_norm[i];
                if (p->smooth_weight != 0) v += p->smooth_weight * ms[l * n + i];
                e[l] = v;
            }
            softmax(e, L);
            for (int l = 0; l < L; l++) Q_out[l * n + i] = e[l];
        }
    }

done:
    dm_lattice_free(lat);
    free(feat);
    free(unary);
    free(qpix);
    free(mb);
    free(ms);
    free(tmp);
    free(inv_norm);
    return st;
}
