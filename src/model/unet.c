/* The SD UNet: loading its blocks from the checkpoint (unet.h) and the forward pass — time
 * embedding, resnets, transformers with the attention hook, down / mid / up with skips. */
#include "model/unet.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/wget.h"
#include "ops/ops.h"

/* ------------------------------------------------------------------ loading */

static dm_status load_transformer(dm_weights *w, const dm_unet_config *c, const char *p, int C,
                                  int heads, int depth, dm_transformer **out, dm_error *err) {
    dm_transformer *t = calloc(1, sizeof *t);
    if (!t) return dm_fail(err, "out of memory");
    *out = t;
    t->ch = C, t->heads = heads, t->depth = depth;
    snprintf(t->name, sizeof t->name, "%s", p + 5); /* drop "unet." */
    if (C % heads) return dm_fail(err, "%s: %d channels do not split into %d heads", p, C, heads);
    DM_TRY(dm_w_vec(w, &t->gn_w, C, err, "%s.norm.weight", p));
    DM_TRY(dm_w_vec(w, &t->gn_b, C, err, "%s.norm.bias", p));
    DM_TRY(dm_w_mat(w, &t->proj_in_w, C, C, err, "%s.proj_in.weight", p));
    DM_TRY(dm_w_vec(w, &t->proj_in_b, C, err, "%s.proj_in.bias", p));
    DM_TRY(dm_w_mat(w, &t->proj_out_w, C, C, err, "%s.proj_out.weight", p));
    DM_TRY(dm_w_vec(w, &t->proj_out_b, C, err, "%s.proj_out.bias", p));
    t->blocks = calloc((size_t)t->depth, sizeof *t->blocks);
    if (!t->blocks) return dm_fail(err, "out of memory");
    int X = c->cross_dim, F = 4 * C;
    for (int d = 0; d < t->depth; d++) {
        dm_tblock *b = &t->blocks[d];
        char q[128];
        snprintf(q, sizeof q, "%s.transformer_blocks.%d", p, d);
        DM_TRY(dm_w_vec(w, &b->norm1_w, C, err, "%s.norm1.weight", q));
        DM_TRY(dm_w_vec(w, &b->norm1_b, C, err, "%s.norm1.bias", q));
        DM_TRY(dm_w_mat(w, &b->q1, C, C, err, "%s.attn1.to_q.weight", q));
        DM_TRY(dm_w_mat(w, &b->k1, C, C, err, "%s.attn1.to_k.weight", q));
        DM_TRY(dm_w_mat(w, &b->v1, C, C, err, "%s.attn1.to_v.weight", q));
        DM_TRY(dm_w_mat(w, &b->o1_w, C, C, err, "%s.attn1.to_out.0.weight", q));
        DM_TRY(dm_w_vec(w, &b->o1_b, C, err, "%s.attn1.to_out.0.bias", q));
        DM_TRY(dm_w_vec(w, &b->norm2_w, C, err, "%s.norm2.weight", q));
        DM_TRY(dm_w_vec(w, &b->norm2_b, C, err, "%s.norm2.bias", q));
        DM_TRY(dm_w_mat(w, &b->q2, C, C, err, "%s.attn2.to_q.weight", q));
        DM_TRY(dm_w_mat(w, &b->k2, C, X, err, "%s.attn2.to_k.weight", q));
        DM_TRY(dm_w_mat(w, &b->v2, C, X, err, "%s.attn2.to_v.weight", q));
        DM_TRY(dm_w_mat(w, &b->o2_w, C, C, err, "%s.attn2.to_out.0.weight", q));
        DM_TRY(dm_w_vec(w, &b->o2_b, C, err, "%s.attn2.to_out.0.bias", q));
        DM_TRY(dm_w_vec(w, &b->norm3_w, C, err, "%s.norm3.weight", q));
        DM_TRY(dm_w_vec(w, &b->norm3_b, C, err, "%s.norm3.bias", q));
        DM_TRY(dm_w_mat(w, &b->ff1_w, 2 * F, C, err, "%s.ff.net.0.proj.weight", q));
        DM_TRY(dm_w_vec(w, &b->ff1_b, 2 * F, err, "%s.ff.net.0.proj.bias", q));
        DM_TRY(dm_w_mat(w, &b->ff2_w, C, F, err, "%s.ff.net.2.weight", q));
        DM_TRY(dm_w_vec(w, &b->ff2_b, C, err, "%s.ff.net.2.bias", q));
    }
    return DM_OK;
}

