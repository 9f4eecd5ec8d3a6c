/* TAESD: the layer list of diffusers' EncoderTiny / DecoderTiny built from config.json, run
 * with two ping-pong feature buffers and two block temporaries. */
#include "model/taesd.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/json.h"
#include "model/wget.h"
#include "ops/ops.h"

typedef struct {
    int n, blocks[8], ch[8];
} coder_cfg;

static dm_status int_array(const cJSON *o, const char *key, const char *path, int *v, int *n,
                           dm_error *err) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *it;
    if (!cJSON_IsArray(a)) return dm_fail(err, "%s: \"%s\" is missing or not a list", path, key);
    *n = 0;
    cJSON_ArrayForEach(it, a) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 4096 || *n >= 8)
            return dm_fail(err, "%s: \"%s\" must be 1..8 positive integers", path, key);
        v[(*n)++] = (int)it->valuedouble;
    }
    if (*n == 0) return dm_fail(err, "%s: \"%s\" is empty", path, key);
    return DM_OK;
}

static dm_status get_int(const cJSON *o, const char *key, int def, const char *path, int *v,
                         dm_error *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    *v = def;
    if (!it) return DM_OK;
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || it->valuedouble < 1 ||
        it->valuedouble > 4096)
        return dm_fail(err, "%s: \"%s\" is not a positive integer", path, key);
    *v = (int)it->valuedouble;
    return DM_OK;
}

static dm_status conv(dm_weights *w, const char *name, int out, int in, int stride, int bias,
                      dm_taesd_conv *c, dm_error *err) {
    DM_TRY(dm_w_conv(w, &c->w, out, in, 3, err, "%s.weight", name));
    c->b = NULL;
    if (bias) DM_TRY(dm_w_vec(w, &c->b, out, err, "%s.bias", name));
    c->in = in, c->out = out, c->stride = stride;
    return DM_OK;
}

static dm_status block(dm_weights *w, const char *p, int in, int out, dm_taesd_op *op,
                       dm_error *err) {
    char n[256];
    op->kind = DM_TOP_BLOCK;
    for (int k = 0; k < 3; k++) {
        snprintf(n, sizeof n, "%s.conv.%d", p, 2 * k);
        DM_TRY(conv(w, n, out, k ? out : in, 1, 1, &op->conv[k], err));
    }
    op->skip_w = (dm_w){0};
    snprintf(n, sizeof n, "%s.skip.weight", p);
    if (in != out || dm_weights_has(w, n))
        DM_TRY(dm_w_conv(w, &op->skip_w, out, in, 1, err, "%s", n));
    return DM_OK;
}

static dm_taesd_op *push(dm_taesd_coder *c) {
    return c->n < DM_TAESD_MAX_OPS ? &c->op[c->n++] : NULL;
}

#define PUSH(c, op)                                                                                \
    if (!((op) = push(c))) return dm_fail(err, "%s: TAESD has too many layers", path)

/* DecoderTiny: i = 0 conv + ReLU; Blocks; x2 + conv (no bias) except last; last conv with bias. */
static dm_status build_decoder(dm_weights *w, const coder_cfg *c, int L, int out_ch,
                               const char *path, dm_taesd_coder *d, dm_error *err) {
    int idx = 0;
    char n[64];
    dm_taesd_op *op;
    for (int i = 0; i < c->n; i++) {
        int ch = c->ch[i], last = i == c->n - 1;
        if (i == 0) {
            PUSH(d, op);
            op->kind = DM_TOP_CONV;
            snprintf(n, sizeof n, "decoder.layers.%d", idx++);
            DM_TRY(conv(w, n, ch, L, 1, 1, &op->conv[0], err));
            PUSH(d, op);
            op->kind = DM_TOP_RELU;
            idx++;
        }
        for (int b = 0; b < c->blocks[i]; b++) {
            PUSH(d, op);
            snprintf(n, sizeof n, "decoder.layers.%d", idx++);
            DM_TRY(block(w, n, ch, ch, op, err));
        }
        if (!last) {
            PUSH(d, op);
            op->kind = DM_TOP_UP2;
            idx++;
        }
        PUSH(d, op);
        op->kind = DM_TOP_CONV;
        snprintf(n, sizeof n, "decoder.layers.%d", idx++);
        DM_TRY(conv(w, n, last ? out_ch : ch, ch, 1, last, &op->conv[0], err));
    }
    return DM_OK;
}

