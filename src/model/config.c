#include "model/config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/json.h"

static dm_status load_json(const char *path, cJSON **out, dm_error *err) {
    return dm_json_load_object(path, out, err);
}

/* A JSON number that is a whole number inside int's range (casting anything else is undefined). */
static int json_int(const cJSON *v, int *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= INT_MIN && d <= INT_MAX) || d != floor(d)) return 0;
    *out = (int)d;
    return 1;
}

/* Integer field; missing -> def (def < -1000 means required). */
static dm_status get_int(const cJSON *o, const char *path, const char *key, int def, int *out,
                         dm_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (def < -1000) return dm_fail(err, "%s: missing '%s'", path, key);
        *out = def;
        return DM_OK;
    }
    if (!json_int(v, out)) return dm_fail(err, "%s: '%s' must be an integer", path, key);
    return DM_OK;
}

static dm_status get_float(const cJSON *o, const char *path, const char *key, float def, float *out,
                           dm_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return DM_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > 1e30)
        return dm_fail(err, "%s: '%s' must be a finite number", path, key);
    *out = (float)v->valuedouble;
    return DM_OK;
}

static int get_bool(const cJSON *o, const char *key, int def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* A scalar or a list with one entry per level. */
static dm_status get_int_list(const cJSON *o, const char *path, const char *key, int n, int *out,
                              dm_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(v)) {
        int x;
        if (!json_int(v, &x)) return dm_fail(err, "%s: '%s' must be an integer", path, key);
        if (x < 1) return dm_fail(err, "%s: %s = %d is out of range (must be >= 1)", path, key, x);
        for (int i = 0; i < n; i++) out[i] = x;
        return DM_OK;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != n)
        return dm_fail(err, "%s: '%s' must be a number or a list of %d", path, key, n);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        if (!json_int(e, &out[i]))
            return dm_fail(err, "%s: '%s' entry %d must be an integer", path, key, i);
        if (out[i] < 1)
            return dm_fail(err, "%s: %s[%d] = %d is out of range (must be >= 1)", path, key, i,
                           out[i]);
    }
    return DM_OK;
}

dm_status dm_clip_config_load(const char *path, dm_clip_config *c, dm_error *err) {
    cJSON *o;
    DM_TRY(load_json(path, &o, err));
    memset(c, 0, sizeof *c);
    dm_status s = DM_OK;
    if ((s = get_int(o, path, "vocab_size", -9999, &c->vocab, err)) ||
        (s = get_int(o, path, "hidden_size", -9999, &c->hidden, err)) ||
        (s = get_int(o, path, "num_hidden_layers", -9999, &c->layers, err)) ||
        (s = get_int(o, path, "num_attention_heads", -9999, &c->heads, err)) ||
        (s = get_int(o, path, "intermediate_size", -9999, &c->intermediate, err)) ||
        (s = get_int(o, path, "max_position_embeddings", 77, &c->max_pos, err)) ||
        (s = get_float(o, path, "layer_norm_eps", 1e-5f, &c->eps, err)))
        goto done;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
    const char *a = cJSON_IsString(act) ? act->valuestring : "quick_gelu";
    if (!strcmp(a, "gelu"))
        c->act_gelu = 1;
    else if (!strcmp(a, "quick_gelu"))
        c->act_gelu = 0;
    else
        s = dm_fail(err, "%s: hidden_act '%s' is not supported (quick_gelu, gelu)", path, a);
    if (!s) s = dm_clip_config_check(c, path, err);
done:
    cJSON_Delete(o);
    return s;
}

static int block_has_attn(const char *type) {
    return strstr(type, "CrossAttn") != NULL;
}

