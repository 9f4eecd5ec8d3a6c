/* LoRA merge: group the file's tensors into modules (down, up, alpha), find each module's weight
 * in the store, add scale * (alpha / rank) * up @ down to an f32 copy of it (or, in bf16 runs,
 * record it with the weight, dm_weights_add_delta). */
#include "model/lora.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/names.h"

enum { PART_DOWN, PART_UP, PART_ALPHA };

/* Tensor name endings of the known namings -> which part of a module it is. */
static const struct {
    const char *suffix;
    int part;
} suffixes[] = {
    {".lora_down.weight", PART_DOWN},
    {".lora_up.weight", PART_UP},
    {".alpha", PART_ALPHA},
    {".lora.down.weight", PART_DOWN},
    {".lora.up.weight", PART_UP},
    {".lora_linear_layer.down.weight", PART_DOWN},
    {".lora_linear_layer.up.weight", PART_UP},
    {".lora_A.weight", PART_DOWN},
    {".lora_B.weight", PART_UP},
};

/* Module prefixes -> the store's component prefix. kohya's modules are module paths with '.'
 * replaced by '_' (looked up through an index); diffusers' are the paths themselves. */
static const struct {
    const char *lora, *store;
    int kohya;
} prefixes[] = {
    {"lora_unet_", "unet.", 1},
    {"lora_te_", "text.", 1},
    {"lora_te1_", "text.", 1},  /* SDXL: first text encoder */
    {"lora_te2_", "text2.", 1}, /* SDXL: second text encoder */
    {"unet.", "unet.", 0},
    {"text_encoder.", "text.", 0},
    {"text_encoder_2.", "text2.", 0},
};
#define N_PREFIXES (sizeof prefixes / sizeof *prefixes)

typedef struct {
    char key[512]; /* module name in the file (suffix removed) */
    const dm_st_tensor *part[3];
} module;

typedef struct {
    char *kohya;       /* lora_unet_down_blocks_0_... */
    const char *store; /* unet.down_blocks.0....weight */
} kohya_entry;

static int cmp_module(const void *a, const void *b) {
    return strcmp(((const module *)a)->key, ((const module *)b)->key);
}
static int cmp_kohya(const void *a, const void *b) {
    return strcmp(((const kohya_entry *)a)->kohya, ((const kohya_entry *)b)->kohya);
}

/* kohya_prefix + the path of store name (its component prefix store_prefix and ".weight" cut,
 * '.' -> '_'); 0 when name is not such a weight or the result does not fit cap. */
static size_t kohya_spelling(const char *name, const char *store_prefix, const char *kohya_prefix,
                             char *out, size_t cap) {
    size_t len = strlen(name), sl = strlen(store_prefix), pl = strlen(kohya_prefix);
    if (len < sl + 8 || strncmp(name, store_prefix, sl) || strcmp(name + len - 7, ".weight"))
        return 0;
    size_t body = len - 7 - sl;
    if (pl + body + 1 > cap) return 0;
    memcpy(out, kohya_prefix, pl);
    for (size_t c = 0; c < body; c++) out[pl + c] = name[sl + c] == '.' ? '_' : name[sl + c];
    out[pl + body] = 0;
    return pl + body;
}

size_t dm_lora_kohya_name(const char *store_name, char *out, size_t cap) {
    for (size_t p = 0; p < N_PREFIXES; p++) {
        if (!prefixes[p].kohya) continue;
        size_t n = kohya_spelling(store_name, prefixes[p].store, prefixes[p].lora, out, cap);
        if (n) return n;
    }
    return 0;
}

/* kohya name of every "unet.*.weight" / "text.*.weight" of the store (under each kohya prefix
 * of its component), sorted. */
