/* The toy-shapes protocol, part 1: the colour oracle, the prompts, generating one sample with its
 * attention, and a cache file of samples (toy_oracle.h). */
#include "dataset/judge/toy_oracle.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "io/file.h"

/* ------------------------------------------------------------------ names and colours */

static const char *const color_names[DM_TOY_N_COLORS] = {"red",    "green",  "blue",
                                                         "yellow", "purple", "orange"};
/* the README's RGB values of the colours */
static const uint8_t color_rgb[DM_TOY_N_COLORS][3] = {
    {220, 30, 30}, {30, 180, 40}, {30, 60, 220}, {235, 215, 20}, {140, 40, 190}, {245, 130, 20}};
static const char *const shape_names[DM_TOY_N_SHAPES] = {"circle", "square", "triangle", "star",
                                                         "heart"};
static const char *const bg_names[DM_TOY_N_BGS] = {"plain", "noisy", "striped", "gradient"};

const char *dm_toy_color_name(int c) {
    return c >= 0 && c < DM_TOY_N_COLORS ? color_names[c] : "?";
}
const char *dm_toy_shape_name(int s) {
    return s >= 0 && s < DM_TOY_N_SHAPES ? shape_names[s] : "?";
}
const char *dm_toy_bg_name(int b) {
    return b >= 0 && b < DM_TOY_N_BGS ? bg_names[b] : "?";
}

static int find_name(const char *const *names, int n, const char *name) {
    for (int i = 0; name && i < n; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}
int dm_toy_color_index(const char *name) {
    return find_name(color_names, DM_TOY_N_COLORS, name);
}
int dm_toy_shape_index(const char *name) {
    return find_name(shape_names, DM_TOY_N_SHAPES, name);
}
int dm_toy_bg_index(const char *name) {
    return find_name(bg_names, DM_TOY_N_BGS, name);
}

void dm_rgb_to_hsv(uint8_t r8, uint8_t g8, uint8_t b8, float *h, float *s, float *v) {
    float r = r8 / 255.0f, g = g8 / 255.0f, b = b8 / 255.0f;
    float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b)), d = mx - mn;
    float hue = 0;
    if (d > 0) {
        if (mx == r)
            hue = 60.0f * fmodf((g - b) / d, 6.0f);
        else if (mx == g)
            hue = 60.0f * ((b - r) / d + 2.0f);
        else
            hue = 60.0f * ((r - g) / d + 4.0f);
        if (hue < 0) hue += 360.0f;
        if (hue >= 360.0f) hue -= 360.0f;
    }
    *h = hue;
    *s = mx > 0 ? d / mx : 0;
    *v = mx;
}

float dm_toy_color_hue(int c) {
    float h, s, v;
    dm_rgb_to_hsv(color_rgb[c][0], color_rgb[c][1], color_rgb[c][2], &h, &s, &v);
    return h;
}

float dm_hue_distance(float a, float b) {
    float d = fabsf(a - b);
    d = fmodf(d, 360.0f);
    return d > 180.0f ? 360.0f - d : d;
}

enum { ORACLE_HUE_TOL = 22 };
#define ORACLE_MIN_SAT 0.45f
#define ORACLE_MIN_VAL 0.25f

int dm_toy_oracle_pixel(const uint8_t *rgb, int c) {
    float h, s, v;
    dm_rgb_to_hsv(rgb[0], rgb[1], rgb[2], &h, &s, &v);
    return s >= ORACLE_MIN_SAT && v >= ORACLE_MIN_VAL &&
           dm_hue_distance(h, dm_toy_color_hue(c)) <= (float)ORACLE_HUE_TOL;
}

void dm_toy_oracle(const uint8_t *rgb, long n, const int *colors, const int *class_ids, int n_obj,
                   uint8_t *gt) {
    float hue[DM_TOY_MAX_OBJ];
    for (int k = 0; k < n_obj && k < DM_TOY_MAX_OBJ; k++) hue[k] = dm_toy_color_hue(colors[k]);
    for (long i = 0; i < n; i++) {
        const uint8_t *px = rgb + i * 3;
        float h, s, v;
        dm_rgb_to_hsv(px[0], px[1], px[2], &h, &s, &v);
        gt[i] = 0;
        if (s < ORACLE_MIN_SAT || v < ORACLE_MIN_VAL) continue;
        float best = (float)ORACLE_HUE_TOL;
        for (int k = 0; k < n_obj && k < DM_TOY_MAX_OBJ; k++) {
            float d = dm_hue_distance(h, hue[k]);
            if (d <= best) { /* closer colour wins where two hue windows overlap */
                best = d;
                gt[i] = (uint8_t)class_ids[k];
            }
        }
    }
}

