#include "model/clip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

/* Fetches "<prefix>text_model.<name>" with the given shape (1 or 2 dims). */
static dm_status get(dm_model *m, const char *prefix, const char *name, int64_t d0, int64_t d1,
                     const float **out, dm_error *err) {
    char full[256];
    snprintf(full, sizeof full, "%stext_model.%s", prefix, name);
    int64_t shape[2] = {d0, d1};
    return dm_weights_get(m->w, full, d1 ? 2 : 1, shape, out, err);
}

/* Same for a matrix, as a dm_w (kept f16/bf16 when the store keeps halves). */
static dm_status get_w(dm_model *m, const char *prefix, const char *name, int64_t d0, int64_t d1,
                       dm_w *out, dm_error *err) {
    char full[256];
    snprintf(full, sizeof full, "%stext_model.%s", prefix, name);
    int64_t shape[2] = {d0, d1};
    return dm_weights_get_w(m->w, full, 2, shape, out, err);
}

dm_status dm_clip_load(dm_model *m, dm_clip *c, dm_error *err) {
    return dm_clip_load_tower(m, "text.", &m->clip, c, err);
}

dm_status dm_clip_load_tower(dm_model *m, const char *prefix, const dm_clip_config *cfg, dm_clip *c,
                             dm_error *err) {
    memset(c, 0, sizeof *c);
    c->cfg = *cfg;
    const char *P = prefix;
    int D = c->cfg.hidden, F = c->cfg.intermediate;
    DM_TRY(get_w(m, P, "embeddings.token_embedding.weight", c->cfg.vocab, D, &c->tok_emb, err));
    /* rows are read straight from it: a LoRA on it (kept apart in bf16 runs) is merged into an
     * f32 copy instead */
    if (c->tok_emb.patch) {
        c->tok_emb = (dm_w){0};
        DM_TRY(
            get(m, P, "embeddings.token_embedding.weight", c->cfg.vocab, D, &c->tok_emb.f32, err));
    }
    DM_TRY(get(m, P, "embeddings.position_embedding.weight", c->cfg.max_pos, D, &c->pos_emb, err));
    DM_TRY(get(m, P, "final_layer_norm.weight", D, 0, &c->lnf_w, err));
    DM_TRY(get(m, P, "final_layer_norm.bias", D, 0, &c->lnf_b, err));
    if (c->cfg.proj_dim > 0) {
        char full[256];
        int64_t shape[2] = {c->cfg.proj_dim, D};
        snprintf(full, sizeof full, "%stext_projection.weight", P);
        DM_TRY(dm_weights_get(m->w, full, 2, shape, &c->proj_w, err));
    }
    c->layers = calloc((size_t)c->cfg.layers, sizeof *c->layers);
    if (!c->layers) return dm_fail(err, "out of memory");
    for (int i = 0; i < c->cfg.layers; i++) {
        dm_clip_layer *l = &c->layers[i];
        char n[128];
#define W(field, sub, d0, d1)                                                                      \
    snprintf(n, sizeof n, "encoder.layers.%d.%s", i, sub);                                         \
    DM_TRY(get(m, P, n, d0, d1, &l->field, err))
#define WM(field, sub, d0, d1)                                                                     \
    snprintf(n, sizeof n, "encoder.layers.%d.%s", i, sub);                                         \
    DM_TRY(get_w(m, P, n, d0, d1, &l->field, err))
        W(ln1_w, "layer_norm1.weight", D, 0);
        W(ln1_b, "layer_norm1.bias", D, 0);
        WM(wq, "self_attn.q_proj.weight", D, D);
        W(bq, "self_attn.q_proj.bias", D, 0);
        WM(wk, "self_attn.k_proj.weight", D, D);
        W(bk, "self_attn.k_proj.bias", D, 0);
        WM(wv, "self_attn.v_proj.weight", D, D);
        W(bv, "self_attn.v_proj.bias", D, 0);
        WM(wo, "self_attn.out_proj.weight", D, D);
        W(bo, "self_attn.out_proj.bias", D, 0);
        W(ln2_w, "layer_norm2.weight", D, 0);
        W(ln2_b, "layer_norm2.bias", D, 0);
        WM(fc1_w, "mlp.fc1.weight", F, D);
        W(fc1_b, "mlp.fc1.bias", F, 0);
        WM(fc2_w, "mlp.fc2.weight", D, F);
        W(fc2_b, "mlp.fc2.bias", D, 0);
#undef W
#undef WM
    }
    /* layer matrices only: the token embedding is converted row by row at lookup */
    size_t DD = (size_t)D * D, FD = (size_t)F * D;
    for (int i = 0; i < c->cfg.layers; i++) {
        const dm_clip_layer *l = &c->layers[i];
        if (dm_w_scratch(l->wq, 1) || dm_w_scratch(l->wk, 1) || dm_w_scratch(l->wv, 1) ||
            dm_w_scratch(l->wo, 1) || dm_w_scratch(l->fc1_w, 1) || dm_w_scratch(l->fc2_w, 1))
            c->half_floats = DD > FD ? DD : FD;
    }
    return DM_OK;
}

