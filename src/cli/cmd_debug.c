/* diffumask debug text-encoder | unet | vae-decode: one network on tensors from a file, so the
 * engine can be checked against reference outputs from outside. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"

typedef struct {
    dm_cli_model_opts m;
    const char *in, *out;
    int attention;
} debug_opts;

static float *read_tensor_f32(const dm_safetensors *st, const char *name, int ndim,
                              const dm_st_tensor **t, dm_error *err) {
    *t = dm_st_find(st, name);
    if (!*t) {
        dm_fail(err, "%s: no tensor '%s'", dm_st_path(st), name);
        return NULL;
    }
    if ((*t)->ndim != ndim) {
        dm_fail(err, "%s: tensor '%s' has %d dimensions, expected %d", dm_st_path(st), name,
                (*t)->ndim, ndim);
        return NULL;
    }
    float *p = malloc(sizeof(float) * (size_t)((*t)->numel ? (*t)->numel : 1));
    if (!p || dm_st_read_f32(*t, p, err)) {
        if (p) dm_fail_wrap(err, "%s", dm_st_path(st));
        free(p);
        return NULL;
    }
    return p;
}

/* ------------------------------------------------------------ text encoder */
static dm_status text_encoder(dm_engine *e, const dm_safetensors *in, const char *out,
                              dm_error *err) {
    const dm_st_tensor *t = dm_st_find(in, "input_ids");
    if (!t || t->ndim != 2 || t->shape[1] < 1 || t->shape[1] > e->clip.cfg.max_pos)
        return dm_fail(err, "%s: needs 'input_ids' [B, %d] (int64)", dm_st_path(in),
                       e->clip.cfg.max_pos);
    int B = (int)t->shape[0], T = (int)t->shape[1], D = e->clip.cfg.hidden, NL = e->clip.cfg.layers;
    int64_t *ids64 = malloc(sizeof(int64_t) * B * T + 8);
    float *last = malloc(sizeof(float) * B * T * D + 4),
          *hid = malloc(sizeof(float) * (size_t)(NL + 1) * T * D);
    float *hs = malloc(sizeof(float) * (size_t)(NL + 1) * B * T * D);
    int32_t *ids = malloc(sizeof(int32_t) * T);
    dm_status s = (!ids64 || !last || !hid || !hs || !ids) ? dm_fail(err, "out of memory") : DM_OK;
    if (!s) s = dm_st_read_i64(t, ids64, err);
    for (int b = 0; !s && b < B; b++) {
        for (int i = 0; i < T; i++) ids[i] = (int32_t)ids64[(size_t)b * T + i];
        s = dm_clip_forward(&e->clip, ids, T, last + (size_t)b * T * D, hid, &e->arena, err);
        for (int l = 0; !s && l <= NL; l++) /* hidden_states.l [B, T, D] */
            memcpy(hs + ((size_t)l * B + b) * T * D, hid + (size_t)l * T * D,
                   sizeof(float) * T * D);
    }
    if (!s) {
        dm_st_writer *w = dm_st_writer_new();
        int64_t shape[3] = {B, T, D};
        char names[64][32];
        s = dm_st_writer_add_f32(w, "last_hidden_state", 3, shape, last, err);
        for (int l = 0; !s && l <= NL && l < 64; l++) {
            snprintf(names[l], sizeof names[l], "hidden_states.%d", l);
            s = dm_st_writer_add_f32(w, names[l], 3, shape, hs + (size_t)l * B * T * D, err);
        }
        if (!s) s = dm_st_write(w, out, err);
        dm_st_writer_free(w);
    }
    free(ids64), free(last), free(hid), free(hs), free(ids);
    return s;
}

/* ------------------------------------------------------------ unet */
typedef struct {
    int n, B;
    char names[64][160];
    int heads[64], hw[64];
    float *probs[64]; /* (B*heads, hw, keys) */
} attn_dump;

static void dump_hook(void *user, const dm_attn_event *ev) {
    attn_dump *d = user;
    int k = 0;
    while (k < d->n && strcmp(d->names[k], ev->layer)) k++;
    if (k == d->n) {
        if (d->n == 64) return;
        snprintf(d->names[k], sizeof d->names[k], "%s", ev->layer);
        d->heads[k] = ev->heads, d->hw[k] = ev->h * ev->w;
        d->probs[k] = calloc((size_t)d->B * ev->heads * d->hw[k] * ev->n_keys, sizeof(float));
        if (!d->probs[k]) return;
        d->n++;
    }
    size_t row = (size_t)(ev->batch * ev->heads + ev->head) * d->hw[k] + ev->q0;
    memcpy(d->probs[k] + row * ev->n_keys, ev->probs,
           sizeof(float) * (ev->q1 - ev->q0) * ev->n_keys);
}