/* EncoderTiny: i = 0 conv (bias), else stride-2 conv (no bias); Blocks; final conv (bias). */
static dm_status build_encoder(dm_weights *w, const coder_cfg *c, int in_ch, int L,
                               const char *path, dm_taesd_coder *e, dm_error *err) {
    int idx = 0, prev = in_ch;
    char n[64];
    dm_taesd_op *op;
    for (int i = 0; i < c->n; i++) {
        int ch = c->ch[i];
        PUSH(e, op);
        op->kind = DM_TOP_CONV;
        snprintf(n, sizeof n, "encoder.layers.%d", idx++);
        DM_TRY(conv(w, n, ch, i ? ch : prev, i ? 2 : 1, i == 0, &op->conv[0], err));
        if (i && prev != ch)
            return dm_fail(err, "%s: encoder channels %d -> %d change at a stride-2 conv", path,
                           prev, ch);
        for (int b = 0; b < c->blocks[i]; b++) {
            PUSH(e, op);
            snprintf(n, sizeof n, "encoder.layers.%d", idx++);
            DM_TRY(block(w, n, ch, ch, op, err));
        }
        prev = ch;
    }
    PUSH(e, op);
    op->kind = DM_TOP_CONV;
    snprintf(n, sizeof n, "encoder.layers.%d", idx++);
    DM_TRY(conv(w, n, L, prev, 1, 1, &op->conv[0], err));
    return DM_OK;
}

static dm_status parse_config(const char *dir, dm_taesd *t, coder_cfg *dc, coder_cfg *ec,
                              dm_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *o;
    DM_TRY(dm_json_load_object(path, &o, err));
    dm_status s = DM_OK;
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(o, "_class_name");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "act_fn");
    const cJSON *sf = cJSON_GetObjectItemCaseSensitive(o, "scaling_factor");
    int up = 2;
    if (cls && (!cJSON_IsString(cls) || strcmp(cls->valuestring, "AutoencoderTiny")))
        s = dm_fail(err, "%s: _class_name is not AutoencoderTiny (not a TAESD folder)", path);
    else if (act && (!cJSON_IsString(act) || strcmp(act->valuestring, "relu")))
        s = dm_fail(err, "%s: act_fn must be \"relu\"", path);
    if (!s) s = int_array(o, "decoder_block_out_channels", path, dc->ch, &dc->n, err);
    int nb = 0;
    if (!s) s = int_array(o, "num_decoder_blocks", path, dc->blocks, &nb, err);
    if (!s && nb != dc->n)
        s = dm_fail(err, "%s: decoder_block_out_channels and num_decoder_blocks differ in length",
                    path);
    if (!s) s = int_array(o, "encoder_block_out_channels", path, ec->ch, &ec->n, err);
    if (!s) s = int_array(o, "num_encoder_blocks", path, ec->blocks, &nb, err);
    if (!s && nb != ec->n)
        s = dm_fail(err, "%s: encoder_block_out_channels and num_encoder_blocks differ in length",
                    path);
    if (!s) s = get_int(o, "latent_channels", 4, path, &t->latent_ch, err);
    if (!s) s = get_int(o, "out_channels", 3, path, &t->img_ch, err);
    if (!s) s = get_int(o, "upsampling_scaling_factor", 2, path, &up, err);
    if (!s && up != 2) s = dm_fail(err, "%s: upsampling_scaling_factor %d (only 2)", path, up);
    t->scaling_factor = 1.0f;
    if (!s && sf) {
        if (!cJSON_IsNumber(sf) || !(sf->valuedouble > 0))
            s = dm_fail(err, "%s: scaling_factor must be a positive number", path);
        else
            t->scaling_factor = (float)sf->valuedouble;
    }
    cJSON_Delete(o);
    return s;
}