void dm_clip_free(dm_clip *c) {
    free(c->layers);
    c->layers = NULL;
}

size_t dm_clip_arena_bytes(const dm_clip *c, int T) {
    size_t D = (size_t)c->cfg.hidden, F = (size_t)c->cfg.intermediate;
    return sizeof(float) *
               ((size_t)T * (D * 5 + F) + dm_attention_scratch(T, T, 0) + c->half_floats) +
           64 * 8;
}

dm_status dm_clip_forward(const dm_clip *c, const int32_t *ids, int T, float *out, float *hidden,
                          dm_arena *a, dm_error *err) {
    dm_clip_outputs o = {.last = out, .hidden = hidden};
    return dm_clip_run(c, ids, T, &o, a, err);
}

dm_status dm_clip_run(const dm_clip *c, const int32_t *ids, int T, const dm_clip_outputs *o,
                      dm_arena *a, dm_error *err) {
    const dm_clip_config *cfg = &c->cfg;
    int D = cfg->hidden, F = cfg->intermediate, H = cfg->heads, hd = D / H;
    if (T > cfg->max_pos)
        return dm_fail(err, "text encoder: %d tokens, the model takes at most %d", T, cfg->max_pos);
    if (o->penult && cfg->layers < 2)
        return dm_fail(err, "text encoder: %d layer(s), no penultimate hidden states", cfg->layers);
    if (o->pooled && cfg->proj_dim <= 0)
        return dm_fail(err, "text encoder: no text_projection, so no pooled embeddings");
    for (int t = 0; t < T; t++)
        if (ids[t] < 0 || ids[t] >= cfg->vocab)
            return dm_fail(err,
                           "text encoder: token id %d at position %d is outside the vocabulary "
                           "(%d entries; tokenizer and model do not match?)",
                           ids[t], t, cfg->vocab);
    /* only hidden_states[-2] wanted: the last layer need not run */
    int n_layers = o->last || o->hidden || o->pooled ? cfg->layers : cfg->layers - 1;
    size_t mark = dm_arena_mark(a);
    float *x = dm_arena_floats(a, (size_t)T * D); /* residual stream (T, D) */
    float *h = dm_arena_floats(a, (size_t)T * D); /* normalised (T, D) */
    float *qkv = dm_arena_floats(a, (size_t)T * D * 3);
    float *mlp = dm_arena_floats(a, (size_t)T * F);
    float *sc = dm_arena_floats(a, dm_attention_scratch(T, T, hd));
    float *ws = c->half_floats ? dm_arena_floats(a, c->half_floats) : NULL;
    if (!x || !h || !qkv || !mlp || !sc || (c->half_floats && !ws)) {
        dm_arena_release(a, mark);
        return dm_fail(err, "text encoder: activation arena too small");
    }
    float *q = qkv, *k = qkv + (size_t)T * D, *v = qkv + (size_t)2 * T * D;
    /* hidden_states = token_embedding(ids) + position_embedding(arange(T)) */
    for (int t = 0; t < T; t++) {
        const float *te = c->tok_emb.f32 + (size_t)ids[t] * D;
        if (c->tok_emb.half) { /* the row, converted exactly, into x; then the same sum */
            dm_half_to_f32(c->tok_emb.half + (size_t)ids[t] * D, c->tok_emb.bf16, (size_t)D,
                           x + (size_t)t * D);
            te = x + (size_t)t * D;
        }
        for (int i = 0; i < D; i++) x[(size_t)t * D + i] = te[i] + c->pos_emb[(size_t)t * D + i];
    }
    if (o->hidden) memcpy(o->hidden, x, sizeof(float) * T * D);
    for (int l = 0; l < n_layers; l++) {
        const dm_clip_layer *L = &c->layers[l];
        /* x = x + out_proj(attn(layer_norm1(x)))  with the causal mask */
        dm_layer_norm(x, T, D, cfg->eps, L->ln1_w, L->ln1_b, h);
        dm_linear_w(h, T, D, L->wq, L->bq, D, q, ws);
        dm_linear_w(h, T, D, L->wk, L->bk, D, k, ws);
        dm_linear_w(h, T, D, L->wv, L->bv, D, v, ws);
        dm_attention(q, D, k, D, v, D, T, T, H, hd, 1, h, D, sc, NULL, NULL);
        dm_linear_acc_w(h, T, D, L->wo, L->bo, D, x, ws);
        /* x = x + fc2(act(fc1(layer_norm2(x)))) */
        dm_layer_norm(x, T, D, cfg->eps, L->ln2_w, L->ln2_b, h);
        dm_linear_w(h, T, D, L->fc1_w, L->fc1_b, F, mlp, ws);
        if (cfg->act_gelu)
            dm_gelu(mlp, (size_t)T * F);
        else
            dm_quick_gelu(mlp, (size_t)T * F);
        dm_linear_acc_w(mlp, T, F, L->fc2_w, L->fc2_b, D, x, ws);
        if (o->hidden) memcpy(o->hidden + (size_t)(l + 1) * T * D, x, sizeof(float) * T * D);
        /* hidden_states[-2]: the output of the next-to-last layer, before any LayerNorm */
        if (o->penult && l == cfg->layers - 2) memcpy(o->penult, x, sizeof(float) * T * D);
    }
    if (o->last) dm_layer_norm(x, T, D, cfg->eps, c->lnf_w, c->lnf_b, o->last);
    if (o->pooled) {
        /* pooled = final_layer_norm(x)[argmax(ids)] (the first eos, transformers' eos_token_id 2
         * rule), then text_embeds = text_projection(pooled), no bias */
        int e = 0;
        for (int t = 1; t < T; t++)
            if (ids[t] > ids[e]) e = t;
        dm_layer_norm(x + (size_t)e * D, 1, D, cfg->eps, c->lnf_w, c->lnf_b, h);
        dm_linear(h, 1, D, c->proj_w, NULL, cfg->proj_dim, o->pooled);
    }
    dm_arena_release(a, mark);
    return DM_OK;
}

dm_status dm_clip_run_pair(const dm_clip *c1, const dm_clip *c2, const int32_t *ids1,
                           const int32_t *ids2, int T, float *emb, float *pooled, dm_arena *a,
                           dm_error *err) {
    int D1 = c1->cfg.hidden, D2 = c2->cfg.hidden, D = D1 + D2;
    float *h1 = malloc(sizeof(float) * T * D1), *h2 = malloc(sizeof(float) * T * D2);
    dm_status s = h1 && h2 ? DM_OK : dm_fail(err, "out of memory");
    if (!s) s = dm_clip_run(c1, ids1, T, &(dm_clip_outputs){.penult = h1}, a, err);
    if (!s)
        s = dm_clip_run(c2, ids2, T, &(dm_clip_outputs){.penult = h2, .pooled = pooled}, a, err);
    for (int t = 0; !s && t < T; t++) {
        memcpy(emb + (size_t)t * D, h1 + (size_t)t * D1, sizeof(float) * D1);
        memcpy(emb + (size_t)t * D + D1, h2 + (size_t)t * D2, sizeof(float) * D2);
    }
    free(h1), free(h2);
    return s;
}