static kohya_entry *kohya_index(const dm_weights *w, int *count) {
    int n = dm_weights_count(w), k = 0;
    kohya_entry *ix = calloc((size_t)n * N_PREFIXES + 1, sizeof *ix);
    if (!ix) return NULL;
    char buf[1024];
    for (int i = 0; i < n; i++) {
        const char *name = dm_weights_name(w, i);
        for (size_t p = 0; p < N_PREFIXES; p++) {
            if (!prefixes[p].kohya ||
                !kohya_spelling(name, prefixes[p].store, prefixes[p].lora, buf, sizeof buf))
                continue;
            if (!(ix[k].kohya = strdup(buf))) break;
            ix[k++].store = name;
        }
    }
    qsort(ix, (size_t)k, sizeof *ix, cmp_kohya);
    *count = k;
    return ix;
}

static void free_index(kohya_entry *ix, int n) {
    for (int i = 0; ix && i < n; i++) free(ix[i].kohya);
    free(ix);
}

static const char *kohya_find(const char *kohya, const kohya_entry *ix, int nix) {
    kohya_entry probe = {.kohya = (char *)kohya}, *hit;
    hit = bsearch(&probe, ix, (size_t)nix, sizeof *ix, cmp_kohya);
    return hit ? hit->store : NULL;
}

/* The UNet's layers_per_block, counted from its first down block's res blocks (0: no UNet). */
static int unet_layers_per_block(const dm_weights *w) {
    char name[96];
    int L = 0;
    while (L < 64 && (snprintf(name, sizeof name, "unet.down_blocks.0.resnets.%d.conv1.weight", L),
                      dm_weights_has(w, name)))
        L++;
    return L;
}

/* The store name of a module's weight, or NULL. L: the UNet's layers_per_block. */
static const char *resolve(const dm_weights *w, int L, const char *key, const kohya_entry *ix,
                           int nix, char *buf, size_t cap, int *is_text) {
    for (size_t p = 0; p < N_PREFIXES; p++) {
        size_t pl = strlen(prefixes[p].lora);
        if (strncmp(key, prefixes[p].lora, pl)) continue;
        *is_text = prefixes[p].store[0] == 't';
        if (prefixes[p].kohya) {
            const char *hit = kohya_find(key, ix, nix);
            /* kohya's SDXL files name UNet modules in the LDM numbering (input_blocks_4_1_...) */
            if (!hit && !strcmp(prefixes[p].store, "unet.") && L > 0 &&
                dm_kohya_ldm_unet(key + pl, L, buf + pl, cap - pl)) {
                memcpy(buf, prefixes[p].lora, pl);
                hit = kohya_find(buf, ix, nix);
            }
            return hit;
        }
        snprintf(buf, cap, "%s%s.weight", prefixes[p].store, key + pl);
        return dm_weights_has(w, buf) ? buf : NULL;
    }
    return NULL;
}

