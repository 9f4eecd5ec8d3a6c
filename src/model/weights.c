#include "model/weights.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "ops/dnnl_ops.h"

typedef struct {
    char *name;
    const dm_st_tensor *src;
    const char *file;
    int64_t row0, rows; /* slice of the first dimension */
    int transposed;     /* a 2-D source served as its transpose (always as an f32 copy) */
    int ndim;
    int64_t shape[DM_MAX_DIMS];
    float *f32;  /* converted copy, or NULL when served from the mapping */
    int checked; /* every value seen finite */
    const float *data;
    struct lazy *lazy; /* LoRA deltas not merged into a copy (bf16 runs), or NULL */
} entry;

/* W += coef · up[out, r] · down[r, K], applied to the f32 values whenever they are made */
typedef struct {
    float *up, *down;
    int out, K, r;
    float coef;
} delta;
struct lazy {
    dm_w_patch patch; /* what dm_w hands the kernels: apply_deltas on this */
    delta *d;
    int n;
    /* the deltas were also merged into the entry's f32 copy (a plain pointer was asked for):
     * later hand-outs serve that copy without a patch; dm_w handed out before keep theirs */
    int merged;
};

static void apply_deltas(const void *ctx, float *W) {
    const struct lazy *l = ctx;
    for (int i = 0; i < l->n; i++) {
        const delta *d = &l->d[i];
        dm_sgemm(0, 0, d->out, d->K, d->r, d->coef, d->up, d->r, d->down, d->K, 1.0f, W, d->K);
    }
}

static void lazy_free(struct lazy *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++) free(l->d[i].up), free(l->d[i].down);
    free(l->d);
    free(l);
}

struct dm_weights {
    entry *e;
    int n, cap;
    dm_safetensors **files;
    int n_files;
    size_t converted;
    int keep_half;
    int lazy_deltas; /* LoRA deltas kept apart and applied as weights are made (bf16 runs) */
    size_t half_max;
    dm_dnnl *dnnl; /* set: matrices and conv kernels are handed out prepared for bf16 */
};

dm_weights *dm_weights_new(void) {
    dm_weights *w = calloc(1, sizeof(dm_weights));
    /* f16/bf16 weights stay as stored by default (issue 10): as fast as f32 copies, half the
     * memory */
    if (w) w->keep_half = 1;
    return w;
}

void dm_weights_free(dm_weights *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->e[i].name);
        free(w->e[i].f32);
        lazy_free(w->e[i].lazy);
    }
    free(w->e);
    for (int i = 0; i < w->n_files; i++) dm_st_close(w->files[i]);
    free(w->files);
    free(w);
}

void dm_weights_own_file(dm_weights *w, dm_safetensors *st) {
    dm_safetensors **f = realloc(w->files, sizeof *f * (size_t)(w->n_files + 1));
    if (!f) return; /* the mapping then leaks until exit; nothing else breaks */
    w->files = f;
    w->files[w->n_files++] = st;
}

dm_status dm_weights_add(dm_weights *w, const char *file, const char *name, const dm_st_tensor *src,
                         int64_t row0, int64_t rows, dm_error *err) {
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 256;
        entry *e = realloc(w->e, sizeof *e * (size_t)cap);
        if (!e) return dm_fail(err, "out of memory registering weight '%s'", name);
        w->e = e, w->cap = cap;
    }
    entry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->src = src;
    e->file = file;
    e->ndim = src->ndim;
    memcpy(e->shape, src->shape, sizeof e->shape);
    if (rows >= 0) {
        if (src->ndim < 1 || row0 < 0 || row0 + rows > src->shape[0])
            return dm_fail(err, "tensor '%s': cannot take rows [%lld, %lld) for '%s'", src->name,
                           (long long)row0, (long long)(row0 + rows), name);
        e->shape[0] = rows;
    }
    e->row0 = row0;
    e->rows = rows;
    e->name = strdup(name);
    if (!e->name) return dm_fail(err, "out of memory");
    w->n++;
    return DM_OK;
}

dm_status dm_weights_add_transposed(dm_weights *w, const char *file, const char *name,
                                    const dm_st_tensor *src, dm_error *err) {
    if (src->ndim != 2)
        return dm_fail(err, "%s: tensor '%s' must be 2-D to be read transposed (as '%s')", file,
                       src->name, name);
    DM_TRY(dm_weights_add(w, file, name, src, 0, -1, err));
    entry *e = &w->e[w->n - 1];
    e->transposed = 1;
    e->shape[0] = src->shape[1], e->shape[1] = src->shape[0];
    return DM_OK;
}

