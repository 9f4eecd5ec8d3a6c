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
/* One text tower on ids_name [B, T]: prefix + "last_hidden_state" [B, T, D], "hidden_states.l",
 * and (with a projection) "text_embeds" [B, P]. Buffers stay alive in *bufs for the writer. */
typedef struct {
    float *last, *hs, *pooled;
    int B, T, D, NL, P;
    char names[70][48];
} tower_out;

static dm_status run_tower(dm_engine *e, const dm_clip *clip, const dm_safetensors *in,
                           const char *ids_name, tower_out *o, dm_error *err) {
    const dm_st_tensor *t = dm_st_find(in, ids_name);
    if (!t || t->ndim != 2 || t->shape[1] < 1 || t->shape[1] > clip->cfg.max_pos)
        return dm_fail(err, "%s: needs '%s' [B, %d] (int64)", dm_st_path(in), ids_name,
                       clip->cfg.max_pos);
    int B = (int)t->shape[0], T = (int)t->shape[1], D = clip->cfg.hidden, NL = clip->cfg.layers,
        P = clip->cfg.proj_dim;
    o->B = B, o->T = T, o->D = D, o->NL = NL, o->P = P;
    int64_t *ids64 = malloc(sizeof(int64_t) * B * T + 8);
    float *hid = malloc(sizeof(float) * (size_t)(NL + 1) * T * D);
    o->last = malloc(sizeof(float) * B * T * D + 4);
    o->hs = malloc(sizeof(float) * (size_t)(NL + 1) * B * T * D);
    o->pooled = P ? malloc(sizeof(float) * B * P) : NULL;
    int32_t *ids = malloc(sizeof(int32_t) * T);
    dm_status s = (!ids64 || !o->last || !hid || !o->hs || !ids || (P && !o->pooled))
                      ? dm_fail(err, "out of memory")
                      : DM_OK;
    if (!s) s = dm_st_read_i64(t, ids64, err);
    for (int b = 0; !s && b < B; b++) {
        for (int i = 0; i < T; i++) ids[i] = (int32_t)ids64[(size_t)b * T + i];
        dm_clip_outputs co = {.last = o->last + (size_t)b * T * D,
                              .hidden = hid,
                              .pooled = P ? o->pooled + (size_t)b * P : NULL};
        s = dm_clip_run(clip, ids, T, &co, &e->arena, err);
        for (int l = 0; !s && l <= NL; l++) /* hidden_states.l [B, T, D] */
            memcpy(o->hs + ((size_t)l * B + b) * T * D, hid + (size_t)l * T * D,
                   sizeof(float) * T * D);
    }
    free(ids64), free(hid), free(ids);
    return s;
}

static dm_status add_tower(dm_st_writer *w, tower_out *o, const char *prefix, dm_error *err) {
    int64_t shape[3] = {o->B, o->T, o->D}, ps[2] = {o->B, o->P};
    snprintf(o->names[0], sizeof o->names[0], "%slast_hidden_state", prefix);
    DM_TRY(dm_st_writer_add_f32(w, o->names[0], 3, shape, o->last, err));
    for (int l = 0; l <= o->NL && l < 64; l++) {
        snprintf(o->names[l + 1], sizeof o->names[l + 1], "%shidden_states.%d", prefix, l);
        DM_TRY(dm_st_writer_add_f32(w, o->names[l + 1], 3, shape,
                                    o->hs + (size_t)l * o->B * o->T * o->D, err));
    }
    if (!o->pooled) return DM_OK;
    snprintf(o->names[69], sizeof o->names[69], "%stext_embeds", prefix);
    return dm_st_writer_add_f32(w, o->names[69], 2, ps, o->pooled, err);
}

/* SD 1.x / 2.x: input_ids -> last_hidden_state, hidden_states.*. SDXL: input_ids and
 * input_ids_2 -> te1.*, te2.* (with te2.text_embeds) and what the pipeline uses: prompt_embeds
 * = cat(te1.hidden_states[-2], te2.hidden_states[-2]), pooled_prompt_embeds = te2.text_embeds. */
