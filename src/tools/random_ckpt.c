/* The random checkpoint plan: every tensor's LDM name, shape and how to draw it, built from a
 * small spec of the architecture; random_write.c streams it into a safetensors file.
 * The names are the inverse of model/names.c: what the CompVis/Stability releases carry. */
#include "tools/random_ckpt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int openclip; /* text tower: 0 = HF CLIPTextModel, 1 = OpenCLIP */
    int text_vocab, text_width, text_layers, text_mlp, text_pos;
    int unet_ch, unet_levels, unet_mult[4], unet_res, unet_attn[4], unet_ctx, unet_linear;
    int vae_ch, vae_levels, vae_mult[4], vae_res, vae_z;
    /* SDXL (SGM layout): a second, OpenCLIP text tower whose pooled projection joins the
     * time_ids sinusoids in label_emb; transformer depth per level (0 = 1) and in the mid block */
    int sdxl, text2_width, text2_layers, text2_mlp, text2_proj;
    int unet_depth[4], unet_mid_depth, adm_in;
} arch_spec;

static const arch_spec specs[] = {
    [DM_RCK_SD15] = {0,
                     49408,
                     768,
                     12,
                     3072,
                     77,
                     320,
                     4,
                     {1, 2, 4, 4},
                     2,
                     {1, 1, 1, 0},
                     768,
                     0,
                     128,
                     4,
                     {1, 2, 4, 4},
                     2,
                     4},
    [DM_RCK_SD21] = {1,
                     49408,
                     1024,
                     24,
                     4096,
                     77,
                     320,
                     4,
                     {1, 2, 4, 4},
                     2,
                     {1, 1, 1, 0},
                     1024,
                     1,
                     128,
                     4,
                     {1, 2, 4, 4},
                     2,
                     4},
    [DM_RCK_TINY] = {0,
                     49408,
                     32,
                     2,
                     128,
                     77,
                     32,
                     4,
                     {1, 1, 2, 2},
                     2,
                     {1, 1, 1, 0},
                     32,
                     0,
                     32,
                     4,
                     {1, 1, 1, 2},
                     1,
                     4},
    [DM_RCK_TINY21] = {1,
                       49408,
                       64,
                       3,
                       256,
                       77,
                       64,
                       4,
                       {1, 1, 2, 2},
                       2,
                       {1, 1, 1, 0},
                       64,
                       1,
                       32,
                       4,
                       {1, 1, 1, 2},
                       1,
                       4},
    /* SDXL base 1.0: CLIP ViT-L/14 + OpenCLIP ViT-bigG/14 (1280, 32 layers, projection 1280),
     * UNet 320 x (1, 2, 4) with 0 / 2 / 10 transformer blocks (mid 10), context 2048,
     * label_emb 2816 = 1280 pooled + 6 x 256 */
    [DM_RCK_SDXL] = {.openclip = 0,
                     .text_vocab = 49408,
                     .text_width = 768,
                     .text_layers = 12,
                     .text_mlp = 3072,
                     .text_pos = 77,
                     .unet_ch = 320,
                     .unet_levels = 3,
                     .unet_mult = {1, 2, 4},
                     .unet_res = 2,
                     .unet_attn = {0, 1, 1},
                     .unet_ctx = 2048,
                     .unet_linear = 1,
                     .vae_ch = 128,
                     .vae_levels = 4,
                     .vae_mult = {1, 2, 4, 4},
                     .vae_res = 2,
                     .vae_z = 4,
                     .sdxl = 1,
                     .text2_width = 1280,
                     .text2_layers = 32,
                     .text2_mlp = 5120,
                     .text2_proj = 1280,
                     .unet_depth = {0, 2, 10},
                     .unet_mid_depth = 10,
                     .adm_in = 2816},
    /* tests: the SDXL layout at the widths of golden/sdxl's tiny model */
    [DM_RCK_TINYXL] = {.openclip = 0,
                       .text_vocab = 49408,
                       .text_width = 32,
                       .text_layers = 3,
                       .text_mlp = 128,
                       .text_pos = 77,
                       .unet_ch = 32,
                       .unet_levels = 3,
                       .unet_mult = {1, 2, 2},
                       .unet_res = 2,
                       .unet_attn = {0, 1, 1},
                       .unet_ctx = 96,
                       .unet_linear = 1,
                       .vae_ch = 32,
                       .vae_levels = 4,
                       .vae_mult = {1, 1, 2, 2},
                       .vae_res = 2,
                       .vae_z = 4,
                       .sdxl = 1,
                       .text2_width = 64,
                       .text2_layers = 3,
                       .text2_mlp = 256,
                       .text2_proj = 64,
                       .unet_depth = {0, 2, 3},
                       .unet_mid_depth = 3,
                       .adm_in = 112},
};

