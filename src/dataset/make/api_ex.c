/* The extended public API of include/diffumask.h (dm_generate_ex and its dm_run_options,
 * dm_open_config): what a binding needs beyond dm_generate_masked — heat maps out, diffusers'
 * initial noise in, progress and stop callbacks, open options that can grow. Kept apart from
 * api.c so the plain API stays as it was. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/make/generate.h"

void dm_run_options_init(dm_run_options *o) {
    *o = (dm_run_options){.size = sizeof *o};
}

void dm_engine_config_init(dm_engine_config *c) {
    *c = (dm_engine_config){.size = sizeof *c};
}

dm_status dm_open_config(const dm_engine_config *in, dm_engine **out, dm_error *err) {
    dm_engine_config c;
    dm_engine_config_init(&c);
    if (!in || !out)
        return dm_fail_code(err, DM_EUSAGE,
                            "dm_open_config: a config and a handle pointer are required");
    *out = NULL;
    if (in->size < sizeof(size_t) || in->size > sizeof c)
        return dm_fail_code(err, DM_EUSAGE,
                            "dm_open_config: config size %zu is not that of a dm_engine_config "
                            "(%zu here; call dm_engine_config_init)",
                            in->size, sizeof c);
    memcpy(&c, in, in->size); /* fields past the caller's size keep their defaults */
    dm_open_options o = {.model_path = c.model_path,
                         .threads = c.threads,
                         .loras = c.loras,
                         .n_loras = c.n_loras,
                         .vae_decoder = c.vae_decoder,
                         .precision = c.precision};
    return dm_open_ex(&o, out, err);
}

const char *dm_version(void) {
    return DM_VERSION;
}

void dm_latent_shape(const dm_engine *e, int width, int height, int *channels, int *h, int *w) {
    int f = dm_vae_factor(&e->vae), native = dm_native_size(e);
    *channels = e->unet.cfg.in_ch;
    *h = (height ? height : native) / f;
    *w = (width ? width : native) / f;
}

/* The caller's stop callback, remembered as having answered "stop": the engine reports a stop
 * as DM_ERR like any failure, and the binding needs to tell the two apart. */
typedef struct {
    int (*should_stop)(void *user);
    void *user;
    int stopped;
} stop_ctx;

static int ask_stop(void *u) {
    stop_ctx *c = u;
    if (c->should_stop(c->user)) c->stopped = 1;
    return c->stopped;
}

/* A copy of the caller's options as this library's struct: the fields beyond the caller's size
 * (an older header) stay zero. */
static dm_status read_options(const dm_run_options *in, dm_run_options *o, dm_error *err) {
    dm_run_options_init(o);
    if (!in) return DM_OK;
    if (in->size < sizeof(size_t) || in->size > sizeof *o)
        return dm_fail_code(err, DM_EUSAGE,
                            "dm_generate_ex: options size %zu is not that of a dm_run_options "
                            "(%zu here; call dm_run_options_init)",
                            in->size, sizeof *o);
    memcpy(o, in, in->size);
    o->size = sizeof *o;
    return DM_OK;
}

dm_status dm_generate_ex(dm_engine *e, const dm_image_request *r, const dm_run_options *oin,
                         const char *const *class_words, int n_words, uint8_t *rgb, uint8_t *mask,
                         float *score, dm_error *err) {
    dm_run_options o;
    if (!e) return dm_fail_code(err, DM_EUSAGE, "dm_generate_ex: no engine");
    DM_TRY(read_options(oin, &o, err));
    if (!r || !r->prompt)
        return dm_fail_code(err, DM_EUSAGE, "dm_generate_ex: a request with a prompt is required");
    if (!rgb) return dm_fail_code(err, DM_EUSAGE, "dm_generate_ex: no image buffer");
    if (n_words < 0 || n_words > DM_MAX_OBJECTS || (n_words > 0 && (!class_words || !mask)))
        return dm_fail_code(err, DM_EUSAGE,
                            "dm_generate_ex: 0..%d class words with a mask buffer, not %d",
                            DM_MAX_OBJECTS, n_words);
    int native = dm_native_size(e);
    dm_txt2img_params p = {.prompt = r->prompt,
                           .negative_prompt = r->negative_prompt,
                           .steps = r->steps ? r->steps : 25,
                           .guidance = r->guidance ? r->guidance : 7.5f,
                           .width = r->width ? r->width : native,
                           .height = r->height ? r->height : native,
                           .seed = r->seed,
                           .timestep_spacing = r->timestep_spacing,
                           .init_noise = o.latents,
                           .on_step = o.progress,
                           .user = o.user};
    DM_TRY(dm_sampler_kind_parse(r->sampler ? r->sampler : "ddim", &p.sampler, err));
    stop_ctx sc = {o.should_stop, o.user, 0};
    if (o.should_stop) p.should_stop = ask_stop, p.stop_user = &sc;
    dm_txt2img_result res = {0};
    dm_status s;
    if (n_words == 0) {
        s = dm_txt2img(e, &p, &res, err);
        if (!s) dm_image_to_rgb8(res.image_raw, res.H, res.W, rgb);
    } else {
        dm_mask_params mp;
        dm_mask_params_default(&mp);
        if (o.mask_method) DM_TRY(dm_mask_method_parse(o.mask_method, &mp, err));
        int pos[DM_MAX_OBJECTS][16], npos[DM_MAX_OBJECTS], ids[DM_MAX_OBJECTS];
        for (int k = 0; k < n_words; k++) {
            if (!class_words[k])
                return dm_fail_code(err, DM_EUSAGE, "dm_generate_ex: class word %d is NULL", k);
            DM_TRY(
                dm_token_positions(e->tok, r->prompt, class_words[k], pos[k], 16, &npos[k], err));
            ids[k] = k + 1;
        }
        dm_sample_request q = {&p, n_words, (const int(*)[16])pos, npos, ids, &mp};
        dm_mask_score sc_out;
        s = dm_make_sample(e, &q, rgb, mask, o.heatmaps, &sc_out, &res, NULL, err);
        if (!s && score) *score = sc_out.score;
        /* the normalised maps are in [0, 1] up to rounding; the contract says [0, 1] exactly */
        size_t n = o.heatmaps && !s ? (size_t)n_words * p.width * p.height : 0;
        for (size_t i = 0; i < n; i++)
            o.heatmaps[i] = o.heatmaps[i] < 0 ? 0 : o.heatmaps[i] > 1 ? 1 : o.heatmaps[i];
    }
    dm_txt2img_result_free(&res);            /* (a failed dm_make_sample left it empty) */
    if (s && sc.stopped) return DM_ESTOPPED; /* err already says "stopped at step i of n" */
    return s;
}
