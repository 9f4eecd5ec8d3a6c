/* The random checkpoint writer: the values of a plan's tensors (normal weights scaled by
 * 1/sqrt(fan_in) from a seed, constants, the training noise schedule) streamed into a safetensors
 * file chunk by chunk. The plan itself is random_ckpt.c. */
#include "tools/random_ckpt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "io/file.h"

/* ------------------------------------------------------------------ values */

/* LatentDiffusion.register_schedule for "linear" (SD's scaled_linear) 0.00085 -> 0.012. */
static void schedule(int which, float *out) {
    double ac = 1.0;
    double b0 = sqrt(0.00085), b1 = sqrt(0.012);
    for (int t = 0; t < DM_RCK_T_TRAIN; t++) {
        double sb = b0 + (b1 - b0) * t / (DM_RCK_T_TRAIN - 1), beta = sb * sb;
        double prev = ac;
        ac *= 1.0 - beta;
        double pv = beta * (1.0 - prev) / (1.0 - ac), v = 0;
        switch (which) {
        case 0:
            v = beta;
            break;
        case 1:
            v = ac;
            break;
        case 2:
            v = prev;
            break;
        case 3:
            v = sqrt(ac);
            break;
        case 4:
            v = sqrt(1.0 - ac);
            break;
        case 5:
            v = log(1.0 - ac);
            break;
        case 6:
            v = sqrt(1.0 / ac);
            break;
        case 7:
            v = sqrt(1.0 / ac - 1.0);
            break;
        case 8:
            v = pv;
            break;
        case 9:
            v = log(pv > 1e-20 ? pv : 1e-20);
            break;
        case 10:
            v = beta * sqrt(prev) / (1.0 - ac);
            break;
        default:
            v = (1.0 - prev) * sqrt(1.0 - beta) / (1.0 - ac);
            break;
        }
        out[t] = (float)v;
    }
}

static dm_dtype stored_dtype(const dm_rck_tensor *t, dm_dtype dtype) {
    if (!t->is_int) return dtype;
    return t->kind == DM_RCK_ARANGE ? DM_I64 : DM_I32;
}

/* Fills elements [off, off+n) of tensor t. r is the tensor's own stream, consumed in order. */
static void fill(const dm_rck_tensor *t, dm_rng *r, int64_t off, size_t n, float *x) {
    switch (t->kind) {
    case DM_RCK_WEIGHT:
    case DM_RCK_EMBED:
    case DM_RCK_BIAS:
    case DM_RCK_NORM: {
        float sd = t->kind == DM_RCK_WEIGHT ? 1.0f / sqrtf((float)t->fan_in) : 0.02f;
        dm_rng_fill_normal(r, x, n);
        for (size_t i = 0; i < n; i++) x[i] = x[i] * sd + (t->kind == DM_RCK_NORM ? 1.0f : 0.0f);
        break;
    }
    case DM_RCK_SCHED:
        schedule(t->sched, x);
        break; /* 1000 elements: always one chunk */
    case DM_RCK_CONST:
        for (size_t i = 0; i < n; i++) x[i] = t->value;
        break;
    case DM_RCK_ARANGE:
        for (size_t i = 0; i < n; i++) x[i] = (float)(off + (int64_t)i);
        break;
    }
}

/* Converts n floats to dtype into out. */
static void encode(dm_dtype dtype, const float *x, size_t n, void *out) {
    switch (dtype) {
    case DM_F16:
        for (size_t i = 0; i < n; i++) ((uint16_t *)out)[i] = dm_f32_to_f16(x[i]);
        break;
    case DM_I64:
        for (size_t i = 0; i < n; i++) ((int64_t *)out)[i] = (int64_t)x[i];
        break;
    case DM_I32:
        for (size_t i = 0; i < n; i++) ((int32_t *)out)[i] = (int32_t)x[i];
        break;
    default:
        memcpy(out, x, n * sizeof(float));
        break;
    }
}

/* The JSON header, padded with spaces to a multiple of 8 (data then starts aligned). */
static char *build_header(const dm_rck_tensor *t, int n, dm_dtype dtype, size_t *len) {
    size_t cap = 256 + (size_t)n * 320, k = 0;
    char *h = malloc(cap);
    if (!h) return NULL;
    k += (size_t)snprintf(h + k, cap - k, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        dm_dtype d = stored_dtype(&t[i], dtype);
        uint64_t bytes = (uint64_t)t[i].numel * dm_dtype_size(d);
        k += (size_t)snprintf(h + k, cap - k, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t[i].name,
                              dm_dtype_name(d));
        for (int j = 0; j < t[i].ndim; j++)
            k += (size_t)snprintf(h + k, cap - k, "%s%lld", j ? "," : "", (long long)t[i].shape[j]);
        k += (size_t)snprintf(h + k, cap - k, "],\"data_offsets\":[%llu,%llu]}",
                              (unsigned long long)off, (unsigned long long)(off + bytes));
        off += bytes;
    }
    k += (size_t)snprintf(h + k, cap - k, "}");
    while (k % 8) h[k++] = ' ';
    h[k] = 0;
    *len = k;
    return h;
}

dm_status dm_rck_write(const char *path, dm_rck_arch arch, dm_dtype dtype, uint64_t seed,
                       dm_error *err) {
    if (dtype != DM_F32 && dtype != DM_F16)
        return dm_fail_code(err, DM_EUSAGE, "%s: --dtype must be f16 or f32", path);
    dm_rck_tensor *t;
    int n;
    DM_TRY(dm_rck_plan(arch, &t, &n, err));
    size_t hlen;
    char *header = build_header(t, n, dtype, &hlen);
    enum { CHUNK = 1 << 20 };
    float *x = malloc(sizeof(float) * CHUNK);
    void *buf = malloc(8 * (size_t)CHUNK);
    dm_status s = DM_OK;
    dm_atomic_file af;
    if (!header || !x || !buf) {
        s = dm_fail(err, "%s: out of memory", path);
        goto done;
    }
    if ((s = dm_atomic_open(&af, path, err))) goto done;
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    int ok = fwrite(le, 1, 8, af.fp) == 8 && fwrite(header, 1, hlen, af.fp) == hlen;
    for (int i = 0; i < n && ok; i++) {
        dm_rng r;
        dm_rng_seed(&r, dm_seed_mix(seed, (uint64_t)i)); /* one stream per tensor */
        dm_dtype d = stored_dtype(&t[i], dtype);
        for (int64_t off = 0; off < t[i].numel && ok; off += CHUNK) {
            size_t m = (size_t)(t[i].numel - off < CHUNK ? t[i].numel - off : CHUNK);
            fill(&t[i], &r, off, m, x);
            encode(d, x, m, buf);
            ok = fwrite(buf, dm_dtype_size(d), m, af.fp) == m;
        }
    }
    if (!ok) {
        dm_atomic_abort(&af);
        s = dm_fail(err, "%s: write failed (disk full?)", path);
        goto done;
    }
    s = dm_atomic_commit(&af, err);
done:
    free(t);
    free(header);
    free(x);
    free(buf);
    return s;
}
