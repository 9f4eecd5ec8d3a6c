#include "pipeline/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/file.h"
#include "model/lora.h"
#include "model/model_paths.h"
#include "ops/ops.h"

void dm_set_threads(int threads) {
    /* one thread pool (OpenMP) splits every GEMM; OpenBLAS itself runs single-threaded, so the
     * two pools never fight over the cores */
    dm_ops_set_threads(threads);
}

static dm_status check_vocab(const dm_tokenizer *t, const char *dir, int vocab, dm_error *err) {
    if (dm_tokenizer_vocab_size(t) > vocab)
        return dm_fail(err,
                       "%s: tokenizer has %d tokens but the text encoder only %d (wrong "
                       "tokenizer?)",
                       dir, dm_tokenizer_vocab_size(t), vocab);
    return DM_OK;
}

/* The tokenizer(s): --tokenizer DIR, else the config folder's (a diffusers folder, or --config
 * DIR of a one-file checkpoint), else tokenizer/ beside the file. SDXL's tokenizer_2 comes from
 * the same place; lacking one, it is the first tokenizer padded with "!" (id 0), as SDXL's is. */
static dm_status open_tokenizers(dm_engine *e, const dm_engine_options *o, dm_error *err) {
    char dir[4096], cand[4200];
    const dm_model *m = e->model;
    snprintf(cand, sizeof cand, "%s/tokenizer", m->config_dir);
    const char *over = o->tokenizer_dir                          ? o->tokenizer_dir
                       : m->config_dir[0] && dm_dir_exists(cand) ? cand
                                                                 : NULL;
    DM_TRY(dm_find_tokenizer_dir(o->model_path, over, dir, sizeof dir, err));
    DM_TRY(dm_tokenizer_load(dir, &e->tok, err));
    DM_TRY(check_vocab(e->tok, dir, m->clip.vocab, err));
    if (!m->sdxl) return DM_OK;
    snprintf(cand, sizeof cand, "%s/tokenizer_2", m->config_dir);
    if (!o->tokenizer_dir && m->config_dir[0] && dm_dir_exists(cand)) {
        DM_TRY(dm_tokenizer_load(cand, &e->tok2, err));
        return check_vocab(e->tok2, cand, m->clip2.vocab, err);
    }
    DM_TRY(dm_tokenizer_load(dir, &e->tok2, err));
    dm_tokenizer_set_pad(e->tok2, 0);
    return check_vocab(e->tok2, dir, m->clip2.vocab, err);
}

