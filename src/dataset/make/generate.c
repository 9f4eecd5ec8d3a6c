#include "dataset/make/generate.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/sha256.h"
#include "dataset/format/dataset.h"
#include "dataset/judge/filter.h"
#include "io/file.h"

static dm_status hash_file(dm_sha256 *h, const char *path, dm_error *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return dm_fail(err, "%s: cannot open for hashing", path);
    static const size_t N = 1 << 20;
    char *buf = malloc(N);
    size_t n;
    while (buf && (n = fread(buf, 1, N, fp)) > 0) dm_sha256_update(h, buf, n);
    int bad = !buf || ferror(fp);
    free(buf);
    fclose(fp);
    return bad ? dm_fail(err, "%s: read error while hashing", path) : DM_OK;
}

/* Into h: each file dir/parts[k] prefixed by its relative name (so moving bytes between files
 * changes the hash); a missing one is skipped when optional, else an error. */
static dm_status hash_parts(dm_sha256 *h, const char *dir, const char *const *parts, int optional,
                            dm_error *err) {
    char p[8192];
    for (const char *const *q = parts; *q; q++) {
        snprintf(p, sizeof p, "%s/%s", dir, *q);
        if (optional && !dm_file_exists(p)) continue;
        dm_sha256_update(h, *q, strlen(*q) + 1);
        DM_TRY(hash_file(h, p, err));
    }
    return DM_OK;
}

