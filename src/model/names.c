#include "model/names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *from, *to;
} name_rule;

/* Inside a UNet res block (LDM ResBlock -> diffusers ResnetBlock2D). */
static const name_rule unet_resnet[] = {{"in_layers.0.", "norm1."},
                                        {"in_layers.2.", "conv1."},
                                        {"emb_layers.1.", "time_emb_proj."},
                                        {"out_layers.0.", "norm2."},
                                        {"out_layers.3.", "conv2."},
                                        {"skip_connection.", "conv_shortcut."},
                                        {NULL, NULL}};
/* Top-level UNet modules. */
static const name_rule unet_top[] = {{"time_embed.0.", "time_embedding.linear_1."},
                                     {"time_embed.2.", "time_embedding.linear_2."},
                                     /* SDXL's added (pooled text + size) conditioning */
                                     {"label_emb.0.0.", "add_embedding.linear_1."},
                                     {"label_emb.0.2.", "add_embedding.linear_2."},
                                     {"input_blocks.0.0.", "conv_in."},
                                     {"out.0.", "conv_norm_out."},
                                     {"out.2.", "conv_out."},
                                     {NULL, NULL}};
/* Inside a VAE res block and its mid attention. */
static const name_rule vae_resnet[] = {{"nin_shortcut.", "conv_shortcut."}, {"", ""}, {NULL, NULL}};
static const name_rule vae_attn[] = {
    {"norm.", "group_norm."},   {"q.", "to_q."}, {"k.", "to_k."}, {"v.", "to_v."},
    {"proj_out.", "to_out.0."}, {NULL, NULL}};
static const name_rule vae_top[] = {{"norm_out.", "conv_norm_out."},
                                    {"conv_in.", "conv_in."},
                                    {"conv_out.", "conv_out."},
                                    {NULL, NULL}};
/* OpenCLIP (SD 2.x, SDXL's second encoder) text tower -> transformers CLIPTextModel. */
static const name_rule openclip_top[] = {
    {"token_embedding.weight", "text_model.embeddings.token_embedding.weight"},
    {"positional_embedding", "text_model.embeddings.position_embedding.weight"},
    {"ln_final.", "text_model.final_layer_norm."},
    {NULL, NULL}};
static const name_rule openclip_block[] = {{"ln_1.", "layer_norm1."},
                                           {"ln_2.", "layer_norm2."},
                                           {"attn.out_proj.", "self_attn.out_proj."},
                                           {"mlp.c_fc.", "mlp.fc1."},
                                           {"mlp.c_proj.", "mlp.fc2."},
                                           {NULL, NULL}};
/* Tensors under the model prefixes that no part of the model reads. */
static const char *const unused_suffixes[] = {"position_ids", "text_projection", "logit_scale",
                                              NULL};

/* Applies the first name_rule whose 'from' prefixes s; writes head + to + rest into out. */
static int apply(const name_rule *table, const char *head, const char *s, char *out, size_t n) {
    for (const name_rule *r = table; r->from; r++) {
        size_t k = strlen(r->from);
        if (!strncmp(s, r->from, k)) {
            snprintf(out, n, "%s%s%s", head, r->to, s + k);
            return 1;
        }
    }
    return 0;
}

static int starts(const char *s, const char *p, const char **rest) {
    size_t k = strlen(p);
    if (strncmp(s, p, k)) return 0;
    *rest = s + k;
    return 1;
}

/* Parses "N.rest" -> N and rest. */
static int index_of(const char *s, int *n, const char **rest) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '.' || v < 0 || v > 100000) return 0;
    *n = (int)v;
    *rest = end + 1;
    return 1;
}

/* One UNet block (a res block, a transformer or a resampler) of the LDM numbering. */
static int unet_sub(const char *kind, int b, const char *sub, int l, const char *rest, char *out,
                    size_t n) {
    char head[128];
    if (!strcmp(sub, "resnets")) {
        snprintf(head, sizeof head, "unet.%s.%d.resnets.%d.", kind, b, l);
        if (apply(unet_resnet, head, rest, out, n)) return 1;
        return 0;
    }
    if (!strcmp(sub, "attentions")) {
        if (b < 0)
            snprintf(out, n, "unet.mid_block.attentions.0.%s", rest);
        else
            snprintf(out, n, "unet.%s.%d.attentions.%d.%s", kind, b, l, rest);
        return 1;
    }
    snprintf(out, n, "unet.%s.%d.%s.0.conv.%s", kind, b, sub, rest);
    return 1;
}