static dm_status text_encoder(dm_engine *e, const dm_safetensors *in, const char *out,
                              dm_error *err) {
    tower_out t1 = {0}, t2 = {0};
    float *pe = NULL;
    dm_status s = run_tower(e, &e->clip, in, "input_ids", &t1, err);
    if (!s && e->sdxl) s = run_tower(e, &e->clip2, in, "input_ids_2", &t2, err);
    if (!s && e->sdxl && (t2.B != t1.B || t2.T != t1.T))
        s = dm_fail(err, "%s: 'input_ids' and 'input_ids_2' differ in shape", dm_st_path(in));
    dm_st_writer *w = dm_st_writer_new();
    if (!s && !e->sdxl) s = add_tower(w, &t1, "", err);
    if (!s && e->sdxl) {
        int B = t1.B, T = t1.T, D = t1.D + t2.D;
        const float *h1 = t1.hs + (size_t)(t1.NL - 1) * B * T * t1.D,
                    *h2 = t2.hs + (size_t)(t2.NL - 1) * B * T * t2.D;
        if (!(pe = malloc(sizeof(float) * B * T * D))) s = dm_fail(err, "out of memory");
        for (size_t r = 0; !s && r < (size_t)B * T; r++) {
            memcpy(pe + r * D, h1 + r * t1.D, sizeof(float) * t1.D);
            memcpy(pe + r * D + t1.D, h2 + r * t2.D, sizeof(float) * t2.D);
        }
        int64_t shape[3] = {B, T, D}, ps[2] = {B, t2.P};
        if (!s) s = add_tower(w, &t1, "te1.", err);
        if (!s) s = add_tower(w, &t2, "te2.", err);
        if (!s) s = dm_st_writer_add_f32(w, "prompt_embeds", 3, shape, pe, err);
        if (!s) s = dm_st_writer_add_f32(w, "pooled_prompt_embeds", 2, ps, t2.pooled, err);
    }
    if (!s) s = dm_st_write(w, out, err);
    dm_st_writer_free(w);
    free(t1.last), free(t1.hs), free(t1.pooled), free(t2.last), free(t2.hs), free(t2.pooled);
    free(pe);
    return s;
}

/* ------------------------------------------------------------ unet */
#define MAX_ATTN 128 /* SDXL base has 70 cross-attention layers */
typedef struct {
    int n, B;
    char names[MAX_ATTN][160];
    int heads[MAX_ATTN], hw[MAX_ATTN];
    float *probs[MAX_ATTN]; /* (B*heads, hw, keys) */
} attn_dump;

static void dump_hook(void *user, const dm_attn_event *ev) {
    attn_dump *d = user;
    int k = 0;
    while (k < d->n && strcmp(d->names[k], ev->layer)) k++;
    if (k == d->n) {
        if (d->n == MAX_ATTN) return;
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
    /* SDXL: text_embeds [B, P] and time_ids [B, 6]; the embedding intermediates are written too */
    int P = c->add_in_dim - 6 * c->add_time_dim, TD = c->time_dim;
    float *te = NULL, *ti = NULL, *parts = NULL;
    const dm_st_tensor *tet, *tit;
    if (!s && c->add_time_dim > 0) {
        te = read_tensor_f32(in, "text_embeds", 2, &tet, err);
        ti = te ? read_tensor_f32(in, "time_ids", 2, &tit, err) : NULL;
        if (!te || !ti)
            s = DM_ERR;
        else if (tet->shape[0] != B || tet->shape[1] != P || tit->shape[0] != B ||
                 tit->shape[1] != 6)
            s = dm_fail(err, "%s: SDXL needs 'text_embeds' [%d, %d] and 'time_ids' [%d, 6]",
                        dm_st_path(in), B, P, B);
        else if (!(parts =
                       malloc(sizeof(float) * B * (3 * TD + 6 * c->add_time_dim + c->add_in_dim))))
            s = dm_fail(err, "out of memory");
    }
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
        dm_unet_added add = {te, ti};
        s = dm_unet_forward_cond(&e->unet, x, B, h, w, t, ctx, T, te ? &add : NULL, y,
                                 attention ? &cap : NULL, &e->arena, err);
    }
    /* parts: time_emb, add_embedding, emb [B, TD] each, add_time_proj [B, 6 atd], add_in [B, A] */
    int atd6 = 6 * c->add_time_dim, A = c->add_in_dim;
    float *p_temb = parts, *p_aemb = parts ? parts + (size_t)B * TD : NULL,
          *p_emb = parts ? parts + (size_t)2 * B * TD : NULL,
          *p_atp = parts ? parts + (size_t)3 * B * TD : NULL,
          *p_ain = parts ? p_atp + (size_t)B * atd6 : NULL;
    for (int b = 0; !s && parts && b < B; b++) {
        dm_unet_emb_parts pp = {p_temb + (size_t)b * TD, p_atp + (size_t)b * atd6,
                                p_ain + (size_t)b * A, p_aemb + (size_t)b * TD};
        s = dm_unet_embedding(&e->unet, t[b], te + (size_t)b * P, ti + (size_t)b * 6, &pp,
                              p_emb + (size_t)b * TD, &e->arena, err);
    }
    if (!s) {
        dm_st_writer *wr = dm_st_writer_new();
        int64_t shape[4] = {B, c->out_ch, h, w};
        s = dm_st_writer_add_f32(wr, "noise_pred", 4, shape, y, err);
        if (parts) {
            int64_t s1[2] = {B, TD}, s2[2] = {B, atd6}, s3[2] = {B, A};
            if (!s) s = dm_st_writer_add_f32(wr, "time_emb", 2, s1, p_temb, err);
            if (!s) s = dm_st_writer_add_f32(wr, "add_time_proj", 2, s2, p_atp, err);
            if (!s) s = dm_st_writer_add_f32(wr, "add_embedding_input", 2, s3, p_ain, err);
            if (!s) s = dm_st_writer_add_f32(wr, "add_embedding", 2, s1, p_aemb, err);
            if (!s) s = dm_st_writer_add_f32(wr, "emb", 2, s1, p_emb, err);
        }
        for (int k = 0; !s && k < d.n; k++) {
            int64_t sh[3] = {(int64_t)B * d.heads[k], d.hw[k], T};
            s = dm_st_writer_add_f32(wr, d.names[k], 3, sh, d.probs[k], err);
        }
        if (!s) s = dm_st_write(wr, out, err);
        dm_st_writer_free(wr);
    }
    for (int k = 0; k < d.n; k++) free(d.probs[k]);
    free(x), free(ctx), free(y), free(t), free(te), free(ti), free(parts);
    return s;
}

