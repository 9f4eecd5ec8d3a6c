/* CLIP text encoder (transformers CLIPTextModel): token + position embeddings, pre-LN
 * transformer layers with a causal mask, final LayerNorm. */
#ifndef DM_MODEL_CLIP_H
#define DM_MODEL_CLIP_H

#include <stdint.h>

#include "core/arena.h"
#include "model/model.h"

typedef struct {
    const float *ln1_w, *ln1_b;     /* (D) */
    dm_w wq, wk, wv, wo;            /* (D, D) */
    const float *bq, *bk, *bv, *bo; /* (D) */
    const float *ln2_w, *ln2_b;
    dm_w fc1_w;         /* (F, D) */
    const float *fc1_b; /* (F) */
    dm_w fc2_w;         /* (D, F) */
    const float *fc2_b; /* (D) */
} dm_clip_layer;

typedef struct {
    dm_clip_config cfg;
    dm_w tok_emb;               /* (vocab, D); rows converted at lookup when half */
    const float *pos_emb;       /* (max_pos, D) */
    dm_clip_layer *layers;      /* (layers) */
    const float *lnf_w, *lnf_b; /* (D) */
    const float *proj_w;        /* (proj_dim, D) text_projection, or NULL */
    size_t half_floats;         /* largest layer weight kept f16/bf16 (0: none) */
} dm_clip;

/* The (first) text encoder: "text." weights, m->clip. */
dm_status dm_clip_load(dm_model *m, dm_clip *c, dm_error *err);
/* The tower whose weights are named prefix + transformers' names ("text2." for SDXL's second). */
dm_status dm_clip_load_tower(dm_model *m, const char *prefix, const dm_clip_config *cfg, dm_clip *c,
                             dm_error *err);
void dm_clip_free(dm_clip *c);
/* Arena bytes one forward of n_tokens needs. */
size_t dm_clip_arena_bytes(const dm_clip *c, int n_tokens);
/* ids[n_tokens] -> out[n_tokens, D] (last_hidden_state). hidden, if not NULL, receives
 * (layers + 1) x n_tokens x D: the embeddings, then each layer's output (transformers'
 * hidden_states). */
dm_status dm_clip_forward(const dm_clip *c, const int32_t *ids, int n_tokens, float *out,
                          float *hidden, dm_arena *a, dm_error *err);

/* What one forward can hand back; NULL fields are not computed. */
typedef struct {
    float *last;   /* (T, D) last_hidden_state (after the final LayerNorm) */
    float *hidden; /* (layers + 1, T, D) hidden_states */
    float *penult; /* (T, D) hidden_states[-2] (SDXL's conditioning); alone, the last layer is
                      skipped */
    float *pooled; /* (proj_dim) text_embeds = text_projection(final_ln(x)[argmax ids]) */
} dm_clip_outputs;
dm_status dm_clip_run(const dm_clip *c, const int32_t *ids, int n_tokens, const dm_clip_outputs *o,
                      dm_arena *a, dm_error *err);

/* SDXL's conditioning from its two towers: emb (T, D1 + D2) = cat([c1.hidden_states[-2],
 * c2.hidden_states[-2]], -1); pooled (c2's proj_dim) = c2's text_embeds (may be NULL). */
dm_status dm_clip_run_pair(const dm_clip *c1, const dm_clip *c2, const int32_t *ids1,
                           const int32_t *ids2, int T, float *emb, float *pooled, dm_arena *a,
                           dm_error *err);

#endif