dm_status dm_engine_open(const dm_engine_options *o, dm_engine **out, dm_error *err) {
    *out = NULL;
    dm_engine *e = calloc(1, sizeof *e);
    if (!e) return dm_fail(err, "out of memory");
    dm_status s;
    dm_set_threads(o->threads);
    if ((s = dm_precision_resolve(o->precision, &e->precision, err))) goto fail;
    if ((s = dm_model_open_with_config(o->model_path, o->ldm_config, &e->model, err))) goto fail;
    if (o->f32_weights) dm_weights_set_keep_half(e->model->w, 0);
    /* LoRAs change f32 copies of their weights here, before any network takes its pointers (or
     * packs / converts them); in bf16 they are kept apart instead and applied where each
     * weight's values are made (once when converted to bf16), so no f32 copy of the UNet is made */
    if (e->precision == DM_PRECISION_BF16) dm_weights_set_lazy_deltas(e->model->w, 1);
    if (o->n_loras > 0) {
        e->lora_paths = calloc((size_t)o->n_loras, sizeof *e->lora_paths);
        e->lora_scales = calloc((size_t)o->n_loras, sizeof *e->lora_scales);
        if (!e->lora_paths || !e->lora_scales) {
            s = dm_fail(err, "out of memory");
            goto fail;
        }
    }
    for (int k = 0; k < o->n_loras; k++) {
        if ((s = dm_lora_merge(e->model->w, o->loras[k].path, o->loras[k].scale, NULL, err)))
            goto fail;
        snprintf(e->lora_paths[k], sizeof e->lora_paths[k], "%s", o->loras[k].path);
        e->lora_scales[k] = o->loras[k].scale;
        e->n_loras = k + 1;
    }
    if (!o->no_tokenizer && (s = open_tokenizers(e, o, err))) goto fail;
    /* the text encoders run in fp32 at every precision, from the file's pages, handed back
     * after each prompt (dm_engine_encode): a run encodes few distinct prompts, and their bf16
     * copies would stay resident all run (0.25 GB for SD 1.5, 1.6 GB for SDXL) */
    e->sdxl = e->model->sdxl;
    if ((s = dm_clip_load(e->model, &e->clip, err)) ||
        (e->sdxl && (s = dm_clip_load_tower(e->model, "text2.", &e->model->clip2, &e->clip2, err))))
        goto fail;
    if (e->precision == DM_PRECISION_BF16) {
        if ((s = dm_dnnl_create(&e->dnnl, err))) goto fail;
        dm_weights_set_dnnl(e->model->w, e->dnnl);
    }
    if ((s = dm_unet_load(e->model, &e->unet, err)) || (s = dm_vae_load(e->model, &e->vae, err)))
        goto fail;
    if (e->sdxl) {
        int P = e->clip2.cfg.proj_dim, A = e->unet.cfg.add_in_dim - 6 * e->unet.cfg.add_time_dim;
        if (e->unet.cfg.add_time_dim <= 0 || P != A) {
            s = dm_fail(err,
                        "%s: the UNet's added conditioning takes %d pooled values, the second "
                        "text encoder gives %d",
                        e->model->path, e->unet.cfg.add_time_dim > 0 ? A : 0, P);
            goto fail;
        }
    }
    if (o->vae_decoder) {
        if ((s = dm_taesd_load(o->vae_decoder, e->dnnl, &e->taesd, err))) goto fail;
        if (e->taesd->factor != dm_vae_factor(&e->vae) ||
            e->taesd->latent_ch != e->unet.cfg.in_ch) {
            s = dm_fail(err,
                        "%s: TAESD with %d latent channels and factor %d does not fit the model "
                        "(%d channels, factor %d)",
                        o->vae_decoder, e->taesd->latent_ch, e->taesd->factor, e->unet.cfg.in_ch,
                        dm_vae_factor(&e->vae));
            goto fail;
        }
    }
    if (e->model->scheduler_config[0]) {
        if ((s = dm_sched_config_load(e->model->scheduler_config, &e->sched, err))) goto fail;
    } else {
        dm_sched_config_default(&e->sched);
        e->sched.prediction_v = e->model->v_prediction_hint;
    }
    if (o->prediction >= 0) e->sched.prediction_v = o->prediction;
    /* one reservation for the whole run; only the pages a forward touches become memory */
    if ((s = dm_arena_init(&e->arena, (size_t)64 << 30, err))) goto fail;
    *out = e;
    return DM_OK;
fail:
    dm_engine_free(e);
    return s;
}

dm_status dm_engine_decode(dm_engine *e, const float *z, int h, int w, float *image,
                           dm_error *err) {
    dm_arena_trim(&e->arena); /* the UNet's activations: the VAE lays out its own */
    if (e->taesd) return dm_taesd_decode(e->taesd, z, h, w, image, &e->arena, err);
    return dm_vae_decode(&e->vae, z, h, w, image, &e->arena, err);
}

dm_status dm_engine_encode_image(dm_engine *e, const float *image, int H, int W, float *z,
                                 dm_error *err) {
    dm_arena_trim(&e->arena);
    if (e->taesd) return dm_taesd_encode(e->taesd, image, H, W, z, &e->arena, err);
    if (!e->vae.has_encoder) return dm_fail(err, "%s: the VAE has no encoder", e->model->path);
    return dm_vae_encode(&e->vae, image, H, W, z, &e->arena, err);
}

