/* Augmentation, the dataset-to-dataset driver: per source sample, copies drawn from a fixed seed
 * mix, each a chain of the pixel operations of augment_pixels.c, written resumably. */
#include "dataset/make/augment.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataset/format/dataset.h"
#include "dataset/format/ds_internal.h"
#include "io/file.h"
#include "io/json.h"
#include "io/image.h"

#define PATH_CAP 4096

/* ------------------------------------------------------------ operation names */

/* In the order copies cycle through them and apply them. */
static const struct {
    const char *name;
    unsigned bit;
} OPS[] = {{"mosaic", DM_AUG_MOSAIC},
           {"paste", DM_AUG_PASTE},
           {"perspective", DM_AUG_PERSPECTIVE},
           {"occlude", DM_AUG_OCCLUDE},
           {"blur", DM_AUG_BLUR}};
#define N_OPS 5

dm_status dm_aug_parse_ops(const char *list, unsigned *ops, dm_error *err) {
    *ops = 0;
    const char *p = list ? list : "";
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < N_OPS; i++)
            if (strlen(OPS[i].name) == len && !strncmp(OPS[i].name, p, len)) found = i;
        if (found < 0)
            return dm_fail_code(
                err, DM_EUSAGE,
                "--ops: unknown operation '%.*s' (mosaic, paste, blur, occlude, perspective)",
                (int)len, p);
        *ops |= OPS[found].bit;
        p += len;
        if (*p == ',') p++;
    }
    if (!*ops) return dm_fail_code(err, DM_EUSAGE, "--ops: no operation given");
    return DM_OK;
}

/* ------------------------------------------------------------ the dataset driver */

typedef struct {
    const char *dir;
    dm_manifest m; /* sorted by name */
    int n_classes;
} aug_source;

static dm_status load_entry(const aug_source *s, int i, dm_aug_image *im, dm_error *err) {
    const cJSON *j = s->m.v[i].json;
    const char *img = cJSON_GetObjectItemCaseSensitive(j, "image")->valuestring;
    const char *msk = cJSON_GetObjectItemCaseSensitive(j, "mask")->valuestring;
    char path[PATH_CAP];
    memset(im, 0, sizeof *im);
    int w, h, mw, mh;
    snprintf(path, sizeof path, "%s/%s", s->dir, img);
    DM_TRY(dm_image_read(path, 3, &im->rgb, &w, &h, err));
    snprintf(path, sizeof path, "%s/%s", s->dir, msk);
    dm_status st = dm_png_read(path, 1, &im->mask, &mw, &mh, err);
    if (st == DM_OK && (mw != w || mh != h))
        st = dm_fail(err, "%s: mask is %dx%d but its image %s is %dx%d", path, mw, mh, img, w, h);
    if (st != DM_OK) {
        dm_aug_image_free(im);
        return st;
    }
    im->w = w;
    im->h = h;
    return DM_OK;
}

static dm_status copy_image(const dm_aug_image *a, dm_aug_image *b, dm_error *err) {
    DM_TRY(dm_aug_image_alloc(b, a->w, a->h, err));
    memcpy(b->rgb, a->rgb, (size_t)a->w * a->h * 3);
    memcpy(b->mask, a->mask, (size_t)a->w * a->h);
    return DM_OK;
}

static int rand_int(dm_rng *r, int n) { /* uniform in 0..n-1 (n >= 1) */
    int v = (int)(dm_rng_uniform(r) * n);
    return v < n ? v : n - 1;
}

/* A random sample other than i (i itself when it is the only one). */
static int pick_other(dm_rng *r, int n, int i) {
    if (n <= 1) return i;
    int j = rand_int(r, n - 1);
    return j >= i ? j + 1 : j;
}

/* Parameters are rounded to 4 decimals before use, so the manifest records what was applied. */
static double round4(double v) {
    return floor(v * 1e4) / 1e4;
}