static int map_unet(const char *s, int L, char *out, size_t n) {
    const char *rest;
    int i, j;
    if (apply(unet_top, "unet.", s, out, n)) return 1;
    if (starts(s, "input_blocks.", &rest) && index_of(rest, &i, &rest) && i >= 1 &&
        index_of(rest, &j, &rest)) {
        int b = (i - 1) / (L + 1), l = (i - 1) % (L + 1);
        if (l == L) { /* "input_blocks.i.0.op.weight": the stride-2 downsampler */
            const char *r2;
            return starts(rest, "op.", &r2) &&
                   unet_sub("down_blocks", b, "downsamplers", 0, r2, out, n);
        }
        return unet_sub("down_blocks", b, j == 0 ? "resnets" : "attentions", l, rest, out, n);
    }
    if (starts(s, "middle_block.", &rest) && index_of(rest, &j, &rest)) {
        if (j == 1) return unet_sub("mid_block", -1, "attentions", 0, rest, out, n);
        char head[64];
        snprintf(head, sizeof head, "unet.mid_block.resnets.%d.", j / 2);
        return apply(unet_resnet, head, rest, out, n);
    }
    if (starts(s, "output_blocks.", &rest) && index_of(rest, &i, &rest) &&
        index_of(rest, &j, &rest)) {
        int b = i / (L + 1), l = i % (L + 1);
        const char *r2;
        if (j == 0) return unet_sub("up_blocks", b, "resnets", l, rest, out, n);
        /* j == 1 is the transformer, or the upsampler when the block has none; j == 2 the upsampler
         */
        if (starts(rest, "conv.", &r2))
            return unet_sub("up_blocks", b, "upsamplers", 0, r2, out, n);
        return unet_sub("up_blocks", b, "attentions", l, rest, out, n);
    }
    return 0;
}

/* A decimal index (digits only) then '_' or the end; *rest: after the '_'. */
static int kohya_index(const char *s, int *v, const char **rest) {
    if (*s < '0' || *s > '9') return 0;
    char *end;
    long x = strtol(s, &end, 10);
    if (x > 100000 || (*end != '_' && *end != 0)) return 0;
    *v = (int)x;
    *rest = *end ? end + 1 : end;
    return 1;
}

enum { LDM_RES, LDM_ATTN, LDM_DOWN, LDM_UP, LDM_TOP }; /* what an LDM slot holds */

/* The LDM module at the start of a kohya-spelt name, dotted ("input_blocks_4_1_" ->
 * "input_blocks.4.1."), and what the LDM layout holds there for layers_per_block L: a res block,
 * a transformer, a resampler or a top-level layer. -1 for a slot the layout does not have. */
static int ldm_head(const char *s, int L, char *head, size_t n, const char **rest) {
    int i, j;
    const char *r;
    if (starts(s, "input_blocks_", &r) && kohya_index(r, &i, &r) && kohya_index(r, &j, rest)) {
        snprintf(head, n, "input_blocks.%d.%d.", i, j);
        if (i == 0) return j == 0 ? LDM_TOP : -1; /* conv_in */
        if ((i - 1) % (L + 1) == L) return j == 0 ? LDM_DOWN : -1;
        return j == 0 ? LDM_RES : j == 1 ? LDM_ATTN : -1;
    }
    if (starts(s, "middle_block_", &r) && kohya_index(r, &j, rest)) {
        snprintf(head, n, "middle_block.%d.", j);
        return j == 0 || j == 2 ? LDM_RES : j == 1 ? LDM_ATTN : -1;
    }
    if (starts(s, "output_blocks_", &r) && kohya_index(r, &i, &r) && kohya_index(r, &j, rest)) {
        snprintf(head, n, "output_blocks.%d.%d.", i, j);
        /* j 1: the transformer, or the upsampler of a block without one; j 2: the upsampler */
        int last = i % (L + 1) == L;
        return j == 0           ? LDM_RES
               : j == 1         ? (last && !strcmp(*rest, "conv") ? LDM_UP : LDM_ATTN)
               : j == 2 && last ? LDM_UP
                                : -1;
    }
    static const char *const tops[][2] = {
        {"time_embed_", "time_embed."}, {"label_emb_0_", "label_emb.0."}, {"out_", "out."}};
    for (size_t t = 0; t < sizeof tops / sizeof *tops; t++)
        if (starts(s, tops[t][0], &r) && kohya_index(r, &j, rest) && (j == 0 || j == 2)) {
            snprintf(head, n, "%s%d.", tops[t][1], j);
            return LDM_TOP;
        }
    return -1;
}