dm_status dm_unet_load(dm_model *m, dm_unet *u, dm_error *err) {
    memset(u, 0, sizeof *u);
    const dm_unet_config *c = &m->unet;
    u->cfg = *c;
    dm_weights *w = m->w;
    int n = c->levels, L = c->layers_per_block, C0 = c->block_out[0], T = c->time_dim;
    if (L < 1 || L > 7) return dm_fail(err, "%s: layers_per_block %d is not supported", m->path, L);
    DM_TRY(dm_w_mat(w, &u->temb1_w, T, C0, err, "unet.time_embedding.linear_1.weight"));
    DM_TRY(dm_w_vec(w, &u->temb1_b, T, err, "unet.time_embedding.linear_1.bias"));
    DM_TRY(dm_w_mat(w, &u->temb2_w, T, T, err, "unet.time_embedding.linear_2.weight"));
    DM_TRY(dm_w_vec(w, &u->temb2_b, T, err, "unet.time_embedding.linear_2.bias"));
    if (c->add_time_dim > 0) { /* SDXL: add_embedding = Linear(add_in, T), SiLU, Linear(T, T) */
        DM_TRY(
            dm_w_mat(w, &u->add1_w, T, c->add_in_dim, err, "unet.add_embedding.linear_1.weight"));
        DM_TRY(dm_w_vec(w, &u->add1_b, T, err, "unet.add_embedding.linear_1.bias"));
        DM_TRY(dm_w_mat(w, &u->add2_w, T, T, err, "unet.add_embedding.linear_2.weight"));
        DM_TRY(dm_w_vec(w, &u->add2_b, T, err, "unet.add_embedding.linear_2.bias"));
    }
    DM_TRY(dm_w_conv(w, &u->conv_in_w, C0, c->in_ch, 3, err, "unet.conv_in.weight"));
    DM_TRY(dm_w_vec(w, &u->conv_in_b, C0, err, "unet.conv_in.bias"));
    char p[128];
    /* down: level i goes from block_out[i-1] to block_out[i] channels */
    for (int i = 0; i < n; i++) {
        dm_unet_level *lv = &u->down[i];
        int in = i ? c->block_out[i - 1] : C0, out = c->block_out[i];
        lv->n_res = L;
        for (int j = 0; j < L; j++) {
            snprintf(p, sizeof p, "unet.down_blocks.%d.resnets.%d", i, j);
            DM_TRY(dm_resnet_load(w, p, j ? out : in, out, T, &lv->res[j], err));
            if (c->down_attn[i]) {
                snprintf(p, sizeof p, "unet.down_blocks.%d.attentions.%d", i, j);
                DM_TRY(load_transformer(w, c, p, out, c->heads[i], c->depth[i], &lv->attn[j], err));
                u->n_attn++;
            }
        }
        if (i < n - 1) {
            lv->resample_ch = out;
            DM_TRY(dm_w_conv(w, &lv->resample_w, out, out, 3, err,
                             "unet.down_blocks.%d.downsamplers.0.conv.weight", i));
            DM_TRY(dm_w_vec(w, &lv->resample_b, out, err,
                            "unet.down_blocks.%d.downsamplers.0.conv.bias", i));
        }
    }
    int Cm = c->block_out[n - 1];
    DM_TRY(dm_resnet_load(w, "unet.mid_block.resnets.0", Cm, Cm, T, &u->mid_res[0], err));
    if (c->mid_attn) {
        DM_TRY(load_transformer(w, c, "unet.mid_block.attentions.0", Cm, c->mid_heads, c->mid_depth,
                                &u->mid_attn, err));
        u->n_attn++;
        DM_TRY(dm_resnet_load(w, "unet.mid_block.resnets.1", Cm, Cm, T, &u->mid_res[1], err));
    }
    /* up: block i (deepest first) has L+1 res blocks fed by the skip stack (diffusers'
     * prev_output_channel / res_skip_channels bookkeeping) */
    int prev = Cm;
    for (int i = 0; i < n; i++) {
        dm_unet_level *lv = &u->up[i];
        int out = c->block_out[n - 1 - i], in = c->block_out[n - 2 - i >= 0 ? n - 2 - i : 0];
        lv->n_res = L + 1;
        for (int j = 0; j <= L; j++) {
            int skip = j == L ? in : out, rin = j == 0 ? prev : out;
            snprintf(p, sizeof p, "unet.up_blocks.%d.resnets.%d", i, j);
            DM_TRY(dm_resnet_load(w, p, rin + skip, out, T, &lv->res[j], err));
            if (c->up_attn[i]) {
                snprintf(p, sizeof p, "unet.up_blocks.%d.attentions.%d", i, j);
                DM_TRY(load_transformer(w, c, p, out, c->heads[n - 1 - i], c->depth[n - 1 - i],
                                        &lv->attn[j], err));
                u->n_attn++;
            }
        }
        if (i < n - 1) {
            lv->resample_ch = out;
            DM_TRY(dm_w_conv(w, &lv->resample_w, out, out, 3, err,
                             "unet.up_blocks.%d.upsamplers.0.conv.weight", i));
            DM_TRY(dm_w_vec(w, &lv->resample_b, out, err,
                            "unet.up_blocks.%d.upsamplers.0.conv.bias", i));
        }
        prev = out;
    }
    DM_TRY(dm_w_vec(w, &u->norm_out_w, C0, err, "unet.conv_norm_out.weight"));
    DM_TRY(dm_w_vec(w, &u->norm_out_b, C0, err, "unet.conv_norm_out.bias"));
    DM_TRY(dm_w_conv(w, &u->conv_out_w, c->out_ch, C0, 3, err, "unet.conv_out.weight"));
    DM_TRY(dm_w_vec(w, &u->conv_out_b, c->out_ch, err, "unet.conv_out.bias"));
    u->half_floats = dm_weights_half_max(w);
    return DM_OK;
}