static dm_status do_mosaic(const aug_source *s, int i, dm_rng *r, dm_aug_image *cur, cJSON *f,
                           dm_error *err) {
    /* Three partners, all different when the source has four samples or more. */
    int slot = rand_int(r, 4), idx[4], partners[3];
    for (int t = 0; t < 3; t++) {
        bool fresh;
        do {
            partners[t] = pick_other(r, s->m.n, i);
            fresh = true;
            for (int u = 0; u < t; u++) fresh &= partners[u] != partners[t];
        } while (!fresh && s->m.n >= 4);
    }
    for (int k = 0, t = 0; k < 4; k++) idx[k] = k == slot ? i : partners[t++];
    dm_aug_image parts[4] = {{0}}, out;
    const dm_aug_image *q[4];
    dm_status st = DM_OK;
    for (int k = 0; k < 4 && st == DM_OK; k++) {
        if (k == slot)
            q[k] = cur;
        else if ((st = load_entry(s, idx[k], &parts[k], err)) == DM_OK)
            q[k] = &parts[k];
    }
    if (st == DM_OK && (st = dm_aug_image_alloc(&out, cur->w, cur->h, err)) == DM_OK) {
        if ((st = dm_aug_mosaic(q, &out, err)) == DM_OK) {
            dm_aug_image_free(cur);
            *cur = out;
        } else
            dm_aug_image_free(&out);
    }
    for (int k = 0; k < 4; k++) dm_aug_image_free(&parts[k]);
    if (st != DM_OK) return st;
    cJSON *names = cJSON_AddArrayToObject(f, "mosaic");
    for (int k = 0; k < 4; k++)
        cJSON_AddItemToArray(names, cJSON_CreateString(s->m.v[idx[k]].name));
    return DM_OK;
}

/* Pastes one connected component of one class of another sample. Records "paste": null when
 * four partners in a row hold no object. */
static dm_status do_paste(const aug_source *s, int i, dm_rng *r, dm_aug_image *cur, cJSON *f,
                          dm_error *err) {
    dm_status st = DM_OK;
    for (int attempt = 0; attempt < 4 && st == DM_OK; attempt++) {
        int j = pick_other(r, s->m.n, i);
        dm_aug_image src;
        DM_TRY(load_entry(s, j, &src, err));
        size_t n = (size_t)src.w * src.h;
        int32_t *label = malloc(n * sizeof *label);
        uint8_t *sel = malloc(n);
        int nc = 0;
        st = label && sel ? dm_components(src.mask, src.w, src.h, 255, label, &nc, err)
                          : dm_fail(err, "%s: out of memory", s->dir);
        /* Class of each component (the value at its first pixel), then one class, one component. */
        int *comp_cls = st == DM_OK ? calloc((size_t)nc + 1, sizeof *comp_cls) : NULL;
        if (st == DM_OK && !comp_cls) st = dm_fail(err, "%s: out of memory", s->dir);
        int present[256] = {0}, n_present = 0;
        for (size_t p = 0; st == DM_OK && p < n; p++)
            if (label[p] && !comp_cls[label[p]]) {
                comp_cls[label[p]] = src.mask[p];
                if (!present[src.mask[p]]++) n_present++;
            }
        bool pasted = false;
        if (st == DM_OK && n_present) {
            int want = rand_int(r, n_present), cls = 0;
            for (int c = 1; c < 255; c++)
                if (present[c] && want-- == 0) {
                    cls = c;
                    break;
                }
            int comp = rand_int(r, present[cls]), id = 0;
            for (int c = 1; c <= nc; c++)
                if (comp_cls[c] == cls && comp-- == 0) {
                    id = c;
                    break;
                }
            for (size_t p = 0; p < n; p++) sel[p] = label[p] == id;
            int box[4];
            dm_aug_sel_bbox(sel, src.w, src.h, box);
            double scale = 0.5 + dm_rng_uniform(r);
            double max_s = fmin((double)cur->w / box[2], (double)cur->h / box[3]);
            scale = round4(fmin(scale, max_s));
            if (scale < 1e-4) scale = 1e-4;
            int sw = dm_aug_scaled_len(box[2], scale), sh = dm_aug_scaled_len(box[3], scale);
            int x = rand_int(r, cur->w - sw + 1 > 0 ? cur->w - sw + 1 : 1);
            int y = rand_int(r, cur->h - sh + 1 > 0 ? cur->h - sh + 1 : 1);
            long np = dm_aug_paste(cur, &src, sel, scale, x, y);
            cJSON *o = cJSON_AddObjectToObject(f, "paste");
            cJSON_AddStringToObject(o, "from", s->m.v[j].name);
            cJSON_AddNumberToObject(o, "class", cls);
            cJSON_AddNumberToObject(o, "scale", scale);
            cJSON_AddNumberToObject(o, "x", x);
            cJSON_AddNumberToObject(o, "y", y);
            cJSON_AddNumberToObject(o, "pixels", (double)np);
            pasted = true;
        }
        free(comp_cls);
        free(label);
        free(sel);
        dm_aug_image_free(&src);
        if (pasted) return st;
    }
    if (st == DM_OK) cJSON_AddNullToObject(f, "paste");
    return st;
}