dm_status dm_taesd_load(const char *dir, dm_dnnl *d, dm_taesd **out, dm_error *err) {
    *out = NULL;
    dm_taesd *t = calloc(1, sizeof *t);
    if (!t) return dm_fail(err, "out of memory");
    snprintf(t->path, sizeof t->path, "%s", dir);
    coder_cfg dc = {0}, ec = {0};
    dm_status s = parse_config(dir, t, &dc, &ec, err);
    char wp[4200];
    snprintf(wp, sizeof wp, "%s/diffusion_pytorch_model.safetensors", dir);
    dm_safetensors *st = NULL;
    if (!s) s = dm_st_open(wp, &st, err);
    if (!s && !(t->w = dm_weights_new())) s = dm_fail(err, "out of memory");
    if (!s) {
        dm_weights_own_file(t->w, st);
        s = dm_weights_add_all(t->w, st, "", err);
        if (!s) s = dm_weights_seal(t->w, err);
        if (d) dm_weights_set_dnnl(t->w, d);
    } else if (st) {
        dm_st_close(st);
    }
    if (!s) s = build_decoder(t->w, &dc, t->latent_ch, t->img_ch, wp, &t->dec, err);
    t->factor = 1 << (dc.n > 0 ? dc.n - 1 : 0);
    t->has_encoder = !s && dm_weights_has(t->w, "encoder.layers.0.weight");
    if (!s && t->has_encoder)
        s = build_encoder(t->w, &ec, t->img_ch, t->latent_ch, wp, &t->enc, err);
    if (!s && t->has_encoder && (1 << (ec.n - 1)) != t->factor)
        s = dm_fail(err, "%s: encoder and decoder scale by different factors", wp);
    if (!s) t->half_floats = dm_weights_half_max(t->w);
    if (s) {
        dm_taesd_free(t);
        return s;
    }
    *out = t;
    return DM_OK;
}

void dm_taesd_free(dm_taesd *t) {
    if (!t) return;
    dm_weights_free(t->w);
    free(t);
}

static void relu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
}

/* Runs the layer list on x[C, H, W]; the result ends in *res with its size in C, H, W. */
static dm_status run(const dm_taesd_coder *c, size_t half_floats, const float *x, int *C, int *H,
                     int *W, float *res, size_t res_n, dm_arena *a, dm_error *err) {
    /* buffer sizes: the largest C*H*W any layer sees, and conv scratch */
    int c0 = *C, h = *H, w = *W;
    size_t big = (size_t)c0 * h * w, scr = 0;
    for (int i = 0; i < c->n; i++) {
        const dm_taesd_op *op = &c->op[i];
        if (op->kind == DM_TOP_UP2) h *= 2, w *= 2;
        if (op->kind == DM_TOP_CONV || op->kind == DM_TOP_BLOCK) {
            size_t s = dm_conv2d_scratch(op->conv[0].in, h, w, 3, op->conv[0].stride, 1);
            scr = s > scr ? s : scr;
            if (op->conv[0].stride == 2) h = dm_conv_out(h, 3, 2, 1), w = dm_conv_out(w, 3, 2, 1);
            c0 = op->kind == DM_TOP_BLOCK ? op->conv[2].out : op->conv[0].out;
        }
        size_t n = (size_t)c0 * h * w;
        big = n > big ? n : big;
    }
    size_t mark = dm_arena_mark(a);
    float *cur = dm_arena_floats(a, big), *nxt = dm_arena_floats(a, big),
          *t1 = dm_arena_floats(a, big), *t2 = dm_arena_floats(a, big),
          *scratch = dm_arena_floats(a, scr + 1),
          *ws = half_floats ? dm_arena_floats(a, half_floats) : NULL;
    if (!cur || !nxt || !t1 || !t2 || !scratch || (half_floats && !ws)) {
        dm_arena_release(a, mark);
        return dm_fail(err, "TAESD: out of memory for activations");
    }
    int Cc = *C;
    h = *H, w = *W;
    memcpy(cur, x, sizeof(float) * (size_t)Cc * h * w);
    for (int i = 0; i < c->n; i++) {
        const dm_taesd_op *op = &c->op[i];
        size_t hw = (size_t)h * w;
        switch (op->kind) {
        case DM_TOP_RELU:
            relu(cur, (size_t)Cc * hw);
            break;
        case DM_TOP_UP2: /* nn.Upsample(scale_factor=2), nearest */
            dm_upsample_nearest2x(cur, Cc, h, w, nxt);
            h *= 2, w *= 2;
            break;
        case DM_TOP_CONV: {
            const dm_taesd_conv *k = &op->conv[0];
            dm_conv2d_w(cur, Cc, h, w, k->w, k->b, k->out, 3, k->stride, 1, nxt, scratch, 0, ws);
            h = dm_conv_out(h, 3, k->stride, 1), w = dm_conv_out(w, 3, k->stride, 1);
            Cc = k->out;
            break;
        }
        case DM_TOP_BLOCK: {
            /* fuse(conv(x) + skip(x)), conv = conv, ReLU, conv, ReLU, conv */
            const dm_taesd_conv *k = op->conv;
            int O = k[2].out;
            dm_conv2d_w(cur, Cc, h, w, k[0].w, k[0].b, k[0].out, 3, 1, 1, t1, scratch, 0, ws);
            relu(t1, (size_t)k[0].out * hw);
            dm_conv2d_w(t1, k[0].out, h, w, k[1].w, k[1].b, k[1].out, 3, 1, 1, t2, scratch, 0, ws);
            relu(t2, (size_t)k[1].out * hw);
            if (dm_w_ok(op->skip_w))
                dm_conv2d_w(cur, Cc, h, w, op->skip_w, NULL, O, 1, 1, 0, nxt, scratch, 0, ws);
            else
                memcpy(nxt, cur, sizeof(float) * (size_t)O * hw);
            dm_conv2d_w(t2, k[1].out, h, w, k[2].w, k[2].b, O, 3, 1, 1, nxt, scratch, 1, ws);
            relu(nxt, (size_t)O * hw);
            Cc = O;
            break;
        }
        }
        if (op->kind != DM_TOP_RELU) {
            float *tmp = cur;
            cur = nxt, nxt = tmp;
        }
    }
    dm_status s = DM_OK;
    if ((size_t)Cc * h * w != res_n)
        s = dm_fail(err, "TAESD: output %dx%dx%d does not match the expected size", Cc, h, w);
    else
        memcpy(res, cur, sizeof(float) * res_n);
    *C = Cc, *H = h, *W = w;
    dm_arena_release(a, mark);
    return s;
}

