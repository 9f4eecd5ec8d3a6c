/* SDXL against the reference (diffusers 0.25.1) on tiny-sdxl, from the diffusers folder and from
 * the one SGM-layout file (with the folder as --config: the tiny towers' head counts): both
 * tokenizers and text encoders (every hidden state, pooled), the UNet with its added
 * conditioning and every cross-attention map, the VAE (square and 16x24), and whole pipelines
 * (Euler, DDIM, DDIM 16x24, Euler with zeroed negative embeddings) with their attention maps. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pipeline/engine.h"

/* Compares n floats of mine with golden tensor name (from element offset off). */
static void cmp_at(dm_safetensors *g, const char *name, long off, const float *mine, long n,
                   double tol, const char *what, double *worst) {
    long rn;
    float *ref = check_read_f32(g, name, &rn);
    CHECKF(ref && rn >= off + n, "%s: golden %s missing or too small (%ld < %ld)", what, name,
           ref ? rn : -1, off + n);
    if (ref && rn >= off + n) {
        double e = check_max_abs_diff(mine, ref + off, n);
        CHECKF(e <= tol, "%s: %s max err %g > %g", what, name, e, tol);
        if (e > *worst) *worst = e;
    }
    free(ref);
}

static void cmp(dm_safetensors *g, const char *name, const float *mine, long n, double tol,
                const char *what, double *worst) {
    cmp_at(g, name, 0, mine, n, tol, what, worst);
}

static dm_engine *open_engine(const char *model, const char *config) {
    dm_error err = {0};
    dm_engine *e = NULL;
    dm_engine_options o = {.model_path = model,
                           .ldm_config = config,
                           .prediction = -1,
                           .precision = DM_PRECISION_FP32}; /* the goldens are fp32 */
    if (dm_engine_open(&o, &e, &err)) CHECKF(0, "%s: %s", model, err.msg);
    return e;
}

static dm_safetensors *golden(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "golden/sdxl/%s.safetensors", name);
    dm_safetensors *g = NULL;
    dm_error err = {0};
    CHECKF(dm_st_open(check_shared(rel), &g, &err) == DM_OK, "%s", err.msg);
    return g;
}

static void text_encoders(dm_engine *e, const char *what) {
    dm_safetensors *g = golden("text_encoders");
    if (!g) return;
    dm_error err = {0};
    cJSON *prompts = cJSON_Parse(dm_st_metadata(g, "prompts"));
    int n = cJSON_GetArraySize(prompts);
    CHECK(n == 3);
    int T = 77, D1 = e->clip.cfg.hidden, D2 = e->clip2.cfg.hidden, D = dm_engine_ctx_dim(e);
    int P = dm_engine_pooled_dim(e);
    CHECK(D1 == 32 && D2 == 64 && D == 96 && P == 64);
    float *h1 = malloc(sizeof(float) * 4 * T * D1), *h2 = malloc(sizeof(float) * 4 * T * D2);
    float *l1 = malloc(sizeof(float) * T * D1), *l2 = malloc(sizeof(float) * T * D2);
    float *emb = malloc(sizeof(float) * T * D), pooled[64], pooled2[64];
    double worst = 0;
    for (int b = 0; b < n; b++) {
        const char *prompt = cJSON_GetArrayItem(prompts, b)->valuestring;
        int32_t ids[77], ids2[77];
        int64_t ref[3 * 77], ref2[3 * 77];
        CHECK(dm_tokenize(e->tok, prompt, NULL, NULL, ids, &err) == DM_OK);
        CHECK(dm_tokenize(e->tok2, prompt, NULL, NULL, ids2, &err) == DM_OK);
        dm_st_read_i64(dm_st_find(g, "input_ids"), ref, &err);
        dm_st_read_i64(dm_st_find(g, "input_ids_2"), ref2, &err);
        int same = 1;
        for (int t = 0; t < T; t++) same &= ids[t] == ref[b * T + t] && ids2[t] == ref2[b * T + t];
        CHECKF(same, "%s: token ids of prompt %d differ", what, b);
        dm_clip_outputs o1 = {.last = l1, .hidden = h1},
                        o2 = {.last = l2, .hidden = h2, .pooled = pooled};
        CHECK(dm_clip_run(&e->clip, ids, T, &o1, &e->arena, &err) == DM_OK);
        CHECK(dm_clip_run(&e->clip2, ids2, T, &o2, &e->arena, &err) == DM_OK);
        for (int i = 0; i <= 3; i++) {
            char name[64];
            snprintf(name, sizeof name, "te1.hidden_states.%d", i);
            cmp_at(g, name, (long)b * T * D1, h1 + (size_t)i * T * D1, (long)T * D1, 1e-4, what,
                   &worst);
            snprintf(name, sizeof name, "te2.hidden_states.%d", i);
            cmp_at(g, name, (long)b * T * D2, h2 + (size_t)i * T * D2, (long)T * D2, 1e-4, what,
                   &worst);
        }
        cmp_at(g, "te1.last_hidden_state", (long)b * T * D1, l1, (long)T * D1, 1e-4, what, &worst);
        cmp_at(g, "te2.last_hidden_state", (long)b * T * D2, l2, (long)T * D2, 1e-4, what, &worst);
        cmp_at(g, "te2.text_embeds", (long)b * P, pooled, P, 1e-4, what, &worst);
        /* what the pipeline uses */
        CHECK(dm_engine_encode(e, prompt, emb, pooled2, NULL, &err) == DM_OK);
        cmp_at(g, "prompt_embeds", (long)b * T * D, emb, (long)T * D, 1e-4, what, &worst);
        cmp_at(g, "pooled_prompt_embeds", (long)b * P, pooled2, P, 1e-4, what, &worst);
    }
    /* again, last first: now from the engine's memo of encoded prompts, which must hand each
     * prompt its own embeddings and pooled vector */
    for (int b = n - 1; b >= 0; b--) {
        char w2[96];
        snprintf(w2, sizeof w2, "%s (memo)", what);
        memset(emb, 0, sizeof(float) * T * D), memset(pooled2, 0, sizeof pooled2);
        CHECK(dm_engine_encode(e, cJSON_GetArrayItem(prompts, b)->valuestring, emb, pooled2, NULL,
                               &err) == DM_OK);
        cmp_at(g, "prompt_embeds", (long)b * T * D, emb, (long)T * D, 1e-4, w2, &worst);
        cmp_at(g, "pooled_prompt_embeds", (long)b * P, pooled2, P, 1e-4, w2, &worst);
    }
    CHECK(e->n_memo == n);
    printf("%s text_encoders: max err %.3g\n", what, worst);
    free(h1), free(h2), free(l1), free(l2), free(emb);
    cJSON_Delete(prompts);
    dm_st_close(g);
}