static dm_status do_perspective(dm_aug_image *cur, dm_rng *r, cJSON *f, dm_error *err) {
    double W = cur->w - 1, Hh = cur->h - 1;
    double corners[8] = {0, 0, W, 0, W, Hh, 0, Hh}, src[8];
    for (int k = 0; k < 8; k++)
        src[k] = corners[k] + round4((dm_rng_uniform(r) * 0.2 - 0.1) * (k % 2 ? Hh : W));
    double H[9];
    DM_TRY(dm_aug_homography(corners, src, H, err));
    dm_aug_image out;
    DM_TRY(dm_aug_image_alloc(&out, cur->w, cur->h, err));
    dm_aug_warp(cur, H, &out);
    dm_aug_image_free(cur);
    *cur = out;
    cJSON *a = cJSON_AddArrayToObject(f, "perspective"); /* where the output's corners come from */
    for (int k = 0; k < 8; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(src[k]));
    return DM_OK;
}

static void do_occlude(dm_aug_image *cur, dm_rng *r, cJSON *f) {
    int w = (int)(cur->w * (0.1 + 0.2 * dm_rng_uniform(r))),
        h = (int)(cur->h * (0.1 + 0.2 * dm_rng_uniform(r)));
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    int x = rand_int(r, cur->w - w + 1), y = rand_int(r, cur->h - h + 1);
    bool noise = dm_rng_uniform(r) < 0.5;
    dm_aug_occlude(cur, x, y, w, h, noise ? r : NULL);
    cJSON *o = cJSON_AddObjectToObject(f, "occlude");
    cJSON_AddNumberToObject(o, "x", x);
    cJSON_AddNumberToObject(o, "y", y);
    cJSON_AddNumberToObject(o, "w", w);
    cJSON_AddNumberToObject(o, "h", h);
    cJSON_AddStringToObject(o, "fill", noise ? "noise" : "grey");
}

/* Builds copy k of source sample i into *out (from base, the loaded source sample). */
static dm_status make_copy(const aug_source *s, const dm_augment_opts *o, int i, int k,
                           const dm_aug_image *base, dm_aug_image *out, cJSON *f, dm_error *err) {
    dm_rng r;
    dm_rng_seed(&r, dm_seed_mix(dm_seed_mix(o->seed, (uint64_t)i), (uint64_t)k));
    int enabled[N_OPS], n_en = 0;
    for (int t = 0; t < N_OPS; t++)
        if (o->ops & OPS[t].bit) enabled[n_en++] = t;
    unsigned apply = OPS[enabled[k % n_en]].bit;
    for (int t = 2; t < N_OPS; t++) /* perspective, occlude, blur: coin flips drawn first, always */
        if (dm_rng_uniform(&r) < 0.25 && (o->ops & OPS[t].bit)) apply |= OPS[t].bit;

    DM_TRY(copy_image(base, out, err));
    cJSON_AddStringToObject(f, "source", s->m.v[i].name);
    cJSON *ops = cJSON_AddArrayToObject(f, "ops");
    dm_status st = DM_OK;
    for (int t = 0; t < N_OPS && st == DM_OK; t++) {
        if (!(apply & OPS[t].bit)) continue;
        cJSON_AddItemToArray(ops, cJSON_CreateString(OPS[t].name));
        switch (OPS[t].bit) {
        case DM_AUG_MOSAIC:
            st = do_mosaic(s, i, &r, out, f, err);
            break;
        case DM_AUG_PASTE:
            st = do_paste(s, i, &r, out, f, err);
            break;
        case DM_AUG_PERSPECTIVE:
            st = do_perspective(out, &r, f, err);
            break;
        case DM_AUG_OCCLUDE:
            do_occlude(out, &r, f);
            break;
        case DM_AUG_BLUR: {
            double sigma =
                round4((0.5 + dm_rng_uniform(&r)) * fmax(1.0, fmin(out->w, out->h) / 256.0));
            cJSON_AddNumberToObject(f, "blur_sigma", sigma);
            st = dm_aug_blur(out, sigma, err);
            break;
        }
        }
    }
    if (st != DM_OK) dm_aug_image_free(out);
    return st;
}

