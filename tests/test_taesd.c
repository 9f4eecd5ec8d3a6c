/* TAESD (diffusers AutoencoderTiny) against diffusers 0.25.1 (golden/fast/README.md (e)): the
 * random tiny-taesd decoder and encoder alone, and as the pipeline's VAE in the DDIM run of
 * sd1/pipe_ddim (pipe_ddim_taesd), from the diffusers folder and the one-file checkpoint; a
 * folder that is not a TAESD is refused with its file named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/taesd.h"
#include "pipeline/engine.h"

static void cmp(dm_safetensors *g, const char *name, const float *mine, long n, double tol,
                const char *what) {
    long rn = 0;
    float *ref = check_read_f32(g, name, &rn);
    CHECKF(ref && rn == n, "%s: golden %s missing or of another size", what, name);
    if (ref && rn == n) {
        double e = check_max_abs_diff(mine, ref, n);
        CHECKF(e <= tol, "%s: %s max err %g > %g", what, name, e, tol);
        printf("  %-30s %-14s %.3g\n", what, name, e);
    }
    free(ref);
}

int main(void) {
    char dir[1024], models[2][1024];
    snprintf(dir, sizeof dir, "%s", check_shared("golden/fast/tiny-taesd"));
    snprintf(models[0], sizeof models[0], "%s", check_shared("golden/tiny-sd1"));
    snprintf(models[1], sizeof models[1], "%s",
             check_shared("golden/tiny-sd1-original.safetensors"));
    dm_error err = {0};
    dm_taesd *t = NULL;
    CHECKF(dm_taesd_load(dir, NULL, &t, &err) == DM_OK, "%s", err.msg);
    if (!t) return check_finish();
    CHECK(t->factor == 8 && t->latent_ch == 4 && t->has_encoder && t->scaling_factor == 1.0f);
    dm_arena a;
    CHECK(dm_arena_init(&a, (size_t)1 << 30, &err) == DM_OK);
    dm_safetensors *g;
    CHECK(dm_st_open(check_shared("golden/fast/taesd_decode.safetensors"), &g, &err) == DM_OK);
    float *z = check_read_f32(g, "latent", NULL), *img = malloc(sizeof(float) * 3 * 128 * 128);
    CHECKF(dm_taesd_decode(t, z, 16, 16, img, &a, &err) == DM_OK, "%s", err.msg);
    cmp(g, "image", img, 3 * 128 * 128, 1e-4, "taesd decode");
    free(z);
    dm_st_close(g);
    CHECK(dm_st_open(check_shared("golden/fast/taesd_encode.safetensors"), &g, &err) == DM_OK);
    float *im = check_read_f32(g, "image", NULL), lat[4 * 16 * 16];
    CHECKF(dm_taesd_encode(t, im, 128, 128, lat, &a, &err) == DM_OK, "%s", err.msg);
    cmp(g, "latent", lat, 4 * 16 * 16, 1e-4, "taesd encode");
    CHECK(dm_taesd_encode(t, im, 100, 128, lat, &a, &err) == DM_EUSAGE);
    free(im), free(img);
    dm_st_close(g);
    dm_taesd_free(t);
    dm_arena_free(&a);

    /* as the pipeline's VAE */
    for (int m = 0; m < 2; m++) {
        dm_engine_options o = {.model_path = models[m], .prediction = -1, .vae_decoder = dir};
        dm_engine *e;
        if (dm_engine_open(&o, &e, &err)) {
            CHECKF(0, "%s", err.msg);
            continue;
        }
        CHECK(dm_st_open(check_shared("golden/fast/pipe_ddim_taesd.safetensors"), &g, &err) ==
              DM_OK);
        float *noise = check_read_f32(g, "initial_noise", NULL);
        dm_txt2img_params p = {.prompt = "a photograph of a bird",
                               .negative_prompt = "",
                               .steps = 10,
                               .guidance = 7.5f,
                               .sampler = DM_SAMPLER_DDIM,
                               .width = 128,
                               .height = 128,
                               .init_noise = noise,
                               .record = 1};
        dm_txt2img_result r;
        CHECKF(dm_txt2img(e, &p, &r, &err) == DM_OK, "%s", err.msg);
        const char *what = m ? "pipe_ddim_taesd 1-file" : "pipe_ddim_taesd folder";
        cmp(g, "latents", r.latents, 10 * 4 * 16 * 16, 1e-3, what);
        cmp(g, "final_latent", r.final_latent, 4 * 16 * 16, 1e-3, what);
        cmp(g, "image_raw", r.image_raw, 3 * 128 * 128, 1e-3, what);
        dm_txt2img_result_free(&r);
        free(noise);
        dm_st_close(g);
        dm_engine_free(e);
    }
    /* not a TAESD folder: the full model's VAE folder, and a missing folder */
    char bad[1200];
    snprintf(bad, sizeof bad, "%s/vae", models[0]);
    CHECK(dm_taesd_load(bad, NULL, &t, &err) != DM_OK && strstr(err.msg, "config.json"));
    printf("  not taesd: %s\n", err.msg);
    CHECK(dm_taesd_load("/nonexistent", NULL, &t, &err) != DM_OK &&
          strstr(err.msg, "/nonexistent"));
    return check_finish();
}
