/* Few-step pipelines against diffusers 0.25.1 (golden/fast/README.md (b), (c)) on tiny-sd1, from
 * the diffusers folder and the one-file checkpoint: LCM at guidance 1 (conditional branch alone)
 * and 2 (CFG), SD-Turbo style Euler ancestral trailing at 1 step, Euler trailing at 4 steps.
 * The scheduler's noise is replayed from the golden. Every step's UNet input, x0 and latent, the
 * final latent, the image and the conditional-branch attention maps. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pipeline/engine.h"

typedef struct {
    const char *golden;
    dm_sampler_kind kind;
    const char *spacing;
    int steps;
    float guidance;
} pipe_case;

static void cmp(dm_safetensors *g, const char *name, const float *mine, long n, double tol,
                const char *what, double *worst) {
    long rn = 0;
    float *ref = check_read_f32(g, name, &rn);
    CHECKF(ref && rn == n, "%s: golden %s missing or of another size (%ld vs %ld)", what, name, rn,
           n);
    if (ref && rn == n) {
        double e = check_max_abs_diff(mine, ref, n);
        CHECKF(e <= tol, "%s: %s max err %g > %g", what, name, e, tol);
        if (e > *worst) *worst = e;
        printf("  %-60s %.3g\n", name, e);
    }
    free(ref);
}

static void run(dm_engine *e, const char *model, const pipe_case *c) {
    dm_error err = {0};
    dm_safetensors *g;
    if (dm_st_open(check_shared(c->golden), &g, &err)) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    long nsn = 0;
    float *noise = check_read_f32(g, "initial_noise", NULL),
          *sn = check_read_f32(g, "scheduler_noise", &nsn);
    dm_attn_store store;
    dm_attn_store_init(&store, 1, 0);
    dm_txt2img_params p = {.prompt = "a photograph of a bird",
                           .negative_prompt = "",
                           .steps = c->steps,
                           .guidance = c->guidance,
                           .sampler = c->kind,
                           .timestep_spacing = c->spacing,
                           .width = 128,
                           .height = 128,
                           .init_noise = noise,
                           .sched_noise = sn,
                           .n_sched_noise = (int)(nsn / (4 * 16 * 16)),
                           .store = &store,
                           .record = 1};
    dm_txt2img_result r;
    dm_status s = dm_txt2img(e, &p, &r, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    if (s == DM_OK) {
        printf("%s with %s:\n", model, c->golden);
        long lat = (long)r.L * r.h * r.w, N = r.n_calls;
        double worst = 0, tl = 1e-3, tc = 1e-4;
        CHECK(r.batch == (c->guidance > 1 ? 2 : 1));
        cmp(g, "prompt_embeds", r.prompt_embeds, r.batch * 77L * e->clip.cfg.hidden, tc, model,
            &worst);
        cmp(g, "unet_input", r.unet_input, lat * r.batch * N, tl, model, &worst);
        cmp(g, "unet_output", r.unet_output, lat * r.batch * N, tl, model, &worst);
        cmp(g, "pred_original_sample", r.pred_x0, lat * N, tl, model, &worst);
        cmp(g, "latents", r.latents, lat * N, tl, model, &worst);
        cmp(g, "final_latent", r.final_latent, lat, tl, model, &worst);
        cmp(g, "image_raw", r.image_raw, 3L * r.H * r.W, tl, model, &worst);
        if (sn)
            cmp(g, "scheduler_noise", r.sched_noise, (long)r.n_sched_noise * lat, 0, model, &worst);
        const dm_st_tensor *ts = dm_st_find(g, "timesteps");
        float tf[16] = {0};
        int64_t ti[16] = {0};
        int is_float = ts && dm_dtype_is_float(ts->dtype);
        if (is_float)
            dm_st_read_f32(ts, tf, &err);
        else if (ts)
            dm_st_read_i64(ts, ti, &err);
        int same = ts && ts->numel == N;
        for (int i = 0; same && i < N; i++)
            same = is_float ? tf[i] == r.timesteps_f[i] : ti[i] == r.timesteps[i];
        CHECKF(same, "%s: timesteps differ", c->golden);
        float *buf = malloc(sizeof(float) * 256 * 77);
        CHECK(store.n_layers == 16);
        for (int k = 0; k < store.n_layers; k++) {
            char name[200];
            snprintf(name, sizeof name, "attn_layer.%s", store.layers[k].name);
            dm_attn_store_layer_mean(&store, k, buf);
            cmp(g, name, buf, (long)store.layers[k].h * store.layers[k].w * 77, tc, model, &worst);
        }
        int hs[8], ws[8], nr = dm_attn_store_resolutions(&store, hs, ws, 8);
        for (int k = 0; k < nr; k++) {
            char name[64];
            snprintf(name, sizeof name, "attn_res.%dx%d", hs[k], ws[k]);
            dm_attn_store_res_mean(&store, hs[k], ws[k], buf);
            cmp(g, name, buf, (long)hs[k] * ws[k] * 77, tc, model, &worst);
        }
        free(buf);
        printf("  worst %.3g\n", worst);
        dm_txt2img_result_free(&r);
    }
    dm_attn_store_free(&store);
    free(noise), free(sn);
    dm_st_close(g);
}

int main(void) {
    char models[2][1024];
    snprintf(models[0], sizeof models[0], "%s", check_shared("golden/tiny-sd1"));
    snprintf(models[1], sizeof models[1], "%s",
             check_shared("golden/tiny-sd1-original.safetensors"));
    const pipe_case cases[] = {
        {"golden/fast/pipe_lcm.safetensors", DM_SAMPLER_LCM, NULL, 4, 1.0f},
        {"golden/fast/pipe_lcm_cfg.safetensors", DM_SAMPLER_LCM, NULL, 4, 2.0f},
        {"golden/fast/pipe_turbo.safetensors", DM_SAMPLER_EULER_A, "trailing", 1, 0.0f},
        {"golden/fast/pipe_euler_trailing.safetensors", DM_SAMPLER_EULER, "trailing", 4, 0.0f},
    };
    for (int m = 0; m < 2; m++) {
        dm_error err = {0};
        dm_engine *e;
        dm_engine_options o = {.model_path = models[m], .prediction = -1};
        if (dm_engine_open(&o, &e, &err)) {
            CHECKF(0, "%s", err.msg);
            continue;
        }
        for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) run(e, models[m], &cases[k]);
        dm_engine_free(e);
    }
    return check_finish();
}