dm_status dm_rck_arch_parse(const char *s, dm_rck_arch *out, dm_error *err) {
    static const char *const names[] = {"sd15", "sd21", "tiny", "tiny21", "sdxl", "tinyxl"};
    for (int i = 0; i < 6; i++)
        if (s && !strcmp(s, names[i])) {
            *out = (dm_rck_arch)i;
            return DM_OK;
        }
    return dm_fail_code(err, DM_EUSAGE, "--arch '%s': expected sd15, sd21 or sdxl", s ? s : "");
}

/* ------------------------------------------------------------------ the plan */

typedef struct {
    dm_rck_tensor *t;
    int n, cap;
    int oom;
} plan;

static dm_rck_tensor *push(plan *p, dm_rck_kind kind, int ndim, const int64_t *shape,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static dm_rck_tensor *push(plan *p, dm_rck_kind kind, int ndim, const int64_t *shape,
                           const char *fmt, ...) {
    static dm_rck_tensor dummy; /* write-only sink after an allocation failure */
    if (p->oom) return &dummy;
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 512;
        dm_rck_tensor *t = realloc(p->t, sizeof *t * (size_t)cap);
        if (!t) {
            p->oom = 1;
            return &dummy;
        }
        p->t = t, p->cap = cap;
    }
    dm_rck_tensor *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->kind = kind;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i], t->numel *= shape[i];
    /* fan_in of [out, in, ...]: everything but the first dimension */
    t->fan_in = ndim >= 2 ? t->numel / shape[0] : 1;
    return t;
}

#define SHAPE(...)                                                                                 \
    (int64_t[]) {                                                                                  \
        __VA_ARGS__                                                                                \
    }
#define NDIM(...) (int)(sizeof(int64_t[]){__VA_ARGS__} / sizeof(int64_t))
/* a matrix/conv weight [dims...] */
#define W(p, dims, ...)      push(p, DM_RCK_WEIGHT, NDIM dims, SHAPE dims, __VA_ARGS__)
#define VEC(p, kind, n, ...) push(p, kind, 1, SHAPE(n), __VA_ARGS__)

/* weight + bias of a norm layer named pre + name */
static void norm(plan *p, const char *pre, const char *name, int C) {
    VEC(p, DM_RCK_NORM, C, "%s%s.weight", pre, name);
    VEC(p, DM_RCK_BIAS, C, "%s%s.bias", pre, name);
}

/* a 1x1 conv ([O, I, 1, 1]) or a linear ([O, I]) with bias */
static void proj(plan *p, const char *pre, const char *name, int O, int I, int conv) {
    if (conv)
        W(p, (O, I, 1, 1), "%s%s.weight", pre, name);
    else
        W(p, (O, I), "%s%s.weight", pre, name);
    VEC(p, DM_RCK_BIAS, O, "%s%s.bias", pre, name);
}

static void conv3(plan *p, const char *pre, const char *name, int O, int I) {
    W(p, (O, I, 3, 3), "%s%s.weight", pre, name);
    VEC(p, DM_RCK_BIAS, O, "%s%s.bias", pre, name);
}

/* LDM ResBlock (openaimodel.py): in_layers = [GroupNorm, SiLU, conv], emb_layers = [SiLU, linear],
 * out_layers = [GroupNorm, SiLU, Dropout, conv], skip_connection = 1x1 conv when in != out */
static void unet_res(plan *p, const char *pre, int in, int out, int temb) {
    norm(p, pre, "in_layers.0", in);
    conv3(p, pre, "in_layers.2", out, in);
    proj(p, pre, "emb_layers.1", out, temb, 0);
    norm(p, pre, "out_layers.0", out);
    conv3(p, pre, "out_layers.3", out, out);
    if (in != out) proj(p, pre, "skip_connection", out, in, 1);
}

