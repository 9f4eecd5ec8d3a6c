/* Random TAESD folders and LoRA files (see random_extra.h). */
#include "tools/random_extra.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "io/file.h"
#include "model/lora.h"

/* n values N(0, std) into a new buffer, as f16 bits (half = 1) or f32. */
static void *random_values(dm_rng *r, size_t n, float std, int half) {
    void *p = malloc(n * (half ? 2 : 4) + 4);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) {
        float v = dm_rng_normal(r) * std;
        if (half)
            ((uint16_t *)p)[i] = dm_f32_to_f16(v);
        else
            ((float *)p)[i] = v;
    }
    return p;
}

typedef struct {
    dm_st_writer *w;
    void **bufs;
    int n, cap;
    dm_rng rng;
    int half;
} writer;

static dm_status add(writer *wr, const char *name, int ndim, const int64_t *shape, float std,
                     dm_error *err) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (wr->n == wr->cap) {
        int cap = wr->cap ? wr->cap * 2 : 256;
        void **b = realloc(wr->bufs, sizeof *b * (size_t)cap);
        if (!b) return dm_fail(err, "out of memory");
        wr->bufs = b, wr->cap = cap;
    }
    void *p = random_values(&wr->rng, n, std, wr->half);
    if (!p) return dm_fail(err, "out of memory for '%s'", name);
    wr->bufs[wr->n++] = p;
    return dm_st_writer_add(wr->w, name, wr->half ? DM_F16 : DM_F32, ndim, shape, p, err);
}

static void writer_free(writer *wr) {
    dm_st_writer_free(wr->w);
    for (int i = 0; i < wr->n; i++) free(wr->bufs[i]);
    free(wr->bufs);
}

static dm_status conv(writer *wr, const char *name, int o, int i, int bias, dm_error *err) {
    char n[300];
    int64_t ws[4] = {o, i, 3, 3}, bs[1] = {o};
    snprintf(n, sizeof n, "%s.weight", name);
    DM_TRY(add(wr, n, 4, ws, 1.0f / sqrtf((float)i * 9.0f), err));
    if (!bias) return DM_OK;
    snprintf(n, sizeof n, "%s.bias", name);
    return add(wr, n, 1, bs, 0.02f, err);
}

static dm_status block(writer *wr, const char *name, int c, dm_error *err) {
    char n[300];
    for (int k = 0; k < 3; k++) {
        snprintf(n, sizeof n, "%s.conv.%d", name, 2 * k);
        DM_TRY(conv(wr, n, c, c, 1, err));
    }
    return DM_OK;
}

dm_status dm_rck_write_taesd(const char *dir, int C, uint64_t seed, dm_error *err) {
    DM_TRY(dm_mkdirs(dir, err));
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\n  \"_class_name\": \"AutoencoderTiny\",\n  \"act_fn\": \"relu\",\n"
             "  \"block_out_channels\": [%d, %d, %d, %d],\n"
             "  \"decoder_block_out_channels\": [%d, %d, %d, %d],\n"
             "  \"encoder_block_out_channels\": [%d, %d, %d, %d],\n"
             "  \"force_upcast\": false,\n  \"in_channels\": 3,\n  \"latent_channels\": 4,\n"
             "  \"latent_magnitude\": 3,\n  \"latent_shift\": 0.5,\n"
             "  \"num_decoder_blocks\": [3, 3, 3, 1],\n  \"num_encoder_blocks\": [1, 3, 3, 3],\n"
             "  \"out_channels\": 3,\n  \"scaling_factor\": 1.0,\n"
             "  \"upsampling_scaling_factor\": 2\n}\n",
             C, C, C, C, C, C, C, C, C, C, C, C);
    DM_TRY(dm_write_file_atomic(path, cfg, strlen(cfg), err));
    writer wr = {.w = dm_st_writer_new()};
    dm_rng_seed(&wr.rng, seed);
    dm_status s = wr.w ? DM_OK : dm_fail(err, "out of memory");
    /* decoder: 0 conv 4->C, 1 ReLU, 2-4 Blocks, 5 x2, 6 conv, 7-9, 10, 11, 12-14, 15, 16, 17,
     * 18 conv C->3 */
    int idx = 0;
    const int dec_blocks[4] = {3, 3, 3, 1}, enc_blocks[4] = {1, 3, 3, 3};
    char n[128];
    for (int i = 0; !s && i < 4; i++) {
        if (i == 0) {
            snprintf(n, sizeof n, "decoder.layers.%d", idx);
            s = conv(&wr, n, C, 4, 1, err);
            idx += 2;
        }
        for (int b = 0; !s && b < dec_blocks[i]; b++) {
            snprintf(n, sizeof n, "decoder.layers.%d", idx++);
            s = block(&wr, n, C, err);
        }
        if (i < 3) idx++;
        snprintf(n, sizeof n, "decoder.layers.%d", idx++);
        if (!s) s = conv(&wr, n, i < 3 ? C : 3, C, i == 3, err);
    }
    idx = 0;
    for (int i = 0; !s && i < 4; i++) {
        snprintf(n, sizeof n, "encoder.layers.%d", idx++);
        s = conv(&wr, n, C, i ? C : 3, i == 0, err);
        for (int b = 0; !s && b < enc_blocks[i]; b++) {
            snprintf(n, sizeof n, "encoder.layers.%d", idx++);
            s = block(&wr, n, C, err);
        }
    }
    snprintf(n, sizeof n, "encoder.layers.%d", idx);
    if (!s) s = conv(&wr, n, 4, C, 1, err);
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    if (!s) s = dm_st_write(wr.w, path, err);
    writer_free(&wr);
    return s;
}

