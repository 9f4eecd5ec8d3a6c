#include "pipeline/attn_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dm_attn_store_init(dm_attn_store *s, int branch, int self_h) {
    memset(s, 0, sizeof *s);
    s->branch = branch;
    s->self_h = self_h;
}

void dm_attn_store_free(dm_attn_store *s) {
    for (int i = 0; i < s->n_layers; i++) free(s->layers[i].sum);
    free(s->self_sum);
    memset(s, 0, sizeof *s);
}

static dm_store_layer *layer_for(dm_attn_store *s, const dm_attn_event *ev) {
    for (int i = 0; i < s->n_layers; i++)
        if (!strcmp(s->layers[i].name, ev->layer)) return &s->layers[i];
    if (s->n_layers == DM_STORE_MAX_LAYERS) return NULL;
    dm_store_layer *l = &s->layers[s->n_layers];
    l->sum = calloc((size_t)ev->h * ev->w * ev->n_keys, sizeof(float));
    if (!l->sum) return NULL;
    snprintf(l->name, sizeof l->name, "%s", ev->layer);
    l->h = ev->h, l->w = ev->w, l->n_keys = ev->n_keys;
    s->n_layers++;
    return l;
}

void dm_attn_store_hook(void *user, const dm_attn_event *ev) {
    dm_attn_store *s = user;
    if (ev->batch != s->branch) return;
    float wgt = 1.0f / (float)ev->heads;
    size_t nk = (size_t)ev->n_keys, rows = (size_t)(ev->q1 - ev->q0);
    if (ev->cross) {
        dm_store_layer *l = layer_for(s, ev);
        if (!l) return;
        float *dst = l->sum + (size_t)ev->q0 * nk;
        for (size_t i = 0; i < rows * nk; i++) dst[i] += wgt * ev->probs[i];
        return;
    }
    if (ev->h != s->self_h) return;
    size_t n = (size_t)ev->h * ev->w;
    if (!s->self_sum) {
        s->self_w = ev->w;
        s->self_sum = calloc(n * n, sizeof(float));
        if (!s->self_sum) return;
    }
    if (ev->head == 0 && ev->q0 == 0) s->self_layers++;
    float *dst = s->self_sum + (size_t)ev->q0 * n;
    for (size_t i = 0; i < rows * n; i++) dst[i] += wgt * ev->probs[i];
}

void dm_attn_store_step(dm_attn_store *s) {
    s->steps++;
}

void dm_attn_store_layer_mean(const dm_attn_store *s, int k, float *out) {
    const dm_store_layer *l = &s->layers[k];
    size_t n = (size_t)l->h * l->w * l->n_keys;
    float inv = s->steps ? 1.0f / (float)s->steps : 0.0f;
    for (size_t i = 0; i < n; i++) out[i] = l->sum[i] * inv;
}

int dm_attn_store_resolutions(const dm_attn_store *s, int *hs, int *ws, int max) {
    int n = 0;
    for (int i = 0; i < s->n_layers; i++) {
        int seen = 0;
        for (int j = 0; j < n; j++) seen |= hs[j] == s->layers[i].h && ws[j] == s->layers[i].w;
        if (!seen && n < max) hs[n] = s->layers[i].h, ws[n] = s->layers[i].w, n++;
    }
    for (int i = 1; i < n; i++) /* finest first */
        for (int j = i; j > 0 && hs[j] * ws[j] > hs[j - 1] * ws[j - 1]; j--) {
            int t = hs[j];
            hs[j] = hs[j - 1];
            hs[j - 1] = t;
            t = ws[j];
            ws[j] = ws[j - 1];
            ws[j - 1] = t;
        }
    return n;
}

void dm_attn_store_res_mean(const dm_attn_store *s, int h, int w, float *out) {
    int nk = 0, count = 0;
    for (int i = 0; i < s->n_layers; i++)
        if (s->layers[i].h == h && s->layers[i].w == w) nk = s->layers[i].n_keys;
    size_t n = (size_t)h * w * nk;
    memset(out, 0, sizeof(float) * n);
    for (int i = 0; i < s->n_layers; i++) {
        const dm_store_layer *l = &s->layers[i];
        if (l->h != h || l->w != w) continue;
        /* mean over steps first (as the reference), then the equal-weight mean over layers */
        float inv = s->steps ? 1.0f / (float)s->steps : 0.0f;
        for (size_t j = 0; j < n; j++) out[j] += l->sum[j] * inv;
        count++;
    }
    if (count)
        for (size_t j = 0; j < n; j++) out[j] /= (float)count;
}

void dm_attn_store_token_map(const dm_attn_store *s, int h, int w, const int *pos, int n_pos,
                             float *out) {
    int nk = 0, count = 0;
    for (int i = 0; i < s->n_layers; i++)
        if (s->layers[i].h == h && s->layers[i].w == w) nk = s->layers[i].n_keys;
    size_t hw = (size_t)h * w;
    memset(out, 0, sizeof(float) * hw);
    for (int i = 0; i < s->n_layers; i++) {
        const dm_store_layer *l = &s->layers[i];
        if (l->h != h || l->w != w) continue;
        for (size_t q = 0; q < hw; q++)
            for (int p = 0; p < n_pos; p++)
                if (pos[p] >= 0 && pos[p] < nk) out[q] += l->sum[q * nk + pos[p]];
        count++;
    }
    float norm =
        (float)(count ? count : 1) * (float)(n_pos ? n_pos : 1) * (float)(s->steps ? s->steps : 1);
    for (size_t q = 0; q < hw; q++) out[q] /= norm;
}

const float *dm_attn_store_self(const dm_attn_store *s, float *scale) {
    if (!s->self_sum || !s->self_layers) return NULL;
    *scale = 1.0f / (float)s->self_layers; /* self_layers counts layer calls over all steps */
    return s->self_sum;
}