/* LDM SpatialTransformer with depth BasicTransformerBlocks (the names diffusers kept) */
static void unet_transformer(plan *p, const char *pre, int C, int ctx, int linear, int depth) {
    char b[200];
    norm(p, pre, "norm", C);
    proj(p, pre, "proj_in", C, C, !linear);
    for (int d = 0; d < depth; d++) {
        snprintf(b, sizeof b, "%stransformer_blocks.%d.", pre, d);
        W(p, (C, C), "%sattn1.to_q.weight", b);
        W(p, (C, C), "%sattn1.to_k.weight", b);
        W(p, (C, C), "%sattn1.to_v.weight", b);
        proj(p, b, "attn1.to_out.0", C, C, 0);
        W(p, (C, C), "%sattn2.to_q.weight", b);
        W(p, (C, ctx), "%sattn2.to_k.weight", b);
        W(p, (C, ctx), "%sattn2.to_v.weight", b);
        proj(p, b, "attn2.to_out.0", C, C, 0);
        proj(p, b, "ff.net.0.proj", 8 * C, C, 0); /* GEGLU: value and gate halves of 4C each */
        proj(p, b, "ff.net.2", C, 4 * C, 0);
        norm(p, b, "norm1", C);
        norm(p, b, "norm2", C);
        norm(p, b, "norm3", C);
    }
    proj(p, pre, "proj_out", C, C, !linear);
}

static int depth(const arch_spec *s, int level) {
    return s->unet_depth[level] ? s->unet_depth[level] : 1;
}

static void plan_unet(plan *p, const arch_spec *s) {
    const char *M = "model.diffusion_model.";
    char pre[200];
    int C0 = s->unet_ch, T = 4 * C0, n = s->unet_levels, L = s->unet_res;
    int bo[4] = {0};
    for (int i = 0; i < n; i++) bo[i] = C0 * s->unet_mult[i];
    snprintf(pre, sizeof pre, "%stime_embed.", M);
    proj(p, pre, "0", T, C0, 0);
    proj(p, pre, "2", T, T, 0);
    if (s->sdxl) { /* label_emb = Sequential(Sequential(Linear, SiLU, Linear)) */
        snprintf(pre, sizeof pre, "%slabel_emb.0.", M);
        proj(p, pre, "0", T, s->adm_in, 0);
        proj(p, pre, "2", T, T, 0);
    }
    snprintf(pre, sizeof pre, "%sinput_blocks.0.", M);
    conv3(p, pre, "0", C0, 4);
    int idx = 1, ch = C0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < L; j++, idx++) {
            snprintf(pre, sizeof pre, "%sinput_blocks.%d.0.", M, idx);
            unet_res(p, pre, ch, bo[i], T);
            ch = bo[i];
            snprintf(pre, sizeof pre, "%sinput_blocks.%d.1.", M, idx);
            if (s->unet_attn[i])
                unet_transformer(p, pre, ch, s->unet_ctx, s->unet_linear, depth(s, i));
        }
        if (i < n - 1) {
            snprintf(pre, sizeof pre, "%sinput_blocks.%d.0.", M, idx++);
            conv3(p, pre, "op", ch, ch);
        }
    }
    int Cm = bo[n - 1];
    snprintf(pre, sizeof pre, "%smiddle_block.0.", M);
    unet_res(p, pre, Cm, Cm, T);
    snprintf(pre, sizeof pre, "%smiddle_block.1.", M);
    unet_transformer(p, pre, Cm, s->unet_ctx, s->unet_linear,
                     s->unet_mid_depth ? s->unet_mid_depth : 1);
    snprintf(pre, sizeof pre, "%smiddle_block.2.", M);
    unet_res(p, pre, Cm, Cm, T);
    /* output blocks: deepest level first, L+1 res blocks each, fed by the skip stack */
    int prev = Cm;
    idx = 0;
    for (int i = 0; i < n; i++) {
        int lvl = n - 1 - i, out = bo[lvl], in = bo[lvl ? lvl - 1 : 0];
        for (int j = 0; j <= L; j++, idx++) {
            int skip = j == L ? in : out, rin = j == 0 ? prev : out;
            snprintf(pre, sizeof pre, "%soutput_blocks.%d.0.", M, idx);
            unet_res(p, pre, rin + skip, out, T);
            int sub = 1;
            if (s->unet_attn[lvl]) {
                snprintf(pre, sizeof pre, "%soutput_blocks.%d.1.", M, idx);
                unet_transformer(p, pre, out, s->unet_ctx, s->unet_linear, depth(s, lvl));
                sub = 2;
            }
            if (j == L && i < n - 1) {
                snprintf(pre, sizeof pre, "%soutput_blocks.%d.%d.", M, idx, sub);
                conv3(p, pre, "conv", out, out);
            }
        }
        prev = out;
    }
    snprintf(pre, sizeof pre, "%sout.", M);
    norm(p, pre, "0", C0);
    conv3(p, pre, "2", 4, C0);
}