dm_status dm_taesd_decode(const dm_taesd *t, const float *z, int h, int w, float *image,
                          dm_arena *a, dm_error *err) {
    int L = t->latent_ch, C = L, H = h, W = w;
    size_t n = (size_t)L * h * w;
    float *x = malloc(sizeof(float) * n);
    if (!x) return dm_fail(err, "TAESD: out of memory");
    /* decode(latents / scaling_factor): x = tanh(x / 3) * 3 first (DecoderTiny.forward) */
    for (size_t i = 0; i < n; i++) x[i] = tanhf(z[i] / t->scaling_factor / 3.0f) * 3.0f;
    size_t out_n = (size_t)t->img_ch * (h * t->factor) * (w * t->factor);
    dm_status s = run(&t->dec, t->half_floats, x, &C, &H, &W, image, out_n, a, err);
    free(x);
    if (s) return s;
    /* x.mul(2).sub(1) */
    for (size_t i = 0; i < out_n; i++) image[i] = image[i] * 2.0f - 1.0f;
    return DM_OK;
}

dm_status dm_taesd_encode(const dm_taesd *t, const float *image, int H, int W, float *z,
                          dm_arena *a, dm_error *err) {
    if (!t->has_encoder) return dm_fail(err, "%s: this TAESD has no encoder weights", t->path);
    if (H % t->factor || W % t->factor)
        return dm_fail_code(err, DM_EUSAGE, "TAESD encode: %dx%d is not a multiple of %d", W, H,
                            t->factor);
    int C = t->img_ch;
    size_t n = (size_t)C * H * W;
    float *x = malloc(sizeof(float) * n);
    if (!x) return dm_fail(err, "TAESD: out of memory");
    for (size_t i = 0; i < n; i++) x[i] = (image[i] + 1.0f) / 2.0f; /* x.add(1).div(2) */
    size_t out_n = (size_t)t->latent_ch * (H / t->factor) * (W / t->factor);
    int h = H, w = W;
    dm_status s = run(&t->enc, t->half_floats, x, &C, &h, &w, z, out_n, a, err);
    free(x);
    if (s) return s;
    for (size_t i = 0; i < out_n; i++) z[i] *= t->scaling_factor;
    return DM_OK;
}