dm_status dm_unet_config_load(const char *path, dm_unet_config *c, dm_error *err) {
    cJSON *o;
    DM_TRY(load_json(path, &o, err));
    memset(c, 0, sizeof *c);
    dm_status s = DM_OK;
    const cJSON *boc = cJSON_GetObjectItemCaseSensitive(o, "block_out_channels");
    const cJSON *down = cJSON_GetObjectItemCaseSensitive(o, "down_block_types");
    const cJSON *up = cJSON_GetObjectItemCaseSensitive(o, "up_block_types");
    int n = cJSON_GetArraySize(boc);
    if (!cJSON_IsArray(boc) || n < 1 || n > DM_MAX_LEVELS || cJSON_GetArraySize(down) != n ||
        cJSON_GetArraySize(up) != n) {
        s = dm_fail(err,
                    "%s: block_out_channels, down_block_types and up_block_types must be lists "
                    "of the same length (1..%d)",
                    path, DM_MAX_LEVELS);
        goto done;
    }
    c->levels = n;
    for (int i = 0; i < n; i++) {
        const cJSON *b = cJSON_GetArrayItem(boc, i), *d = cJSON_GetArrayItem(down, i),
                    *u = cJSON_GetArrayItem(up, i);
        if (!json_int(b, &c->block_out[i]) || !cJSON_IsString(d) || !cJSON_IsString(u)) {
            s = dm_fail(err, "%s: bad entry %d in the block lists", path, i);
            goto done;
        }
        c->down_attn[i] = block_has_attn(d->valuestring);
        c->up_attn[i] = block_has_attn(u->valuestring);
        if (strcmp(d->valuestring, "CrossAttnDownBlock2D") &&
            strcmp(d->valuestring, "DownBlock2D")) {
            s = dm_fail(err, "%s: down block type '%s' is not supported", path, d->valuestring);
            goto done;
        }
        if (strcmp(u->valuestring, "CrossAttnUpBlock2D") && strcmp(u->valuestring, "UpBlock2D")) {
            s = dm_fail(err, "%s: up block type '%s' is not supported", path, u->valuestring);
            goto done;
        }
    }
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(o, "mid_block_type");
    c->mid_attn = !cJSON_IsString(mid) || !strcmp(mid->valuestring, "UNetMidBlock2DCrossAttn");
    int tdepth = 1;
    if ((s = get_int(o, path, "in_channels", 4, &c->in_ch, err)) ||
        (s = get_int(o, path, "out_channels", 4, &c->out_ch, err)) ||
        (s = get_int(o, path, "layers_per_block", 2, &c->layers_per_block, err)) ||
        (s = get_int(o, path, "cross_attention_dim", 768, &c->cross_dim, err)) ||
        (s = get_int(o, path, "norm_num_groups", 32, &c->groups, err)) ||
        (s = get_float(o, path, "norm_eps", 1e-5f, &c->eps, err)) ||
        (s = get_float(o, path, "freq_shift", 0, &c->freq_shift, err)) ||
        (s = get_int(o, path, "sample_size", 64, &c->sample_size, err)))
        goto done;
    /* transformer_layers_per_block: one number, or one per level (SDXL: [1, 2, 10]); the mid
     * block takes the last entry, as diffusers does */
    const cJSON *td = cJSON_GetObjectItemCaseSensitive(o, "transformer_layers_per_block");
    if (!td || cJSON_IsNull(td)) {
        for (int i = 0; i < n; i++) c->depth[i] = tdepth;
    } else if ((s = get_int_list(o, path, "transformer_layers_per_block", n, c->depth, err))) {
        goto done;
    }
    c->mid_depth = c->depth[n - 1];
    for (int i = 0; i < n; i++)
        if (c->depth[i] < 1 || c->depth[i] > 64) {
            s = dm_fail(err, "%s: transformer_layers_per_block entry %d must be 1..64", path, i);
            goto done;
        }
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(o, "reverse_transformer_layers_per_block");
    if (rt && !cJSON_IsNull(rt)) {
        s = dm_fail(err, "%s: reverse_transformer_layers_per_block is not supported", path);
        goto done;
    }
    c->flip_sin_to_cos = get_bool(o, "flip_sin_to_cos", 1);
    c->linear_proj = get_bool(o, "use_linear_projection", 0);
    /* diffusers: num_attention_heads = num_attention_heads or attention_head_dim (the
     * historical naming: for SD 1.x/2.x configs attention_head_dim holds the head COUNT) */
    const cJSON *nah = cJSON_GetObjectItemCaseSensitive(o, "num_attention_heads");
    const char *hk = nah && !cJSON_IsNull(nah) ? "num_attention_heads" : "attention_head_dim";
    if ((s = get_int_list(o, path, hk, n, c->heads, err))) goto done;
    c->mid_heads = c->heads[n - 1];
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "act_fn");
    if (cJSON_IsString(act) && strcmp(act->valuestring, "silu")) {
        s = dm_fail(err, "%s: act_fn '%s' is not supported (silu)", path, act->valuestring);
        goto done;
    }
    const cJSON *cet = cJSON_GetObjectItemCaseSensitive(o, "class_embed_type");
    const cJSON *aet = cJSON_GetObjectItemCaseSensitive(o, "addition_embed_type");
    if (cet && !cJSON_IsNull(cet)) {
        s = dm_fail(err, "%s: class embeddings (upscalers) are not supported", path);
        goto done;
    }
    if (aet && !cJSON_IsNull(aet)) {
        /* SDXL: emb = time_embedding(t) + add_embedding(cat(text_embeds, sinusoids(time_ids))) */
        if (!cJSON_IsString(aet) || strcmp(aet->valuestring, "text_time")) {
            s = dm_fail(err, "%s: addition_embed_type must be \"text_time\" (SDXL) or null", path);
            goto done;
        }
        if ((s = get_int(o, path, "addition_time_embed_dim", -9999, &c->add_time_dim, err)) ||
            (s = get_int(o, path, "projection_class_embeddings_input_dim", -9999, &c->add_in_dim,
                         err)))
            goto done;
        if (c->add_time_dim < 2 || c->add_time_dim > 65536 || c->add_time_dim % 2 ||
            c->add_in_dim <= 6 * c->add_time_dim) {
            s = dm_fail(err,
                        "%s: addition_time_embed_dim %d (even, >= 2) and "
                        "projection_class_embeddings_input_dim %d (> 6 x that) do not fit",
                        path, c->add_time_dim, c->add_in_dim);
            goto done;
        }
    }
    if (!(s = dm_unet_config_check(c, path, err))) c->time_dim = 4 * c->block_out[0];