static void free_transformer(dm_transformer *t) {
    if (!t) return;
    free(t->blocks);
    free(t);
}

void dm_unet_free(dm_unet *u) {
    for (int i = 0; i < DM_MAX_LEVELS; i++)
        for (int j = 0; j < 8; j++) {
            free_transformer(u->down[i].attn[j]);
            free_transformer(u->up[i].attn[j]);
        }
    free_transformer(u->mid_attn);
    memset(u, 0, sizeof *u);
}

/* ------------------------------------------------------------------ forward */

typedef struct {
    const dm_unet *u;
    dm_arena *a;
    dm_error *err;
    const float *temb; /* silu(time embedding) (time_dim) */
    const float *ctx;  /* (ctx_len, cross_dim) of this batch item */
    int ctx_len;
    int batch;
    const dm_unet_capture *cap;
    int self_index, cross_index; /* attention layers seen so far in this forward */
    dm_attn_event ev;            /* event under construction for the hook */
    dm_op_profile *prof;         /* NULL unless the caller times the ops */
    float *ws;                   /* u->half_floats: f16/bf16 weight conversion, or NULL */
} fwd;

/* Runs one op statement, adding its wall time to the profile when one is attached
 * (the kernels are parallel inside, so wall time is what a step pays). */
#define OP(kind, stmt)                                                                             \
    do {                                                                                           \
        double op_t0_ = f->prof ? omp_get_wtime() : 0;                                             \
        stmt;                                                                                      \
        if (f->prof) f->prof->seconds[kind] += omp_get_wtime() - op_t0_;                           \
    } while (0)

#define ALLOC(ptr, n)                                                                              \
    do {                                                                                           \
        (ptr) = dm_arena_floats(f->a, (size_t)(n));                                                \
        if (!(ptr)) return dm_fail(f->err, "UNet: activation arena exhausted");                    \
    } while (0)

/* diffusers Timesteps: [cos(t f_i), sin(t f_i)] (flip_sin_to_cos), f_i = exp(-ln(10000) i /
 * (half - freq_shift)), i < half = dim / 2 */
static void sinusoid(const dm_unet_config *c, float t, int dim, float *feat) {
    int half = dim / 2;
    for (int i = 0; i < half; i++) {
        /* exponent = -log(10000) * arange(half) / (half - downscale_freq_shift) */
        float freq = expf(-logf(10000.0f) * (float)i / ((float)half - c->freq_shift));
        float arg = t * freq, s = sinf(arg), co = cosf(arg);
        feat[i] = c->flip_sin_to_cos ? co : s;
        feat[half + i] = c->flip_sin_to_cos ? s : co;
    }
}

