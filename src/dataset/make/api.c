/* The public API of include/diffumask.h, on top of the engine, the mask module and the sample
 * maker that `generate` uses. */
#include <stdlib.h>
#include <string.h>

#include "dataset/make/generate.h"

dm_status dm_open_precision(const char *model_path, int threads, dm_precision precision,
                            dm_engine **out, dm_error *err) {
    dm_open_options o = {.model_path = model_path, .threads = threads, .precision = precision};
    return dm_open_ex(&o, out, err);
}

dm_status dm_open_ex(const dm_open_options *oo, dm_engine **out, dm_error *err) {
    if (!out || !oo)
        return dm_fail_code(err, DM_EUSAGE,
                            "dm_open_ex: options and a handle pointer are required");
    *out = NULL;
    if (oo->n_loras < 0 || (oo->n_loras > 0 && !oo->loras))
        return dm_fail_code(err, DM_EUSAGE, "dm_open_ex: n_loras %d without loras", oo->n_loras);
    char demo[4096];
    const char *model_path = oo->model_path;
    if (!model_path) {
        DM_TRY(dm_default_model(demo, sizeof demo, err));
        model_path = demo;
    }
    dm_engine_options o = {.model_path = model_path,
                           .threads = oo->threads,
                           .prediction = -1,
                           .loras = oo->loras,
                           .n_loras = oo->n_loras,
                           .vae_decoder = oo->vae_decoder,
                           .precision = oo->precision};
    return dm_engine_open(&o, out, err);
}

dm_status dm_open(const char *model_path, int threads, dm_engine **out, dm_error *err) {
    return dm_open_precision(model_path, threads, DM_PRECISION_AUTO, out, err);
}

dm_precision dm_engine_precision(const dm_engine *e) {
    return e->precision;
}

void dm_close(dm_engine *e) {
    dm_engine_free(e);
}

int dm_native_size(const dm_engine *e) {
    return e->unet.cfg.sample_size * dm_vae_factor(&e->vae);
}

static dm_status to_params(dm_engine *e, const dm_image_request *r, dm_txt2img_params *p,
                           dm_error *err) {
    if (!r || !r->prompt)
        return dm_fail_code(err, DM_EUSAGE, "a request with a prompt is required");
    *p = (dm_txt2img_params){.prompt = r->prompt,
                             .negative_prompt = r->negative_prompt,
                             .steps = r->steps ? r->steps : 25,
                             .guidance = r->guidance ? r->guidance : 7.5f,
                             .width = r->width ? r->width : dm_native_size(e),
                             .height = r->height ? r->height : dm_native_size(e),
                             .seed = r->seed,
                             .timestep_spacing = r->timestep_spacing};
    return dm_sampler_kind_parse(r->sampler ? r->sampler : "ddim", &p->sampler, err);
}

dm_status dm_generate_image(dm_engine *e, const dm_image_request *r, uint8_t *rgb, dm_error *err) {
    dm_txt2img_params p;
    DM_TRY(to_params(e, r, &p, err));
    dm_txt2img_result res;
    DM_TRY(dm_txt2img(e, &p, &res, err));
    dm_image_to_rgb8(res.image_raw, res.H, res.W, rgb);
    dm_txt2img_result_free(&res);
    return DM_OK;
}

dm_status dm_generate_masked(dm_engine *e, const dm_image_request *r,
                             const char *const *class_words, int n_words, const char *mask_method,
                             uint8_t *rgb, uint8_t *mask, float *score, dm_error *err) {
    dm_txt2img_params p;
    DM_TRY(to_params(e, r, &p, err));
    if (n_words < 1 || n_words > DM_MAX_OBJECTS)
        return dm_fail_code(err, DM_EUSAGE, "1..%d class words, not %d", DM_MAX_OBJECTS, n_words);
    dm_mask_params mp;
    dm_mask_params_default(&mp);
    if (mask_method) DM_TRY(dm_mask_method_parse(mask_method, &mp, err));
    int pos[DM_MAX_OBJECTS][16], npos[DM_MAX_OBJECTS], ids[DM_MAX_OBJECTS];
    for (int k = 0; k < n_words; k++) {
        DM_TRY(dm_token_positions(e->tok, r->prompt, class_words[k], pos[k], 16, &npos[k], err));
        ids[k] = k + 1;
    }
    dm_sample_request q = {&p, n_words, (const int(*)[16])pos, npos, ids, &mp};
    dm_mask_score sc;
    dm_txt2img_result res;
    DM_TRY(dm_make_sample(e, &q, rgb, mask, NULL, &sc, &res, NULL, err));
    dm_txt2img_result_free(&res);
    if (score) *score = sc.score;
    return DM_OK;
}