int dm_kohya_ldm_unet(const char *name, int layers_per_block, char *out, size_t n) {
    /* LDM res block internals, whose '_' before a number is a '.' */
    static const char *const numbered[] = {"in_layers_", "out_layers_", "emb_layers_"};
    char head[128], dotted[512], store[512];
    const char *rest, *r;
    int kind = ldm_head(name, layers_per_block, head, sizeof head, &rest), k, v;
    if (kind < 0) return 0;
    if (kind == LDM_TOP || kind == LDM_ATTN) {
        /* a top-level layer (no rest), or inside a transformer (proj_in,
         * transformer_blocks_0_attn1_to_q, ...): the diffusers path already, kohya-spelt; it
         * passes through as one component */
        if (kind == LDM_TOP ? *rest != 0 : *rest == 0 || !strcmp(rest, "conv")) return 0;
        k = snprintf(dotted, sizeof dotted, "%s%s%s", head, rest, *rest ? "." : "");
    } else if (kind == LDM_DOWN || kind == LDM_UP) {
        if (strcmp(rest, kind == LDM_DOWN ? "op" : "conv")) return 0;
        k = snprintf(dotted, sizeof dotted, "%s%s.", head, rest);
    } else if (!strcmp(rest, "skip_connection")) {
        k = snprintf(dotted, sizeof dotted, "%s%s.", head, rest);
    } else {
        size_t i = 0;
        while (i < sizeof numbered / sizeof *numbered && !starts(rest, numbered[i], &r)) i++;
        if (i == sizeof numbered / sizeof *numbered || !kohya_index(r, &v, &r) || *r) return 0;
        k = snprintf(dotted, sizeof dotted, "%s%.*s.%d.", head, (int)strlen(numbered[i]) - 1,
                     numbered[i], v);
    }
    if (k < 0 || k + 7 >= (int)sizeof dotted) return 0;
    memcpy(dotted + k, "weight", 7);
    if (!map_unet(dotted, layers_per_block, store, sizeof store)) return 0;
    /* "unet.<path>.weight" -> "<path>" with '.' -> '_' */
    size_t len = strlen(store);
    if (len < 13 || strncmp(store, "unet.", 5) || strcmp(store + len - 7, ".weight") ||
        len - 12 >= n)
        return 0;
    for (size_t c = 5; c < len - 7; c++) out[c - 5] = store[c] == '.' ? '_' : store[c];
    out[len - 12] = 0;
    return 1;
}