dm_status dm_unet_embedding(const dm_unet *u, float t, const float *text_embeds,
                            const float *time_ids, dm_unet_emb_parts *parts, float *emb,
                            dm_arena *a, dm_error *err) {
    const dm_unet_config *c = &u->cfg;
    int C0 = c->block_out[0], T = c->time_dim, A = c->add_in_dim, P = A - 6 * c->add_time_dim;
    if (c->add_time_dim > 0 && (!text_embeds || !time_ids))
        return dm_fail(err, "UNet: this model (SDXL) needs pooled text embeddings and time ids");
    size_t mark = dm_arena_mark(a);
    float *feat = dm_arena_floats(a, (size_t)(C0 > A ? C0 : A)), *hid = dm_arena_floats(a, T);
    float *add = dm_arena_floats(a, T);
    /* scratch for the half weights of these four linears only (the forward's own scratch,
     * sized for the largest weight of the UNet, is not taken twice) */
    size_t nw = dm_w_scratch(u->temb1_w, (size_t)T * C0),
           n2 = dm_w_scratch(u->temb2_w, (size_t)T * T);
    size_t n3 = dm_w_scratch(u->add1_w, (size_t)T * A), n4 = dm_w_scratch(u->add2_w, (size_t)T * T);
    nw = nw > n2 ? nw : n2, nw = nw > n3 ? nw : n3, nw = nw > n4 ? nw : n4;
    float *ws = nw ? dm_arena_floats(a, nw) : NULL;
    if (!feat || !hid || !add || (nw && !ws)) {
        dm_arena_release(a, mark);
        return dm_fail(err, "UNet: activation arena exhausted");
    }
    /* emb = time_embedding(time_proj(t)): linear_1, silu, linear_2 */
    sinusoid(c, t, C0, feat);
    dm_linear_w(feat, 1, C0, u->temb1_w, u->temb1_b, T, hid, ws);
    dm_silu(hid, (size_t)T);
    dm_linear_w(hid, 1, T, u->temb2_w, u->temb2_b, T, emb, ws);
    if (parts && parts->time_emb) memcpy(parts->time_emb, emb, sizeof(float) * T);
    if (c->add_time_dim > 0) {
        /* time_embeds = add_time_proj(time_ids.flatten()).reshape(B, -1);
         * add_embeds = cat([text_embeds, time_embeds], -1); emb = emb + add_embedding(add_embeds)
         */
        memcpy(feat, text_embeds, sizeof(float) * P);
        for (int k = 0; k < 6; k++)
            sinusoid(c, time_ids[k], c->add_time_dim, feat + P + k * c->add_time_dim);
        if (parts && parts->add_time_proj)
            memcpy(parts->add_time_proj, feat + P, sizeof(float) * 6 * c->add_time_dim);
        if (parts && parts->add_in) memcpy(parts->add_in, feat, sizeof(float) * A);
        dm_linear_w(feat, 1, A, u->add1_w, u->add1_b, T, hid, ws);
        dm_silu(hid, (size_t)T);
        dm_linear_w(hid, 1, T, u->add2_w, u->add2_b, T, add, ws);
        if (parts && parts->add_emb) memcpy(parts->add_emb, add, sizeof(float) * T);
        for (int i = 0; i < T; i++) emb[i] += add[i];
    }
    dm_arena_release(a, mark);
    return DM_OK;
}

/* ResnetBlock2D (the same math as dm_resnet_forward, spelled out so every op can be timed
 * and the time embedding folded into conv1's bias):
 * out = shortcut(x) + conv2(silu(gn2(conv1(silu(gn1(x))) + time_emb_proj(temb)))) */
