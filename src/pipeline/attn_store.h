/* The attention store (DiffuMask / Prompt-to-Prompt): during generation it sums, for the
 * conditional branch, every cross-attention layer's head-mean probabilities [h*w, 77]
 * over the steps; optionally the head-mean self-attention [n, n] of one resolution, summed
 * over steps and layers. Fed by the UNet's attention hook, tile by tile. */
#ifndef DM_PIPELINE_ATTN_STORE_H
#define DM_PIPELINE_ATTN_STORE_H

#include "model/unet.h"

#define DM_STORE_MAX_LAYERS 128

typedef struct {
    char name[160]; /* "down_blocks.0.attentions.0.transformer_blocks.0.attn2" */
    int h, w, n_keys;
    float *sum; /* (h*w, n_keys): sum over steps of the head mean */
} dm_store_layer;

typedef struct {
    int n_layers;
    dm_store_layer layers[DM_STORE_MAX_LAYERS];
    int steps;          /* UNet calls accumulated */
    int self_h, self_w; /* resolution of the self-attention sum (0: none) */
    int self_layers;    /* attn1 layers at that resolution seen per step */
    float *self_sum;    /* (n, n), n = self_h*self_w: sum over steps and layers of the head mean */
    int branch;         /* batch item whose attention is stored (the conditional one) */
} dm_attn_store;

void dm_attn_store_init(dm_attn_store *s, int branch, int self_h);
void dm_attn_store_free(dm_attn_store *s);
/* The UNet hook; user = dm_attn_store*. Call dm_attn_store_step after each UNet call. */
void dm_attn_store_hook(void *user, const dm_attn_event *ev);
void dm_attn_store_step(dm_attn_store *s);
/* Mean over steps of one layer: out (h*w, n_keys). */
void dm_attn_store_layer_mean(const dm_attn_store *s, int layer, float *out);
/* Distinct resolutions present (sorted from finest), up to max. */
int dm_attn_store_resolutions(const dm_attn_store *s, int *hs, int *ws, int max);
/* Mean over the layers of resolution h x w of the per-layer step means: out (h*w, n_keys). */
void dm_attn_store_res_mean(const dm_attn_store *s, int h, int w, float *out);
/* Map of a set of token positions (their mean) at resolution h x w: out (h*w). */
void dm_attn_store_token_map(const dm_attn_store *s, int h, int w, const int *pos, int n_pos,
                             float *out);
/* Self-attention affinity mean over steps and layers (n x n), or NULL if none stored. */
const float *dm_attn_store_self(const dm_attn_store *s, float *scale);

#endif
