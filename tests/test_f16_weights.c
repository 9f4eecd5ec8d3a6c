/* --f16-weights: the f16 tiny-sd1 checkpoint opened twice, with its weight matrices converted
 * to f32 at load (the default) and kept as f16 in the mapping (converted per layer). The
 * conversion is the same exact arithmetic, so the text encoder, the UNet and the VAE (decode
 * and encode) must agree to the bit, while far fewer bytes are copied at load. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model/clip.h"
#include "model/unet.h"
#include "model/vae.h"

typedef struct {
    float *text, *unet, *image, *latent;
    long n_text, n_unet, n_image, n_latent;
    size_t converted;
} outputs;

static int run(const char *path, int keep_half, outputs *o) {
    dm_error err = {0};
    dm_model *m;
    if (dm_model_open_with_config(path, check_tiny_yaml(path), &m, &err)) {
        CHECKF(0, "%s", err.msg);
        return 1;
    }
    dm_weights_set_keep_half(m->w, keep_half);
    CHECK(dm_weights_keep_half(m->w) == keep_half);
    dm_clip c;
    dm_unet u;
    dm_vae v;
    dm_status s;
    if ((s = dm_clip_load(m, &c, &err)) || (s = dm_unet_load(m, &u, &err)) ||
        (s = dm_vae_load(m, &v, &err))) {
        CHECKF(0, "%s", err.msg);
        dm_model_free(m);
        return 1;
    }
    o->converted = dm_weights_converted_bytes(m->w);
    if (keep_half) {
        CHECK(u.conv_in_w.half && !u.conv_in_w.f32);
        CHECK(u.down[0].res[0].conv1_w.half && v.dec.conv_in_w.half && c.layers[0].wq.half);
        CHECK(c.tok_emb.half && u.half_floats > 0 && v.half_floats > 0 && c.half_floats > 0);
    } else {
        CHECK(u.conv_in_w.f32 && !u.conv_in_w.half && u.half_floats == 0 && c.half_floats == 0);
    }

    /* text encoder on the golden ids */
    dm_safetensors *g;
    CHECK(dm_st_open(check_shared("golden/sd1/text_encoder.safetensors"), &g, &err) == DM_OK);
    const dm_st_tensor *ids_t = dm_st_find(g, "input_ids");
    int B = (int)ids_t->shape[0], T = (int)ids_t->shape[1], D = c.cfg.hidden;
    int64_t *ids64 = malloc(sizeof(int64_t) * B * T);
    dm_st_read_i64(ids_t, ids64, &err);
    o->n_text = (long)B * T * D;
    o->text = malloc(sizeof(float) * o->n_text);
    dm_arena a;
    size_t need = dm_clip_arena_bytes(&c, T);
    dm_arena_init(&a, need, &err);
    for (int b = 0; b < B; b++) {
        int32_t ids[77];
        for (int t = 0; t < T && t < 77; t++) ids[t] = (int32_t)ids64[b * T + t];
        s = dm_clip_forward(&c, ids, T, o->text + (size_t)b * T * D, NULL, &a, &err);
        CHECKF(s == DM_OK, "%s", err.msg);
    }
    dm_arena_free(&a);
    free(ids64);
    dm_st_close(g);

    /* UNet on the golden inputs */
    CHECK(dm_st_open(check_shared("golden/sd1/unet.safetensors"), &g, &err) == DM_OK);
    const dm_st_tensor *xs = dm_st_find(g, "sample"), *ts = dm_st_find(g, "timesteps"),
                       *cs = dm_st_find(g, "encoder_hidden_states");
    int UB = (int)xs->shape[0], h = (int)xs->shape[2], w = (int)xs->shape[3];
    float *x = malloc(sizeof(float) * xs->numel), *ctx = malloc(sizeof(float) * cs->numel);
    int64_t t64[8];
    float t[8];
    dm_st_read_f32(xs, x, &err);
    dm_st_read_f32(cs, ctx, &err);
    dm_st_read_i64(ts, t64, &err);
    for (int b = 0; b < UB; b++) t[b] = (float)t64[b];
    o->n_unet = (long)xs->numel / u.cfg.in_ch * u.cfg.out_ch;
    o->unet = malloc(sizeof(float) * o->n_unet);
    dm_arena_init(&a, dm_unet_arena_bytes(&u, h, w, 77), &err);
    s = dm_unet_forward(&u, x, UB, h, w, t, ctx, 77, o->unet, NULL, &a, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    dm_arena_free(&a);
    free(x), free(ctx);
    dm_st_close(g);

    /* VAE decode of the golden latent, then encode of the result */
    CHECK(dm_st_open(check_shared("golden/sd1/vae_decode.safetensors"), &g, &err) == DM_OK);
    const dm_st_tensor *zt = dm_st_find(g, "latent");
    int zh = (int)zt->shape[2], zw = (int)zt->shape[3], L = v.cfg.latent_ch, f = dm_vae_factor(&v);
    float *z = malloc(sizeof(float) * zt->numel);
    dm_st_read_f32(zt, z, &err);
    o->n_image = 3L * zh * f * zw * f;
    o->image = malloc(sizeof(float) * o->n_image);
    o->n_latent = (long)L * zh * zw;
    o->latent = malloc(sizeof(float) * o->n_latent);
    dm_arena_init(&a, dm_vae_arena_bytes(&v, zh, zw), &err);
    s = dm_vae_decode(&v, z, zh, zw, o->image, &a, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    if (v.has_encoder) {
        s = dm_vae_encode(&v, o->image, zh * f, zw * f, o->latent, &a, &err);
        CHECKF(s == DM_OK, "%s", err.msg);
    } else {
        memset(o->latent, 0, sizeof(float) * o->n_latent);
    }
    dm_arena_free(&a);
    free(z);
    dm_st_close(g);

    dm_unet_free(&u);
    dm_clip_free(&c);
    dm_model_free(m);
    return 0;
}

static void free_outputs(outputs *o) {
    free(o->text), free(o->unet), free(o->image), free(o->latent);
}

int main(void) {
    const char *path = check_shared("golden/tiny-sd1-original-f16.safetensors");
    outputs f32 = {0}, half = {0};
    if (run(path, 0, &f32) || run(path, 1, &half)) return check_finish();
    CHECK(f32.n_text == half.n_text && f32.n_unet == half.n_unet && f32.n_image == half.n_image);
    CHECKF(memcmp(f32.text, half.text, sizeof(float) * f32.n_text) == 0,
           "text encoder: max diff %g", check_max_abs_diff(f32.text, half.text, f32.n_text));
    CHECKF(memcmp(f32.unet, half.unet, sizeof(float) * f32.n_unet) == 0, "UNet: max diff %g",
           check_max_abs_diff(f32.unet, half.unet, f32.n_unet));
    CHECKF(memcmp(f32.image, half.image, sizeof(float) * f32.n_image) == 0,
           "VAE decode: max diff %g", check_max_abs_diff(f32.image, half.image, f32.n_image));
    CHECKF(memcmp(f32.latent, half.latent, sizeof(float) * f32.n_latent) == 0,
           "VAE encode: max diff %g", check_max_abs_diff(f32.latent, half.latent, f32.n_latent));
    /* only the small vectors (biases, norms, position embeddings) are copied */
    printf("converted at load: %zu bytes (f32 copies) vs %zu bytes (--f16-weights)\n",
           f32.converted, half.converted);
    CHECKF(half.converted * 10 < f32.converted, "%zu vs %zu bytes", half.converted, f32.converted);
    free_outputs(&f32), free_outputs(&half);
    return check_finish();
}