/* ------------------------------------------------------------------ prompts */

static void single_prompt(dm_toy_item *it) {
    snprintf(it->prompt, sizeof it->prompt, "a photo of a %s %s on a %s background",
             color_names[it->color[0]], shape_names[it->shape[0]], bg_names[it->bg]);
}

static void double_prompt(dm_toy_item *it) {
    snprintf(it->prompt, sizeof it->prompt, "a photo of a %s %s and a %s %s on a %s background",
             color_names[it->color[0]], shape_names[it->shape[0]], color_names[it->color[1]],
             shape_names[it->shape[1]], bg_names[it->bg]);
}

dm_status dm_toy_load_prompts(const char *path, dm_toy_item **items, int *n, int *steps,
                              float *guidance, dm_error *err) {
    char *text;
    size_t len;
    DM_TRY(dm_read_file(path, &text, &len, err));
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) return dm_fail(err, "%s: not valid JSON", path);
    dm_status st = DM_OK;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "items");
    int count = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    dm_toy_item *out = NULL;
    if (count < 1) {
        st = dm_fail(err, "%s: needs a non-empty \"items\" array", path);
        goto done;
    }
    out = calloc((size_t)count, sizeof *out);
    if (!out) {
        st = dm_fail(err, "%s: out of memory for %d items", path, count);
        goto done;
    }
    for (int i = 0; i < count; i++) {
        const cJSON *o = cJSON_GetArrayItem(arr, i);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "color");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "shape");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "bg");
        const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
        dm_toy_item *it = &out[i];
        it->n_obj = 1;
        it->color[0] = dm_toy_color_index(cJSON_GetStringValue(c));
        it->shape[0] = dm_toy_shape_index(cJSON_GetStringValue(s));
        it->bg = dm_toy_bg_index(cJSON_GetStringValue(b));
        if (it->color[0] < 0 || it->shape[0] < 0 || it->bg < 0 || !cJSON_IsNumber(seed) ||
            seed->valuedouble < 0) {
            st =
                dm_fail(err, "%s: item %d needs a known color, shape, bg and a seed >= 0", path, i);
            goto done;
        }
        it->seed = (uint64_t)seed->valuedouble;
        single_prompt(it);
    }
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(root, "steps");
    const cJSON *jg = cJSON_GetObjectItemCaseSensitive(root, "guidance");
    if (steps) *steps = cJSON_IsNumber(js) ? js->valueint : 25;
    if (guidance) *guidance = cJSON_IsNumber(jg) ? (float)jg->valuedouble : 5.0f;
done:
    cJSON_Delete(root);
    if (st != DM_OK) {
        free(out);
        return st;
    }
    *items = out;
    *n = count;
    return DM_OK;
}

void dm_toy_two_object_items(dm_toy_item *items, int n) {
    /* the 20 ordered shape pairs (s1 != s2), cycled; colours, background and seed from our RNG */
    int pairs[DM_TOY_N_SHAPES * (DM_TOY_N_SHAPES - 1)][2], np = 0;
    for (int a = 0; a < DM_TOY_N_SHAPES; a++)
        for (int b = 0; b < DM_TOY_N_SHAPES; b++)
            if (a != b) pairs[np][0] = a, pairs[np][1] = b, np++;
    dm_rng rng;
    dm_rng_seed(&rng, 20230311); /* fixed: the set must never change */
    for (int i = 0; i < n; i++) {
        dm_toy_item *it = &items[i];
        memset(it, 0, sizeof *it);
        it->n_obj = 2;
        it->shape[0] = pairs[i % np][0];
        it->shape[1] = pairs[i % np][1];
        it->color[0] = (int)(dm_rng_u64(&rng) % DM_TOY_N_COLORS);
        it->color[1] =
            (it->color[0] + 1 + (int)(dm_rng_u64(&rng) % (DM_TOY_N_COLORS - 1))) % DM_TOY_N_COLORS;
        it->bg = (int)(dm_rng_u64(&rng) % DM_TOY_N_BGS);
        it->seed = dm_rng_u64(&rng) % 1000000;
        double_prompt(it);
    }
}