/* ------------------------------------------------------------ vae decode */
/* latentSUFFIX [B, 4, h, w] -> imageSUFFIX [B, 3, 8h, 8w], for every tensor named latent*
 * ("latent", "latent_16x24"). */
static dm_status vae_decode(dm_engine *e, const dm_safetensors *in, const char *out,
                            dm_error *err) {
    int n = dm_st_count(in), found = 0;
    float **imgs = calloc((size_t)n + 1, sizeof *imgs);
    char(*names)[160] = calloc((size_t)n + 1, sizeof *names);
    dm_st_writer *wr = dm_st_writer_new();
    dm_status s = imgs && names ? DM_OK : dm_fail(err, "out of memory");
    for (int k = 0; !s && k < n; k++) {
        const char *name = dm_st_at(in, k)->name;
        if (strncmp(name, "latent", 6) || strlen(name) > 100) continue;
        found = 1;
        const dm_st_tensor *zt;
        float *z = read_tensor_f32(in, name, 4, &zt, err);
        if (!z) {
            s = DM_ERR;
            break;
        }
        int B = (int)zt->shape[0], L = (int)zt->shape[1], h = (int)zt->shape[2],
            w = (int)zt->shape[3], f = dm_vae_factor(&e->vae);
        if (L != e->vae.cfg.latent_ch)
            s = dm_fail(err, "%s: '%s' has %d channels, the VAE takes %d", dm_st_path(in), name, L,
                        e->vae.cfg.latent_ch);
        float *img = s ? NULL : malloc(sizeof(float) * (size_t)B * 3 * h * f * w * f);
        imgs[k] = img;
        if (!s && !img) s = dm_fail(err, "out of memory");
        for (int b = 0; !s && b < B; b++)
            s = dm_engine_decode(e, z + (size_t)b * L * h * w, h, w,
                                 img + (size_t)b * 3 * h * f * w * f, err);
        free(z);
        snprintf(names[k], sizeof names[k], "image%s", name + 6);
        int64_t shape[4] = {B, e->vae.cfg.out_ch, (int64_t)h * f, (int64_t)w * f};
        if (!s) s = dm_st_writer_add_f32(wr, names[k], 4, shape, img, err);
    }
    if (!s && !found) s = dm_fail(err, "%s: no tensor 'latent' [B, 4, h, w]", dm_st_path(in));
    if (!s) s = dm_st_write(wr, out, err);
    dm_st_writer_free(wr);
    for (int k = 0; imgs && k < n; k++) free(imgs[k]);
    free(imgs), free(names);
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
        "                SDXL: input_ids, input_ids_2 -> te1.*, te2.* (+ te2.text_embeds),\n"
        "                prompt_embeds, pooled_prompt_embeds\n"
        "  unet          sample [B,C,h,w], timesteps [B], encoder_hidden_states [B,77,D]\n"
        "                (SDXL: + text_embeds [B,P], time_ids [B,6])\n"
        "                -> noise_pred [B,C,h,w] (+ attention maps with --attention;\n"
        "                SDXL: + time_emb, add_time_proj, add_embedding_input, add_embedding, "
        "emb)\n"
        "  vae-decode    latent* [B,4,h,w] -> image* [B,3,8h,8w] = decode(latent / "
        "scaling_factor)\n"
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