done:
    cJSON_Delete(o);
    return s;
}

dm_status dm_vae_config_load(const char *path, dm_vae_config *c, dm_error *err) {
    cJSON *o;
    DM_TRY(load_json(path, &o, err));
    memset(c, 0, sizeof *c);
    dm_status s = DM_OK;
    const cJSON *boc = cJSON_GetObjectItemCaseSensitive(o, "block_out_channels");
    int n = cJSON_GetArraySize(boc);
    if (!cJSON_IsArray(boc) || n < 1 || n > DM_MAX_LEVELS) {
        s = dm_fail(err, "%s: block_out_channels must be a list of 1..%d", path, DM_MAX_LEVELS);
        goto done;
    }
    c->levels = n;
    for (int i = 0; i < n; i++) {
        const cJSON *b = cJSON_GetArrayItem(boc, i);
        if (!json_int(b, &c->block_out[i]) || c->block_out[i] < 1) {
            s = dm_fail(err, "%s: bad block_out_channels entry %d", path, i);
            goto done;
        }
    }
    if ((s = get_int(o, path, "in_channels", 3, &c->in_ch, err)) ||
        (s = get_int(o, path, "out_channels", 3, &c->out_ch, err)) ||
        (s = get_int(o, path, "latent_channels", 4, &c->latent_ch, err)) ||
        (s = get_int(o, path, "layers_per_block", 2, &c->layers_per_block, err)) ||
        (s = get_int(o, path, "norm_num_groups", 32, &c->groups, err)) ||
        (s = get_float(o, path, "scaling_factor", 0.18215f, &c->scaling, err)) ||
        (s = get_int(o, path, "sample_size", 512, &c->sample_size, err)))
        goto done;
    c->eps = 1e-6f;
    s = dm_vae_config_check(c, path, err);
done:
    cJSON_Delete(o);
    return s;
}