static dm_status resnet(fwd *f, const dm_resnet *r, const float *x, int H, int W, float *out) {
    const dm_unet_config *c = &f->u->cfg;
    size_t mark = dm_arena_mark(f->a);
    int HW = H * W, in = r->in_ch, oc = r->out_ch, wide = in > oc ? in : oc;
    float *t1, *h, *sc, *bias, *coef;
    /* what every path touches first, then what only the fp32 path touches: the pages a
     * resident run keeps are then one block, not spread over the untouched ones */
    ALLOC(h, (size_t)oc * HW);
    ALLOC(bias, oc);
    ALLOC(coef, 2 * (size_t)wide);
    ALLOC(t1, (size_t)wide * HW); /* gn(x) whole */
    ALLOC(sc, dm_conv2d_scratch(wide, H, W, 3, 1, 1) + 1);
    dm_conv_pre pre = {coef, coef + wide, 1, 1}; /* silu(gn(.)) folded into the conv's input */
    /* hidden_states + temb[:, :, None, None] after conv1: a per-channel constant, so it
     * joins conv1's bias instead of costing a pass over the map */
    OP(DM_OP_LINEAR, dm_linear_w(f->temb, 1, c->time_dim, r->temb_w, r->temb_b, oc, bias, f->ws));
    for (int o = 0; o < oc; o++) bias[o] += r->conv1_b[o];
    OP(DM_OP_NORM, dm_group_norm_coeffs(x, in, HW, c->groups, c->eps, r->norm1_w, r->norm1_b, coef,
                                        coef + wide));
    OP(DM_OP_CONV,
       dm_conv2d_pre_w(x, &pre, in, H, W, r->conv1_w, bias, oc, 3, 1, h, sc, 0, f->ws, t1));
    OP(DM_OP_NORM, dm_group_norm_coeffs(h, oc, HW, c->groups, c->eps, r->norm2_w, r->norm2_b, coef,
                                        coef + wide));
    OP(DM_OP_CONV,
       dm_conv2d_pre_w(h, &pre, oc, H, W, r->conv2_w, r->conv2_b, oc, 3, 1, out, sc, 0, f->ws, t1));
    if (dm_w_ok(r->skip_w))
        OP(DM_OP_CONV,
           dm_conv2d_w(x, in, H, W, r->skip_w, r->skip_b, oc, 1, 1, 0, out, NULL, 1, f->ws));
    else
        OP(DM_OP_ELEM, dm_add(out, x, (size_t)oc * HW));
    dm_arena_release(f->a, mark);
    return DM_OK;
}

static void probs_to_hook(void *user, int head, int q0, int q1, int Lk, const float *probs) {
    fwd *f = user;
    f->ev.head = head, f->ev.q0 = q0, f->ev.q1 = q1, f->ev.n_keys = Lk, f->ev.probs = probs;
    f->cap->hook(f->cap->user, &f->ev);
}

/* tokens[HW, C] += to_out(attention(to_q(n), to_k(kv_src), to_v(kv_src))) */
static dm_status attention(fwd *f, const dm_transformer *t, int cross, dm_w wq, dm_w wk, dm_w wv,
                           dm_w wo, const float *bo, const float *n, int HW, int H, int W,
                           const float *kv_src, int Lk, int kv_dim, float *tokens, int block) {
    size_t mark = dm_arena_mark(f->a);
    int C = t->ch, hd = C / t->heads;
    float *q, *k, *v, *o, *sc;
    ALLOC(q, (size_t)HW * C);
    ALLOC(k, (size_t)Lk * C);
    ALLOC(v, (size_t)Lk * C);
    ALLOC(o, (size_t)HW * C);
    /* weights prepared for bf16: self-attention is bf16 too. Cross-attention stays fp32: its
     * 77 keys make it ~2 % of the attention's work, and its probabilities are the masks,
     * whose peaks magnify an error in the logits (bf16 q·k would put ~3e-3 of |logit| there) */
    int bf16 = wq.prep != NULL && !cross;
    ALLOC(sc, bf16 ? dm_attention_bf16_scratch(HW, Lk, t->heads, hd)
                   : dm_attention_scratch(HW, Lk, hd));
    OP(DM_OP_LINEAR, dm_linear_w(n, HW, C, wq, NULL, C, q, f->ws));
    OP(DM_OP_LINEAR, dm_linear_w(kv_src, Lk, kv_dim, wk, NULL, C, k, f->ws));
    OP(DM_OP_LINEAR, dm_linear_w(kv_src, Lk, kv_dim, wv, NULL, C, v, f->ws));
    const dm_unet_capture *cap = f->cap;
    int layer_index = cross ? f->cross_index++ : f->self_index++;
    int want = cap && cap->hook && (!cap->batch_mask || (cap->batch_mask >> f->batch & 1u)) &&
               (cross ? cap->capture_cross : cap->capture_self_h == H);
    char name[160];
    if (want) {
        snprintf(name, sizeof name, "%s.transformer_blocks.%d.attn%d", t->name, block,
                 cross ? 2 : 1);
        f->ev = (dm_attn_event){.layer = name,
                                .layer_index = layer_index,
                                .cross = cross,
                                .batch = f->batch,
                                .heads = t->heads,
                                .h = H,
                                .w = W};
    }
    if (bf16)
        OP(DM_OP_ATTN, dm_attention_bf16(q, C, k, C, v, C, HW, Lk, t->heads, hd, o, C, sc,
                                         want ? probs_to_hook : NULL, f));
    else
        OP(DM_OP_ATTN, dm_attention(q, C, k, C, v, C, HW, Lk, t->heads, hd, 0, o, C, sc,
                                    want ? probs_to_hook : NULL, f));
    OP(DM_OP_LINEAR, dm_linear_acc_w(o, HW, C, wo, bo, C, tokens, f->ws));
    dm_arena_release(f->a, mark);
    return DM_OK;
}

