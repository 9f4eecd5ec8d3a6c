/* diffumask txt2img: one image from a prompt, optionally with every intermediate tensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "io/image.h"

typedef struct {
    dm_cli_model_opts m;
    dm_cli_size_opts sz;
    const char *prompt, *negative, *sampler, *spacing, *init_noise, *save_tensors, *out;
    long steps, width, height, seed;
    double guidance, eta;
} t2i_opts;

static dm_status save_tensors(const char *path, const dm_txt2img_result *r, const dm_attn_store *st,
                              const float *noise, int D, int ts_float, dm_error *err) {
    dm_st_writer *w = dm_st_writer_new();
    int64_t lat[4] = {1, r->L, r->h, r->w}, img[4] = {1, 3, r->H, r->W};
    int64_t steps5[5] = {r->n_calls, 1, r->L, r->h, r->w},
            io5[5] = {r->n_calls, r->batch, r->L, r->h, r->w};
    int64_t emb[3] = {r->batch, 77, D}, nts[1] = {r->n_calls};
    dm_status s = dm_st_writer_add_f32(w, "final_latent", 4, lat, r->final_latent, err);
    if (!s) s = dm_st_writer_add_f32(w, "image_raw", 4, img, r->image_raw, err);
    if (!s) s = dm_st_writer_add_f32(w, "latents", 5, steps5, r->latents, err);
    if (!s) s = dm_st_writer_add_f32(w, "unet_input", 5, io5, r->unet_input, err);
    if (!s) s = dm_st_writer_add_f32(w, "unet_output", 5, io5, r->unet_output, err);
    if (!s) s = dm_st_writer_add_f32(w, "prompt_embeds", 3, emb, r->prompt_embeds, err);
    if (!s) s = dm_st_writer_add_f32(w, "pred_original_sample", 5, steps5, r->pred_x0, err);
    if (!s) s = dm_st_writer_add_f32(w, "initial_noise", 4, lat, noise, err);
    if (!s && r->pooled) { /* SDXL's added conditioning, as diffusers names it */
        int64_t te[2] = {r->batch, r->P}, ti[2] = {r->batch, 6};
        s = dm_st_writer_add_f32(w, "add_text_embeds", 2, te, r->pooled, err);
        if (!s) s = dm_st_writer_add_f32(w, "add_time_ids", 2, ti, r->time_ids, err);
    }
    if (!s && r->n_sched_noise) {
        int64_t sn[5] = {r->n_sched_noise, 1, r->L, r->h, r->w};
        s = dm_st_writer_add_f32(w, "scheduler_noise", 5, sn, r->sched_noise, err);
    }
    if (!s)
        s = ts_float ? dm_st_writer_add_f32(w, "timesteps", 1, nts, r->timesteps_f, err)
                     : dm_st_writer_add(w, "timesteps", DM_I64, 1, nts, r->timesteps, err);
    /* attn_layer.<name> = mean over steps of the conditional head-mean; attn_res.<h>x<w> = mean
     * of the layers of that resolution (../shared/golden/README.md (f)) */
    int n = st->n_layers, hs[16], ws[16], nr = dm_attn_store_resolutions(st, hs, ws, 16);
    float **bufs = calloc((size_t)(n + nr) + 1, sizeof *bufs);
    char(*names)[200] = calloc((size_t)(n + nr) + 1, sizeof *names);
    if (!bufs || !names) s = dm_fail(err, "out of memory");
    for (int k = 0; !s && k < n; k++) {
        const dm_store_layer *l = &st->layers[k];
        bufs[k] = malloc(sizeof(float) * l->h * l->w * l->n_keys);
        if (!bufs[k]) {
            s = dm_fail(err, "out of memory");
            break;
        }
        dm_attn_store_layer_mean(st, k, bufs[k]);
        snprintf(names[k], sizeof names[k], "attn_layer.%s", l->name);
        int64_t sh[2] = {(int64_t)l->h * l->w, l->n_keys};
        s = dm_st_writer_add_f32(w, names[k], 2, sh, bufs[k], err);
    }
    for (int k = 0; !s && k < nr; k++) {
        int nk = st->layers[0].n_keys;
        bufs[n + k] = malloc(sizeof(float) * hs[k] * ws[k] * nk);
        if (!bufs[n + k]) {
            s = dm_fail(err, "out of memory");
            break;
        }
        dm_attn_store_res_mean(st, hs[k], ws[k], bufs[n + k]);
        snprintf(names[n + k], sizeof names[n + k], "attn_res.%dx%d", hs[k], ws[k]);
        int64_t sh[2] = {(int64_t)hs[k] * ws[k], nk};
        s = dm_st_writer_add_f32(w, names[n + k], 2, sh, bufs[n + k], err);
    }
    if (!s) s = dm_st_write(w, path, err);
    dm_st_writer_free(w);
    for (int k = 0; bufs && k < n + nr; k++) free(bufs[k]);
    free(bufs), free(names);
    return s;
}