#define MAX_LAYERS 32
typedef struct {
    int n, B;
    char name[MAX_LAYERS][128];
    float *probs[MAX_LAYERS]; /* (B*heads, HW, 77) */
    int heads[MAX_LAYERS], hw[MAX_LAYERS];
} probe;

static void hook(void *user, const dm_attn_event *ev) {
    probe *s = user;
    int k = 0;
    while (k < s->n && strcmp(s->name[k], ev->layer)) k++;
    if (k == MAX_LAYERS) return;
    if (k == s->n) {
        snprintf(s->name[k], sizeof s->name[k], "%s", ev->layer);
        s->heads[k] = ev->heads, s->hw[k] = ev->h * ev->w;
        s->probs[k] = calloc((size_t)s->B * ev->heads * ev->h * ev->w * ev->n_keys, sizeof(float));
        s->n++;
    }
    size_t row = (size_t)(ev->batch * ev->heads + ev->head) * s->hw[k] + ev->q0;
    memcpy(s->probs[k] + row * ev->n_keys, ev->probs,
           sizeof(float) * (ev->q1 - ev->q0) * ev->n_keys);
}

static void unet(dm_engine *e, const char *what) {
    dm_safetensors *g = golden("unet"), *ga = golden("unet_attn2");
    if (!g || !ga) return;
    dm_error err = {0};
    long nx, nc, nte, nti;
    float *x = check_read_f32(g, "sample", &nx),
          *ctx = check_read_f32(g, "encoder_hidden_states", &nc);
    float *te = check_read_f32(g, "text_embeds", &nte), *ti = check_read_f32(g, "time_ids", &nti);
    int64_t t64[2];
    dm_st_read_i64(dm_st_find(g, "timesteps"), t64, &err);
    float t[2] = {(float)t64[0], (float)t64[1]};
    const dm_unet_config *c = &e->unet.cfg;
    CHECK(c->add_time_dim == 8 && c->add_in_dim == 112 && c->depth[1] == 2 && c->depth[2] == 3 &&
          c->mid_depth == 3 && c->cross_dim == 96 && c->heads[1] == 4 && !c->down_attn[0]);
    double worst = 0;
    int T = c->time_dim, A = c->add_in_dim, P = A - 6 * c->add_time_dim;
    for (int b = 0; b < 2; b++) {
        float temb[128], atp[48], ain[112], aemb[128], emb[128];
        dm_unet_emb_parts parts = {temb, atp, ain, aemb};
        CHECK(dm_unet_embedding(&e->unet, t[b], te + b * P, ti + b * 6, &parts, emb, &e->arena,
                                &err) == DM_OK);
        cmp_at(g, "time_emb", (long)b * T, temb, T, 1e-4, what, &worst);
        cmp_at(g, "add_time_proj", (long)b * 48, atp, 48, 1e-4, what, &worst);
        cmp_at(g, "add_embedding_input", (long)b * A, ain, A, 1e-4, what, &worst);
        cmp_at(g, "add_embedding", (long)b * T, aemb, T, 1e-4, what, &worst);
        cmp_at(g, "emb", (long)b * T, emb, T, 1e-4, what, &worst);
    }
    probe pr = {.B = 2};
    dm_unet_capture cap = {.hook = hook, .user = &pr, .capture_cross = 1};
    dm_unet_added add = {te, ti};
    float *y = malloc(sizeof(float) * nx);
    CHECKF(dm_unet_forward_cond(&e->unet, x, 2, 16, 16, t, ctx, 77, &add, y, &cap, &e->arena,
                                &err) == DM_OK,
           "%s", err.msg);
    cmp(g, "noise_pred", y, nx, 1e-4, what, &worst);
    double worst_attn = 0;
    cJSON *order = cJSON_Parse(dm_st_metadata(ga, "order"));
    CHECK(pr.n == 28 && cJSON_GetArraySize(order) == 28);
    for (int k = 0; k < pr.n; k++) {
        const cJSON *o = cJSON_GetArrayItem(order, k);
        CHECKF(o && !strcmp(o->valuestring, pr.name[k]), "%s: attention %d is %s", what, k,
               pr.name[k]);
        cmp(ga, pr.name[k], pr.probs[k], 2L * pr.heads[k] * pr.hw[k] * 77, 1e-4, what, &worst_attn);
        free(pr.probs[k]);
    }
    printf("%s unet: max err %.3g, unet_attn2 (%d maps): %.3g\n", what, worst, pr.n, worst_attn);
    cJSON_Delete(order);
    free(x), free(ctx), free(te), free(ti), free(y);
    dm_st_close(g), dm_st_close(ga);
}