/* Transformer2DModel: out = x + proj_out(blocks(proj_in(groupnorm(x)))) */
static dm_status transformer(fwd *f, const dm_transformer *t, const float *x, int H, int W,
                             float *out) {
    size_t mark = dm_arena_mark(f->a);
    int C = t->ch, HW = H * W, F = 4 * C;
    float *g, *tok, *n, *ff1, *ff2;
    ALLOC(g, (size_t)C * HW);
    ALLOC(tok, (size_t)HW * C);
    ALLOC(n, (size_t)HW * C);
    ALLOC(ff1, (size_t)HW * 2 * F);
    ALLOC(ff2, (size_t)HW * F);
    OP(DM_OP_NORM, dm_group_norm(x, C, HW, f->u->cfg.groups, 1e-6f, t->gn_w, t->gn_b, 0, g));
    OP(DM_OP_LINEAR, dm_linear_from_chw_w(g, C, HW, t->proj_in_w, t->proj_in_b, C, tok, f->ws));
    for (int d = 0; d < t->depth; d++) {
        const dm_tblock *b = &t->blocks[d];
        OP(DM_OP_NORM, dm_layer_norm(tok, HW, C, 1e-5f, b->norm1_w, b->norm1_b, n));
        DM_TRY(attention(f, t, 0, b->q1, b->k1, b->v1, b->o1_w, b->o1_b, n, HW, H, W, n, HW, C, tok,
                         d));
        OP(DM_OP_NORM, dm_layer_norm(tok, HW, C, 1e-5f, b->norm2_w, b->norm2_b, n));
        DM_TRY(attention(f, t, 1, b->q2, b->k2, b->v2, b->o2_w, b->o2_b, n, HW, H, W, f->ctx,
                         f->ctx_len, f->u->cfg.cross_dim, tok, d));
        /* ff: tokens += net.2(geglu(net.0.proj(norm3(tokens)))) */
        OP(DM_OP_NORM, dm_layer_norm(tok, HW, C, 1e-5f, b->norm3_w, b->norm3_b, n));
        OP(DM_OP_LINEAR, dm_linear_w(n, HW, C, b->ff1_w, b->ff1_b, 2 * F, ff1, f->ws));
        OP(DM_OP_ELEM, dm_geglu(ff1, HW, F, ff2));
        OP(DM_OP_LINEAR, dm_linear_acc_w(ff2, HW, F, b->ff2_w, b->ff2_b, C, tok, f->ws));
    }
    OP(DM_OP_ELEM, memcpy(out, x, sizeof(float) * C * HW));
    OP(DM_OP_LINEAR,
       dm_linear_to_chw_acc_w(tok, HW, C, t->proj_out_w, t->proj_out_b, C, out, f->ws));
    dm_arena_release(f->a, mark);
    return DM_OK;
}

typedef struct {
    float *x;
    int C, H, W;
} fmap;