void dm_engine_free(dm_engine *e) {
    if (!e) return;
    dm_arena_free(&e->arena);
    dm_taesd_free(e->taesd);
    free(e->lora_paths), free(e->lora_scales);
    dm_unet_free(&e->unet);
    dm_clip_free(&e->clip);
    dm_clip_free(&e->clip2);
    dm_tokenizer_free(e->tok);
    dm_tokenizer_free(e->tok2);
    for (int i = 0; i < e->n_memo; i++) free(e->memo[i].emb), free(e->memo[i].pooled);
    dm_model_free(e->model);
    dm_dnnl_free(e->dnnl);
    free(e);
}

int dm_engine_attn_resolutions(const dm_engine *e, int H, int W, int *hs, int *ws, int max) {
    const dm_unet_config *c = &e->unet.cfg;
    int f = dm_vae_factor(&e->vae), h = H / f, w = W / f, n = 0;
    /* down level i runs at latent / 2^i (its up twin too); the mid block at the deepest level */
    for (int i = 0; i < c->levels && n < max; i++) {
        int attn =
            c->down_attn[i] || c->up_attn[c->levels - 1 - i] || (c->mid_attn && i == c->levels - 1);
        if (attn) hs[n] = h >> i, ws[n] = w >> i, n++;
    }
    return n;
}

dm_status dm_engine_encode_ids(dm_engine *e, const int32_t *ids77, float *emb, dm_error *err) {
    return dm_clip_forward(&e->clip, ids77, DM_CONTEXT_LEN, emb, NULL, &e->arena, err);
}

int dm_engine_ctx_dim(const dm_engine *e) {
    return e->clip.cfg.hidden + (e->sdxl ? e->clip2.cfg.hidden : 0);
}

int dm_engine_pooled_dim(const dm_engine *e) {
    return e->sdxl ? e->clip2.cfg.proj_dim : 0;
}

/* Runs the text encoder(s) on token ids (ids2: SDXL's second tokenizer), then hands their
 * file pages back: they are read again only for the next new prompt. */
static dm_status encode_now(dm_engine *e, const int32_t *ids, const int32_t *ids2, float *emb,
                            float *pooled, dm_error *err) {
    dm_status s;
    if (!e->sdxl)
        s = dm_engine_encode_ids(e, ids, emb, err);
    else /* prompt_embeds = cat([te1.hidden_states[-2], te2.hidden_states[-2]], -1);
          * pooled = te2.text_embeds */
        s = dm_clip_run_pair(&e->clip, &e->clip2, ids, ids2, DM_CONTEXT_LEN, emb, pooled, &e->arena,
                             err);
    dm_weights_drop_pages(e->model->w, "text.");
    dm_weights_drop_pages(e->model->w, "text2.");
    return s;
}

/* Keeps a copy of an encoded prompt, replacing the oldest when the memo is full (out of
 * memory: not kept, which costs only time). */
static void remember(dm_engine *e, int32_t ids[2][DM_CONTEXT_LEN], const float *emb,
                     const float *pooled, size_t ne, size_t np) {
    float *me = malloc(sizeof(float) * ne), *mp = np ? malloc(sizeof(float) * np) : NULL;
    if (!me || (np && !mp)) {
        free(me), free(mp);
        return;
    }
    dm_prompt_memo *m;
    if (e->n_memo < DM_PROMPT_MEMO) {
        m = &e->memo[e->n_memo++];
    } else {
        m = &e->memo[e->next_memo];
        e->next_memo = (e->next_memo + 1) % DM_PROMPT_MEMO;
        free(m->emb), free(m->pooled);
    }
    memcpy(m->ids, ids, sizeof m->ids);
    memcpy(me, emb, sizeof(float) * ne);
    if (np) memcpy(mp, pooled, sizeof(float) * np);
    m->emb = me, m->pooled = mp;
}

