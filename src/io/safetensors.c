#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/file.h"

/* A header larger than this is refused before it is parsed: real checkpoints stay far below. */
#define DM_ST_MAX_HEADER (256u << 20)

struct dm_safetensors {
    char *path;
    void *map; /* whole-file mapping (NULL for a caller's buffer) */
    size_t map_len;
    const uint8_t *data; /* start of the data area */
    size_t data_len;
    int n;
    dm_st_tensor *t; /* sorted by name */
    char *names;     /* storage for all names */
    int n_meta;
    char **meta_kv; /* key0, value0, key1, ... */
};

static const struct {
    const char *name;
    dm_dtype dtype;
    size_t size;
} dtypes[] = {
    {"F32", DM_F32, 4}, {"F16", DM_F16, 2},   {"BF16", DM_BF16, 2}, {"F64", DM_F64, 8},
    {"I64", DM_I64, 8}, {"I32", DM_I32, 4},   {"I16", DM_I16, 2},   {"I8", DM_I8, 1},
    {"U8", DM_U8, 1},   {"BOOL", DM_BOOL, 1},
};

size_t dm_dtype_size(dm_dtype t) {
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (dtypes[i].dtype == t) return dtypes[i].size;
    return 0;
}

const char *dm_dtype_name(dm_dtype t) {
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (dtypes[i].dtype == t) return dtypes[i].name;
    return "?";
}

bool dm_dtype_is_float(dm_dtype t) {
    return t == DM_F32 || t == DM_F16 || t == DM_BF16 || t == DM_F64;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const dm_st_tensor *)a)->name, ((const dm_st_tensor *)b)->name);
}

typedef struct {
    size_t begin, end;
    const char *name;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Reads a JSON number that must be a non-negative integer representable exactly. */
static bool json_uint(const cJSON *v, uint64_t limit, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0) || d != floor(d) || d > 9007199254740992.0 || d > (double)limit) return false;
    *out = (uint64_t)d;
    return true;
}