/* ------------------------------------------------------------------ generation */

void dm_toy_sample_maps(const dm_toy_sample *s, dm_attn_map *out) {
    long off = 0;
    for (int k = 0; k < s->K; k++)
        for (int r = 0; r < s->n_res; r++) {
            out[k * s->n_res + r] = (dm_attn_map){s->res_h[r], s->res_w[r], s->maps + off};
            off += (long)s->res_h[r] * s->res_w[r];
        }
}

static long maps_floats(const dm_toy_sample *s) {
    long per = 0;
    for (int r = 0; r < s->n_res; r++) per += (long)s->res_h[r] * s->res_w[r];
    return per * s->K;
}

void dm_toy_sample_free(dm_toy_sample *s) {
    free(s->rgb);
    free(s->gt);
    free(s->maps);
    free(s->selfattn);
    memset(s, 0, sizeof *s);
}

dm_status dm_toy_generate(dm_engine *e, const dm_toy_item *it, int steps, float guidance,
                          int self_h, dm_toy_sample *s, dm_error *err) {
    dm_toy_recipe r = {steps, guidance, DM_SAMPLER_DDIM, NULL};
    return dm_toy_generate_recipe(e, it, &r, self_h, s, err);
}

dm_status dm_toy_generate_recipe(dm_engine *e, const dm_toy_item *it, const dm_toy_recipe *rc,
                                 int self_h, dm_toy_sample *s, dm_error *err) {
    memset(s, 0, sizeof *s);
    if (it->n_obj < 1 || it->n_obj > DM_TOY_MAX_OBJ)
        return dm_fail_code(err, DM_EUSAGE, "toy: %d objects in a prompt (1..%d)", it->n_obj,
                            DM_TOY_MAX_OBJ);
    if (!e->tok) return dm_fail_code(err, DM_EUSAGE, "toy: the engine has no tokenizer");
    int f = dm_vae_factor(&e->vae);
    int H = e->unet.cfg.sample_size * f, W = H;
    dm_attn_store store;
    dm_attn_store_init(&store, 1, self_h);
    dm_txt2img_params p = {.prompt = it->prompt,
                           .negative_prompt = "",
                           .steps = rc->steps,
                           .guidance = rc->guidance,
                           .sampler = rc->sampler,
                           .timestep_spacing = rc->timestep_spacing,
                           .eta = 0,
                           .width = W,
                           .height = H,
                           .seed = it->seed,
                           .store = &store};
    dm_txt2img_result res = {0};
    dm_status st = dm_txt2img(e, &p, &res, err);
    if (st != DM_OK) goto done;

    s->item = *it;
    s->H = H, s->W = W, s->K = it->n_obj;
    for (int k = 0; k < s->K; k++) s->class_ids[k] = it->shape[k] + 1;
    s->n_res = dm_attn_store_resolutions(&store, s->res_h, s->res_w, DM_MASK_MAX_RES);
    if (s->n_res < 1) {
        st = dm_fail(err, "toy: '%s': no cross-attention was captured", it->prompt);
        goto done;
    }
    long n = (long)H * W;
    s->rgb = malloc((size_t)n * 3);
    s->gt = malloc((size_t)n);
    s->maps = malloc((size_t)maps_floats(s) * sizeof *s->maps);
    if (!s->rgb || !s->gt || !s->maps) {
        st = dm_fail(err, "toy: out of memory");
        goto done;
    }
    dm_image_to_rgb8(res.image_raw, H, W, s->rgb);
    dm_toy_oracle(s->rgb, n, it->color, s->class_ids, it->n_obj, s->gt);

    long off = 0;
    for (int k = 0; k < s->K; k++) {
        int pos[16], npos = 0;
        st = dm_token_positions(e->tok, it->prompt, shape_names[it->shape[k]], pos, 16, &npos, err);
        if (st != DM_OK) goto done;
        for (int r = 0; r < s->n_res; r++) {
            dm_attn_store_token_map(&store, s->res_h[r], s->res_w[r], pos, npos, s->maps + off);
            off += (long)s->res_h[r] * s->res_w[r];
        }
    }
    float scale;
    const float *sa = self_h > 0 ? dm_attn_store_self(&store, &scale) : NULL;
    if (self_h > 0 && !sa) {
        st = dm_fail(err, "toy: no self-attention at latent height %d was captured", self_h);
        goto done;
    }
    if (sa) {
        s->sa_h = store.self_h, s->sa_w = store.self_w;
        int sn = s->sa_h * s->sa_w;
        s->selfattn = malloc((size_t)sn * sn * sizeof *s->selfattn);
        if (!s->selfattn) {
            st = dm_fail(err, "toy: out of memory");
            goto done;
        }
        for (long i = 0; i < (long)sn * sn; i++) s->selfattn[i] = sa[i] * scale;
        dm_selfattn_normalize_rows(s->selfattn, sn);
    }
done:
    dm_txt2img_result_free(&res);
    dm_attn_store_free(&store);
    if (st != DM_OK) dm_toy_sample_free(s);
    return st;
}