int dm_cmd_txt2img(int argc, char **argv) {
    t2i_opts o = {
        .steps = 25, .width = 0, .height = 0, .seed = 0, .guidance = 7.5, .sampler = "ddim"};
    dm_opt opts[] = {
        DM_CLI_MODEL_OPTS(o.m),
        {"--prompt", DM_ARG_STR, &o.prompt, "TEXT", "what to draw (required)"},
        {"--negative-prompt", DM_ARG_STR, &o.negative, "TEXT",
         "what not to draw (default \"\"; SDXL without it: zeroed unconditional embeddings, as "
         "force_zeros_for_empty_prompt says)"},
        DM_CLI_SIZE_OPTS(o.sz),
        {"--steps", DM_ARG_INT, &o.steps, "N", "denoising steps (default 25)", 1, 1000},
        {"--guidance", DM_ARG_FLOAT, &o.guidance, "G",
         "classifier-free guidance scale (default 7.5; <= 1 disables it)", 0, 100},
        {"--sampler", DM_ARG_STR, &o.sampler, "NAME",
         "ddim | euler | euler_a | dpmpp_2m | pndm | lcm (default ddim)"},
        {"--timestep-spacing", DM_ARG_STR, &o.spacing, "leading|trailing|linspace",
         "timestep spacing (default: the model's scheduler config, else leading)"},
        {"--eta", DM_ARG_FLOAT, &o.eta, "ETA", "DDIM eta (default 0: deterministic)", 0, 1},
        {"--width", DM_ARG_INT, &o.width, "W", "image width (default: the model's native size)", 1,
         16384},
        {"--height", DM_ARG_INT, &o.height, "H", "image height (default: the model's native size)",
         1, 16384},
        {"--seed", DM_ARG_INT, &o.seed, "S", "random seed (default 0)", 0, DM_ARG_SEED_MAX},
        {"--init-noise", DM_ARG_STR, &o.init_noise, "FILE",
         "safetensors with 'initial_noise' [1,4,h,w] (diffusers latents=) and optionally "
         "'scheduler_noise' [n,1,4,h,w] (the k-th noise the sampler draws)"},
        {"--save-tensors", DM_ARG_STR, &o.save_tensors, "FILE",
         "also write final_latent, image_raw, latents, timesteps, attn_layer.*, attn_res.*"},
        {"--out", DM_ARG_STR, &o.out, "IMAGE.png", "output PNG (required)"},
    };
    dm_cmd_spec spec = {"diffumask txt2img",
                        "[--model PATH] --prompt TEXT [options] --out IMAGE.png",
                        "Generates one image with Stable Diffusion (classifier-free guidance, "
                        "batch [uncond, cond]).",
                        opts,
                        (int)(sizeof opts / sizeof *opts),
                        0,
                        0};
    const char *pos[1];
    int npos, r = dm_parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r < 0 ? 0 : r;
    if (!o.prompt) return dm_usage_error(&spec, "--prompt is required");
    if (!o.out) return dm_usage_error(&spec, "--out is required");
    dm_error err = {0};
    dm_sampler_kind kind;
    if (dm_sampler_kind_parse(o.sampler, &kind, &err)) return dm_usage_error(&spec, "%s", err.msg);
    if (o.spacing && dm_sched_spacing_check(o.spacing, &err))
        return dm_usage_error(&spec, "%s", err.msg);
    int orig[2], crop[2], target[2];
    if ((r = dm_cli_parse_sizes(&spec, &o.sz, orig, crop, target))) return r;
    dm_engine *e;
    if ((r = dm_cli_open_engine(&spec, &o.m, 1, &e))) return r;
    int f = dm_vae_factor(&e->vae);
    int W = o.width ? (int)o.width : e->unet.cfg.sample_size * f,
        H = o.height ? (int)o.height : e->unet.cfg.sample_size * f;
    int L = e->unet.cfg.in_ch, h = H / f, w = W / f;
    float *noise = NULL, *snoise = NULL;
    int n_snoise = 0;
    dm_status s = DM_OK;
    if (o.init_noise) {
        dm_safetensors *st;
        if (!(s = dm_st_open(o.init_noise, &st, &err))) {
            const dm_st_tensor *t = dm_st_find(st, "initial_noise");
            if (!t || t->numel != (int64_t)L * h * w)
                s = dm_fail(&err,
                            "%s: needs 'initial_noise' with %d x %d x %d values for a %dx%d image",
                            o.init_noise, L, h, w, W, H);
            else if ((noise = malloc(sizeof(float) * t->numel)))
                s = dm_st_read_f32(t, noise, &err);
            const dm_st_tensor *sn = s ? NULL : dm_st_find(st, "scheduler_noise");
            if (sn && (sn->ndim < 1 || sn->numel != sn->shape[0] * (int64_t)L * h * w))
                s = dm_fail(&err, "%s: 'scheduler_noise' must be [n, 1, %d, %d, %d]", o.init_noise,
                            L, h, w);
            else if (sn && sn->numel > 0) {
                n_snoise = (int)sn->shape[0];
                snoise = malloc(sizeof(float) * sn->numel);
                s = snoise ? dm_st_read_f32(sn, snoise, &err) : dm_fail(&err, "out of memory");
            }
            dm_st_close(st);
        }
    }
    dm_attn_store store;
    dm_attn_store_init(&store, 1, 0);
    dm_txt2img_params p = {.prompt = o.prompt,
                           .negative_prompt = o.negative,
                           .steps = (int)o.steps,
                           .guidance = (float)o.guidance,
                           .sampler = kind,
                           .timestep_spacing = o.spacing,
                           .sched_noise = snoise,
                           .n_sched_noise = n_snoise,
                           .eta = (float)o.eta,
                           .width = W,
                           .height = H,
                           .seed = (uint64_t)o.seed,
                           .init_noise = noise,
                           .original_size = {orig[0], orig[1]},
                           .crop = {crop[0], crop[1]},
                           .target_size = {target[0], target[1]},
                           .store = o.save_tensors ? &store : NULL,
                           .record = o.save_tensors != NULL};
    dm_txt2img_result res = {0};
    if (!s) s = dm_txt2img(e, &p, &res, &err);
    if (!s) {
        uint8_t *rgb = malloc((size_t)W * H * 3);
        if (!rgb)
            s = dm_fail(&err, "out of memory");
        else {
            dm_image_to_rgb8(res.image_raw, H, W, rgb);
            s = dm_png_write_rgb(o.out, rgb, W, H, &err);
            free(rgb);
        }
    }
    if (!s && o.save_tensors) {
        float *n0 = noise;
        if (!n0) { /* the noise the run drew: the seed's first draws */
            n0 = malloc(sizeof(float) * L * h * w);
            dm_rng rng;
            dm_rng_seed(&rng, (uint64_t)o.seed);
            if (n0) dm_rng_fill_normal(&rng, n0, (size_t)L * h * w);
        }
        s = n0 ? save_tensors(o.save_tensors, &res, &store, n0, res.D,
                              kind == DM_SAMPLER_EULER || kind == DM_SAMPLER_EULER_A, &err)
               : dm_fail(&err, "out of memory");
        if (n0 != noise) free(n0);
    }
    if (!s)
        fprintf(stderr,
                "txt2img: %dx%d, %d steps: text %.2f s, unet %.2f s (%.2f s/step), vae %.2f s\n", W,
                H, res.n_calls, res.seconds_text, res.seconds_unet, res.seconds_unet / res.n_calls,
                res.seconds_vae);
    dm_txt2img_result_free(&res);
    dm_attn_store_free(&store);
    free(noise), free(snoise);
    dm_engine_free(e);
    return s ? dm_cli_fail(&spec, s, &err) : 0;
}