dm_status dm_engine_encode(dm_engine *e, const char *prompt, float *emb, float *pooled,
                           int32_t *ids77, dm_error *err) {
    if (!e->tok) return dm_fail(err, "no tokenizer loaded");
    int32_t ids[2][DM_CONTEXT_LEN] = {{0}};
    DM_TRY(dm_tokenize(e->tok, prompt, NULL, NULL, ids[0], err));
    if (e->sdxl) DM_TRY(dm_tokenize(e->tok2, prompt, NULL, NULL, ids[1], err));
    if (ids77) memcpy(ids77, ids[0], sizeof ids[0]);
    size_t ne = (size_t)DM_CONTEXT_LEN * dm_engine_ctx_dim(e), np = dm_engine_pooled_dim(e);
    for (int i = 0; i < e->n_memo; i++) {
        const dm_prompt_memo *m = &e->memo[i];
        if (memcmp(m->ids, ids, sizeof ids)) continue;
        memcpy(emb, m->emb, sizeof(float) * ne);
        if (pooled && np) memcpy(pooled, m->pooled, sizeof(float) * np);
        return DM_OK;
    }
    float *pool = pooled;
    if (np && !pool && !(pool = malloc(sizeof(float) * np))) return dm_fail(err, "out of memory");
    dm_status s = encode_now(e, ids[0], ids[1], emb, pool, err);
    if (!s) remember(e, ids, emb, pool, ne, np);
    if (pool != pooled) free(pool);
    return s;
}

