#include "model/vae.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/wget.h"
#include "ops/ops.h"

static dm_status load_attn(dm_weights *w, const char *p, int C, dm_vae_attn *a, dm_error *err) {
    a->ch = C;
    DM_TRY(dm_w_vec(w, &a->gn_w, C, err, "%s.group_norm.weight", p));
    DM_TRY(dm_w_vec(w, &a->gn_b, C, err, "%s.group_norm.bias", p));
    DM_TRY(dm_w_mat(w, &a->q_w, C, C, err, "%s.to_q.weight", p));
    DM_TRY(dm_w_vec(w, &a->q_b, C, err, "%s.to_q.bias", p));
    DM_TRY(dm_w_mat(w, &a->k_w, C, C, err, "%s.to_k.weight", p));
    DM_TRY(dm_w_vec(w, &a->k_b, C, err, "%s.to_k.bias", p));
    DM_TRY(dm_w_mat(w, &a->v_w, C, C, err, "%s.to_v.weight", p));
    DM_TRY(dm_w_vec(w, &a->v_b, C, err, "%s.to_v.bias", p));
    DM_TRY(dm_w_mat(w, &a->o_w, C, C, err, "%s.to_out.0.weight", p));
    DM_TRY(dm_w_vec(w, &a->o_b, C, err, "%s.to_out.0.bias", p));
    return DM_OK;
}

/* conv_in, mid block (res, attn, res), conv_norm_out, conv_out of one coder */
static dm_status load_ends(dm_weights *w, const char *part, int cin, int cmid, int c0, int cout,
                           dm_vae_coder *k, dm_error *err) {
    char p[128];
    DM_TRY(dm_w_conv(w, &k->conv_in_w, strcmp(part, "decoder") ? c0 : cmid, cin, 3, err,
                     "vae.%s.conv_in.weight", part));
    DM_TRY(dm_w_vec(w, &k->conv_in_b, strcmp(part, "decoder") ? c0 : cmid, err,
                    "vae.%s.conv_in.bias", part));
    for (int j = 0; j < 2; j++) {
        snprintf(p, sizeof p, "vae.%s.mid_block.resnets.%d", part, j);
        DM_TRY(dm_resnet_load(w, p, cmid, cmid, 0, &k->mid_res[j], err));
    }
    snprintf(p, sizeof p, "vae.%s.mid_block.attentions.0", part);
    DM_TRY(load_attn(w, p, cmid, &k->mid_attn, err));
    int last = strcmp(part, "decoder") ? cmid : c0; /* channels entering the output head */
    DM_TRY(dm_w_vec(w, &k->norm_out_w, last, err, "vae.%s.conv_norm_out.weight", part));
    DM_TRY(dm_w_vec(w, &k->norm_out_b, last, err, "vae.%s.conv_norm_out.bias", part));
    DM_TRY(dm_w_conv(w, &k->conv_out_w, cout, last, 3, err, "vae.%s.conv_out.weight", part));
    DM_TRY(dm_w_vec(w, &k->conv_out_b, cout, err, "vae.%s.conv_out.bias", part));
    return DM_OK;
}