static dm_status forward_one(fwd *f, const float *x_in, float t, const float *text_embeds,
                             const float *time_ids, float *out, int h, int w) {
    const dm_unet *u = f->u;
    const dm_unet_config *c = &u->cfg;
    int n = c->levels, C0 = c->block_out[0];
    float *temb;
    ALLOC(temb, c->time_dim);
    dm_status es = DM_OK;
    OP(DM_OP_LINEAR, es = dm_unet_embedding(u, t, text_embeds, time_ids, NULL, temb, f->a, f->err));
    if (es) return es;
    dm_silu(temb, (size_t)c->time_dim); /* every ResnetBlock2D applies silu before time_emb_proj */
    f->temb = temb;

    fmap stack[64];
    int sp = 0;
    float *cur, *sc;
    int C = C0, H = h, W = w;
    ALLOC(cur, (size_t)C0 * H * W);
    ALLOC(sc, dm_conv2d_scratch(c->in_ch, H, W, 3, 1, 1));
    OP(DM_OP_CONV, dm_conv2d_w(x_in, c->in_ch, H, W, u->conv_in_w, u->conv_in_b, C0, 3, 1, 1, cur,
                               sc, 0, f->ws));
    stack[sp++] = (fmap){cur, C, H, W};
    for (int i = 0; i < n; i++) {
        const dm_unet_level *lv = &u->down[i];
        for (int j = 0; j < lv->n_res; j++) {
            float *nx;
            ALLOC(nx, (size_t)lv->res[j].out_ch * H * W);
            DM_TRY(resnet(f, &lv->res[j], cur, H, W, nx));
            cur = nx, C = lv->res[j].out_ch;
            if (lv->attn[j]) {
                ALLOC(nx, (size_t)C * H * W);
                DM_TRY(transformer(f, lv->attn[j], cur, H, W, nx));
                cur = nx;
            }
            stack[sp++] = (fmap){cur, C, H, W};
        }
        if (dm_w_ok(lv->resample_w)) {
            int Ho = dm_conv_out(H, 3, 2, 1), Wo = dm_conv_out(W, 3, 2, 1);
            float *nx, *s2;
            ALLOC(nx, (size_t)C * Ho * Wo);
            size_t mark = dm_arena_mark(f->a);
            ALLOC(s2, dm_conv2d_scratch(C, H, W, 3, 2, 1));
            OP(DM_OP_CONV, dm_conv2d_w(cur, C, H, W, lv->resample_w, lv->resample_b, C, 3, 2, 1, nx,
                                       s2, 0, f->ws));
            dm_arena_release(f->a, mark);
            cur = nx, H = Ho, W = Wo;
            stack[sp++] = (fmap){cur, C, H, W};
        }
    }
    float *nx;
    ALLOC(nx, (size_t)C * H * W);
    DM_TRY(resnet(f, &u->mid_res[0], cur, H, W, nx));
    cur = nx;
    if (u->mid_attn) {
        ALLOC(nx, (size_t)C * H * W);
        DM_TRY(transformer(f, u->mid_attn, cur, H, W, nx));
        ALLOC(cur, (size_t)C * H * W);
        DM_TRY(resnet(f, &u->mid_res[1], nx, H, W, cur));
    }
    for (int i = 0; i < n; i++) {
        const dm_unet_level *lv = &u->up[i];
        for (int j = 0; j < lv->n_res; j++) {
            fmap s = stack[--sp];
            /* torch.cat([hidden_states, res_hidden_states], dim=1) */
            float *cat;
            ALLOC(cat, (size_t)(C + s.C) * H * W);
            OP(DM_OP_ELEM, memcpy(cat, cur, sizeof(float) * C * H * W);
               memcpy(cat + (size_t)C * H * W, s.x, sizeof(float) * s.C * H * W));
            ALLOC(nx, (size_t)lv->res[j].out_ch * H * W);
            DM_TRY(resnet(f, &lv->res[j], cat, H, W, nx));
            cur = nx, C = lv->res[j].out_ch;
            if (lv->attn[j]) {
                ALLOC(nx, (size_t)C * H * W);
                DM_TRY(transformer(f, lv->attn[j], cur, H, W, nx));
                cur = nx;
            }
        }
        if (dm_w_ok(lv->resample_w)) {
            /* upsample to the size of the skip it will meet (x2 unless the input was odd) */
            int Ho = stack[sp - 1].H, Wo = stack[sp - 1].W;
            float *up, *s2;
            ALLOC(up, (size_t)C * Ho * Wo);
            ALLOC(nx, (size_t)C * Ho * Wo);
            ALLOC(s2, dm_conv2d_scratch(C, Ho, Wo, 3, 1, 1));
            if (Ho == 2 * H && Wo == 2 * W) {
                /* Upsample2D: the x2 repeat folded into the conv's input (bf16), or written
                 * into up first (fp32) */
                dm_conv_pre x2 = {NULL, NULL, 0, 2};
                OP(DM_OP_CONV, dm_conv2d_pre_w(cur, &x2, C, Ho, Wo, lv->resample_w, lv->resample_b,
                                               C, 3, 1, nx, s2, 0, f->ws, up));
            } else {
                OP(DM_OP_ELEM, dm_resize_nearest(cur, C, H, W, Ho, Wo, up));
                OP(DM_OP_CONV, dm_conv2d_w(up, C, Ho, Wo, lv->resample_w, lv->resample_b, C, 3, 1,
                                           1, nx, s2, 0, f->ws));
            }
            cur = nx, H = Ho, W = Wo;
        }
    }
    float *g, *coef;
    ALLOC(g, (size_t)C * H * W);
    ALLOC(sc, dm_conv2d_scratch(C, H, W, 3, 1, 1));
    ALLOC(coef, 2 * (size_t)C);
    dm_conv_pre pre = {coef, coef + C, 1, 1}; /* conv_out(silu(conv_norm_out(x))) */
    OP(DM_OP_NORM, dm_group_norm_coeffs(cur, C, H * W, c->groups, c->eps, u->norm_out_w,
                                        u->norm_out_b, coef, coef + C));
    OP(DM_OP_CONV, dm_conv2d_pre_w(cur, &pre, C, H, W, u->conv_out_w, u->conv_out_b, c->out_ch, 3,
                                   1, out, sc, 0, f->ws, g));
    return DM_OK;
}