dm_status dm_weights_add_all(dm_weights *w, const dm_safetensors *st, const char *prefix,
                             dm_error *err) {
    char name[1024];
    for (int i = 0; i < dm_st_count(st); i++) {
        const dm_st_tensor *t = dm_st_at(st, i);
        snprintf(name, sizeof name, "%s%s", prefix, t->name);
        DM_TRY(dm_weights_add(w, dm_st_path(st), name, t, 0, -1, err));
    }
    return DM_OK;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

dm_status dm_weights_seal(dm_weights *w, dm_error *err) {
    qsort(w->e, (size_t)w->n, sizeof *w->e, cmp_entry);
    for (int i = 1; i < w->n; i++)
        if (!strcmp(w->e[i].name, w->e[i - 1].name))
            return dm_fail(err, "weight '%s' is given twice (by '%s' and '%s')", w->e[i].name,
                           w->e[i - 1].src->name, w->e[i].src->name);
    return DM_OK;
}

static entry *find(const dm_weights *w, const char *name) {
    entry key = {.name = (char *)name};
    return bsearch(&key, w->e, (size_t)w->n, sizeof *w->e, cmp_entry);
}

int dm_weights_has(const dm_weights *w, const char *name) {
    return find(w, name) != NULL;
}

const int64_t *dm_weights_shape(const dm_weights *w, const char *name, int *ndim) {
    entry *e = find(w, name);
    if (!e) return NULL;
    if (ndim) *ndim = e->ndim;
    return e->shape;
}

static int trimmed_rank(int ndim, const int64_t *shape) {
    while (ndim > 1 && shape[ndim - 1] == 1) ndim--;
    return ndim;
}

void dm_shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

/* Start of the entry's data in the mapping (after the row slice). */
static const char *source_bytes(const entry *e, size_t *n) {
    size_t row = 1;
    for (int i = 1; i < e->src->ndim; i++) row *= (size_t)e->src->shape[i];
    *n = e->src->ndim == 0 ? 1 : row * (size_t)e->shape[0];
    return (const char *)e->src->data + (size_t)e->row0 * row * dm_dtype_size(e->src->dtype);
}

/* Is the value with these bits NaN or Inf? Exactly when its exponent bits are all ones. */
#define NONFINITE(bits, mask) (((bits) & (mask)) == (mask))

/* Any NaN/Inf among values [i0, i1) of a dtype of size sz? A branch-free OR the compiler
 * vectorises (memcpy: the mapping need not be aligned). */
static int block_nonfinite(dm_dtype dt, const char *src, size_t i0, size_t i1) {
    int bad = 0;
    if (dt == DM_F16 || dt == DM_BF16) {
        uint16_t mask = dt == DM_F16 ? 0x7c00 : 0x7f80;
#pragma omp simd reduction(| : bad)
        for (size_t i = i0; i < i1; i++) {
            uint16_t b;
            memcpy(&b, src + 2 * i, 2);
            bad |= NONFINITE(b, mask);
        }
    } else if (dt == DM_F32) {
#pragma omp simd reduction(| : bad)
        for (size_t i = i0; i < i1; i++) {
            uint32_t b;
            memcpy(&b, src + 4 * i, 4);
            bad |= NONFINITE(b, 0x7f800000u);
        }
    } else if (dt == DM_F64) {
        for (size_t i = i0; i < i1; i++) {
            uint64_t b;
            memcpy(&b, src + 8 * i, 8);
            bad |= NONFINITE(b, 0x7ff0000000000000ull);
        }
    }
    return bad;
}

/* Index of the first NaN/Inf among n values at src, or -1. Blocks of 64K values are shared
 * out over the threads; only the first bad block is searched value by value. Checkpoints are
 * GBs: this reads each weight once, at load, at memory speed (BENCHMARKS.md). */
static int64_t first_nonfinite(dm_dtype dt, const char *src, size_t n) {
    const size_t B = 1 << 16;
    long nb = (long)((n + B - 1) / B), first = nb;
#pragma omp parallel for reduction(min : first) schedule(static) if (nb > 4)
    for (long b = 0; b < nb; b++) {
        size_t i1 = (size_t)(b + 1) * B;
        if (block_nonfinite(dt, src, (size_t)b * B, i1 < n ? i1 : n) && b < first) first = b;
    }
    if (first == nb) return -1;
    for (size_t i = (size_t)first * B; i < n; i++)
        if (block_nonfinite(dt, src, i, i + 1)) return (int64_t)i;
    return -1;
}

/* Finds name and checks its shape and dtype. */
static dm_status lookup(dm_weights *w, const char *name, int ndim, const int64_t *shape,
                        entry **out, dm_error *err) {
    entry *e = find(w, name);
    if (!e) return dm_fail(err, "checkpoint has no weight '%s' (wrong or incomplete model?)", name);
    const char *file = e->file ? e->file : "checkpoint";
    int ra = trimmed_rank(e->ndim, e->shape), rb = trimmed_rank(ndim, shape);
    int same = ra == rb;
    for (int i = 0; same && i < ra; i++) same = e->shape[i] == shape[i];
    if (!same) {
        char a[128], b[128];
        dm_shape_str(e->ndim, e->shape, a, sizeof a);
        dm_shape_str(ndim, shape, b, sizeof b);
        return dm_fail(err, "%s: tensor '%s' (as '%s') has shape %s, the model config needs %s",
                       file, e->src->name, name, a, b);
    }
    if (!dm_dtype_is_float(e->src->dtype))
        return dm_fail(err, "%s: tensor '%s' has dtype %s, expected a float type", file,
                       e->src->name, dm_dtype_name(e->src->dtype));
    if (!e->checked) {
        size_t n;
        const char *src = source_bytes(e, &n);
        int64_t bad = first_nonfinite(e->src->dtype, src, n);
        if (bad >= 0)
            return dm_fail(err, "%s: tensor '%s' has a NaN or Inf value (element %lld of %zu)",
                           file, e->src->name, (long long)bad, n);
        e->checked = 1;
        /* the scan read every page: hand them back, so loading a model costs no resident
         * memory and what stays resident is what the networks read (most is converted to
         * bf16 or f32 and never read from the file again) */
        if (e->src->mapped) dm_pages_drop(src, n * dm_dtype_size(e->src->dtype));
    }
    *out = e;
    return DM_OK;
}

void dm_weights_drop_pages(const dm_weights *w, const char *prefix) {
    size_t k = strlen(prefix), n;
    for (int i = 0; i < w->n; i++) {
        const entry *e = &w->e[i];
        if (e->src->mapped && !e->f32 && !strncmp(e->name, prefix, k)) {
            const char *src = source_bytes(e, &n);
            dm_pages_drop(src, n * dm_dtype_size(e->src->dtype));
        }
    }
}

void dm_weights_set_lazy_deltas(dm_weights *w, int lazy) {
    w->lazy_deltas = lazy;
}

int dm_weights_can_delta(const dm_weights *w, const char *name) {
    const entry *e = find(w, name);
    return w->lazy_deltas && e && !e->transposed && (e->ndim == 2 || e->ndim == 4);
}

dm_status dm_weights_add_delta(dm_weights *w, const char *name, float *up, float *down, int r,
                               float coef, dm_error *err) {
    entry *e = find(w, name);
    if (!dm_weights_can_delta(w, name)) {
        free(up), free(down);
        return dm_fail(err, "'%s' takes no kept-apart LoRA delta", name);
    }
    int64_t K = 1;
    for (int i = 1; i < e->ndim; i++) K *= e->shape[i];
    struct lazy *l = e->lazy;
    if (!l && (l = calloc(1, sizeof *l))) l->patch = (dm_w_patch){apply_deltas, l};
    delta *d = l ? realloc(l->d, sizeof *d * (size_t)(l->n + 1)) : NULL;
    if (!d) {
        if (l && !e->lazy) free(l);
        free(up), free(down);
        return dm_fail(err, "out of memory for the LoRA of '%s'", name);
    }
    e->lazy = l, l->d = d;
    l->d[l->n++] = (delta){up, down, (int)e->shape[0], (int)K, r, coef};
    if (l->merged) /* a copy with the earlier deltas exists: this one goes into it too */
        dm_sgemm(0, 0, (int)e->shape[0], (int)K, r, coef, up, r, down, (int)K, 1.0f, e->f32,
                 (int)K);
    return DM_OK;
}

void dm_weights_set_keep_half(dm_weights *w, int keep_half) {
    w->keep_half = keep_half;
}
int dm_weights_keep_half(const dm_weights *w) {
    return w->keep_half;
}

void dm_weights_set_dnnl(dm_weights *w, dm_dnnl *d) {
    w->dnnl = d;
}

/* e's f32 values as stored (converted / transposed once into a copy when needed), without
 * its lazy deltas */
static dm_status serve_f32(dm_weights *w, entry *e, const float **out, dm_error *err) {
    const char *file = e->file ? e->file : "checkpoint";
    if (!e->data) {
        size_t n;
        const char *src = source_bytes(e, &n);
        if (e->src->dtype == DM_F32 && !e->transposed && ((uintptr_t)src & 3) == 0) {
            e->data = (const float *)src;
        } else {
            e->f32 = malloc(n * sizeof(float) + 1);
            if (!e->f32)
                return dm_fail(err, "%s: out of memory converting '%s'", file, e->src->name);
            dm_convert_to_f32(e->src->dtype, src, n, e->f32);
            if (e->transposed) { /* out[i][j] = src[j][i] (OpenCLIP's x @ text_projection) */
                size_t R = (size_t)e->shape[0], C = (size_t)e->shape[1];
                float *t = malloc(n * sizeof(float) + 1);
                if (!t)
                    return dm_fail(err, "%s: out of memory converting '%s'", file, e->src->name);
                for (size_t i = 0; i < R; i++)
                    for (size_t j = 0; j < C; j++) t[i * C + j] = e->f32[j * R + i];
                free(e->f32);
                e->f32 = t;
            }
            w->converted += n * sizeof(float);
            e->data = e->f32;
        }
    }
    *out = e->data;
    return DM_OK;
}

/* out (already filled) gets its bf16 preparation when the store has a oneDNN context. */
static dm_status attach_prep(dm_weights *w, const entry *e, int ndim, const int64_t *shape,
                             int mapped, dm_w *out, dm_error *err) {
    if (!w->dnnl || (ndim != 2 && ndim != 4)) return DM_OK;
    int k = ndim == 4 ? (int)shape[2] : 0;
    if (ndim == 4 && shape[2] != shape[3]) return DM_OK; /* only square kernels run as convs */
    out->prep = dm_dnnl_prep(w->dnnl, *out, (int)shape[0], (int)shape[1], k, mapped);
    if (!out->prep) return dm_fail(err, "out of memory preparing '%s'", e->name);
    return DM_OK;
}

dm_status dm_weights_get_w(dm_weights *w, const char *name, int ndim, const int64_t *shape,
                           dm_w *out, dm_error *err) {
    *out = (dm_w){0};
    entry *e;
    DM_TRY(lookup(w, name, ndim, shape, &e, err));
    dm_dtype dt = e->src->dtype;
    /* bf16 runs convert from the file's bits once, into oneDNN's layout: no f32 copy */
    if ((w->keep_half || w->dnnl) && !e->data && !e->transposed &&
        (dt == DM_F16 || dt == DM_BF16)) {
        size_t n;
        const char *src = source_bytes(e, &n);
        if (((uintptr_t)src & 1) == 0) {
            out->half = (const uint16_t *)(const void *)src;
            out->bf16 = dt == DM_BF16;
            if (e->lazy && !e->lazy->merged) out->patch = &e->lazy->patch;
            if (n > w->half_max) w->half_max = n;
            return attach_prep(w, e, ndim, shape, e->src->mapped, out, err);
        }
    }
    DM_TRY(serve_f32(w, e, &out->f32, err));
    if (e->lazy && !e->lazy->merged) {
        size_t n;
        source_bytes(e, &n);
        out->patch = &e->lazy->patch;
        if (n > w->half_max) w->half_max = n; /* the patched copy is made in scratch */
    }
    return attach_prep(w, e, ndim, shape, e->f32 == NULL && e->src->mapped, out, err);
}

dm_status dm_weights_get(dm_weights *w, const char *name, int ndim, const int64_t *shape,
                         const float **out, dm_error *err) {
    entry *e;
    DM_TRY(lookup(w, name, ndim, shape, &e, err));
    if (e->lazy && !e->lazy->merged) { /* a plain f32 pointer is asked for: merge them now */
        float *W;
        int nd;
        const int64_t *sh;
        DM_TRY(dm_weights_get_mutable(w, name, &W, &nd, &sh, err));
    }
    return serve_f32(w, e, out, err);
}

dm_status dm_weights_get_mutable(dm_weights *w, const char *name, float **out, int *ndim,
                                 const int64_t **shape, dm_error *err) {
    entry *e = find(w, name);
    if (!e) return dm_fail(err, "checkpoint has no weight '%s'", name);
    const float *d; /* materialised as dm_weights_get serves it (converted, transposed) */
    DM_TRY(lookup(w, name, e->ndim, e->shape, &e, err));
    DM_TRY(serve_f32(w, e, &d, err));
    if (!e->f32) { /* served from the read-only mapping: take a private copy */
        size_t n = 1;
        for (int i = 0; i < e->ndim; i++) n *= (size_t)e->shape[i];
        e->f32 = malloc(n * sizeof(float) + 1);
        if (!e->f32)
            return dm_fail(err, "%s: out of memory copying '%s'", e->file ? e->file : "checkpoint",
                           e->src->name);
        memcpy(e->f32, d, n * sizeof(float));
        w->converted += n * sizeof(float);
        e->data = e->f32;
    }
    if (e->lazy && !e->lazy->merged) { /* deltas recorded before: into the copy now, once */
        apply_deltas(e->lazy, e->f32);
        e->lazy->merged = 1;
    }
    *out = e->f32;
    *ndim = e->ndim;
    *shape = e->shape;
    return DM_OK;
}

size_t dm_weights_half_max(const dm_weights *w) {
    return w->half_max;
}

size_t dm_weights_converted_bytes(const dm_weights *w) {
    return w->converted;
}
int dm_weights_count(const dm_weights *w) {
    return w->n;
}
const char *dm_weights_name(const dm_weights *w, int i) {
    return w->e[i].name;
}