dm_status dm_vae_load(dm_model *m, dm_vae *v, dm_error *err) {
    memset(v, 0, sizeof *v);
    v->cfg = m->vae;
    const dm_vae_config *c = &v->cfg;
    dm_weights *w = m->w;
    int n = c->levels, L = c->latent_ch, Cm = c->block_out[n - 1], C0 = c->block_out[0];
    if (c->layers_per_block < 1 || c->layers_per_block > 6)
        return dm_fail(err, "%s: VAE layers_per_block %d is not supported", m->path,
                       c->layers_per_block);
    DM_TRY(dm_w_mat(w, &v->post_quant_w, L, L, err, "vae.post_quant_conv.weight"));
    DM_TRY(dm_w_vec(w, &v->post_quant_b, L, err, "vae.post_quant_conv.bias"));
    DM_TRY(load_ends(w, "decoder", L, Cm, C0, c->out_ch, &v->dec, err));
    /* decoder up block i runs deepest first: reversed channels, layers_per_block + 1 res blocks */
    int prev = Cm;
    char p[128];
    for (int i = 0; i < n; i++) {
        dm_vae_level *lv = &v->dec.levels[i];
        int out = c->block_out[n - 1 - i];
        lv->n_res = c->layers_per_block + 1;
        for (int j = 0; j < lv->n_res; j++) {
            snprintf(p, sizeof p, "vae.decoder.up_blocks.%d.resnets.%d", i, j);
            DM_TRY(dm_resnet_load(w, p, j ? out : prev, out, 0, &lv->res[j], err));
        }
        if (i < n - 1) {
            DM_TRY(dm_w_conv(w, &lv->resample_w, out, out, 3, err,
                             "vae.decoder.up_blocks.%d.upsamplers.0.conv.weight", i));
            DM_TRY(dm_w_vec(w, &lv->resample_b, out, err,
                            "vae.decoder.up_blocks.%d.upsamplers.0.conv.bias", i));
        }
        prev = out;
    }
    v->has_encoder = dm_weights_has(w, "vae.encoder.conv_in.weight");
    v->half_floats = dm_weights_half_max(w);
    if (!v->has_encoder) return DM_OK;
    DM_TRY(dm_w_mat(w, &v->quant_w, 2 * L, 2 * L, err, "vae.quant_conv.weight"));
    DM_TRY(dm_w_vec(w, &v->quant_b, 2 * L, err, "vae.quant_conv.bias"));
    DM_TRY(load_ends(w, "encoder", c->in_ch, Cm, C0, 2 * L, &v->enc, err));
    prev = C0;
    for (int i = 0; i < n; i++) {
        dm_vae_level *lv = &v->enc.levels[i];
        int out = c->block_out[i];
        lv->n_res = c->layers_per_block;
        for (int j = 0; j < lv->n_res; j++) {
            snprintf(p, sizeof p, "vae.encoder.down_blocks.%d.resnets.%d", i, j);
            DM_TRY(dm_resnet_load(w, p, j ? out : prev, out, 0, &lv->res[j], err));
        }
        if (i < n - 1) {
            DM_TRY(dm_w_conv(w, &lv->resample_w, out, out, 3, err,
                             "vae.encoder.down_blocks.%d.downsamplers.0.conv.weight", i));
            DM_TRY(dm_w_vec(w, &lv->resample_b, out, err,
                            "vae.encoder.down_blocks.%d.downsamplers.0.conv.bias", i));
        }
        prev = out;
    }
    v->half_floats = dm_weights_half_max(w);
    return DM_OK;
}

int dm_vae_factor(const dm_vae *v) {
    return 1 << (v->cfg.levels - 1);
}

size_t dm_vae_arena_bytes(const dm_vae *v, int h, int w) {
    size_t f = (size_t)dm_vae_factor(v), HW = (size_t)h * w * f * f, maxc = 0;
    for (int i = 0; i < v->cfg.levels; i++)
        maxc = (size_t)v->cfg.block_out[i] > maxc ? (size_t)v->cfg.block_out[i] : maxc;
    /* two feature maps + im2col of the widest level at full size, + attention tiles */
    return sizeof(float) *
               (HW * maxc * 16 + (size_t)h * w * 256 + (size_t)h * w * maxc * 8 + v->half_floats) +
           (64u << 20);
}

#define ALLOC(ptr, n)                                                                              \
    do {                                                                                           \
        (ptr) = dm_arena_floats(a, (size_t)(n));                                                   \
        if (!(ptr)) return dm_fail(err, "VAE: activation arena exhausted");                        \
    } while (0)

/* Attention block of the mid level: one head over all C channels, residual. */
static dm_status mid_attention(const dm_vae_attn *at, int groups, float eps, float *x, int H, int W,
                               float *ws, dm_arena *a, dm_error *err) {
    size_t mark = dm_arena_mark(a);
    int C = at->ch, HW = H * W;
    float *g, *q, *k, *v, *o, *sc;
    ALLOC(g, (size_t)C * HW);
    ALLOC(q, (size_t)C * HW);
    ALLOC(k, (size_t)C * HW);
    ALLOC(v, (size_t)C * HW);
    ALLOC(o, (size_t)C * HW);
    ALLOC(sc, dm_attention_scratch(HW, HW, C));
    dm_group_norm(x, C, HW, groups, eps, at->gn_w, at->gn_b, 0, g);
    dm_linear_from_chw_w(g, C, HW, at->q_w, at->q_b, C, q, ws);
    dm_linear_from_chw_w(g, C, HW, at->k_w, at->k_b, C, k, ws);
    dm_linear_from_chw_w(g, C, HW, at->v_w, at->v_b, C, v, ws);
    dm_attention(q, C, k, C, v, C, HW, HW, 1, C, 0, o, C, sc, NULL, NULL);
    dm_linear_to_chw_acc_w(o, HW, C, at->o_w, at->o_b, C, x, ws);
    dm_arena_release(a, mark);
    return DM_OK;
}