/* LDM ResnetBlock (taming / ldm.modules.diffusionmodules.model) */
static void vae_res(plan *p, const char *pre, int in, int out) {
    norm(p, pre, "norm1", in);
    conv3(p, pre, "conv1", out, in);
    norm(p, pre, "norm2", out);
    conv3(p, pre, "conv2", out, out);
    if (in != out) proj(p, pre, "nin_shortcut", out, in, 1);
}

static void vae_mid(plan *p, const char *part, int C) {
    char pre[200];
    snprintf(pre, sizeof pre, "first_stage_model.%s.mid.block_1.", part);
    vae_res(p, pre, C, C);
    snprintf(pre, sizeof pre, "first_stage_model.%s.mid.attn_1.", part);
    norm(p, pre, "norm", C);
    /* AttnBlock: q/k/v/proj_out are 1x1 convs in the original layout */
    proj(p, pre, "q", C, C, 1);
    proj(p, pre, "k", C, C, 1);
    proj(p, pre, "v", C, C, 1);
    proj(p, pre, "proj_out", C, C, 1);
    snprintf(pre, sizeof pre, "first_stage_model.%s.mid.block_2.", part);
    vae_res(p, pre, C, C);
}

static void plan_vae(plan *p, const arch_spec *s) {
    char pre[200];
    int n = s->vae_levels, ch = s->vae_ch, z = s->vae_z, L = s->vae_res;
    int bo[4] = {0};
    for (int i = 0; i < n; i++) bo[i] = ch * s->vae_mult[i];
    conv3(p, "first_stage_model.encoder.", "conv_in", ch, 3);
    int cur = ch;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < L; j++) {
            snprintf(pre, sizeof pre, "first_stage_model.encoder.down.%d.block.%d.", i, j);
            vae_res(p, pre, cur, bo[i]);
            cur = bo[i];
        }
        if (i < n - 1) {
            snprintf(pre, sizeof pre, "first_stage_model.encoder.down.%d.", i);
            conv3(p, pre, "downsample.conv", cur, cur);
        }
    }
    vae_mid(p, "encoder", cur);
    norm(p, "first_stage_model.encoder.", "norm_out", cur);
    conv3(p, "first_stage_model.encoder.", "conv_out", 2 * z, cur);
    /* decoder: up.i has bo[i] channels; it runs from the deepest level, each L+1 blocks */
    cur = bo[n - 1];
    conv3(p, "first_stage_model.decoder.", "conv_in", cur, z);
    vae_mid(p, "decoder", cur);
    for (int i = n - 1; i >= 0; i--) {
        for (int j = 0; j <= L; j++) {
            snprintf(pre, sizeof pre, "first_stage_model.decoder.up.%d.block.%d.", i, j);
            vae_res(p, pre, cur, bo[i]);
            cur = bo[i];
        }
        if (i > 0) {
            snprintf(pre, sizeof pre, "first_stage_model.decoder.up.%d.", i);
            conv3(p, pre, "upsample.conv", cur, cur);
        }
    }
    norm(p, "first_stage_model.decoder.", "norm_out", cur);
    conv3(p, "first_stage_model.decoder.", "conv_out", 3, cur);
    proj(p, "first_stage_model.", "quant_conv", 2 * z, 2 * z, 1);
    proj(p, "first_stage_model.", "post_quant_conv", z, z, 1);
}

/* One text tower: HF CLIPTextModel names under hf_pre, or OpenCLIP names under oc_pre (with
 * its text_projection [D, proj] applied as x @ P, and logit_scale). */