/* UNet weights LCM-LoRA style adapters touch. */
static int is_target(const char *name) {
    static const char *const ends[] = {
        ".to_q.weight",     ".to_k.weight",          ".to_v.weight",
        ".to_out.0.weight", ".ff.net.0.proj.weight", ".ff.net.2.weight",
        ".proj_in.weight",  ".proj_out.weight",      ".conv1.weight",
        ".conv2.weight",    ".conv_shortcut.weight", ".time_emb_proj.weight",
        ".conv.weight"};
    if (strncmp(name, "unet.", 5)) return 0;
    if (!strstr(name, "_blocks.") && strncmp(name, "unet.mid_block.", 15)) return 0;
    size_t len = strlen(name);
    for (size_t k = 0; k < sizeof ends / sizeof *ends; k++) {
        size_t el = strlen(ends[k]);
        if (len > el && !strcmp(name + len - el, ends[k])) return 1;
    }
    return 0;
}

dm_status dm_rck_write_lora(const dm_weights *w, const char *path, int rank, uint64_t seed,
                            int *n_modules, dm_error *err) {
    writer wr = {.w = dm_st_writer_new(), .half = 1};
    dm_rng_seed(&wr.rng, seed);
    dm_status s = wr.w ? DM_OK : dm_fail(err, "out of memory");
    int nm = 0;
    float *alphas = malloc(sizeof(float) * (size_t)(dm_weights_count(w) + 1));
    if (!alphas) s = dm_fail(err, "out of memory");
    for (int i = 0; !s && i < dm_weights_count(w); i++) {
        const char *name = dm_weights_name(w, i);
        if (!is_target(name)) continue;
        int nd;
        const int64_t *sh = dm_weights_shape(w, name, &nd);
        if (!sh || nd < 2) continue;
        int64_t out = sh[0], in = sh[1], k = nd == 4 ? sh[2] : 1;
        if (nd == 4 && sh[2] != sh[3]) continue;
        char key[512], n[600];
        if (!dm_lora_kohya_name(name, key, sizeof key)) continue;
        int64_t ds[4] = {rank, in, k, k}, us[4] = {out, rank, 1, 1}, none[1] = {0};
        snprintf(n, sizeof n, "%s.lora_down.weight", key);
        s = add(&wr, n, nd == 4 ? 4 : 2, ds, 1.0f / sqrtf((float)(in * k * k)), err);
        snprintf(n, sizeof n, "%s.lora_up.weight", key);
        if (!s) {
            if (nd == 4)
                s = add(&wr, n, 4, us, 0.01f, err);
            else {
                int64_t u2[2] = {out, rank};
                s = add(&wr, n, 2, u2, 0.01f, err);
            }
        }
        alphas[nm] = (float)rank;
        snprintf(n, sizeof n, "%s.alpha", key);
        if (!s) s = dm_st_writer_add(wr.w, n, DM_F32, 0, none, &alphas[nm], err);
        nm++;
    }
    if (!s && nm == 0) s = dm_fail(err, "the model has no LoRA targets (not a UNet?)");
    if (!s) s = dm_st_write(wr.w, path, err);
    writer_free(&wr);
    free(alphas);
    if (n_modules) *n_modules = nm;
    return s;
}