/* ------------------------------------------------------------------ cache file */

#define CACHE_MAGIC    "diffumask-toy-samples v2\n"
#define CACHE_MAGIC_V1 "diffumask-toy-samples v1\n"

typedef struct { /* fixed-size part of one sample in the cache */
    dm_toy_item item;
    int32_t H, W, K, class_ids[DM_TOY_MAX_OBJ], n_res, res_h[DM_MASK_MAX_RES],
        res_w[DM_MASK_MAX_RES], sa_h, sa_w;
} cache_head;

dm_status dm_toy_samples_save(const char *path, const dm_toy_made_with *m, const dm_toy_sample *s,
                              int n, dm_error *err) {
    dm_atomic_file af;
    DM_TRY(dm_atomic_open(&af, path, err));
    FILE *fp = af.fp;
    int32_t count = n;
    int ok = fwrite(CACHE_MAGIC, 1, sizeof CACHE_MAGIC - 1, fp) == sizeof CACHE_MAGIC - 1 &&
             fwrite(m, sizeof *m, 1, fp) == 1 && fwrite(&count, sizeof count, 1, fp) == 1;
    for (int i = 0; ok && i < n; i++) {
        const dm_toy_sample *x = &s[i];
        cache_head h;
        memset(&h, 0, sizeof h);
        h.item = x->item;
        h.H = x->H, h.W = x->W, h.K = x->K, h.n_res = x->n_res, h.sa_h = x->sa_h, h.sa_w = x->sa_w;
        for (int k = 0; k < x->K; k++) h.class_ids[k] = x->class_ids[k];
        for (int r = 0; r < x->n_res; r++) h.res_h[r] = x->res_h[r], h.res_w[r] = x->res_w[r];
        long n_px = (long)x->H * x->W, sn = (long)x->sa_h * x->sa_w;
        ok =
            fwrite(&h, sizeof h, 1, fp) == 1 &&
            fwrite(x->rgb, 1, (size_t)n_px * 3, fp) == (size_t)n_px * 3 &&
            fwrite(x->gt, 1, (size_t)n_px, fp) == (size_t)n_px &&
            fwrite(x->maps, sizeof(float), (size_t)maps_floats(x), fp) == (size_t)maps_floats(x) &&
            (!sn || fwrite(x->selfattn, sizeof(float), (size_t)(sn * sn), fp) == (size_t)(sn * sn));
    }
    if (!ok) {
        dm_atomic_abort(&af);
        return dm_fail(err, "%s: write failed", path);
    }
    return dm_atomic_commit(&af, err);
}

/* The strings of m NUL-terminated inside their arrays (the file is not trusted). */
static int made_with_ok(dm_toy_made_with *m) {
    char *f[] = {m->sampler, m->spacing, m->precision, m->model, m->decoder, m->loras, m->prompts};
    size_t n[] = {sizeof m->sampler, sizeof m->spacing, sizeof m->precision, sizeof m->model,
                  sizeof m->decoder, sizeof m->loras,   sizeof m->prompts};
    for (int i = 0; i < 7; i++)
        if (!memchr(f[i], 0, n[i])) return 0;
    return m->steps >= 1 && m->steps <= 1000 && isfinite(m->guidance);
}