static dm_status unet(dm_engine *e, const dm_safetensors *in, const char *out, int attention,
                      dm_error *err) {
    const dm_unet_config *c = &e->unet.cfg;
    const dm_st_tensor *xs, *cs, *ts = dm_st_find(in, "timesteps");
    float *x = read_tensor_f32(in, "sample", 4, &xs, err), *ctx = NULL, *y = NULL, *t = NULL;
    dm_status s = x ? DM_OK : DM_ERR;
    if (!s)
        ctx = read_tensor_f32(in, "encoder_hidden_states", 3, &cs, err), s = ctx ? DM_OK : DM_ERR;
    int B = 0, h = 0, w = 0, T = 0;
    if (!s) {
        B = (int)xs->shape[0], h = (int)xs->shape[2], w = (int)xs->shape[3], T = (int)cs->shape[1];
        if (xs->shape[1] != c->in_ch)
            s = dm_fail(err, "%s: 'sample' has %lld channels, the UNet takes %d", dm_st_path(in),
                        (long long)xs->shape[1], c->in_ch);
        else if (cs->shape[0] != B || cs->shape[2] != c->cross_dim)
            s = dm_fail(err, "%s: 'encoder_hidden_states' must be [%d, T, %d]", dm_st_path(in), B,
                        c->cross_dim);
        else if (!ts || ts->ndim != 1 || (ts->shape[0] != B && ts->shape[0] != 1))
            s = dm_fail(err, "%s: needs 'timesteps' [%d]", dm_st_path(in), B);
    }
    attn_dump d = {.B = B};
    if (!s) {
        t = malloc(sizeof(float) * B);
        y = malloc(sizeof(float) * (size_t)B * c->out_ch * h * w);
        int64_t tv[1024];
        float tf[1024];
        if (B > 1024)
            s = dm_fail(err, "%s: batch %d too large", dm_st_path(in), B);
        else if (dm_dtype_is_float(ts->dtype))
            s = dm_st_read_f32(ts, tf, err);
        else if (!(s = dm_st_read_i64(ts, tv, err)))
            for (int i = 0; i < (int)ts->shape[0]; i++) tf[i] = (float)tv[i];
        for (int b = 0; !s && b < B; b++) t[b] = tf[ts->shape[0] == 1 ? 0 : b];
    }
    if (!s) {
        dm_unet_capture cap = {.hook = dump_hook, .user = &d, .capture_cross = 1};
        s = dm_unet_forward(&e->unet, x, B, h, w, t, ctx, T, y, attention ? &cap : NULL, &e->arena,
                            err);
    }
    if (!s) {
        dm_st_writer *wr = dm_st_writer_new();
        int64_t shape[4] = {B, c->out_ch, h, w};
        s = dm_st_writer_add_f32(wr, "noise_pred", 4, shape, y, err);
        for (int k = 0; !s && k < d.n; k++) {
            int64_t sh[3] = {(int64_t)B * d.heads[k], d.hw[k], T};
            s = dm_st_writer_add_f32(wr, d.names[k], 3, sh, d.probs[k], err);
        }
        if (!s) s = dm_st_write(wr, out, err);
        dm_st_writer_free(wr);
    }
    for (int k = 0; k < d.n; k++) free(d.probs[k]);
    free(x), free(ctx), free(y), free(t);
    return s;
}

/* ------------------------------------------------------------ vae decode */
static dm_status vae_decode(dm_engine *e, const dm_safetensors *in, const char *out,
                            dm_error *err) {
    const dm_st_tensor *zt;
    float *z = read_tensor_f32(in, "latent", 4, &zt, err);
    if (!z) return DM_ERR;
    int B = (int)zt->shape[0], L = (int)zt->shape[1], h = (int)zt->shape[2], w = (int)zt->shape[3];
    int f = dm_vae_factor(&e->vae);
    dm_status s = DM_OK;
    if (L != e->vae.cfg.latent_ch)
        s = dm_fail(err, "%s: 'latent' has %d channels, the VAE takes %d", dm_st_path(in), L,
                    e->vae.cfg.latent_ch);
    float *img = s ? NULL : malloc(sizeof(float) * (size_t)B * 3 * h * f * w * f);
    if (!s && !img) s = dm_fail(err, "out of memory");
    for (int b = 0; !s && b < B; b++)
        s = dm_engine_decode(e, z + (size_t)b * L * h * w, h, w,
                             img + (size_t)b * 3 * h * f * w * f, err);
    if (!s) {
        dm_st_writer *wr = dm_st_writer_new();
        int64_t shape[4] = {B, e->vae.cfg.out_ch, (int64_t)h * f, (int64_t)w * f};
        s = dm_st_writer_add_f32(wr, "image", 4, shape, img, err);
        if (!s) s = dm_st_write(wr, out, err);
        dm_st_writer_free(wr);
    }
    free(z), free(img);
    return s;
}