static int map_vae_part(const char *part, const char *s, int levels, char *out, size_t n) {
    char head[128];
    const char *rest;
    int i, j;
    snprintf(head, sizeof head, "vae.%s.", part);
    if (apply(vae_top, head, s, out, n)) return 1;
    if (starts(s, "mid.", &rest)) {
        const char *r2;
        if (starts(rest, "block_1.", &r2) || starts(rest, "block_2.", &r2)) {
            snprintf(head, sizeof head, "vae.%s.mid_block.resnets.%d.", part, rest[6] - '1');
            return apply(vae_resnet, head, r2, out, n);
        }
        if (starts(rest, "attn_1.", &r2)) {
            snprintf(head, sizeof head, "vae.%s.mid_block.attentions.0.", part);
            return apply(vae_attn, head, r2, out, n);
        }
        return 0;
    }
    int enc = !strcmp(part, "encoder");
    if (starts(s, enc ? "down." : "up.", &rest) && index_of(rest, &i, &rest)) {
        int b = enc ? i : levels - 1 - i; /* the decoder's LDM list runs from the deepest level */
        const char *blocks = enc ? "down_blocks" : "up_blocks";
        const char *r2;
        if (starts(rest, "block.", &r2) && index_of(r2, &j, &r2)) {
            snprintf(head, sizeof head, "vae.%s.%s.%d.resnets.%d.", part, blocks, b, j);
            return apply(vae_resnet, head, r2, out, n);
        }
        if (starts(rest, enc ? "downsample.conv." : "upsample.conv.", &r2)) {
            snprintf(out, n, "vae.%s.%s.%d.%s.0.conv.%s", part, blocks, b,
                     enc ? "downsamplers" : "upsamplers", r2);
            return 1;
        }
    }
    return 0;
}

static int is_unused(const char *name) {
    for (const char *const *u = unused_suffixes; *u; u++) {
        size_t a = strlen(name), b = strlen(*u);
        if (a >= b && !strcmp(name + a - b, *u)) return 1;
    }
    return 0;
}

static dm_status add(dm_weights *w, const dm_safetensors *st, const char *name,
                     const dm_st_tensor *t, int64_t row0, int64_t rows, dm_error *err) {
    return dm_weights_add(w, dm_st_path(st), name, t, row0, rows, err);
}

/* One-file text towers (SD 1.x/2.x cond_stage_model, SDXL conditioner.embedders.N): where
 * they live, their layout, and the internal prefix their weights get. */
typedef struct {
    const char *from;
    dm_text_layout layout;
    const char *to; /* "text." (first or only encoder), "text2." (SDXL's second) */
} text_tower;
static const text_tower text_towers[] = {
    {"cond_stage_model.transformer.", DM_TEXT_CLIP_HF, "text."},
    {"cond_stage_model.model.", DM_TEXT_OPENCLIP, "text."},
    {"conditioner.embedders.0.transformer.", DM_TEXT_CLIP_HF, "text."},
    {"conditioner.embedders.1.model.", DM_TEXT_OPENCLIP, "text2."},
    {NULL, DM_TEXT_NONE, NULL}};

/* OpenCLIP fuses q, k, v into in_proj_{weight,bias} [3D, ...]: three row slices. Its
 * text_projection [D, P] is applied as x @ P: SDXL's pooled embeds use it, served transposed
 * as the Linear weight transformers' text_projection.weight [P, D] is. */
static dm_status map_openclip(const dm_safetensors *st, const dm_st_tensor *t, const char *s,
                              const char *prefix, int keep_projection, dm_weights *w, int *mapped,
                              dm_error *err) {
    char out[512], head[128];
    const char *rest;
    int i;
    *mapped = 0;
    if (keep_projection && !strcmp(s, "text_projection")) {
        snprintf(out, sizeof out, "%stext_projection.weight", prefix);
        *mapped = 1;
        return dm_weights_add_transposed(w, dm_st_path(st), out, t, err);
    }
    if (is_unused(s)) return DM_OK;
    if (apply(openclip_top, prefix, s, out, sizeof out)) {
        *mapped = 1;
        return add(w, st, out, t, 0, -1, err);
    }
    if (!starts(s, "transformer.resblocks.", &rest) || !index_of(rest, &i, &rest)) return DM_OK;
    snprintf(head, sizeof head, "%stext_model.encoder.layers.%d.", prefix, i);
    if (apply(openclip_block, head, rest, out, sizeof out)) {
        *mapped = 1;
        return add(w, st, out, t, 0, -1, err);
    }
    const char *kind = !strcmp(rest, "attn.in_proj_weight") ? "weight"
                       : !strcmp(rest, "attn.in_proj_bias") ? "bias"
                                                            : NULL;
    if (!kind) return DM_OK;
    if (t->ndim < 1 || t->shape[0] % 3)
        return dm_fail(err, "%s: tensor '%s': fused q/k/v needs a first dimension divisible by 3",
                       dm_st_path(st), t->name);
    int64_t d = t->shape[0] / 3;
    static const char *const qkv[3] = {"q_proj", "k_proj", "v_proj"};
    for (int k = 0; k < 3; k++) {
        snprintf(out, sizeof out, "%sself_attn.%s.%s", head, qkv[k], kind);
        DM_TRY(add(w, st, out, t, k * d, d, err));
    }
    *mapped = 1;
    return DM_OK;
}