static dm_status parse(dm_safetensors *st, const uint8_t *buf, size_t len, dm_error *err) {
    const char *p = st->path;
    if (len < 8) return dm_fail(err, "%s: truncated: %zu bytes, need at least 8", p, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > len - 8)
        return dm_fail(err, "%s: header length %llu exceeds the file (%zu bytes)", p,
                       (unsigned long long)hlen, len);
    if (hlen > DM_ST_MAX_HEADER)
        return dm_fail(err, "%s: header length %llu is larger than the %u-byte limit", p,
                       (unsigned long long)hlen, DM_ST_MAX_HEADER);
    if (hlen < 2) return dm_fail(err, "%s: header is not a JSON object", p);
    st->data = buf + 8 + hlen;
    st->data_len = len - 8 - (size_t)hlen;

    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!root) return dm_fail(err, "%s: header is not valid JSON", p);
    dm_status s = DM_OK;
    if (!cJSON_IsObject(root)) {
        s = dm_fail(err, "%s: header is not a JSON object", p);
        goto done;
    }
    int n = 0, n_meta = 0;
    size_t names_len = 0;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!e->string) {
            s = dm_fail(err, "%s: header entry without a name", p);
            goto done;
        }
        if (strcmp(e->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(e)) {
                s = dm_fail(err, "%s: __metadata__ is not an object", p);
                goto done;
            }
            for (cJSON *m = e->child; m; m = m->next) {
                if (!m->string || !cJSON_IsString(m)) {
                    s = dm_fail(err, "%s: __metadata__ value of '%s' is not a string", p,
                                m->string ? m->string : "?");
                    goto done;
                }
                n_meta++;
            }
            continue;
        }
        n++;
        names_len += strlen(e->string) + 1;
    }
    st->t = calloc((size_t)n + 1, sizeof *st->t);
    st->names = malloc(names_len + 1);
    st->meta_kv = calloc((size_t)n_meta * 2 + 1, sizeof *st->meta_kv);
    span *spans = calloc((size_t)n + 1, sizeof *spans);
    if (!st->t || !st->names || !st->meta_kv || !spans) {
        free(spans);
        s = dm_fail(err, "%s: out of memory reading the header", p);
        goto done;
    }
    char *np = st->names;
    for (cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__") == 0) {
            for (cJSON *m = e->child; m; m = m->next) {
                st->meta_kv[st->n_meta * 2] = strdup(m->string);
                st->meta_kv[st->n_meta * 2 + 1] = strdup(m->valuestring);
                st->n_meta++;
            }
            continue;
        }
        const char *name = e->string;
        dm_st_tensor *t = &st->t[st->n];
        if (!cJSON_IsObject(e)) {
            s = dm_fail(err, "%s: tensor '%s': entry is not an object", p, name);
            break;
        }
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
        if (!cJSON_IsString(dt)) {
            s = dm_fail(err, "%s: tensor '%s': missing dtype", p, name);
            break;
        }
        size_t esize = 0;
        for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
            if (strcmp(dt->valuestring, dtypes[i].name) == 0)
                t->dtype = dtypes[i].dtype, esize = dtypes[i].size;
        if (!esize) {
            s = dm_fail(err, "%s: tensor '%s': unknown dtype '%.32s'", p, name, dt->valuestring);
            break;
        }
        if (!cJSON_IsArray(shape)) {
            s = dm_fail(err, "%s: tensor '%s': missing shape", p, name);
            break;
        }
        int nd = cJSON_GetArraySize(shape);
        if (nd > DM_MAX_DIMS) {
            s = dm_fail(err, "%s: tensor '%s': %d dimensions, at most %d supported", p, name, nd,
                        DM_MAX_DIMS);
            break;
        }
        /* numel * esize must fit: check each multiplication against the data area size */
        uint64_t numel = 1;
        bool overflow = false;
        int d = 0;
        for (const cJSON *v = shape->child; v; v = v->next, d++) {
            uint64_t dim;
            if (!json_uint(v, INT64_MAX, &dim)) {
                s = dm_fail(err, "%s: tensor '%s': shape entry %d is not a non-negative integer", p,
                            name, d);
                goto tensors_done;
            }
            t->shape[d] = (int64_t)dim;
            if (dim != 0 && numel > UINT64_MAX / dim)
                overflow = true;
            else
                numel *= dim;
        }
        if (!overflow && numel > UINT64_MAX / esize) overflow = true;
        t->ndim = nd;
        if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2) {
            s = dm_fail(err, "%s: tensor '%s': data_offsets must be [begin, end]", p, name);
            break;
        }
        uint64_t b, en;
        if (!json_uint(offs->child, UINT64_MAX, &b) ||
            !json_uint(offs->child->next, UINT64_MAX, &en) || b > en) {
            s = dm_fail(err, "%s: tensor '%s': data_offsets are not 0 <= begin <= end", p, name);
            break;
        }
        if (en > st->data_len) {
            s = dm_fail(err,
                        "%s: tensor '%s': data_offsets [%llu, %llu] past the end of the data "
                        "(%zu bytes; file truncated?)",
                        p, name, (unsigned long long)b, (unsigned long long)en, st->data_len);
            break;
        }
        if (overflow || numel * esize != en - b) {
            s = dm_fail(err, "%s: tensor '%s': shape needs %s bytes but data_offsets span %llu", p,
                        name, overflow ? "more than 2^64" : "a different number of",
                        (unsigned long long)(en - b));
            break;
        }
        size_t nl = strlen(name);
        memcpy(np, name, nl + 1);
        t->name = np;
        np += nl + 1;
        t->numel = (int64_t)numel;
        t->data = st->data + b;
        t->mapped = st->map != NULL;
        t->nbytes = (size_t)(en - b);
        spans[st->n] = (span){(size_t)b, (size_t)en, t->name};
        st->n++;
    }