/* ------------------------------------------------------------ vae encode */
static dm_status vae_encode(dm_engine *e, const dm_safetensors *in, const char *out,
                            dm_error *err) {
    const dm_st_tensor *it;
    float *img = read_tensor_f32(in, "image", 4, &it, err);
    if (!img) return DM_ERR;
    int B = (int)it->shape[0], C = (int)it->shape[1], H = (int)it->shape[2], W = (int)it->shape[3];
    int f = dm_vae_factor(&e->vae), L = e->unet.cfg.in_ch;
    dm_status s = DM_OK;
    if (C != 3 || H % f || W % f)
        s = dm_fail(err, "%s: 'image' must be [B, 3, H, W] with H, W multiples of %d",
                    dm_st_path(in), f);
    size_t per = (size_t)L * (H / f) * (W / f);
    float *z = s ? NULL : malloc(sizeof(float) * B * per);
    if (!s && !z) s = dm_fail(err, "out of memory");
    for (int b = 0; !s && b < B; b++)
        s = dm_engine_encode_image(e, img + (size_t)b * 3 * H * W, H, W, z + b * per, err);
    if (!s) {
        dm_st_writer *wr = dm_st_writer_new();
        int64_t shape[4] = {B, L, H / f, W / f};
        s = dm_st_writer_add_f32(wr, "latent", 4, shape, z, err);
        if (!s) s = dm_st_write(wr, out, err);
        dm_st_writer_free(wr);
    }
    free(z), free(img);
    return s;
}

int dm_cmd_debug(int argc, char **argv) {
    debug_opts o = {0};
    dm_opt opts[] = {
        DM_CLI_MODEL_OPTS(o.m),
        {"--in", DM_ARG_STR, &o.in, "IN.safetensors", "input tensors"},
        {"--out", DM_ARG_STR, &o.out, "OUT.safetensors", "where to write the outputs"},
        {"--attention", DM_ARG_FLAG, &o.attention, NULL,
         "unet: also write every cross-attention map [B*heads, h*w, 77] by module name"}};
    dm_cmd_spec spec = {
        "diffumask debug",
        "text-encoder|unet|vae-decode|vae-encode --model PATH --in IN --out OUT [--attention]",
        "Runs one network on tensors read from a safetensors file and writes its outputs:\n"
        "  text-encoder  input_ids [B,77] (int64) -> last_hidden_state, hidden_states.0..N\n"
        "  unet          sample [B,C,h,w], timesteps [B], encoder_hidden_states [B,77,D]\n"
        "                -> noise_pred [B,C,h,w] (+ attention maps with --attention)\n"
        "  vae-decode    latent [B,4,h,w] -> image [B,3,8h,8w] = decode(latent / scaling_factor)\n"
        "  vae-encode    image [B,3,H,W] -> latent [B,4,H/8,W/8] = encode(image) * scaling_factor\n"
        "                (both with the TAESD of --vae-decoder when given)",
        opts,
        (int)(sizeof opts / sizeof *opts),
        1,
        1};
    const char *pos[1];
    int npos, r = dm_parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r < 0 ? 0 : r;
    const char *what = pos[0];
    if (strcmp(what, "text-encoder") && strcmp(what, "unet") && strcmp(what, "vae-decode") &&
        strcmp(what, "vae-encode"))
        return dm_usage_error(
            &spec, "unknown network '%s' (text-encoder, unet, vae-decode, vae-encode)", what);
    if (!o.in || !o.out) return dm_usage_error(&spec, "--in and --out are required");
    dm_engine *e;
    if ((r = dm_cli_open_engine(&spec, &o.m, 0, &e))) return r;
    dm_error err = {0};
    dm_safetensors *in;
    dm_status s = dm_st_open(o.in, &in, &err);
    if (!s) {
        if (!strcmp(what, "text-encoder"))
            s = text_encoder(e, in, o.out, &err);
        else if (!strcmp(what, "unet"))
            s = unet(e, in, o.out, o.attention, &err);
        else if (!strcmp(what, "vae-encode"))
            s = vae_encode(e, in, o.out, &err);
        else
            s = vae_decode(e, in, o.out, &err);
        dm_st_close(in);
    }
    dm_engine_free(e);
    return s ? dm_cli_fail(&spec, s, &err) : 0;
}