size_t dm_unet_arena_bytes(const dm_unet *u, int h, int w, int ctx_len) {
    /* every feature map of the down path is kept for the skips; the up path and the scratch
     * of the widest layer come on top. A generous bound, but only touched pages are real. */
    const dm_unet_config *c = &u->cfg;
    size_t HW = (size_t)h * w, maxc = 0, total = 0;
    for (int i = 0; i < c->levels; i++)
        maxc = (size_t)c->block_out[i] > maxc ? (size_t)c->block_out[i] : maxc;
    total +=
        HW * maxc * 4 * (size_t)(c->layers_per_block + 2) * (size_t)c->levels; /* skips, outputs */
    total += HW * maxc * 2 * 9;                                                /* im2col */
    total += HW * maxc * 20;                                                   /* transformer */
    total += HW * (HW < 256 ? HW : 256) + (size_t)ctx_len * maxc * 2;
    return total * sizeof(float) * 2 + u->half_floats * sizeof(float) + (64u << 20);
}

dm_status dm_unet_forward(const dm_unet *u, const float *x, int B, int h, int w, const float *t,
                          const float *ctx, int ctx_len, float *out, const dm_unet_capture *cap,
                          dm_arena *a, dm_error *err) {
    return dm_unet_forward_cond(u, x, B, h, w, t, ctx, ctx_len, NULL, out, cap, a, err);
}

dm_status dm_unet_forward_cond(const dm_unet *u, const float *x, int B, int h, int w,
                               const float *t, const float *ctx, int ctx_len,
                               const dm_unet_added *add, float *out, const dm_unet_capture *cap,
                               dm_arena *a, dm_error *err) {
    const dm_unet_config *c = &u->cfg;
    int P = c->add_in_dim - 6 * c->add_time_dim;
    if (c->add_time_dim > 0 && (!add || !add->text_embeds || !add->time_ids))
        return dm_fail(err, "UNet: this model (SDXL) needs pooled text embeddings and time ids");
    size_t in_sz = (size_t)c->in_ch * h * w, out_sz = (size_t)c->out_ch * h * w;
    if (h < 1 || w < 1) return dm_fail(err, "UNet: bad latent size %dx%d", h, w);
    for (int b = 0; b < B; b++) {
        fwd f = {.u = u,
                 .a = a,
                 .err = err,
                 .ctx = ctx + (size_t)b * ctx_len * c->cross_dim,
                 .ctx_len = ctx_len,
                 .batch = b,
                 .cap = cap,
                 .prof = cap ? cap->profile : NULL};
        size_t mark = dm_arena_mark(a);
        if (u->half_floats && !(f.ws = dm_arena_floats(a, u->half_floats)))
            return dm_fail(err, "UNet: activation arena exhausted (weight conversion)");
        const float *te = c->add_time_dim > 0 ? add->text_embeds + (size_t)b * P : NULL;
        const float *ti = c->add_time_dim > 0 ? add->time_ids + (size_t)b * 6 : NULL;
        dm_status s = forward_one(&f, x + b * in_sz, t[b], te, ti, out + b * out_sz, h, w);
        dm_arena_release(a, mark);
        if (s) return s;
    }
    return DM_OK;
}