dm_status dm_map_ldm_checkpoint(const dm_safetensors *st, dm_weights *w, dm_ldm_info *info,
                                dm_error *err) {
    memset(info, 0, sizeof *info);
    const char *rest;
    /* layers_per_block L: the first downsampler sits at input_blocks.(L+1).0.op */
    int first_down = -1, max_input = 0, i;
    for (int k = 0; k < dm_st_count(st); k++) {
        const char *s = dm_st_at(st, k)->name;
        if (!starts(s, "model.diffusion_model.input_blocks.", &rest) || !index_of(rest, &i, &rest))
            continue;
        if (i > max_input) max_input = i;
        if (!strncmp(rest, "0.op.", 5) && (first_down < 0 || i < first_down)) first_down = i;
    }
    for (int k = 0; k < dm_st_count(st); k++) {
        const char *s = dm_st_at(st, k)->name;
        if (starts(s, "first_stage_model.decoder.up.", &rest) && index_of(rest, &i, &rest) &&
            i + 1 > info->vae_levels)
            info->vae_levels = i + 1;
    }
    info->unet_layers_per_block = first_down > 0 ? first_down - 1 : max_input;
    int L = info->unet_layers_per_block;

    char out[512];
    for (int k = 0; k < dm_st_count(st); k++) {
        const dm_st_tensor *t = dm_st_at(st, k);
        const char *s = t->name;
        int mapped = 0;
        if (starts(s, "model.diffusion_model.", &rest)) {
            mapped = map_unet(rest, L, out, sizeof out);
            if (mapped) DM_TRY(add(w, st, out, t, 0, -1, err));
        } else if (starts(s, "first_stage_model.", &rest)) {
            const char *r2;
            if (starts(rest, "encoder.", &r2))
                mapped = map_vae_part("encoder", r2, info->vae_levels, out, sizeof out);
            else if (starts(rest, "decoder.", &r2))
                mapped = map_vae_part("decoder", r2, info->vae_levels, out, sizeof out);
            else if (starts(rest, "quant_conv.", &r2) || starts(rest, "post_quant_conv.", &r2)) {
                snprintf(out, sizeof out, "vae.%s", rest);
                mapped = 1;
            }
            if (mapped) DM_TRY(add(w, st, out, t, 0, -1, err));
        } else {
            const text_tower *tw = text_towers;
            while (tw->from && !starts(s, tw->from, &rest)) tw++;
            if (tw->from && !strcmp(tw->to, "text2.")) info->sdxl = 1;
            if (tw->from && tw->layout == DM_TEXT_CLIP_HF && !is_unused(s)) {
                if (!strcmp(tw->to, "text.")) info->text_layout = DM_TEXT_CLIP_HF;
                /* older exports lack the "text_model." level */
                snprintf(out, sizeof out, "%s%s%s", tw->to,
                         strncmp(rest, "text_model.", 11) ? "text_model." : "", rest);
                DM_TRY(add(w, st, out, t, 0, -1, err));
                mapped = 1;
            } else if (tw->from && tw->layout == DM_TEXT_OPENCLIP) {
                if (!strcmp(tw->to, "text.")) info->text_layout = DM_TEXT_OPENCLIP;
                DM_TRY(
                    map_openclip(st, t, rest, tw->to, !strcmp(tw->to, "text2."), w, &mapped, err));
            }
        }
        if (!mapped) info->n_ignored++;
    }
    return DM_OK;
}