/* W [out, K] += factor * up [out, r] @ down [r, K], after checking the shapes fit. */
static dm_status merge_module(dm_weights *w, const char *path, const module *m, const char *target,
                              float scale, dm_error *err) {
    const dm_st_tensor *down = m->part[PART_DOWN], *up = m->part[PART_UP],
                       *alpha = m->part[PART_ALPHA];
    int nd;
    const int64_t *ws = dm_weights_shape(w, target, &nd);
    if (!ws)
        return dm_fail(err, "%s: LoRA '%s': the model has no weight '%s'", path, m->key, target);
    int64_t out = ws[0], K = 1;
    for (int i = 1; i < nd; i++) K *= ws[i];
    int64_t r = down->ndim >= 1 ? down->shape[0] : 0;
    int64_t kd = 1, ku = 1;
    for (int i = 1; i < down->ndim; i++) kd *= down->shape[i];
    for (int i = 2; i < up->ndim; i++) ku *= up->shape[i];
    /* a kxk kernel needs a kxk down (LoCon); 1x1 convs and linears take either form */
    int kernel_ok = 1;
    if (nd == 4 && (ws[2] > 1 || ws[3] > 1))
        kernel_ok = down->ndim == 4 && down->shape[2] == ws[2] && down->shape[3] == ws[3];
    if (down->ndim < 2 || up->ndim < 2 || r < 1 || up->shape[0] != out || up->shape[1] != r ||
        ku != 1 || kd != K || !kernel_ok) {
        char a[96], b[96], c[96];
        dm_shape_str(down->ndim, down->shape, a, sizeof a);
        dm_shape_str(up->ndim, up->shape, b, sizeof b);
        dm_shape_str(nd, ws, c, sizeof c);
        return dm_fail(err,
                       "%s: LoRA '%s' (down %s, up %s) does not fit the model's '%s' %s "
                       "(LoRA for another model?)",
                       path, m->key, a, b, target, c);
    }
    float a = (float)r;
    if (alpha) {
        if (alpha->numel != 1) return dm_fail(err, "%s: '%s' is not a scalar", path, alpha->name);
        DM_TRY(dm_st_read_f32(alpha, &a, err));
        if (!isfinite(a)) return dm_fail(err, "%s: '%s' is not finite", path, alpha->name);
    }
    float *d = malloc(sizeof(float) * (size_t)(r * K)),
          *u = malloc(sizeof(float) * (size_t)(out * r));
    dm_status s = DM_OK;
    if (!d || !u) s = dm_fail(err, "%s: out of memory for '%s'", path, m->key);
    if (!s) s = dm_st_read_f32(down, d, err);
    if (!s) s = dm_st_read_f32(up, u, err);
    /* W = W + scale * (alpha / rank) * (up.flatten(1) @ down.flatten(1)).reshape(W.shape):
     * into a private f32 copy now, or (bf16 runs) kept apart and applied as the weight is
     * prepared, so no f32 copy of it exists */
    float coef = scale * (a / (float)r), *W;
    if (!s && dm_weights_can_delta(w, target))
        return dm_weights_add_delta(w, target, u, d, (int)r, coef, err);
    int nd2;
    const int64_t *ws2;
    if (!s) s = dm_weights_get_mutable(w, target, &W, &nd2, &ws2, err);
    if (!s) dm_sgemm(0, 0, (int)out, (int)K, (int)r, coef, u, (int)r, d, (int)K, 1.0f, W, (int)K);
    free(d), free(u);
    return s;
}