/* ------------------------------------------------------------ one-file inference */

static int64_t dim(const dm_weights *w, const char *name, int i) {
    int nd;
    const int64_t *s = dm_weights_shape(w, name, &nd);
    return s && i < nd ? s[i] : -1;
}

static dm_status need(const dm_weights *w, const char *name, dm_error *err) {
    if (!dm_weights_has(w, name))
        return dm_fail(err, "checkpoint has no '%s': not a Stable Diffusion 1.x/2.x checkpoint?",
                       name);
    return DM_OK;
}

dm_status dm_clip_config_infer(const dm_weights *w, const char *prefix, int openclip, int drop_last,
                               dm_clip_config *c, dm_error *err) {
    memset(c, 0, sizeof *c);
    char emb[256], name[256];
    snprintf(emb, sizeof emb, "%stext_model.embeddings.token_embedding.weight", prefix);
    DM_TRY(need(w, emb, err));
    c->vocab = (int)dim(w, emb, 0);
    c->hidden = (int)dim(w, emb, 1);
    snprintf(name, sizeof name, "%stext_model.embeddings.position_embedding.weight", prefix);
    c->max_pos = (int)dim(w, name, 0);
    int n = 0;
    for (;; n++) {
        snprintf(name, sizeof name, "%stext_model.encoder.layers.%d.mlp.fc1.weight", prefix, n);
        if (!dm_weights_has(w, name)) break;
        if (n == 0) c->intermediate = (int)dim(w, name, 0);
    }
    if (n == 0) return dm_fail(err, "checkpoint has no text encoder layers");
    /* SD 2.x conditions on OpenCLIP's penultimate layer (then ln_final) */
    c->layers = drop_last && n > 1 ? n - 1 : n;
    /* Real CLIP text towers use 64-wide heads; narrower test models use 8-wide ones. */
    c->heads = c->hidden % 64 == 0 ? c->hidden / 64 : (c->hidden % 8 == 0 ? c->hidden / 8 : 1);
    c->eps = 1e-5f;
    c->act_gelu = openclip;
    snprintf(name, sizeof name, "%stext_projection.weight", prefix);
    c->proj_dim = dm_weights_has(w, name) ? (int)dim(w, name, 0) : 0;
    if (c->max_pos <= 0) return dm_fail(err, "checkpoint has no text position embedding");
    return DM_OK;
}

static int count_blocks(const dm_weights *w, const char *base) {
    char name[256];
    int d = 0;
    for (;; d++) {
        snprintf(name, sizeof name, "%stransformer_blocks.%d.norm1.weight", base, d);
        if (!dm_weights_has(w, name)) return d;
    }
}

