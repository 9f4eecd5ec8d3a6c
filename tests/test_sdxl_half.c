/* The one SGM-layout SDXL file stored in f16 and in bf16 (every float tensor cast, as
 * conversion scripts' --half does): read through the same name table (OpenCLIP's fused in_proj
 * sliced, its text_projection transposed from the half bits), it must give exactly the outputs of
 * an f32 file holding the same rounded values — text encoders, pooled embeds, UNet (added
 * conditioning), VAE — with the weights converted at load and with --f16-weights (kept half,
 * converted per layer). The rounded model's distance to the f32 goldens is printed. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pipeline/engine.h"

static uint16_t to_bf16(float f) { /* round to nearest even */
    uint32_t u;
    memcpy(&u, &f, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* Writes path_half (dtype) and path_round (f32 of the same rounded values) from src. */
static int write_pair(const char *src, dm_dtype dtype, const char *path_half,
                      const char *path_round) {
    dm_error err = {0};
    dm_safetensors *st;
    if (dm_st_open(src, &st, &err)) {
        CHECKF(0, "%s", err.msg);
        return 0;
    }
    int n = dm_st_count(st);
    dm_st_writer *wh = dm_st_writer_new(), *wr = dm_st_writer_new();
    void **bufs = calloc((size_t)n * 2, sizeof *bufs);
    dm_status s = DM_OK;
    for (int i = 0; !s && i < n; i++) {
        const dm_st_tensor *t = dm_st_at(st, i);
        size_t m = (size_t)t->numel;
        float *f = malloc(sizeof(float) * m + 4);
        uint16_t *h = malloc(sizeof(uint16_t) * m + 2);
        bufs[2 * i] = f, bufs[2 * i + 1] = h;
        s = dm_st_read_f32(t, f, &err);
        for (size_t k = 0; !s && k < m; k++) {
            h[k] = dtype == DM_F16 ? dm_f32_to_f16(f[k]) : to_bf16(f[k]);
            f[k] = dtype == DM_F16 ? dm_f16_to_f32(h[k]) : dm_bf16_to_f32(h[k]);
        }
        if (!s) s = dm_st_writer_add(wh, t->name, dtype, t->ndim, t->shape, h, &err);
        if (!s) s = dm_st_writer_add_f32(wr, t->name, t->ndim, t->shape, f, &err);
    }
    if (!s) s = dm_st_write(wh, path_half, &err);
    if (!s) s = dm_st_write(wr, path_round, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    for (int i = 0; i < 2 * n; i++) free(bufs[i]);
    free(bufs);
    dm_st_writer_free(wh), dm_st_writer_free(wr);
    dm_st_close(st);
    return s == DM_OK;
}

typedef struct {
    float emb[77 * 96], pooled[64], noise[2 * 4 * 16 * 16], image[3 * 128 * 128];
} outputs;

static float *golden_f32(dm_safetensors *g, const char *name) {
    dm_error err;
    const dm_st_tensor *t = dm_st_find(g, name);
    float *p = malloc(sizeof(float) * (size_t)t->numel);
    dm_st_read_f32(t, p, &err);
    return p;
}

static int run(const char *model, const char *config, int f16_weights, outputs *o) {
    dm_error err = {0};
    dm_engine *e;
    dm_engine_options eo = {.model_path = model,
                            .ldm_config = config,
                            .prediction = -1,
                            .f32_weights = !f16_weights,
                            .precision = DM_PRECISION_FP32}; /* the bit-for-bit claim is fp32's */
    if (dm_engine_open(&eo, &e, &err)) {
        CHECKF(0, "%s: %s", model, err.msg);
        return 0;
    }
    dm_status s = dm_engine_encode(e, "a photograph of a bird", o->emb, o->pooled, NULL, &err);
    dm_safetensors *g, *gv;
    CHECK(dm_st_open(check_shared("golden/sdxl/unet.safetensors"), &g, &err) == DM_OK);
    CHECK(dm_st_open(check_shared("golden/sdxl/vae_decode.safetensors"), &gv, &err) == DM_OK);
    float *x = golden_f32(g, "sample"), *ctx = golden_f32(g, "encoder_hidden_states");
    float *te = golden_f32(g, "text_embeds"), *ti = golden_f32(g, "time_ids");
    float *z = golden_f32(gv, "latent"), t[2] = {981, 125};
    dm_unet_added add = {te, ti};
    if (!s)
        s = dm_unet_forward_cond(&e->unet, x, 2, 16, 16, t, ctx, 77, &add, o->noise, NULL,
                                 &e->arena, &err);
    if (!s) s = dm_vae_decode(&e->vae, z, 16, 16, o->image, &e->arena, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    free(x), free(ctx), free(te), free(ti), free(z);
    dm_st_close(g), dm_st_close(gv);
    dm_engine_free(e);
    return s == DM_OK;
}

static void against_golden(const outputs *o, const char *what) {
    dm_error err = {0};
    dm_safetensors *gt, *gu, *gv;
    CHECK(dm_st_open(check_shared("golden/sdxl/text_encoders.safetensors"), &gt, &err) == DM_OK);
    CHECK(dm_st_open(check_shared("golden/sdxl/unet.safetensors"), &gu, &err) == DM_OK);
    CHECK(dm_st_open(check_shared("golden/sdxl/vae_decode.safetensors"), &gv, &err) == DM_OK);
    float *np = golden_f32(gu, "noise_pred"), *im = golden_f32(gv, "image");
    printf("%s vs the f32 goldens: noise_pred %.3g, vae image %.3g\n", what,
           check_max_abs_diff(o->noise, np, 2 * 4 * 16 * 16),
           check_max_abs_diff(o->image, im, 3 * 128 * 128));
    free(np), free(im);
    dm_st_close(gt), dm_st_close(gu), dm_st_close(gv);
}

int main(void) {
    const char *src = check_shared("golden/sdxl/tiny-sdxl-original.safetensors");
    char folder[1024];
    snprintf(folder, sizeof folder, "%s", check_shared("golden/sdxl/tiny-sdxl"));
    const char *tmp = check_tmpdir();
    static const struct {
        dm_dtype dtype;
        const char *name;
    } kinds[2] = {{DM_F16, "f16"}, {DM_BF16, "bf16"}};
    for (int k = 0; k < 2; k++) {
        char half[1024], round[1024];
        snprintf(half, sizeof half, "%s/xl-%s.safetensors", tmp, kinds[k].name);
        snprintf(round, sizeof round, "%s/xl-%s-as-f32.safetensors", tmp, kinds[k].name);
        if (!write_pair(src, kinds[k].dtype, half, round)) continue;
        static outputs ref, a, b;
        if (!run(round, folder, 0, &ref) || !run(half, folder, 0, &a) || !run(half, folder, 1, &b))
            continue;
        CHECKF(!memcmp(&ref, &a, sizeof ref), "%s file differs from its f32 twin", kinds[k].name);
        CHECKF(!memcmp(&ref, &b, sizeof ref),
               "%s file with --f16-weights differs from its f32 twin", kinds[k].name);
        against_golden(&ref, kinds[k].name);
    }
    return check_finish();
}