dm_status dm_lora_merge(dm_weights *w, const char *path, float scale, dm_lora_info *info,
                        dm_error *err) {
    if (info) *info = (dm_lora_info){0};
    if (!isfinite(scale)) return dm_fail_code(err, DM_EUSAGE, "%s: LoRA scale is not finite", path);
    dm_safetensors *st;
    DM_TRY(dm_st_open(path, &st, err));
    int n = dm_st_count(st), nm = 0, nix = 0;
    module *mods = calloc((size_t)n + 1, sizeof *mods);
    kohya_entry *ix = kohya_index(w, &nix);
    int L = unet_layers_per_block(w);
    dm_status s = DM_OK;
    if (!mods || !ix) s = dm_fail(err, "%s: out of memory", path);
    if (!s && n == 0) s = dm_fail(err, "%s: holds no tensors (not a LoRA file)", path);
    /* group the tensors into modules */
    for (int i = 0; !s && i < n; i++) {
        const dm_st_tensor *t = dm_st_at(st, i);
        size_t len = strlen(t->name);
        int part = -1;
        size_t cut = 0;
        for (size_t k = 0; k < sizeof suffixes / sizeof *suffixes && part < 0; k++) {
            size_t sl = strlen(suffixes[k].suffix);
            if (len > sl && !strcmp(t->name + len - sl, suffixes[k].suffix))
                part = suffixes[k].part, cut = len - sl;
        }
        if (part < 0 || cut >= sizeof mods->key) {
            s = dm_fail(err,
                        "%s: tensor '%s' is of no LoRA format this build reads (kohya lora_down/"
                        "lora_up/alpha, diffusers lora.down/up, PEFT lora_A/B)",
                        path, t->name);
            break;
        }
        if (!dm_dtype_is_float(t->dtype)) {
            s = dm_fail(err, "%s: tensor '%s' has dtype %s, expected a float type", path, t->name,
                        dm_dtype_name(t->dtype));
            break;
        }
        memcpy(mods[nm].key, t->name, cut);
        mods[nm].key[cut] = 0;
        mods[nm].part[part] = t;
        nm++;
    }
    if (!s) {
        /* merge entries of the same key */
        qsort(mods, (size_t)nm, sizeof *mods, cmp_module);
        int k = 0;
        for (int i = 0; i < nm && !s; i++) {
            if (k > 0 && !strcmp(mods[k - 1].key, mods[i].key)) {
                for (int p = 0; p < 3; p++) {
                    if (!mods[i].part[p]) continue;
                    if (mods[k - 1].part[p])
                        s = dm_fail(err, "%s: LoRA '%s' has two %s tensors", path, mods[i].key,
                                    p == PART_ALPHA ? "alpha"
                                    : p == PART_UP  ? "up"
                                                    : "down");
                    mods[k - 1].part[p] = mods[i].part[p];
                }
            } else {
                mods[k++] = mods[i];
            }
        }
        nm = k;
    }
    /* the weight each module went to: a module named twice (in two numberings) is refused */
    char **done = s ? NULL : calloc((size_t)nm + 1, sizeof *done);
    if (!s && !done) s = dm_fail(err, "%s: out of memory", path);
    for (int i = 0; !s && i < nm; i++) {
        const module *m = &mods[i];
        if (!m->part[PART_DOWN] || !m->part[PART_UP]) {
            s = dm_fail(err, "%s: LoRA '%s' lacks its %s weight", path, m->key,
                        m->part[PART_DOWN] ? "up" : "down");
            break;
        }
        char buf[600];
        int is_text = 0;
        const char *target = resolve(w, L, m->key, ix, nix, buf, sizeof buf, &is_text);
        if (!target) {
            s = dm_fail(err,
                        "%s: LoRA key '%s' matches no weight of the model (LoRA for another "
                        "model?)",
                        path, m->key);
            break;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(done[j], target)) {
                s = dm_fail(err, "%s: LoRA keys '%s' and '%s' both name the weight '%s'", path,
                            mods[j].key, m->key, target);
                break;
            }
        if (!s && !(done[i] = strdup(target))) s = dm_fail(err, "%s: out of memory", path);
        if (!s) s = merge_module(w, path, m, target, scale, err);
        if (!s && info) {
            if (is_text)
                info->n_text++;
            else
                info->n_unet++;
        }
    }
    for (int i = 0; done && i < nm; i++) free(done[i]);
    free(done);
    free_index(ix, nix);
    free(mods);
    dm_st_close(st);
    return s;
}

dm_status dm_lora_parse_spec(const char *spec, char *path, size_t cap, float *scale,
                             dm_error *err) {
    *scale = 1.0f;
    const char *colon = strrchr(spec, ':');
    size_t plen = strlen(spec);
    if (colon && colon[1]) {
        /* FILE:SCALE only when what follows the last ':' is a number (paths may hold ':') */
        char *end;
        errno = 0;
        double v = strtod(colon + 1, &end);
        if (!*end && errno == 0) {
            if (!isfinite(v))
                return dm_fail_code(err, DM_EUSAGE, "--lora %s: scale is not finite", spec);
            *scale = (float)v;
            plen = (size_t)(colon - spec);
        }
    }
    if (plen == 0 || plen >= cap)
        return dm_fail_code(err, DM_EUSAGE, "--lora '%s': expected FILE[:SCALE]", spec);
    memcpy(path, spec, plen);
    path[plen] = 0;
    return DM_OK;
}