dm_status dm_model_sha256(const char *path, char out[65], dm_error *err) {
    dm_sha256 h;
    dm_sha256_init(&h);
    if (dm_file_exists(path)) {
        DM_TRY(hash_file(&h, path, err));
    } else {
        /* a diffusers folder: every config and weight file there is, in a fixed order */
        static const char *const parts[] = {"model_index.json",
                                            "scheduler/scheduler_config.json",
                                            "text_encoder/config.json",
                                            "text_encoder/model.safetensors",
                                            "text_encoder_2/config.json",
                                            "text_encoder_2/model.safetensors",
                                            "tokenizer/vocab.json",
                                            "tokenizer/merges.txt",
                                            "tokenizer_2/vocab.json",
                                            "tokenizer_2/merges.txt",
                                            "tokenizer_2/special_tokens_map.json",
                                            "unet/config.json",
                                            "unet/diffusion_pytorch_model.safetensors",
                                            "vae/config.json",
                                            "vae/diffusion_pytorch_model.safetensors",
                                            NULL};
        DM_TRY(hash_parts(&h, path, parts, 1, err));
    }
    dm_sha256_hex(&h, out);
    return DM_OK;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* sha256 of a TAESD folder: its config and weights, each prefixed by its name. */
static dm_status taesd_sha256(const char *dir, char out[65], dm_error *err) {
    static const char *const parts[] = {"config.json", "diffusion_pytorch_model.safetensors", NULL};
    dm_sha256 h;
    dm_sha256_init(&h);
    DM_TRY(hash_parts(&h, dir, parts, 0, err));
    dm_sha256_hex(&h, out);
    return DM_OK;
}

static const char *base_name(const char *path) {
    const char *b = strrchr(path, '/');
    return b && b[1] ? b + 1 : path;
}

/* The few-step recipe parts of a run, beyond sampler / steps / guidance: timestep spacing, LoRAs
 * (file name, sha256, scale) and the VAE decoder. Added to config.json and every manifest line
 * only when used, so datasets made without them keep their files (and resume). */
typedef struct {
    cJSON *loras;       /* [{file, sha256, scale}] or NULL */
    cJSON *vae_decoder; /* {dir, sha256} or NULL */
} recipe_json;

static dm_status recipe_make(const dm_engine *e, recipe_json *rj, dm_error *err) {
    rj->loras = rj->vae_decoder = NULL;
    char sha[65];
    if (e->n_loras > 0) {
        rj->loras = cJSON_CreateArray();
        for (int k = 0; k < e->n_loras; k++) {
            dm_sha256 h;
            dm_sha256_init(&h);
            dm_status s = hash_file(&h, e->lora_paths[k], err);
            if (s) {
                cJSON_Delete(rj->loras);
                return s;
            }
            dm_sha256_hex(&h, sha);
            cJSON *l = cJSON_CreateObject();
            cJSON_AddStringToObject(l, "file", base_name(e->lora_paths[k]));
            cJSON_AddStringToObject(l, "sha256", sha);
            cJSON_AddNumberToObject(l, "scale", e->lora_scales[k]);
            cJSON_AddItemToArray(rj->loras, l);
        }
    }
    if (e->taesd) {
        dm_status s = taesd_sha256(e->taesd->path, sha, err);
        if (s) {
            cJSON_Delete(rj->loras);
            return s;
        }
        rj->vae_decoder = cJSON_CreateObject();
        cJSON_AddStringToObject(rj->vae_decoder, "dir", base_name(e->taesd->path));
        cJSON_AddStringToObject(rj->vae_decoder, "sha256", sha);
    }
    return DM_OK;
}

static void recipe_add(cJSON *c, const dm_generate_options *o, const recipe_json *rj) {
    if (o->timestep_spacing) cJSON_AddStringToObject(c, "timestep_spacing", o->timestep_spacing);
    if (rj->loras) cJSON_AddItemToObject(c, "loras", cJSON_Duplicate(rj->loras, 1));
    if (rj->vae_decoder)
        cJSON_AddItemToObject(c, "vae_decoder", cJSON_Duplicate(rj->vae_decoder, 1));
}

/* The run's settings: a second run into the same folder must have the same ones. */
static char *config_json(const dm_engine *e, const dm_plan *plan, const dm_generate_options *o,
                         const char *sha, const recipe_json *rj) {
    cJSON *c = cJSON_CreateObject();
    char method[128];
    dm_mask_method_name(&o->mask, method, sizeof method);
    cJSON_AddStringToObject(c, "tool", "diffumask " DM_VERSION);
    cJSON_AddStringToObject(c, "model", o->model_label);
    cJSON_AddStringToObject(c, "model_sha256", sha);
    cJSON_AddStringToObject(c, "source", o->source_label);
    cJSON *cls = cJSON_AddArrayToObject(c, "classes");
    for (int i = 0; i < plan->n_classes; i++)
        cJSON_AddItemToArray(cls, cJSON_CreateString(plan->classes[i].label));
    cJSON_AddNumberToObject(c, "samples", (double)plan->n_items);
    if (o->negative_prompt)
        cJSON_AddStringToObject(c, "negative_prompt", o->negative_prompt);
    else
        cJSON_AddNullToObject(c, "negative_prompt"); /* zeroed unconditional embeddings */
    cJSON_AddNumberToObject(c, "steps", o->steps);
    cJSON_AddNumberToObject(c, "guidance", o->guidance);
    cJSON_AddStringToObject(c, "sampler", dm_sampler_kind_name(o->sampler));
    recipe_add(c, o, rj);
    cJSON_AddNumberToObject(c, "prediction_v", e->sched.prediction_v);
    cJSON_AddStringToObject(c, "precision", dm_precision_name(e->precision));
    cJSON_AddNumberToObject(c, "width", o->width);
    cJSON_AddNumberToObject(c, "height", o->height);
    if (e->sdxl) { /* the size conditioning (time_ids) every sample used */
        int v[6];
        dm_engine_size_cond(o->original_size, o->crop, o->target_size, o->width, o->height, v);
        static const char *const keys[3] = {"original_size", "crop", "target_size"};
        for (int k = 0; k < 3; k++)
            cJSON_AddItemToObject(c, keys[k], cJSON_CreateIntArray(v + 2 * k, 2));
    }
    cJSON_AddNumberToObject(c, "seed", (double)o->seed);
    cJSON_AddStringToObject(c, "image_format", o->image_ext);
    cJSON_AddStringToObject(c, "mask_method", method);
    cJSON_AddStringToObject(c, "threshold", o->threshold_label);
    cJSON_AddNumberToObject(c, "ignore_lo", o->mask.ignore_lo);
    cJSON_AddNumberToObject(c, "ignore_hi", o->mask.ignore_hi);
    cJSON_AddNumberToObject(c, "save_heatmaps", o->save_heatmaps);
    cJSON_AddNumberToObject(c, "prune_fraction", o->prune_fraction);
    if (o->min_score > 0) cJSON_AddNumberToObject(c, "min_score", o->min_score);
    /* only when asked: datasets made before --val-fraction keep their config.json */
    if (o->val_fraction > 0) cJSON_AddNumberToObject(c, "val_fraction", o->val_fraction);
    if (o->sharded) {
        char sh[64];
        snprintf(sh, sizeof sh, "%d/%d", o->shard.k, o->shard.n);
        cJSON_AddStringToObject(c, "shard", sh);
    }
    char *s = cJSON_Print(c);
    cJSON_Delete(c);
    return s;
}

typedef struct {
    dm_generate_progress_fn fn;
    void *user;
    dm_generate_progress *p;
} step_ctx;

static void on_step(void *user, int step, int n) {
    step_ctx *c = user;
    c->p->step = step, c->p->n_steps = n;
    if (c->fn) c->fn(c->user, c->p, 0);
}

dm_status dm_make_sample(dm_engine *e, const dm_sample_request *q, uint8_t *rgb, uint8_t *mask,
                         float *soft, dm_mask_score *score, dm_txt2img_result *r,
                         double *mask_seconds, dm_error *err) {
    const dm_txt2img_params *g = q->gen;
    int self_h = 0, self_w = 0, hs[DM_MASK_MAX_RES], ws[DM_MASK_MAX_RES];
    if (q->mask->use_selfattn) {
        int n = dm_engine_attn_resolutions(e, g->height, g->width, hs, ws, DM_MASK_MAX_RES);
        DM_TRY(dm_mask_pick_selfattn_res(hs, ws, n, 0, &self_h, &self_w, err));
    }
    dm_attn_store store;
    dm_attn_store_init(&store, 1, self_h);
    dm_txt2img_params p = *g;
    p.store = &store;
    dm_status s = dm_txt2img(e, &p, r, err);
    if (s) {
        dm_attn_store_free(&store);
        return s;
    }
    double t0 = now();
    int H = g->height, W = g->width, K = q->n_obj;
    int nr = dm_attn_store_resolutions(&store, hs, ws, DM_MASK_MAX_RES);
    float *bufs = NULL, *self = NULL;
    dm_attn_map maps[DM_MAX_OBJECTS * DM_MASK_MAX_RES];
    size_t per_obj = 0;
    for (int i = 0; i < nr; i++) per_obj += (size_t)hs[i] * ws[i];
    if (K < 1 || K > DM_MAX_OBJECTS)
        s = dm_fail_code(err, DM_EUSAGE, "1..%d class words per image, not %d", DM_MAX_OBJECTS, K);
    else if (!(bufs = malloc(sizeof(float) * (per_obj * K + 1))))
        s = dm_fail(err, "out of memory");
    if (!s) {
        dm_image_to_rgb8(r->image_raw, H, W, rgb);
        float *b = bufs;
        for (int k = 0; k < K; k++)
            for (int i = 0; i < nr; i++) {
                dm_attn_store_token_map(&store, hs[i], ws[i], q->pos[k], q->npos[k], b);
                maps[k * nr + i] = (dm_attn_map){hs[i], ws[i], b};
                b += (size_t)hs[i] * ws[i];
            }
        float scale = 0;
        const float *S = dm_attn_store_self(&store, &scale);
        int n = store.self_h * store.self_w;
        if (q->mask->use_selfattn && S && (self = malloc(sizeof(float) * n * n)))
            for (size_t i = 0; i < (size_t)n * n; i++)
                self[i] = S[i] * scale; /* mean: rows sum to 1 */
        else if (q->mask->use_selfattn)
            s = dm_fail(err, "no self-attention captured for the refinement");
    }
    if (!s)
        s = dm_mask_make(q->mask, maps, K, nr, q->class_ids, rgb, H, W, self, store.self_h,
                         store.self_w, mask, NULL, score, err);
    /* soft: each word's attention itself (aggregated, normalised, before any refinement): the
     * heat map people look at to judge a mask */
    float *scratch = soft ? malloc(sizeof(float) * H * W) : NULL;
    if (!s && soft && !scratch) s = dm_fail(err, "out of memory");
    for (int k = 0; !s && soft && k < K; k++)
        s = dm_mask_aggregate(maps + k * nr, nr, q->mask->res_sizes, q->mask->n_res_sizes,
                              q->mask->norm, q->mask->norm_each, H, W, soft + (size_t)k * H * W,
                              scratch, err);
    free(scratch);
    if (mask_seconds) *mask_seconds = now() - t0;
    free(bufs), free(self);
    dm_attn_store_free(&store);
    if (s) dm_txt2img_result_free(r);
    return s;
}

/* One dataset sample: generate, mask, write. */
static dm_status one(dm_engine *e, dm_dataset *ds, const dm_plan *plan, const dm_plan_item *it,
                     const dm_generate_options *o, const char *sha, const recipe_json *rj,
                     step_ctx *sc, dm_error *err) {
    int pos[DM_MAX_OBJECTS][16], npos[DM_MAX_OBJECTS];
    for (int k = 0; k < it->n_obj; k++)
        DM_TRY(dm_token_positions(e->tok, it->prompt, it->word[k], pos[k], 16, &npos[k], err));
    dm_txt2img_params p = {.prompt = it->prompt,
                           .negative_prompt = o->negative_prompt,
                           .steps = o->steps,
                           .guidance = o->guidance,
                           .sampler = o->sampler,
                           .timestep_spacing = o->timestep_spacing,
                           .width = o->width,
                           .height = o->height,
                           .seed = it->seed,
                           .original_size = {o->original_size[0], o->original_size[1]},
                           .crop = {o->crop[0], o->crop[1]},
                           .target_size = {o->target_size[0], o->target_size[1]},
                           .on_step = on_step,
                           .user = sc,
                           .should_stop = o->should_stop,
                           .stop_user = o->stop_user};
    dm_sample_request q = {&p, it->n_obj, (const int(*)[16])pos, npos, it->class_id, &o->mask};
    int H = o->height, W = o->width, K = it->n_obj;
    size_t HW = (size_t)H * W;
    uint8_t *rgb = malloc(HW * 3), *mask = malloc(HW);
    float *soft = malloc(sizeof(float) * HW * K);
    dm_mask_score score = {0};
    dm_txt2img_result r = {0};
    double mask_s = 0;
    dm_status s = (!rgb || !mask || !soft) ? dm_fail(err, "out of memory") : DM_OK;
    if (!s) s = dm_make_sample(e, &q, rgb, mask, soft, &score, &r, &mask_s, err);
    if (!s) {
        cJSON *f = cJSON_CreateObject(), *cls = cJSON_CreateArray(), *ids = cJSON_CreateArray(),
              *words = cJSON_CreateArray(), *tp = cJSON_CreateArray();
        cJSON_AddStringToObject(f, "prompt", it->prompt);
        if (o->negative_prompt)
            cJSON_AddStringToObject(f, "negative_prompt", o->negative_prompt);
        else
            cJSON_AddNullToObject(f, "negative_prompt");
        for (int k = 0; k < K; k++) {
            cJSON_AddItemToArray(cls, cJSON_CreateString(plan->classes[it->class_id[k] - 1].label));
            cJSON_AddItemToArray(ids, cJSON_CreateNumber(it->class_id[k]));
            cJSON_AddItemToArray(words, cJSON_CreateString(it->word[k]));
            cJSON_AddItemToArray(tp, cJSON_CreateIntArray(pos[k], npos[k]));
        }
        if (K == 1) { /* single-object samples keep scalar fields, the common case */
            cJSON_AddStringToObject(f, "class", plan->classes[it->class_id[0] - 1].label);
            cJSON_AddNumberToObject(f, "class_id", it->class_id[0]);
            cJSON_AddStringToObject(f, "word", it->word[0]);
            cJSON_AddItemToObject(f, "token_positions", cJSON_CreateIntArray(pos[0], npos[0]));
            cJSON_Delete(cls), cJSON_Delete(ids), cJSON_Delete(words), cJSON_Delete(tp);
        } else {
            cJSON_AddItemToObject(f, "classes", cls);
            cJSON_AddItemToObject(f, "class_ids", ids);
            cJSON_AddItemToObject(f, "words", words);
            cJSON_AddItemToObject(f, "token_positions", tp);
        }
        cJSON_AddNumberToObject(f, "index", (double)it->index);
        cJSON_AddNumberToObject(f, "seed", (double)it->seed);
        cJSON_AddStringToObject(f, "sampler", dm_sampler_kind_name(o->sampler));
        cJSON_AddNumberToObject(f, "steps", o->steps);
        cJSON_AddNumberToObject(f, "guidance", o->guidance);
        recipe_add(f, o, rj);
        cJSON_AddStringToObject(f, "model", o->model_label);
        cJSON_AddStringToObject(f, "model_sha256", sha);
        cJSON_AddStringToObject(f, "precision", dm_precision_name(e->precision));
        char method[128];
        dm_mask_method_name(&o->mask, method, sizeof method);
        cJSON_AddStringToObject(f, "mask_method", method);
        cJSON_AddStringToObject(f, "threshold", o->threshold_label);
        cJSON *q = cJSON_AddObjectToObject(f, "quality");
        cJSON_AddNumberToObject(q, "score", score.score);
        cJSON_AddNumberToObject(q, "mass_inside", score.mass_inside);
        cJSON_AddNumberToObject(q, "contrast", score.contrast);
        cJSON_AddNumberToObject(q, "area_fraction", score.area_fraction);
        cJSON_AddNumberToObject(q, "agreement", score.agreement);
        cJSON_AddNumberToObject(q, "border", score.border);
        cJSON_AddNumberToObject(q, "turned_over", score.turned_over);
        cJSON *t = cJSON_AddObjectToObject(f, "timing");
        cJSON_AddNumberToObject(t, "text_s", r.seconds_text);
        cJSON_AddNumberToObject(t, "unet_s", r.seconds_unet);
        cJSON_AddNumberToObject(t, "vae_s", r.seconds_vae);
        cJSON_AddNumberToObject(t, "mask_s", mask_s);
        dm_sample smp = {.name = it->name,
                         .rgb = rgb,
                         .mask = mask,
                         .heat = o->save_heatmaps ? soft : NULL,
                         .width = W,
                         .height = H,
                         .fields = f};
        s = dm_dataset_add(ds, &smp, err);
        cJSON_Delete(f);
    }
    free(rgb), free(mask), free(soft);
    dm_txt2img_result_free(&r);
    return s;
}

dm_status dm_generate_run(dm_engine *e, const dm_plan *plan, const dm_generate_options *o,
                          dm_generate_progress_fn progress, void *user, dm_error *err) {
    if (!e->tok) return dm_fail(err, "generate needs a tokenizer");
    /* every class word must be in its prompt: fail before anything is written */
    for (long i = 0; i < plan->n_items; i++) {
        const dm_plan_item *it = &plan->items[i];
        if (!dm_shard_owns(o->shard.k, o->shard.n, it->index)) continue;
        for (int k = 0; k < it->n_obj; k++) {
            int pos[16], n;
            dm_status s = dm_token_positions(e->tok, it->prompt, it->word[k], pos, 16, &n, err);
            if (s) return dm_fail_wrap(err, "sample %ld", it->index);
        }
    }
    int f = dm_vae_factor(&e->vae);
    /* the UNet halves the latent levels-1 times: below that its deepest maps are empty */
    int least = f << (e->unet.cfg.levels - 1);
    if (o->width < least || o->height < least)
        return dm_fail_code(err, DM_EUSAGE,
                            "--width/--height %dx%d is too small for this model (at least "
                            "%dx%d)",
                            o->width, o->height, least, least);
    if (o->width % f || o->height % f)
        return dm_fail_code(err, DM_EUSAGE, "--width/--height must be multiples of %d, not %dx%d",
                            f, o->width, o->height);
    char sha[65];
    DM_TRY(dm_model_sha256(e->model->path, sha, err));
    recipe_json rj;
    DM_TRY(recipe_make(e, &rj, err));
    char *cfg = config_json(e, plan, o, sha, &rj);
    const char **names = malloc(sizeof *names * (size_t)plan->n_classes);
    if (!cfg || !names) {
        free(cfg), free(names);
        cJSON_Delete(rj.loras), cJSON_Delete(rj.vae_decoder);
        return dm_fail(err, "out of memory");
    }
    for (int i = 0; i < plan->n_classes; i++) names[i] = plan->classes[i].label;
    dm_dataset *ds;
    dm_status s = dm_dataset_open(o->out_dir, cfg, names, plan->n_classes, o->image_ext, &ds, err);
    free(cfg), free(names);
    if (s) {
        cJSON_Delete(rj.loras), cJSON_Delete(rj.vae_decoder);
        return s;
    }
    dm_generate_progress pr = {0};
    for (long i = 0; i < plan->n_items; i++)
        if (dm_shard_owns(o->shard.k, o->shard.n, plan->items[i].index)) {
            pr.total++;
            if (dm_dataset_has(ds, plan->items[i].name)) pr.skipped++;
        }
    pr.done = pr.skipped;
    step_ctx sc = {progress, user, &pr};
    double spent = 0;
    long made = 0;
    for (long i = 0; i < plan->n_items && !s; i++) {
        const dm_plan_item *it = &plan->items[i];
        if (!dm_shard_owns(o->shard.k, o->shard.n, it->index) || dm_dataset_has(ds, it->name))
            continue;
        if (o->should_stop && o->should_stop(o->stop_user)) {
            pr.stopped = 1;
            break;
        }
        pr.current = it->name;
        double t0 = now();
        s = one(e, ds, plan, it, o, sha, &rj, &sc, err);
        if (s && o->should_stop &&
            o->should_stop(o->stop_user)) { /* stopped mid-sample: nothing of it was written */
            s = DM_OK;
            pr.stopped = 1;
            break;
        }
        if (s) {
            dm_fail_wrap(err, "%s/%s", o->out_dir, it->name);
            break;
        }
        spent += now() - t0, made++;
        pr.done++;
        pr.seconds_per_image = spent / (double)made;
        if (progress) progress(user, &pr, 1);
    }
    /* a stopped run is unfinished: no train.txt / annotations.json until it completes */
    if (!s && !pr.stopped) s = dm_dataset_finish(ds, err);
    dm_dataset_close(ds);
    cJSON_Delete(rj.loras), cJSON_Delete(rj.vae_decoder);
    if (o->result) *o->result = pr;
    int dropped = 0;
    if (!s && !pr.stopped && (o->prune_fraction > 0 || o->min_score > 0))
        s = dm_prune_by_score(o->out_dir, o->prune_fraction, o->min_score, &dropped, err);
    return s;
}