dm_status dm_unet_config_infer(const dm_weights *w, int openclip, const dm_ldm_hints *h,
                               dm_unet_config *c, dm_error *err) {
    memset(c, 0, sizeof *c);
    DM_TRY(need(w, "unet.conv_in.weight", err));
    DM_TRY(need(w, "unet.conv_out.weight", err));
    c->in_ch = (int)dim(w, "unet.conv_in.weight", 1);
    c->out_ch = (int)dim(w, "unet.conv_out.weight", 0);
    char name[256];
    int n = 0;
    for (; n < DM_MAX_LEVELS; n++) {
        snprintf(name, sizeof name, "unet.down_blocks.%d.resnets.0.conv1.weight", n);
        if (!dm_weights_has(w, name)) break;
        c->block_out[n] = (int)dim(w, name, 0);
        snprintf(name, sizeof name, "unet.down_blocks.%d.attentions.0.proj_in.weight", n);
        c->down_attn[n] = dm_weights_has(w, name);
        snprintf(name, sizeof name, "unet.up_blocks.%d.attentions.0.proj_in.weight", n);
        c->up_attn[n] = dm_weights_has(w, name);
    }
    if (n == 0) return dm_fail(err, "checkpoint has no UNet down blocks");
    c->levels = n;
    int L = 0;
    for (;; L++) {
        snprintf(name, sizeof name, "unet.down_blocks.0.resnets.%d.conv1.weight", L);
        if (!dm_weights_has(w, name)) break;
    }
    c->layers_per_block = L;
    c->mid_attn = dm_weights_has(w, "unet.mid_block.attentions.0.proj_in.weight");
    /* the first attention tells the context width, projection kind and depth */
    int first = -1;
    for (int i = 0; i < n && first < 0; i++)
        if (c->down_attn[i]) first = i;
    const char *pre =
        first >= 0 ? "unet.down_blocks.%d.attentions.0." : "unet.mid_block.attentions.0.";
    char base[128];
    snprintf(base, sizeof base, pre, first);
    snprintf(name, sizeof name, "%stransformer_blocks.0.attn2.to_k.weight", base);
    c->cross_dim = (int)dim(w, name, 1);
    snprintf(name, sizeof name, "%sproj_in.weight", base);
    int nd = 0;
    dm_weights_shape(w, name, &nd);
    c->linear_proj = nd == 2;
    /* transformer blocks per attention, level by level (SDXL: 0, 2, 10) and in the mid block */
    for (int i = 0; i < n; i++) {
        if (!c->down_attn[i] && !c->up_attn[n - 1 - i]) continue;
        snprintf(base, sizeof base,
                 c->down_attn[i] ? "unet.down_blocks.%d.attentions.0."
                                 : "unet.up_blocks.%d.attentions.0.",
                 c->down_attn[i] ? i : n - 1 - i);
        c->depth[i] = count_blocks(w, base);
        if (c->depth[i] == 0) return dm_fail(err, "checkpoint has no UNet transformer blocks");
    }
    for (int i = 0; i < n; i++)
        if (!c->depth[i]) c->depth[i] = 1; /* no attention at this level: never used */
    c->mid_depth = c->mid_attn ? count_blocks(w, "unet.mid_block.attentions.0.") : 1;
    if (c->cross_dim <= 0 || c->mid_depth == 0)
        return dm_fail(err, "checkpoint has no UNet cross-attention");
    /* SDXL's added conditioning (label_emb): its input is the pooled text embeds (the second
     * text encoder's projection width) and 6 sinusoids of equal width */
    if (dm_weights_has(w, "unet.add_embedding.linear_1.weight")) {
        c->add_in_dim = (int)dim(w, "unet.add_embedding.linear_1.weight", 1);
        int pooled = (int)dim(w, "text2.text_projection.weight", 0);
        if (pooled <= 0 || (c->add_in_dim - pooled) <= 0 || (c->add_in_dim - pooled) % 12)
            return dm_fail(err,
                           "added conditioning input of %d values does not split into the "
                           "pooled text embeds (%d) and 6 even sinusoids",
                           c->add_in_dim, pooled);
        c->add_time_dim = (c->add_in_dim - pooled) / 6;
    }
    /* heads: the .yaml beside the file, else SD 1.x's 8 heads / SD 2.x's 64-wide heads */
    for (int i = 0; i < n; i++) {
        int ch = c->block_out[i];
        if (h && h->unet_heads > 0)
            c->heads[i] = h->unet_heads;
        else if (h && h->unet_head_channels > 0)
            c->heads[i] = ch / h->unet_head_channels;
        else
            c->heads[i] = openclip ? ch / 64 : 8;
        if (c->heads[i] < 1) c->heads[i] = 1;
    }
    c->mid_heads = c->heads[n - 1];
    if (h && h->linear_in_transformer) c->linear_proj = 1;
    c->groups = 32;
    c->eps = 1e-5f;
    c->flip_sin_to_cos = 1;
    c->freq_shift = 0;
    c->time_dim = (int)dim(w, "unet.time_embedding.linear_1.weight", 0);
    c->sample_size = 64;
    return DM_OK;
}