/* OUT/config.json: what was run on which source. */
static dm_status make_config(const char *src_dir, const char *abs_src, const dm_augment_opts *o,
                             char **out, dm_error *err) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/config.json", src_dir);
    if (!dm_file_exists(path))
        return dm_fail(err, "%s: not a diffumask dataset (no config.json)", src_dir);
    cJSON *src_cfg;
    DM_TRY(dm_json_load_object(path, &src_cfg, err));
    cJSON *cfg = cJSON_CreateObject(), *aug = cJSON_AddObjectToObject(cfg, "augment");
    cJSON_AddStringToObject(aug, "source", abs_src);
    if (o->seed <= (1ull << 53))
        cJSON_AddNumberToObject(aug, "seed", (double)o->seed);
    else {
        char s[32];
        snprintf(s, sizeof s, "%llu", (unsigned long long)o->seed);
        cJSON_AddStringToObject(aug, "seed", s);
    }
    cJSON_AddNumberToObject(aug, "copies", o->copies);
    cJSON *ops = cJSON_AddArrayToObject(aug, "ops");
    for (int t = 0; t < N_OPS; t++)
        if (o->ops & OPS[t].bit) cJSON_AddItemToArray(ops, cJSON_CreateString(OPS[t].name));
    cJSON_AddItemToObject(cfg, "source_config", src_cfg);
    *out = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);
    return *out ? DM_OK : dm_fail(err, "%s: out of memory", src_dir);
}

dm_status dm_augment_dataset(const char *src_dir, const char *out_dir, const dm_augment_opts *o,
                             dm_augment_stats *stats, dm_error *err) {
    memset(stats, 0, sizeof *stats);
    if (o->copies < 1 || o->copies > 10000)
        return dm_fail_code(err, DM_EUSAGE, "augment: --copies %d (1..10000)", o->copies);
    if (!(o->ops & DM_AUG_ALL))
        return dm_fail_code(err, DM_EUSAGE, "augment: no operation selected");
    char abs_src[PATH_CAP], abs_out[PATH_CAP];
    if (!realpath(src_dir, abs_src)) return dm_fail(err, "%s: no such dataset folder", src_dir);
    if (realpath(out_dir, abs_out) && !strcmp(abs_src, abs_out))
        return dm_fail_code(err, DM_EUSAGE, "%s: --out must be a new folder, not the source",
                            out_dir);

    char *config = NULL, **labels = NULL;
    int n_labels = 0;
    aug_source s = {src_dir, {0}, 0};
    dm_dataset *ds = NULL;
    dm_status st = make_config(src_dir, abs_src, o, &config, err);
    if (st == DM_OK) st = dm_read_labels(src_dir, &labels, &n_labels, err);
    if (st == DM_OK) st = dm_manifest_load(src_dir, &s.m, err);
    if (st == DM_OK) {
        dm_manifest_sort(&s.m);
        s.n_classes = n_labels - 1;
        stats->sources = s.m.n;
        const char *ext = "png";
        if (s.m.n) {
            const char *img = cJSON_GetObjectItemCaseSensitive(s.m.v[0].json, "image")->valuestring;
            const char *dot = strrchr(img, '.');
            if (dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))) ext = "jpg";
        }
        st = dm_dataset_open(out_dir, config, (const char *const *)labels + 1, n_labels - 1, ext,
                             &ds, err);
    }
    for (int i = 0; i < s.m.n && st == DM_OK; i++) {
        dm_aug_image base = {0};
        for (int k = 0; k < o->copies && st == DM_OK; k++) {
            char name[512];
            snprintf(name, sizeof name, "%s_aug%d", s.m.v[i].name, k);
            if (dm_dataset_has(ds, name)) {
                stats->skipped++;
                continue;
            }
            if (!base.rgb && (st = load_entry(&s, i, &base, err)) != DM_OK) break;
            dm_aug_image im;
            cJSON *f = cJSON_CreateObject();
            if (!f) st = dm_fail(err, "%s: out of memory", out_dir);
            if (st == DM_OK && (st = make_copy(&s, o, i, k, &base, &im, f, err)) == DM_OK) {
                dm_sample smp = {name, im.rgb, im.mask, NULL, im.w, im.h, f, NULL};
                st = dm_dataset_add(ds, &smp, err);
                if (st == DM_OK) stats->written++;
                dm_aug_image_free(&im);
            }
            cJSON_Delete(f);
        }
        dm_aug_image_free(&base);
    }
    if (st == DM_OK) st = dm_dataset_finish(ds, err);
    dm_dataset_close(ds);
    dm_manifest_free(&s.m);
    dm_free_lines(labels, n_labels);
    free(config);
    return st;
}