void dm_engine_size_cond(const int original[2], const int crop[2], const int target[2], int width,
                         int height, int out[6]) {
    out[0] = original[0] ? original[0] : height, out[1] = original[1] ? original[1] : width;
    out[2] = crop[0], out[3] = crop[1];
    out[4] = target[0] ? target[0] : height, out[5] = target[1] ? target[1] : width;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void dm_txt2img_result_free(dm_txt2img_result *r) {
    free(r->image_raw), free(r->final_latent), free(r->prompt_embeds), free(r->timesteps);
    free(r->pooled), free(r->time_ids);
    free(r->timesteps_f), free(r->latents), free(r->unet_input), free(r->unet_output);
    free(r->pred_x0), free(r->sched_noise);
    memset(r, 0, sizeof *r);
}

void dm_image_to_rgb8(const float *img, int H, int W, uint8_t *rgb) {
    size_t HW = (size_t)H * W;
    for (size_t i = 0; i < HW; i++)
        for (int c = 0; c < 3; c++) {
            float v = img[c * HW + i] / 2.0f + 0.5f;
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            rgb[i * 3 + c] = (uint8_t)nearbyintf(v * 255.0f); /* numpy round: half to even */
        }
}

dm_status dm_txt2img(dm_engine *e, const dm_txt2img_params *p, dm_txt2img_result *r,
                     dm_error *err) {
    memset(r, 0, sizeof *r);
    int f = dm_vae_factor(&e->vae), L = e->unet.cfg.in_ch, D = dm_engine_ctx_dim(e),
        P = dm_engine_pooled_dim(e);
    if (p->width <= 0 || p->height <= 0 || p->width % f || p->height % f)
        return dm_fail_code(err, DM_EUSAGE,
                            "width and height must be positive multiples of %d (got %dx%d)", f,
                            p->width, p->height);
    if (p->steps < 1 || p->steps > 1000)
        return dm_fail_code(err, DM_EUSAGE, "steps must be 1..1000 (got %d)", p->steps);
    if (p->original_size[0] < 0 || p->original_size[1] < 0 || p->crop[0] < 0 || p->crop[1] < 0 ||
        p->target_size[0] < 0 || p->target_size[1] < 0)
        return dm_fail_code(err, DM_EUSAGE, "original size, crop and target size must be >= 0");
    if (e->unet.cfg.cross_dim != D)
        return dm_fail(err, "%s: text encoder width %d does not match the UNet's context width %d",
                       e->model->path, D, e->unet.cfg.cross_dim);
    int h = p->height / f, w = p->width / f, cfg = p->guidance > 1.0f, B = cfg ? 2 : 1;
    size_t lat = (size_t)L * h * w;
    r->L = L, r->h = h, r->w = w, r->H = p->height, r->W = p->width, r->batch = B;
    r->D = D, r->P = P;

    dm_sched_config sc = e->sched;
    if (p->timestep_spacing) DM_TRY(dm_sched_config_set_spacing(&sc, p->timestep_spacing, err));
    dm_sampler *smp;
    DM_TRY(dm_sampler_create(&sc, p->sampler, p->steps, p->eta, &smp, err));
    int N = dm_sampler_num_calls(smp), ND = dm_sampler_noise_draws(smp);
    if (p->sched_noise) {
        if (p->n_sched_noise < ND) {
            dm_sampler_free(smp);
            return dm_fail(err, "the %s sampler draws %d noise tensors but %d were given",
                           dm_sampler_kind_name(p->sampler), ND, p->n_sched_noise);
        }
        dm_sampler_replay_noise(smp, p->sched_noise, p->n_sched_noise);
    }
    r->n_calls = N;
    dm_status s = DM_OK;
    float *x = malloc(sizeof(float) * lat), *xin = malloc(sizeof(float) * lat * B),
          *eps = malloc(sizeof(float) * lat * B), *t = malloc(sizeof(float) * B);
    r->prompt_embeds = malloc(sizeof(float) * B * 77 * D);
    if (e->sdxl) {
        r->pooled = malloc(sizeof(float) * B * P);
        r->time_ids = malloc(sizeof(float) * B * 6);
    }
    r->timesteps = malloc(sizeof(int64_t) * N);
    r->timesteps_f = malloc(sizeof(float) * N);
    r->final_latent = malloc(sizeof(float) * lat);
    r->image_raw = malloc(sizeof(float) * 3 * (size_t)p->width * p->height);
    if (p->record) {
        r->latents = malloc(sizeof(float) * lat * N);
        r->unet_input = malloc(sizeof(float) * lat * N * B);
        r->unet_output = malloc(sizeof(float) * lat * N * B);
        r->pred_x0 = calloc(lat * N, sizeof(float));
        r->sched_noise = malloc(sizeof(float) * lat * (ND ? ND : 1));
    }
    if (!x || !xin || !eps || !t || !r->prompt_embeds || !r->timesteps || !r->final_latent ||
        !r->image_raw || (e->sdxl && (!r->pooled || !r->time_ids)) ||
        (p->record &&
         (!r->latents || !r->unet_input || !r->unet_output || !r->pred_x0 || !r->sched_noise))) {
        s = dm_fail(err, "out of memory for a %dx%d image", p->width, p->height);
        goto done;
    }
    double t0 = now();
    /* prompt_embeds = cat([negative_prompt_embeds, prompt_embeds]); SDXL: no negative prompt
     * at all and force_zeros_for_empty_prompt => zeros (embeds and pooled), not encoded */
    if (cfg) {
        if (!p->negative_prompt && e->model->force_zeros) {
            memset(r->prompt_embeds, 0, sizeof(float) * 77 * D);
            if (r->pooled) memset(r->pooled, 0, sizeof(float) * P);
        } else if ((s = dm_engine_encode(e, p->negative_prompt ? p->negative_prompt : "",
                                         r->prompt_embeds, r->pooled, NULL, err))) {
            goto done;
        }
    }
    if ((s = dm_engine_encode(e, p->prompt, r->prompt_embeds + (size_t)(B - 1) * 77 * D,
                              r->pooled ? r->pooled + (size_t)(B - 1) * P : NULL, NULL, err)))
        goto done;
    if (e->sdxl) { /* add_time_ids = original_size + crops_coords_top_left + target_size */
        int ids[6];
        dm_engine_size_cond(p->original_size, p->crop, p->target_size, p->width, p->height, ids);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < 6; k++) r->time_ids[(size_t)b * 6 + k] = (float)ids[k];
    }
    r->seconds_text = now() - t0;

    dm_rng rng;
    dm_rng_seed(&rng, p->seed);
    if (p->init_noise)
        memcpy(x, p->init_noise, sizeof(float) * lat);
    else
        dm_rng_fill_normal(&rng, x, lat);
    float sigma0 = dm_sampler_init_noise_sigma(smp);
    for (size_t i = 0; i < lat; i++) x[i] *= sigma0; /* latents = latents * init_noise_sigma */
    dm_sampler_timesteps_i64(smp, r->timesteps);

    dm_unet_capture cap = {0}, *capp = NULL;
    if (p->store) {
        p->store->branch = B - 1;
        cap = (dm_unet_capture){.hook = dm_attn_store_hook,
                                .user = p->store,
                                .capture_cross = 1,
                                .capture_self_h = p->store->self_h,
                                .batch_mask = 1u << (B - 1)};
        capp = &cap;
    }
    dm_arena_trim(&e->arena); /* the last decode's activations */
    t0 = now();
    for (int i = 0; i < N; i++) {
        float ti = dm_sampler_timestep(smp, i);
        r->timesteps_f[i] = ti;
        /* latent_model_input = scale_model_input(cat([latents] * 2), t) */
        for (int b = 0; b < B; b++) {
            dm_sampler_scale_model_input(smp, i, x, xin + b * lat, lat);
            t[b] = ti;
        }
        dm_unet_added add = {r->pooled, r->time_ids};
        if ((s = dm_unet_forward_cond(&e->unet, xin, B, h, w, t, r->prompt_embeds, 77,
                                      e->sdxl ? &add : NULL, eps, capp, &e->arena, err)))
            goto done;
        if (p->store) dm_attn_store_step(p->store);
        if (p->record) {
            memcpy(r->unet_input + (size_t)i * B * lat, xin, sizeof(float) * B * lat);
            memcpy(r->unet_output + (size_t)i * B * lat, eps, sizeof(float) * B * lat);
        }
        if (cfg) /* noise_pred = uncond + guidance * (cond - uncond) */
            for (size_t k = 0; k < lat; k++)
                eps[k] = eps[k] + p->guidance * (eps[lat + k] - eps[k]);
        if ((s = dm_sampler_step(smp, i, eps, x, lat, &rng,
                                 p->record ? r->pred_x0 + (size_t)i * lat : NULL, err)))
            goto done;
        /* a NaN/Inf latent only spreads: stop here and name the step (one pass over the
         * latent costs nothing next to a UNet call) */
        for (size_t k = 0; k < lat; k++)
            if (!isfinite(x[k])) {
                s = dm_fail(err,
                            "the latent became NaN/Inf at step %d of %d (the model or the "
                            "settings overflow)",
                            i + 1, N);
                goto done;
            }
        if (p->record) {
            memcpy(r->latents + (size_t)i * lat, x, sizeof(float) * lat);
            const float *drawn = dm_sampler_last_noise(smp);
            if (drawn && r->n_sched_noise < ND)
                memcpy(r->sched_noise + (size_t)r->n_sched_noise++ * lat, drawn,
                       sizeof(float) * lat);
        }
        if (p->on_step) p->on_step(p->user, i + 1, N);
        if (p->should_stop && i + 1 < N && p->should_stop(p->stop_user)) {
            s = dm_fail(err, "stopped at step %d of %d", i + 1, N);
            goto done;
        }
    }
    r->seconds_unet = now() - t0;
    memcpy(r->final_latent, x, sizeof(float) * lat);
    t0 = now();
    s = dm_engine_decode(e, x, h, w, r->image_raw, err);
    r->seconds_vae = now() - t0;
done:
    free(x), free(xin), free(eps), free(t);
    dm_sampler_free(smp);
    if (s) dm_txt2img_result_free(r);
    return s;
}