static void plan_text_tower(plan *p, int openclip, const char *pre_top, int vocab, int D,
                            int layers, int F, int pos, int proj_dim) {
    char pre[200];
    if (!openclip) {
        const char *T = pre_top;
        push(p, DM_RCK_EMBED, 2, SHAPE(vocab, D), "%sembeddings.token_embedding.weight", T);
        push(p, DM_RCK_EMBED, 2, SHAPE(pos, D), "%sembeddings.position_embedding.weight", T);
        push(p, DM_RCK_ARANGE, 2, SHAPE(1, pos), "%sembeddings.position_ids", T)->is_int = 1;
        for (int l = 0; l < layers; l++) {
            snprintf(pre, sizeof pre, "%sencoder.layers.%d.", T, l);
            norm(p, pre, "layer_norm1", D);
            proj(p, pre, "self_attn.q_proj", D, D, 0);
            proj(p, pre, "self_attn.k_proj", D, D, 0);
            proj(p, pre, "self_attn.v_proj", D, D, 0);
            proj(p, pre, "self_attn.out_proj", D, D, 0);
            norm(p, pre, "layer_norm2", D);
            proj(p, pre, "mlp.fc1", F, D, 0);
            proj(p, pre, "mlp.fc2", D, F, 0);
        }
        norm(p, T, "final_layer_norm", D);
        return;
    }
    /* open_clip TextTransformer: nn.MultiheadAttention fuses q, k, v into in_proj_* */
    const char *O = pre_top;
    push(p, DM_RCK_EMBED, 2, SHAPE(vocab, D), "%stoken_embedding.weight", O);
    push(p, DM_RCK_EMBED, 2, SHAPE(pos, D), "%spositional_embedding", O);
    for (int l = 0; l < layers; l++) {
        snprintf(pre, sizeof pre, "%stransformer.resblocks.%d.", O, l);
        norm(p, pre, "ln_1", D);
        dm_rck_tensor *t = W(p, (3 * D, D), "%sattn.in_proj_weight", pre);
        t->fan_in = D;
        VEC(p, DM_RCK_BIAS, 3 * D, "%sattn.in_proj_bias", pre);
        proj(p, pre, "attn.out_proj", D, D, 0);
        norm(p, pre, "ln_2", D);
        proj(p, pre, "mlp.c_fc", F, D, 0);
        proj(p, pre, "mlp.c_proj", D, F, 0);
    }
    norm(p, O, "ln_final", D);
    W(p, (D, proj_dim), "%stext_projection", O)->fan_in = D;
    push(p, DM_RCK_CONST, 0, NULL, "%slogit_scale", O)->value = logf(100.0f);
}

static void plan_text(plan *p, const arch_spec *s) {
    if (s->sdxl) { /* SGM GeneralConditioner: embedders.0 = CLIP-L (HF), embedders.1 = bigG */
        plan_text_tower(p, 0, "conditioner.embedders.0.transformer.text_model.", s->text_vocab,
                        s->text_width, s->text_layers, s->text_mlp, s->text_pos, 0);
        plan_text_tower(p, 1, "conditioner.embedders.1.model.", s->text_vocab, s->text2_width,
                        s->text2_layers, s->text2_mlp, s->text_pos, s->text2_proj);
        return;
    }
    plan_text_tower(
        p, s->openclip,
        s->openclip ? "cond_stage_model.model." : "cond_stage_model.transformer.text_model.",
        s->text_vocab, s->text_width, s->text_layers, s->text_mlp, s->text_pos, s->text_width);
}

static const char *const sched_names[] = {"betas",
                                          "alphas_cumprod",
                                          "alphas_cumprod_prev",
                                          "sqrt_alphas_cumprod",
                                          "sqrt_one_minus_alphas_cumprod",
                                          "log_one_minus_alphas_cumprod",
                                          "sqrt_recip_alphas_cumprod",
                                          "sqrt_recipm1_alphas_cumprod",
                                          "posterior_variance",
                                          "posterior_log_variance_clipped",
                                          "posterior_mean_coef1",
                                          "posterior_mean_coef2"};
enum { N_SCHED = 12 };

dm_status dm_rck_plan(dm_rck_arch arch, dm_rck_tensor **out, int *n, dm_error *err) {
    *out = NULL, *n = 0;
    if ((int)arch < 0 || (int)arch >= (int)(sizeof specs / sizeof *specs))
        return dm_fail(err, "random checkpoint: unknown architecture %d", (int)arch);
    const arch_spec *s = &specs[arch];
    plan p = {0};
    /* the DDPM buffers of LatentDiffusion.register_schedule, then the EMA bookkeeping (SD 1.x /
     * 2.x; SGM's DiffusionEngine keeps neither) */
    for (int i = 0; i < N_SCHED && !s->sdxl; i++)
        push(&p, DM_RCK_SCHED, 1, SHAPE(DM_RCK_T_TRAIN), "%s", sched_names[i])->sched = i;
    if (!s->sdxl) {
        push(&p, DM_RCK_CONST, 0, NULL, "model_ema.decay")->value = 0.9999f;
        dm_rck_tensor *nu = push(&p, DM_RCK_CONST, 0, NULL, "model_ema.num_updates");
        nu->is_int = 1, nu->value = 0;
    }
    plan_text(&p, s);
    plan_unet(&p, s);
    plan_vae(&p, s);
    if (p.oom) {
        free(p.t);
        return dm_fail(err, "random checkpoint: out of memory planning %d tensors", p.n);
    }
    *out = p.t, *n = p.n;
    return DM_OK;
}