/* mid_block: resnet, attention, resnet, all in place on x (h: the hidden map) */
static dm_status mid_block(const dm_vae *v, const dm_vae_coder *k, float *x, int H, int W, float *h,
                           float *ws, dm_arena *a, dm_error *err) {
    const dm_vae_config *c = &v->cfg;
    DM_TRY(dm_resnet_forward(&k->mid_res[0], x, H, W, NULL, 0, c->groups, c->eps, x, h, a, err));
    DM_TRY(mid_attention(&k->mid_attn, c->groups, c->eps, x, H, W, ws, a, err));
    return dm_resnet_forward(&k->mid_res[1], x, H, W, NULL, 0, c->groups, c->eps, x, h, a, err);
}

/* conv_norm_out + SiLU + conv_out */
static dm_status head(const dm_vae *v, const dm_vae_coder *k, const float *x, int C, int H, int W,
                      int cout, float *out, float *ws, dm_arena *a, dm_error *err) {
    float *g, *sc, *coef;
    ALLOC(coef, 2 * (size_t)C);
    ALLOC(g, (size_t)C * H * W); /* touched on the fp32 path only */
    ALLOC(sc, dm_conv2d_scratch(C, H, W, 3, 1, 1));
    dm_conv_pre pre = {coef, coef + C, 1, 1};
    dm_group_norm_coeffs(x, C, H * W, v->cfg.groups, v->cfg.eps, k->norm_out_w, k->norm_out_b, coef,
                         coef + C);
    dm_conv2d_pre_w(x, &pre, C, H, W, k->conv_out_w, k->conv_out_b, cout, 3, 1, out, sc, 0, ws, g);
    return DM_OK;
}

dm_status dm_vae_decode(const dm_vae *v, const float *z, int h, int w, float *image, dm_arena *a,
                        dm_error *err) {
    const dm_vae_config *c = &v->cfg;
    const dm_vae_coder *k = &v->dec;
    size_t mark = dm_arena_mark(a);
    int L = c->latent_ch, n = c->levels, C = c->block_out[n - 1], H = h, W = w;
    /* Two maps, sized once: x, which every res block updates in place, and s, which holds a
     * block's hidden map, or an upsampler's input while x receives its output. A 512x512
     * decode then keeps 384 MB of maps (x: 256 channels at 512², s: 128), not one map per
     * layer nor a ping-pong pair of the largest. */
    size_t big_x = (size_t)C * H * W, big_s = big_x; /* conv_in, mid block */
    for (int i = 0; i < n; i++) {
        /* level i runs at (h << i) x (w << i), entering with the previous level's channels */
        const dm_vae_level *lv = &k->levels[i];
        size_t hw = ((size_t)h << i) * ((size_t)w << i);
        for (int j = 0; j < lv->n_res; j++) {
            size_t in = (size_t)lv->res[j].in_ch * hw, out = (size_t)lv->res[j].out_ch * hw;
            big_x = in > big_x ? in : big_x;
            big_x = out > big_x ? out : big_x;
            big_s = out > big_s ? out : big_s;
        }
        size_t up_in = (size_t)lv->res[lv->n_res - 1].out_ch * hw;
        if (dm_w_ok(lv->resample_w)) {
            big_s = up_in > big_s ? up_in : big_s;
            big_x = 4 * up_in > big_x ? 4 * up_in : big_x;
        }
    }
    float *zs, *pq, *x, *s, *sc, *ws = NULL;
    ALLOC(x, big_x);
    ALLOC(s, big_s);
    if (v->half_floats) ALLOC(ws, v->half_floats);
    ALLOC(zs, (size_t)L * H * W);
    ALLOC(pq, (size_t)L * H * W);
    for (size_t i = 0; i < (size_t)L * H * W; i++)
        zs[i] = z[i] / c->scaling; /* latents / scaling_factor */
    dm_conv2d_w(zs, L, H, W, v->post_quant_w, v->post_quant_b, L, 1, 1, 0, pq, NULL, 0, ws);
    ALLOC(sc, dm_conv2d_scratch(L, H, W, 3, 1, 1));
    dm_conv2d_w(pq, L, H, W, k->conv_in_w, k->conv_in_b, C, 3, 1, 1, x, sc, 0, ws);
    DM_TRY(mid_block(v, k, x, H, W, s, ws, a, err));
    /* the mid attention's maps are not needed again: their pages go back */
    dm_arena_trim(a);
    for (int i = 0; i < n; i++) {
        const dm_vae_level *lv = &k->levels[i];
        for (int j = 0; j < lv->n_res; j++) {
            const dm_resnet *r = &lv->res[j];
            if (r->out_ch <= r->in_ch) {
                DM_TRY(dm_resnet_forward(r, x, H, W, NULL, 0, c->groups, c->eps, x, s, a, err));
            } else { /* a widening block (no SD VAE has one) cannot run in place */
                size_t m2 = dm_arena_mark(a);
                float *y;
                ALLOC(y, (size_t)r->out_ch * H * W);
                DM_TRY(dm_resnet_forward(r, x, H, W, NULL, 0, c->groups, c->eps, y, s, a, err));
                memcpy(x, y, sizeof(float) * r->out_ch * H * W);
                dm_arena_release(a, m2);
            }
            C = r->out_ch;
        }
        if (dm_w_ok(lv->resample_w)) {
            H *= 2, W *= 2;
            size_t m2 = dm_arena_mark(a);
            float *s2, *up;
            memcpy(s, x, sizeof(float) * C * (H / 2) * (W / 2));
            ALLOC(s2, dm_conv2d_scratch(C, H, W, 3, 1, 1));
            ALLOC(up, (size_t)C * H * W); /* the x2 map: written only on the fp32 path */
            /* Upsample2D: nearest x2 (folded into the conv's input in bf16), conv */
            dm_conv_pre x2 = {NULL, NULL, 0, 2};
            dm_conv2d_pre_w(s, &x2, C, H, W, lv->resample_w, lv->resample_b, C, 3, 1, x, s2, 0, ws,
                            up);
            dm_arena_release(a, m2);
        }
    }
    DM_TRY(head(v, k, x, C, H, W, c->out_ch, image, ws, a, err));
    dm_arena_release(a, mark);
    return DM_OK;
}

