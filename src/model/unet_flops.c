/* The UNet's GEMM plan: every matrix product of one forward pass (shapes and counts) and its
 * FLOPs, read from the loaded blocks — what `bench` reports GFLOP/s against. The forward pass
 * itself is unet.c. */
#include "model/unet.h"

#include "ops/ops.h"

/* ------------------------------------------------------------------ FLOP plan */

typedef struct {
    dm_unet_gemm *g;
    int n, max;
} gemm_list;

static void gemm(gemm_list *l, dm_op_kind kind, int M, int N, int K, int count) {
    for (int i = 0; i < l->n && i < l->max; i++)
        if (l->g[i].kind == kind && l->g[i].M == M && l->g[i].N == N && l->g[i].K == K) {
            l->g[i].count += count;
            return;
        }
    if (l->n < l->max) l->g[l->n] = (dm_unet_gemm){kind, M, N, K, count};
    l->n++;
}

static void gemm_resnet(gemm_list *l, const dm_resnet *r, int HW, int T) {
    gemm(l, DM_OP_LINEAR, 1, r->out_ch, T, 1);                               /* time_emb_proj */
    gemm(l, DM_OP_CONV, r->out_ch, HW, r->in_ch * 9, 1);                     /* conv1 */
    gemm(l, DM_OP_CONV, r->out_ch, HW, r->out_ch * 9, 1);                    /* conv2 */
    if (dm_w_ok(r->skip_w)) gemm(l, DM_OP_CONV, r->out_ch, HW, r->in_ch, 1); /* conv_shortcut 1x1 */
}

static void gemm_transformer(gemm_list *l, const dm_transformer *t, int HW, int ctx_len, int X) {
    int C = t->ch, d = C / t->heads;
    gemm(l, DM_OP_LINEAR, HW, C, C, 1); /* proj_in */
    for (int b = 0; b < t->depth; b++) {
        gemm(l, DM_OP_LINEAR, HW, C, C, 5);            /* attn1 q k v out, attn2 q */
        gemm(l, DM_OP_LINEAR, HW, C, C, 1);            /* attn2 out */
        gemm(l, DM_OP_LINEAR, ctx_len, C, X, 2);       /* attn2 k v */
        gemm(l, DM_OP_ATTN, HW, HW, d, t->heads);      /* self: Q Kᵀ */
        gemm(l, DM_OP_ATTN, HW, d, HW, t->heads);      /* self: P V */
        gemm(l, DM_OP_ATTN, HW, ctx_len, d, t->heads); /* cross: Q Kᵀ */
        gemm(l, DM_OP_ATTN, HW, d, ctx_len, t->heads); /* cross: P V */
        gemm(l, DM_OP_LINEAR, HW, 8 * C, C, 1);        /* ff.net.0.proj (GEGLU) */
        gemm(l, DM_OP_LINEAR, HW, C, 4 * C, 1);        /* ff.net.2 */
    }
    gemm(l, DM_OP_LINEAR, C, HW, C, 1); /* proj_out, written back channel-major */
}

int dm_unet_gemms(const dm_unet *u, int h, int w, int ctx_len, dm_unet_gemm *out, int max) {
    const dm_unet_config *c = &u->cfg;
    gemm_list l = {out, 0, max};
    int n = c->levels, C0 = c->block_out[0], T = c->time_dim, X = c->cross_dim;
    int H = h, W = w, C = C0;
    gemm(&l, DM_OP_LINEAR, 1, T, C0, 1);
    gemm(&l, DM_OP_LINEAR, 1, T, T, 1);
    if (c->add_time_dim > 0) {
        gemm(&l, DM_OP_LINEAR, 1, T, c->add_in_dim, 1);
        gemm(&l, DM_OP_LINEAR, 1, T, T, 1);
    }
    gemm(&l, DM_OP_CONV, C0, H * W, c->in_ch * 9, 1);
    int skipH[64], skipW[64], sp = 0;
    skipH[sp] = H, skipW[sp++] = W;
    for (int i = 0; i < n; i++) {
        const dm_unet_level *lv = &u->down[i];
        for (int j = 0; j < lv->n_res; j++) {
            gemm_resnet(&l, &lv->res[j], H * W, T);
            C = lv->res[j].out_ch;
            if (lv->attn[j]) gemm_transformer(&l, lv->attn[j], H * W, ctx_len, X);
            skipH[sp] = H, skipW[sp++] = W;
        }
        if (dm_w_ok(lv->resample_w)) {
            H = dm_conv_out(H, 3, 2, 1), W = dm_conv_out(W, 3, 2, 1);
            gemm(&l, DM_OP_CONV, C, H * W, C * 9, 1);
            skipH[sp] = H, skipW[sp++] = W;
        }
    }
    gemm_resnet(&l, &u->mid_res[0], H * W, T);
    if (u->mid_attn) {
        gemm_transformer(&l, u->mid_attn, H * W, ctx_len, X);
        gemm_resnet(&l, &u->mid_res[1], H * W, T);
    }
    for (int i = 0; i < n; i++) {
        const dm_unet_level *lv = &u->up[i];
        for (int j = 0; j < lv->n_res; j++) {
            sp--;
            gemm_resnet(&l, &lv->res[j], H * W, T);
            C = lv->res[j].out_ch;
            if (lv->attn[j]) gemm_transformer(&l, lv->attn[j], H * W, ctx_len, X);
        }
        if (dm_w_ok(lv->resample_w)) {
            H = skipH[sp - 1], W = skipW[sp - 1];
            gemm(&l, DM_OP_CONV, C, H * W, C * 9, 1);
        }
    }
    gemm(&l, DM_OP_CONV, c->out_ch, H * W, C0 * 9, 1);
    return l.n;
}

double dm_unet_flops(const dm_unet *u, int h, int w, int ctx_len) {
    dm_unet_gemm g[512];
    int n = dm_unet_gemms(u, h, w, ctx_len, g, 512);
    double total = 0;
    for (int i = 0; i < n && i < 512; i++) total += 2.0 * g[i].M * g[i].N * g[i].K * g[i].count;
    return total;
}