dm_status dm_vae_config_infer(const dm_weights *w, const dm_ldm_hints *h, dm_vae_config *c,
                              dm_error *err) {
    memset(c, 0, sizeof *c);
    DM_TRY(need(w, "vae.post_quant_conv.weight", err));
    DM_TRY(need(w, "vae.decoder.conv_in.weight", err));
    c->latent_ch = (int)dim(w, "vae.post_quant_conv.weight", 0);
    c->out_ch = (int)dim(w, "vae.decoder.conv_out.weight", 0);
    c->in_ch = dm_weights_has(w, "vae.encoder.conv_in.weight")
                   ? (int)dim(w, "vae.encoder.conv_in.weight", 1)
                   : 3;
    char name[256];
    int n = 0;
    for (; n < DM_MAX_LEVELS; n++) {
        /* decoder up_blocks.(levels-1-i) has block_out[i] channels */
        snprintf(name, sizeof name, "vae.decoder.up_blocks.%d.resnets.0.conv2.weight", n);
        if (!dm_weights_has(w, name)) break;
    }
    if (n == 0) return dm_fail(err, "checkpoint has no VAE decoder blocks");
    c->levels = n;
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "vae.decoder.up_blocks.%d.resnets.0.conv2.weight", n - 1 - i);
        c->block_out[i] = (int)dim(w, name, 0);
    }
    int L = 0;
    for (;; L++) {
        snprintf(name, sizeof name, "vae.decoder.up_blocks.0.resnets.%d.conv1.weight", L);
        if (!dm_weights_has(w, name)) break;
    }
    c->layers_per_block = L - 1;
    c->groups = 32;
    c->eps = 1e-6f;
    c->scaling = h && h->scale_factor > 0 ? h->scale_factor : 0.18215f;
    c->sample_size = 512;
    return DM_OK;
}

/* "num_heads: 8": a whole number, -1 (SD 2.x: "use num_head_channels") or 1..65536. */
static dm_status yaml_int(const char *path, const char *key, const char *val, int *out,
                          dm_error *err) {
    char *end;
    errno = 0;
    long v = strtol(val, &end, 10);
    if (errno || end == val || *end || (v != -1 && (v < 1 || v > 65536)))
        return dm_fail(err, "%s: %s = %s is out of range (must be -1 or 1..65536)", path, key, val);
    *out = (int)v;
    return DM_OK;
}

/* "scale_factor: 0.18215": a finite number > 0. */
static dm_status yaml_float(const char *path, const char *key, const char *val, float *out,
                            dm_error *err) {
    char *end;
    double v = strtod(val, &end);
    if (end == val || *end || !isfinite(v) || !(v > 0) || v > 1e6)
        return dm_fail(err, "%s: %s = %s is out of range (must be a number > 0)", path, key, val);
    *out = (float)v;
    return DM_OK;
}

dm_status dm_ldm_hints_load(const char *path, dm_ldm_hints *h, dm_error *err) {
    memset(h, 0, sizeof *h);
    char *text;
    DM_TRY(dm_read_file(path, &text, NULL, err));
    char *save = NULL;
    dm_status s = DM_OK;
    for (char *line = strtok_r(text, "\n", &save); line && !s; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t') line++;
        if (*line == '#') continue;
        char key[64];
        char val[128];
        if (sscanf(line, "%63[a-z_]: %127s", key, val) != 2) continue;
        if (!strcmp(key, "num_heads"))
            s = yaml_int(path, key, val, &h->unet_heads, err);
        else if (!strcmp(key, "num_head_channels"))
            s = yaml_int(path, key, val, &h->unet_head_channels, err);
        else if (!strcmp(key, "scale_factor"))
            s = yaml_float(path, key, val, &h->scale_factor, err);
        else if (!strcmp(key, "parameterization"))
            h->v_prediction = strstr(val, "v") != NULL;
        else if (!strcmp(key, "use_linear_in_transformer"))
            h->linear_in_transformer = !strncmp(val, "True", 4) || !strncmp(val, "true", 4);
    }
    /* -1 in SD 2.x yamls means "use num_head_channels" */
    if (h->unet_heads < 0) h->unet_heads = 0;
    if (h->unet_head_channels < 0) h->unet_head_channels = 0;
    free(text);
    return s;
}