dm_status dm_vae_encode(const dm_vae *v, const float *image, int H, int W, float *z, dm_arena *a,
                        dm_error *err) {
    const dm_vae_config *c = &v->cfg;
    if (!v->has_encoder) return dm_fail(err, "this checkpoint has no VAE encoder");
    int f = dm_vae_factor(v);
    if (H % f || W % f)
        return dm_fail(err, "VAE encode: image %dx%d is not a multiple of %d", W, H, f);
    const dm_vae_coder *k = &v->enc;
    size_t mark = dm_arena_mark(a);
    int n = c->levels, C = c->block_out[0], L = c->latent_ch;
    float *cur, *sc, *ws = NULL;
    if (v->half_floats) ALLOC(ws, v->half_floats);
    ALLOC(cur, (size_t)C * H * W);
    ALLOC(sc, dm_conv2d_scratch(c->in_ch, H, W, 3, 1, 1));
    dm_conv2d_w(image, c->in_ch, H, W, k->conv_in_w, k->conv_in_b, C, 3, 1, 1, cur, sc, 0, ws);
    for (int i = 0; i < n; i++) {
        const dm_vae_level *lv = &k->levels[i];
        for (int j = 0; j < lv->n_res; j++) {
            float *nx;
            ALLOC(nx, (size_t)lv->res[j].out_ch * H * W);
            DM_TRY(dm_resnet_forward(&lv->res[j], cur, H, W, NULL, 0, c->groups, c->eps, nx, NULL,
                                     a, err));
            cur = nx, C = lv->res[j].out_ch;
        }
        if (dm_w_ok(lv->resample_w)) {
            /* diffusers Downsample2D(padding=0): F.pad(x, (0, 1, 0, 1)) then a stride-2 conv */
            float *pad, *nx, *s2;
            int Hp = H + 1, Wp = W + 1, Ho = H / 2, Wo = W / 2;
            ALLOC(pad, (size_t)C * Hp * Wp);
            for (int ch = 0; ch < C; ch++)
                for (int y = 0; y < Hp; y++)
                    for (int x = 0; x < Wp; x++)
                        pad[((size_t)ch * Hp + y) * Wp + x] =
                            (y < H && x < W) ? cur[((size_t)ch * H + y) * W + x] : 0.0f;
            ALLOC(nx, (size_t)C * Ho * Wo);
            ALLOC(s2, dm_conv2d_scratch(C, Hp, Wp, 3, 2, 0));
            dm_conv2d_w(pad, C, Hp, Wp, lv->resample_w, lv->resample_b, C, 3, 2, 0, nx, s2, 0, ws);
            cur = nx, H = Ho, W = Wo;
        }
    }
    float *hid, *moments, *q;
    ALLOC(hid, (size_t)C * H * W);
    DM_TRY(mid_block(v, k, cur, H, W, hid, ws, a, err));
    ALLOC(moments, (size_t)2 * L * H * W);
    ALLOC(q, (size_t)2 * L * H * W);
    DM_TRY(head(v, k, cur, C, H, W, 2 * L, moments, ws, a, err));
    dm_conv2d_w(moments, 2 * L, H, W, v->quant_w, v->quant_b, 2 * L, 1, 1, 0, q, NULL, 0, ws);
    /* DiagonalGaussianDistribution: mean = the first L channels; latents = mean * scaling */
    for (size_t i = 0; i < (size_t)L * H * W; i++) z[i] = q[i] * c->scaling;
    dm_arena_release(a, mark);
    return DM_OK;
}