static void vae(dm_engine *e, const char *what) {
    dm_safetensors *g = golden("vae_decode");
    if (!g) return;
    dm_error err = {0};
    CHECK(e->vae.cfg.scaling == 0.13025f);
    static const char *const lat[2] = {"latent", "latent_16x24"}, *const img[2] = {"image",
                                                                                   "image_16x24"};
    double worst = 0;
    for (int k = 0; k < 2; k++) {
        const dm_st_tensor *lt = dm_st_find(g, lat[k]);
        int h = (int)lt->shape[2], w = (int)lt->shape[3];
        float *z = check_read_f32(g, lat[k], NULL), *out = malloc(sizeof(float) * 3 * 64 * h * w);
        CHECKF(dm_vae_decode(&e->vae, z, h, w, out, &e->arena, &err) == DM_OK, "%s", err.msg);
        cmp(g, img[k], out, 3L * 64 * h * w, 1e-4, what, &worst);
        free(z), free(out);
    }
    printf("%s vae_decode: max err %.3g\n", what, worst);
    dm_st_close(g);
}

static void pipe(dm_engine *e, const char *what, const char *name, dm_sampler_kind kind,
                 int zero_neg) {
    dm_safetensors *g = golden(name);
    if (!g) return;
    dm_error err = {0};
    const dm_st_tensor *nt = dm_st_find(g, "initial_noise");
    int h = (int)nt->shape[2], w = (int)nt->shape[3];
    float *noise = check_read_f32(g, "initial_noise", NULL);
    dm_attn_store store;
    dm_attn_store_init(&store, 1, 0);
    dm_txt2img_params p = {.prompt = "a photograph of a bird",
                           .negative_prompt = zero_neg ? NULL : "",
                           .steps = 10,
                           .guidance = 5.0f,
                           .sampler = kind,
                           .width = 8 * w,
                           .height = 8 * h,
                           .init_noise = noise,
                           .store = &store,
                           .record = 1};
    dm_txt2img_result r;
    dm_status s = dm_txt2img(e, &p, &r, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    if (s == DM_OK) {
        long lat = (long)r.L * r.h * r.w;
        double worst = 0, worst_attn = 0;
        cmp(g, "prompt_embeds", r.prompt_embeds, 2L * 77 * r.D, 1e-4, what, &worst);
        cmp(g, "add_text_embeds", r.pooled, 2L * r.P, 1e-4, what, &worst);
        cmp(g, "add_time_ids", r.time_ids, 12, 0, what, &worst);
        cmp(g, "unet_input", r.unet_input, lat * 2 * r.n_calls, 1e-3, what, &worst);
        cmp(g, "unet_output", r.unet_output, lat * 2 * r.n_calls, 1e-3, what, &worst);
        cmp(g, "latents", r.latents, lat * r.n_calls, 1e-3, what, &worst);
        cmp(g, "final_latent", r.final_latent, lat, 1e-3, what, &worst);
        cmp(g, "image_raw", r.image_raw, 3L * r.H * r.W, 1e-3, what, &worst);
        const dm_st_tensor *ts = dm_st_find(g, "timesteps");
        float tf[16];
        int64_t ti[16];
        int is_float = dm_dtype_is_float(ts->dtype);
        if (is_float)
            dm_st_read_f32(ts, tf, &err);
        else
            dm_st_read_i64(ts, ti, &err);
        int same = ts->numel == r.n_calls;
        for (int i = 0; same && i < r.n_calls; i++)
            same = is_float ? tf[i] == r.timesteps_f[i] : ti[i] == r.timesteps[i];
        CHECKF(same, "%s: %s: timesteps differ", what, name);
        CHECK(store.n_layers == 28);
        int hs[8], ws[8], nr = dm_attn_store_resolutions(&store, hs, ws, 8);
        CHECK(nr == 2 && hs[0] == h / 2 && ws[0] == w / 2 && hs[1] == h / 4 && ws[1] == w / 4);
        float *buf = malloc(sizeof(float) * (size_t)h * w * 77);
        for (int k = 0; k < store.n_layers; k++) {
            char an[200];
            snprintf(an, sizeof an, "attn_layer.%s", store.layers[k].name);
            dm_attn_store_layer_mean(&store, k, buf);
            cmp(g, an, buf, (long)store.layers[k].h * store.layers[k].w * 77, 1e-4, what,
                &worst_attn);
        }
        for (int k = 0; k < nr; k++) {
            char an[64];
            snprintf(an, sizeof an, "attn_res.%dx%d", hs[k], ws[k]);
            dm_attn_store_res_mean(&store, hs[k], ws[k], buf);
            cmp(g, an, buf, (long)hs[k] * ws[k] * 77, 1e-4, what, &worst_attn);
        }
        free(buf);
        printf("%s %s: max err %.3g (latents/images), attention %.3g\n", what, name, worst,
               worst_attn);
        dm_txt2img_result_free(&r);
    }
    dm_attn_store_free(&store);
    free(noise);
    dm_st_close(g);
}

/* Every sampler the engine has runs SDXL (no golden beyond Euler and DDIM: finite, not flat). */
static void every_sampler(dm_engine *e) {
    for (int k = 0; k <= (int)DM_SAMPLER_LCM; k++) {
        dm_error err = {0};
        dm_txt2img_params p = {.prompt = "a photograph of a bird",
                               .steps = 3,
                               .guidance = 5.0f,
                               .sampler = (dm_sampler_kind)k,
                               .width = 64,
                               .height = 96,
                               .seed = 5};
        dm_txt2img_result r;
        dm_status s = dm_txt2img(e, &p, &r, &err);
        CHECKF(s == DM_OK, "%s: %s", dm_sampler_kind_name((dm_sampler_kind)k), err.msg);
        if (s) continue;
        int finite = 1;
        float lo = r.image_raw[0], hi = lo;
        for (long i = 0; i < 3L * 64 * 96; i++) {
            float v = r.image_raw[i];
            finite &= isfinite(v);
            lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
        CHECKF(finite && hi > lo, "%s: image not finite or flat",
               dm_sampler_kind_name((dm_sampler_kind)k));
        dm_txt2img_result_free(&r);
    }
}

static void all(const char *model, const char *config, const char *what) {
    dm_engine *e = open_engine(model, config);
    if (!e) return;
    CHECK(e->sdxl && e->model->force_zeros);
    text_encoders(e, what);
    unet(e, what);
    vae(e, what);
    pipe(e, what, "pipe_euler", DM_SAMPLER_EULER, 0);
    pipe(e, what, "pipe_ddim", DM_SAMPLER_DDIM, 0);
    pipe(e, what, "pipe_ddim_16x24", DM_SAMPLER_DDIM, 0);
    pipe(e, what, "pipe_euler_zero_neg", DM_SAMPLER_EULER, 1);
    if (!config) every_sampler(e);
    dm_engine_free(e);
}

int main(void) {
    const char *folder = check_shared("golden/sdxl/tiny-sdxl");
    const char *single = check_shared("golden/sdxl/tiny-sdxl-original.safetensors");
    all(folder, NULL, "folder");
    all(single, folder, "one file + --config folder");
    return check_finish();
}