tensors_done:
    if (s == DM_OK) {
        qsort(st->t, (size_t)st->n, sizeof *st->t, cmp_tensor_name);
        for (int i = 1; i < st->n; i++)
            if (strcmp(st->t[i].name, st->t[i - 1].name) == 0) {
                s = dm_fail(err, "%s: tensor '%s' appears twice in the header", p, st->t[i].name);
                break;
            }
    }
    if (s == DM_OK) {
        /* empty spans overlap nothing; compare each span with the last non-empty one */
        qsort(spans, (size_t)st->n, sizeof *spans, cmp_span);
        const span *prev = NULL;
        for (int i = 0; i < st->n; i++) {
            if (spans[i].begin == spans[i].end) continue;
            if (prev && spans[i].begin < prev->end) {
                s = dm_fail(err, "%s: tensors '%s' and '%s' overlap in the data area", p,
                            prev->name, spans[i].name);
                break;
            }
            prev = &spans[i];
        }
    }
    free(spans);
done:
    cJSON_Delete(root);
    return s;
}

static dm_status open_common(dm_safetensors *st, const void *buf, size_t len, dm_safetensors **out,
                             dm_error *err) {
    dm_status s = parse(st, buf, len, err);
    if (s != DM_OK) {
        dm_st_close(st);
        return s;
    }
    *out = st;
    return DM_OK;
}

dm_status dm_st_open_buffer(const void *buf, size_t len, const char *label, dm_safetensors **out,
                            dm_error *err) {
    *out = NULL;
    dm_safetensors *st = calloc(1, sizeof *st);
    if (!st) return dm_fail(err, "%s: out of memory", label);
    st->path = strdup(label);
    return open_common(st, buf, len, out, err);
}

dm_status dm_st_open(const char *path, dm_safetensors **out, dm_error *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return dm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return dm_fail(err, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    if (len < 8) {
        close(fd);
        return dm_fail(err, "%s: truncated: %zu bytes, need at least 8", path, len);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return dm_fail(err, "%s: cannot mmap: %s", path, strerror(errno));
    dm_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        munmap(map, len);
        return dm_fail(err, "%s: out of memory", path);
    }
    st->path = strdup(path);
    st->map = map;
    st->map_len = len;
    return open_common(st, map, len, out, err);
}

void dm_st_close(dm_safetensors *st) {
    if (!st) return;
    if (st->map) munmap(st->map, st->map_len);
    for (int i = 0; i < st->n_meta * 2; i++) free(st->meta_kv[i]);
    free(st->meta_kv);
    free(st->t);
    free(st->names);
    free(st->path);
    free(st);
}

const char *dm_st_path(const dm_safetensors *st) {
    return st->path;
}
int dm_st_count(const dm_safetensors *st) {
    return st->n;
}
const dm_st_tensor *dm_st_at(const dm_safetensors *st, int i) {
    return (i >= 0 && i < st->n) ? &st->t[i] : NULL;
}

const dm_st_tensor *dm_st_find(const dm_safetensors *st, const char *name) {
    dm_st_tensor key = {.name = name};
    return bsearch(&key, st->t, (size_t)st->n, sizeof *st->t, cmp_tensor_name);
}

const char *dm_st_metadata(const dm_safetensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_kv[2 * i], key) == 0) return st->meta_kv[2 * i + 1];
    return NULL;
}

float dm_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0)
            bits = sign;
        else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) man <<= 1, exp--;
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31)
        bits = sign | 0x7f800000u | (man << 13);
    else
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t dm_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* round to nearest even */
    return (uint16_t)half;
}

float dm_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void dm_convert_to_f32(dm_dtype dtype, const void *src, size_t n, float *dst) {
    const uint8_t *s = src;
    switch (dtype) {
    case DM_F32:
        memcpy(dst, s, n * 4);
        break;
    case DM_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = dm_f16_to_f32(h);
        }
        break;
    case DM_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = dm_bf16_to_f32(h);
        }
        break;
    case DM_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, s + 8 * i, 8);
            dst[i] = (float)d;
        }
        break;
    default:
        memset(dst, 0, n * 4);
        break;
    }
}

dm_status dm_st_read_f32(const dm_st_tensor *t, float *dst, dm_error *err) {
    if (!dm_dtype_is_float(t->dtype))
        return dm_fail(err, "tensor '%s': dtype %s, expected a float type", t->name,
                       dm_dtype_name(t->dtype));
    dm_convert_to_f32(t->dtype, t->data, (size_t)t->numel, dst);
    return DM_OK;
}