dm_status dm_toy_samples_load(const char *path, dm_toy_made_with *m, dm_toy_sample **out,
                              int *n_out, dm_error *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return dm_fail(err, "%s: cannot open", path);
    char magic[sizeof CACHE_MAGIC];
    int32_t count = 0;
    dm_toy_sample *s = NULL;
    dm_status st = DM_OK;
    int i = 0;
    size_t got = fread(magic, 1, sizeof CACHE_MAGIC - 1, fp);
    if (got == sizeof CACHE_MAGIC_V1 - 1 && !memcmp(magic, CACHE_MAGIC_V1, got)) {
        st = dm_fail(err,
                     "%s: a cache of an older diffumask, which does not record how its "
                     "samples were made: remove it",
                     path);
        goto done;
    }
    if (got != sizeof CACHE_MAGIC - 1 || memcmp(magic, CACHE_MAGIC, sizeof CACHE_MAGIC - 1) != 0 ||
        fread(m, sizeof *m, 1, fp) != 1 || !made_with_ok(m) ||
        fread(&count, sizeof count, 1, fp) != 1 || count < 1 || count > 1000000) {
        st = dm_fail(err, "%s: not a toy sample cache (%s)", path, CACHE_MAGIC);
        goto done;
    }
    s = calloc((size_t)count, sizeof *s);
    if (!s) {
        st = dm_fail(err, "%s: out of memory for %d samples", path, (int)count);
        goto done;
    }
    for (i = 0; i < count; i++) {
        cache_head h;
        dm_toy_sample *x = &s[i];
        if (fread(&h, sizeof h, 1, fp) != 1) break;
        if (h.H < 1 || h.H > 4096 || h.W < 1 || h.W > 4096 || h.K < 1 || h.K > DM_TOY_MAX_OBJ ||
            h.n_res < 1 || h.n_res > DM_MASK_MAX_RES || h.sa_h < 0 || h.sa_h > 64 || h.sa_w < 0 ||
            h.sa_w > 64)
            break;
        x->item = h.item;
        x->item.prompt[sizeof x->item.prompt - 1] = 0;
        x->H = h.H, x->W = h.W, x->K = h.K, x->n_res = h.n_res, x->sa_h = h.sa_h, x->sa_w = h.sa_w;
        int bad = 0;
        for (int k = 0; k < x->K; k++) x->class_ids[k] = h.class_ids[k];
        for (int r = 0; r < x->n_res; r++) {
            x->res_h[r] = h.res_h[r], x->res_w[r] = h.res_w[r];
            bad |= h.res_h[r] < 1 || h.res_h[r] > 4096 || h.res_w[r] < 1 || h.res_w[r] > 4096;
        }
        if (bad) break;
        long n_px = (long)x->H * x->W, sn = (long)x->sa_h * x->sa_w;
        x->rgb = malloc((size_t)n_px * 3);
        x->gt = malloc((size_t)n_px);
        x->maps = malloc((size_t)maps_floats(x) * sizeof(float));
        x->selfattn = sn ? malloc((size_t)(sn * sn) * sizeof(float)) : NULL;
        if (!x->rgb || !x->gt || !x->maps || (sn && !x->selfattn) ||
            fread(x->rgb, 1, (size_t)n_px * 3, fp) != (size_t)n_px * 3 ||
            fread(x->gt, 1, (size_t)n_px, fp) != (size_t)n_px ||
            fread(x->maps, sizeof(float), (size_t)maps_floats(x), fp) != (size_t)maps_floats(x) ||
            (sn && fread(x->selfattn, sizeof(float), (size_t)(sn * sn), fp) != (size_t)(sn * sn)))
            break;
    }
    if (i < count) st = dm_fail(err, "%s: sample %d is truncated or inconsistent", path, i);
done:
    fclose(fp);
    if (st != DM_OK) {
        for (int j = 0; s && j < count; j++) dm_toy_sample_free(&s[j]);
        free(s);
        return st;
    }
    *out = s;
    *n_out = count;
    return DM_OK;
}