dm_status dm_st_read_i64(const dm_st_tensor *t, int64_t *dst, dm_error *err) {
    const uint8_t *s = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        switch (t->dtype) {
        case DM_I64:
            memcpy(&dst[i], s + 8 * i, 8);
            break;
        case DM_I32: {
            int32_t v;
            memcpy(&v, s + 4 * i, 4);
            dst[i] = v;
        } break;
        case DM_I16: {
            int16_t v;
            memcpy(&v, s + 2 * i, 2);
            dst[i] = v;
        } break;
        case DM_I8:
            dst[i] = (int8_t)s[i];
            break;
        case DM_U8:
        case DM_BOOL:
            dst[i] = s[i];
            break;
        default:
            return dm_fail(err, "tensor '%s': dtype %s, expected an integer type", t->name,
                           dm_dtype_name(t->dtype));
        }
    }
    return DM_OK;
}

/* ---------------------------------------------------------------- writer */

typedef struct {
    char *name;
    dm_dtype dtype;
    int ndim;
    int64_t shape[DM_MAX_DIMS];
    const void *data;
    size_t nbytes;
} w_entry;

struct dm_st_writer {
    w_entry *e;
    int n, cap;
    cJSON *meta;
};

dm_st_writer *dm_st_writer_new(void) {
    dm_st_writer *w = calloc(1, sizeof *w);
    if (w) w->meta = cJSON_CreateObject();
    return w;
}

dm_status dm_st_writer_add(dm_st_writer *w, const char *name, dm_dtype dtype, int ndim,
                           const int64_t *shape, const void *data, dm_error *err) {
    if (ndim < 0 || ndim > DM_MAX_DIMS) return dm_fail(err, "tensor '%s': bad rank %d", name, ndim);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, name) == 0) return dm_fail(err, "tensor '%s' added twice", name);
    if (w->n == w->cap) {
        int cap = w->cap ? w->cap * 2 : 16;
        w_entry *e = realloc(w->e, (size_t)cap * sizeof *e);
        if (!e) return dm_fail(err, "out of memory");
        w->e = e, w->cap = cap;
    }
    w_entry *e = &w->e[w->n++];
    e->name = strdup(name);
    e->dtype = dtype;
    e->ndim = ndim;
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i], numel *= (size_t)shape[i];
    e->data = data;
    e->nbytes = numel * dm_dtype_size(dtype);
    return DM_OK;
}

dm_status dm_st_writer_add_f32(dm_st_writer *w, const char *name, int ndim, const int64_t *shape,
                               const float *data, dm_error *err) {
    return dm_st_writer_add(w, name, DM_F32, ndim, shape, data, err);
}

void dm_st_writer_meta(dm_st_writer *w, const char *key, const char *value) {
    cJSON_DeleteItemFromObjectCaseSensitive(w->meta, key);
    cJSON_AddStringToObject(w->meta, key, value);
}

dm_status dm_st_write(dm_st_writer *w, const char *path, dm_error *err) {
    cJSON *root = cJSON_CreateObject();
    if (w->meta->child) cJSON_AddItemReferenceToObject(root, "__metadata__", w->meta);
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        w_entry *e = &w->e[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "dtype", dm_dtype_name(e->dtype));
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < e->ndim; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)e->shape[d]));
        cJSON *of = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + e->nbytes)));
        off += e->nbytes;
        cJSON_AddItemToObject(root, e->name, o);
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return dm_fail(err, "%s: out of memory writing the header", path);
    size_t hl = strlen(json), padded = (hl + 7) & ~(size_t)7;
    dm_atomic_file af;
    dm_status s = dm_atomic_open(&af, path, err);
    if (s != DM_OK) {
        free(json);
        return s;
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    fwrite(len8, 1, 8, af.fp);
    fwrite(json, 1, hl, af.fp);
    for (size_t i = hl; i < padded; i++) fputc(' ', af.fp);
    free(json);
    for (int i = 0; i < w->n; i++)
        if (w->e[i].nbytes) fwrite(w->e[i].data, 1, w->e[i].nbytes, af.fp);
    return dm_atomic_commit(&af, err);
}

void dm_st_writer_free(dm_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->e[i].name);
    free(w->e);
    cJSON_Delete(w->meta);
    free(w);
}
