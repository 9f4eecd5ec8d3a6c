/* LoRA merge against diffusers 0.25.1 (golden/fast/README.md (d)): the same random rank-4 LoRA in
 * kohya and diffusers naming, scales 1.0 and 0.5, from the diffusers folder and the one-file
 * checkpoint: UNet noise_pred, text encoder last_hidden_state and the whole DDIM pipeline. Then
 * the refusals: an unmatched key, a LoRA for another model, an unknown format, a truncated file.
 * A LoRA in a bf16 run (needs a bf16 CPU) is test_bf16's, which says by name when it skips. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/safetensors.h"
#include "model/lora.h"
#include "pipeline/engine.h"

static double cmp(dm_safetensors *g, const char *name, const float *mine, long n, double tol,
                  const char *what) {
    long rn = 0;
    float *ref = check_read_f32(g, name, &rn);
    double e = -1;
    CHECKF(ref && rn == n, "%s: golden %s missing or of another size", what, name);
    if (ref && rn == n) {
        e = check_max_abs_diff(mine, ref, n);
        CHECKF(e <= tol, "%s: %s max err %g > %g", what, name, e, tol);
        printf("  %-34s %-28s %.3g\n", what, name, e);
    }
    free(ref);
    return e;
}

static dm_engine *open_with(const char *model, const char *lora, float scale, dm_error *err) {
    dm_lora l = {lora, scale};
    dm_engine_options o = {
        .model_path = model, .prediction = -1, .loras = lora ? &l : NULL, .n_loras = lora ? 1 : 0};
    dm_engine *e = NULL;
    if (dm_engine_open(&o, &e, err)) return NULL;
    return e;
}

/* UNet and text encoder of lora_unet / lora_text_encoder at one scale. */
static void components(const char *model, const char *lora, float scale, const char *suffix) {
    dm_error err = {0};
    dm_engine *e = open_with(model, lora, scale, &err);
    CHECKF(e, "%s", err.msg);
    if (!e) return;
    char what[64], name[64];
    snprintf(what, sizeof what, "%s%s",
             strstr(lora ? lora : "base", "kohya") ? "kohya" : "diffusers",
             model[strlen(model) - 1] == 's' ? " 1-file" : " folder");
    dm_safetensors *g;
    CHECK(dm_st_open(check_shared("golden/fast/lora_unet.safetensors"), &g, &err) == DM_OK);
    float *x = check_read_f32(g, "sample", NULL),
          *ctx = check_read_f32(g, "encoder_hidden_states", NULL);
    int64_t ts[2];
    dm_st_read_i64(dm_st_find(g, "timesteps"), ts, &err);
    float t[2] = {(float)ts[0], (float)ts[1]}, out[2 * 4 * 16 * 16];
    CHECKF(dm_unet_forward(&e->unet, x, 2, 16, 16, t, ctx, 77, out, NULL, &e->arena, &err) == DM_OK,
           "%s", err.msg);
    snprintf(name, sizeof name, "noise_pred_%s", suffix);
    cmp(g, name, out, 2 * 4 * 16 * 16, 1e-4, what);
    free(x), free(ctx);
    dm_st_close(g);

    CHECK(dm_st_open(check_shared("golden/fast/lora_text_encoder.safetensors"), &g, &err) == DM_OK);
    int64_t ids[3 * 77];
    dm_st_read_i64(dm_st_find(g, "input_ids"), ids, &err);
    float *hid = malloc(sizeof(float) * 3 * 77 * 32);
    for (int p = 0; p < 3; p++) {
        int32_t id32[77];
        for (int k = 0; k < 77; k++) id32[k] = (int32_t)ids[p * 77 + k];
        CHECK(dm_engine_encode_ids(e, id32, hid + p * 77 * 32, &err) == DM_OK);
    }
    snprintf(name, sizeof name, "last_hidden_state_%s", suffix);
    cmp(g, name, hid, 3 * 77 * 32, 1e-4, what);
    free(hid);
    dm_st_close(g);
    dm_engine_free(e);
}

static void pipeline(const char *model, const char *lora) {
    dm_error err = {0};
    dm_engine *e = open_with(model, lora, 1.0f, &err);
    CHECKF(e, "%s", err.msg);
    if (!e) return;
    dm_safetensors *g;
    CHECK(dm_st_open(check_shared("golden/fast/pipe_ddim_lora.safetensors"), &g, &err) == DM_OK);
    float *noise = check_read_f32(g, "initial_noise", NULL);
    dm_attn_store store;
    dm_attn_store_init(&store, 1, 0);
    dm_txt2img_params p = {.prompt = "a photograph of a bird",
                           .negative_prompt = "",
                           .steps = 10,
                           .guidance = 7.5f,
                           .sampler = DM_SAMPLER_DDIM,
                           .width = 128,
                           .height = 128,
                           .init_noise = noise,
                           .store = &store,
                           .record = 1};
    dm_txt2img_result r;
    CHECKF(dm_txt2img(e, &p, &r, &err) == DM_OK, "%s", err.msg);
    long lat = 4 * 16 * 16;
    const char *what = strstr(lora, "kohya") ? "pipe kohya" : "pipe diffusers";
    cmp(g, "prompt_embeds", r.prompt_embeds, 2 * 77 * 32, 1e-4, what);
    cmp(g, "latents", r.latents, 10 * lat, 1e-3, what);
    cmp(g, "pred_original_sample", r.pred_x0, 10 * lat, 1e-3, what);
    cmp(g, "final_latent", r.final_latent, lat, 1e-3, what);
    cmp(g, "image_raw", r.image_raw, 3 * 128 * 128, 1e-3, what);
    float buf[256 * 77];
    int hs[8], ws[8], nr = dm_attn_store_resolutions(&store, hs, ws, 8);
    for (int k = 0; k < nr; k++) {
        char name[64];
        snprintf(name, sizeof name, "attn_res.%dx%d", hs[k], ws[k]);
        dm_attn_store_res_mean(&store, hs[k], ws[k], buf);
        cmp(g, name, buf, (long)hs[k] * ws[k] * 77, 1e-4, what);
    }
    dm_txt2img_result_free(&r);
    dm_attn_store_free(&store);
    free(noise);
    dm_st_close(g);
    dm_engine_free(e);
}

/* A one-module LoRA file: down [r, in], up [out, r] under the given names. */
static void write_lora(const char *path, const char *down_name, int64_t in, const char *up_name,
                       int64_t out) {
    dm_error err;
    static float zeros[4 * 4096];
    dm_st_writer *w = dm_st_writer_new();
    int64_t ds[2] = {4, in}, us[2] = {out, 4};
    dm_st_writer_add_f32(w, down_name, 2, ds, zeros, &err);
    if (up_name) dm_st_writer_add_f32(w, up_name, 2, us, zeros, &err);
    CHECK(dm_st_write(w, path, &err) == DM_OK);
    dm_st_writer_free(w);
}

static void refusals(const char *model, const char *tmp) {
    char path[1024];
    dm_error err = {0};
    const char *q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
    char dn[256], un[256];
    /* unmatched key */
    snprintf(path, sizeof path, "%s/unmatched.safetensors", tmp);
    write_lora(path, "lora_unet_down_blocks_9_attentions_0_proj_in.lora_down.weight", 32,
               "lora_unet_down_blocks_9_attentions_0_proj_in.lora_up.weight", 32);
    CHECK(!open_with(model, path, 1.0f, &err) && strstr(err.msg, "down_blocks_9") &&
          strstr(err.msg, "matches no weight") && !strchr(err.msg, '\n'));
    printf("  unmatched: %s\n", err.msg);
    /* another architecture: SD 1.5-sized to_q (320) on the tiny model (32) */
    snprintf(path, sizeof path, "%s/other.safetensors", tmp);
    snprintf(dn, sizeof dn, "%s.lora_down.weight", q);
    snprintf(un, sizeof un, "%s.lora_up.weight", q);
    write_lora(path, dn, 320, un, 320);
    CHECK(!open_with(model, path, 1.0f, &err) && strstr(err.msg, "does not fit"));
    printf("  other model: %s\n", err.msg);
    /* unknown format (LoHa) and a module without its up weight */
    snprintf(path, sizeof path, "%s/loha.safetensors", tmp);
    write_lora(path, "lora_unet_mid_block_attentions_0_proj_in.hada_w1_a", 32, NULL, 0);
    CHECK(!open_with(model, path, 1.0f, &err) && strstr(err.msg, "hada_w1_a"));
    printf("  unknown format: %s\n", err.msg);
    write_lora(path, dn, 32, NULL, 0);
    CHECK(!open_with(model, path, 1.0f, &err) && strstr(err.msg, "lacks"));
    /* truncated file */
    snprintf(path, sizeof path, "%s/trunc.safetensors", tmp);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "head -c 200000 %s > %s",
             check_shared("golden/fast/lora-kohya.safetensors"), path);
    CHECK(system(cmd) == 0);
    CHECK(!open_with(model, path, 1.0f, &err) && strstr(err.msg, "trunc.safetensors"));
    printf("  truncated: %s\n", err.msg);
    /* FILE[:SCALE] */
    float sc;
    char p[256];
    CHECK(dm_lora_parse_spec("a/b.safetensors:0.5", p, sizeof p, &sc, &err) == DM_OK &&
          sc == 0.5f && !strcmp(p, "a/b.safetensors"));
    CHECK(dm_lora_parse_spec("c:/x.safetensors", p, sizeof p, &sc, &err) == DM_OK && sc == 1.0f &&
          !strcmp(p, "c:/x.safetensors"));
    CHECK(dm_lora_parse_spec(":2", p, sizeof p, &sc, &err) == DM_EUSAGE);
}

/* bf16 runs keep LoRA deltas apart (dm_weights_add_delta + dm_w_patch): the values a kernel
 * makes from the patched weight are bit for bit the eager merge's, for a linear, a conv and a
 * text-encoder weight; asking for a plain f32 pointer afterwards merges once (no double, no
 * skipped delta for the dm_w handed out before), and a weight handed out after that has no
 * patch. */
static void kept_apart(const char *model, const char *lora) {
    static const char *const names[] = {
        "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
        "unet.down_blocks.0.attentions.0.proj_in.weight", /* a 1x1 conv */
        "text.text_model.encoder.layers.0.self_attn.q_proj.weight"};
    dm_error err = {0};
    dm_model *eager, *lazy;
    CHECK(dm_model_open(model, &eager, &err) == DM_OK &&
          dm_model_open(model, &lazy, &err) == DM_OK);
    dm_weights_set_lazy_deltas(lazy->w, 1);
    CHECKF(dm_lora_merge(eager->w, lora, 0.75f, NULL, &err) == DM_OK, "%s", err.msg);
    CHECKF(dm_lora_merge(lazy->w, lora, 0.75f, NULL, &err) == DM_OK, "%s", err.msg);
    for (int k = 0; k < 3; k++) {
        int nd;
        const int64_t *sh = dm_weights_shape(lazy->w, names[k], &nd);
        CHECKF(sh, "no %s", names[k]);
        if (!sh) continue;
        size_t n = 1;
        for (int i = 0; i < nd; i++) n *= (size_t)sh[i];
        const float *ref, *merged;
        CHECK(dm_weights_get(eager->w, names[k], nd, sh, &ref, &err) == DM_OK);
        dm_w w, after;
        CHECK(dm_weights_get_w(lazy->w, names[k], nd, sh, &w, &err) == DM_OK);
        CHECKF(w.patch != NULL && dm_w_scratch(w, n) == n, "%s: no patch handed out", names[k]);
        float *scratch = malloc(sizeof(float) * n);
        CHECKF(!memcmp(dm_w_f32(w, n, scratch), ref, sizeof(float) * n),
               "%s: patched values differ from the eager merge", names[k]);
        CHECK(dm_weights_get(lazy->w, names[k], nd, sh, &merged, &err) == DM_OK);
        CHECKF(!memcmp(merged, ref, sizeof(float) * n), "%s: merge on demand differs", names[k]);
        CHECKF(!memcmp(dm_w_f32(w, n, scratch), ref, sizeof(float) * n),
               "%s: the dm_w handed out before the merge changed", names[k]);
        CHECK(dm_weights_get_w(lazy->w, names[k], nd, sh, &after, &err) == DM_OK);
        CHECKF(!after.patch && after.f32 == merged, "%s: handed out after the merge", names[k]);
        free(scratch);
    }
    dm_model_free(eager), dm_model_free(lazy);
}

/* The kohya name of a diffusers-numbered UNet module in the LDM numbering, written out by hand
 * for tiny-sd1 (layers_per_block 2: input block 1 + 3b + a, output block 3b + a); other names
 * unchanged. */
static void ldm_spelling(const char *name, char *out, size_t n) {
    int b, a, k = 0;
    if (sscanf(name, "lora_unet_down_blocks_%d_attentions_%d_%n", &b, &a, &k) == 2 && k)
        snprintf(out, n, "lora_unet_input_blocks_%d_1_%s", 1 + 3 * b + a, name + k);
    else if (sscanf(name, "lora_unet_up_blocks_%d_attentions_%d_%n", &b, &a, &k) == 2 && k)
        snprintf(out, n, "lora_unet_output_blocks_%d_1_%s", 3 * b + a, name + k);
    else if (!strncmp(name, "lora_unet_mid_block_attentions_0_", 33))
        snprintf(out, n, "lora_unet_middle_block_1_%s", name + 33);
    else
        snprintf(out, n, "%s", name);
}

/* Every UNet weight of a and b: the same bytes. Returns how many differ from base (NULL: 0). */
static int same_unet(dm_weights *a, dm_weights *b, dm_weights *base, const char *what) {
    dm_error err = {0};
    int changed = 0, differ = 0;
    for (int i = 0; i < dm_weights_count(a); i++) {
        const char *name = dm_weights_name(a, i);
        if (strncmp(name, "unet.", 5)) continue;
        int nd;
        const int64_t *sh = dm_weights_shape(a, name, &nd);
        size_t n = 1;
        for (int d = 0; d < nd; d++) n *= (size_t)sh[d];
        const float *x, *y, *z;
        CHECK(dm_weights_get(a, name, nd, sh, &x, &err) == DM_OK &&
              dm_weights_get(b, name, nd, sh, &y, &err) == DM_OK);
        differ += memcmp(x, y, n * sizeof(float)) != 0;
        if (base && dm_weights_get(base, name, nd, sh, &z, &err) == DM_OK)
            changed += memcmp(x, z, n * sizeof(float)) != 0;
    }
    CHECKF(differ == 0, "%s: %d UNet weights differ between the two namings", what, differ);
    return changed;
}

/* kohya's SDXL LoRAs name UNet modules in the LDM numbering (input_blocks_4_1_...): the golden
 * LoRA renamed so must merge to the same bytes; and res blocks, resamplers, conv_in, conv_out
 * and the time embedding (LoCon targets) in both namings. */
static void ldm_numbering(const char *model, const char *tmp) {
    dm_error err = {0};
    char path[2][1024];
    snprintf(path[0], sizeof path[0], "%s/ldm-kohya.safetensors", tmp);
    snprintf(path[1], sizeof path[1], "%s/ldm-kohya-conv.safetensors", tmp);
    dm_safetensors *g;
    CHECK(dm_st_open(check_shared("golden/fast/lora-kohya.safetensors"), &g, &err) == DM_OK);
    dm_st_writer *w = dm_st_writer_new();
    float *data[1024];
    int nt = dm_st_count(g) < 1024 ? dm_st_count(g) : 1024;
    char(*names)[256] = calloc((size_t)nt, sizeof *names);
    for (int i = 0; i < nt; i++) {
        const dm_st_tensor *t = dm_st_at(g, i);
        data[i] = malloc(sizeof(float) * (size_t)t->numel);
        dm_st_read_f32(t, data[i], &err);
        const char *dot = strchr(t->name, '.');
        char mod[256];
        snprintf(mod, sizeof mod, "%.*s", (int)(dot - t->name), t->name);
        ldm_spelling(mod, names[i], sizeof names[i]);
        strncat(names[i], dot, sizeof names[i] - strlen(names[i]) - 1);
        dm_st_writer_add_f32(w, names[i], t->ndim, t->shape, data[i], &err);
    }
    CHECK(dm_st_write(w, path[0], &err) == DM_OK);
    dm_st_writer_free(w);
    for (int i = 0; i < nt; i++) free(data[i]);
    free(names);
    dm_st_close(g);

    dm_model *m[3];
    for (int k = 0; k < 3; k++) CHECK(dm_model_open(model, &m[k], &err) == DM_OK);
    dm_lora_info i0, i1;
    CHECKF(dm_lora_merge(m[0]->w, check_shared("golden/fast/lora-kohya.safetensors"), 1.0f, &i0,
                         &err) == DM_OK,
           "%s", err.msg);
    CHECKF(dm_lora_merge(m[1]->w, path[0], 1.0f, &i1, &err) == DM_OK, "%s", err.msg);
    CHECKF(i1.n_unet == 192 && i1.n_text == i0.n_text, "LDM-numbered: merged %d + %d", i1.n_unet,
           i1.n_text);
    int changed = same_unet(m[0]->w, m[1]->w, m[2]->w, "golden LoRA, LDM numbering");
    printf("  golden LoRA in the LDM numbering: %d UNet modules, %d weights changed, identical\n",
           i1.n_unet, changed);
    CHECK(changed == 192);
    for (int k = 0; k < 3; k++) dm_model_free(m[k]);

    /* {store weight, diffusers-numbered kohya module, LDM-numbered} */
    static const char *const convs[][3] = {
        {"unet.down_blocks.1.resnets.0.conv1.weight", "down_blocks_1_resnets_0_conv1",
         "input_blocks_4_0_in_layers_2"},
        {"unet.down_blocks.1.resnets.0.time_emb_proj.weight",
         "down_blocks_1_resnets_0_time_emb_proj", "input_blocks_4_0_emb_layers_1"},
        {"unet.down_blocks.2.resnets.0.conv_shortcut.weight",
         "down_blocks_2_resnets_0_conv_shortcut", "input_blocks_7_0_skip_connection"},
        {"unet.down_blocks.0.downsamplers.0.conv.weight", "down_blocks_0_downsamplers_0_conv",
         "input_blocks_3_0_op"},
        {"unet.mid_block.resnets.1.conv2.weight", "mid_block_resnets_1_conv2",
         "middle_block_2_out_layers_3"},
        {"unet.up_blocks.0.upsamplers.0.conv.weight", "up_blocks_0_upsamplers_0_conv",
         "output_blocks_2_1_conv"},
        {"unet.up_blocks.1.upsamplers.0.conv.weight", "up_blocks_1_upsamplers_0_conv",
         "output_blocks_5_2_conv"},
        {"unet.up_blocks.3.resnets.2.conv2.weight", "up_blocks_3_resnets_2_conv2",
         "output_blocks_11_0_out_layers_3"},
        {"unet.conv_in.weight", "conv_in", "input_blocks_0_0"},
        {"unet.conv_out.weight", "conv_out", "out_2"},
        {"unet.time_embedding.linear_1.weight", "time_embedding_linear_1", "time_embed_0"},
    };
    enum { NC = sizeof convs / sizeof *convs };
    CHECK(dm_model_open(model, &m[0], &err) == DM_OK);
    float *bufs[2 * NC] = {0};
    for (int v = 0; v < 2; v++) {
        w = dm_st_writer_new();
        unsigned r = 4242u;
        for (int c = 0; c < NC; c++) {
            int nd;
            const int64_t *sh = dm_weights_shape(m[0]->w, convs[c][0], &nd);
            CHECKF(sh, "tiny-sd1 has no %s", convs[c][0]);
            if (!sh) continue;
            /* rank 2: down [2, in(, k, k)], up [out, 2(, 1, 1)] */
            int64_t ds[4] = {2, sh[1], nd == 4 ? sh[2] : 1, nd == 4 ? sh[3] : 1};
            int64_t us[4] = {sh[0], 2, 1, 1};
            size_t nd_ = (size_t)(2 * sh[1] * ds[2] * ds[3]), nu = (size_t)(sh[0] * 2);
            float *d = v ? bufs[2 * c] : malloc(sizeof(float) * nd_),
                  *u = v ? bufs[2 * c + 1] : malloc(sizeof(float) * nu);
            if (!v) {
                for (size_t i = 0; i < nd_; i++)
                    d[i] = (float)((r = r * 1664525u + 1013904223u) >> 9) / 8388608.0f - 0.5f;
                for (size_t i = 0; i < nu; i++)
                    u[i] = (float)((r = r * 1664525u + 1013904223u) >> 9) / 8388608.0f - 0.5f;
                bufs[2 * c] = d, bufs[2 * c + 1] = u;
            }
            char dn[256], un[256];
            snprintf(dn, sizeof dn, "lora_unet_%s.lora_down.weight", convs[c][1 + v]);
            snprintf(un, sizeof un, "lora_unet_%s.lora_up.weight", convs[c][1 + v]);
            dm_st_writer_add_f32(w, dn, nd, ds, d, &err);
            dm_st_writer_add_f32(w, un, nd, us, u, &err);
        }
        char p2[1100];
        snprintf(p2, sizeof p2, "%s.%d", path[1], v);
        CHECK(dm_st_write(w, p2, &err) == DM_OK);
        dm_st_writer_free(w);
    }
    for (int c = 0; c < 2 * NC; c++) free(bufs[c]);
    dm_model_free(m[0]);
    for (int k = 0; k < 3; k++) CHECK(dm_model_open(model, &m[k], &err) == DM_OK);
    for (int v = 0; v < 2; v++) {
        char p2[1100];
        snprintf(p2, sizeof p2, "%s.%d", path[1], v);
        CHECKF(dm_lora_merge(m[v]->w, p2, 0.8f, &i0, &err) == DM_OK, "%s", err.msg);
        CHECKF(i0.n_unet == NC, "%s: merged %d of %d", p2, i0.n_unet, (int)NC);
    }
    changed = same_unet(m[0]->w, m[1]->w, m[2]->w, "res blocks / resamplers, LDM numbering");
    printf("  res blocks, resamplers, conv_in/out, time embedding in the LDM numbering: %d "
           "weights changed, identical\n",
           changed);
    CHECK(changed == NC);
    for (int k = 0; k < 3; k++) dm_model_free(m[k]);

    /* slots the LDM layout does not have are no aliases (middle_block 3; a transformer at j 2;
     * an upsampler conv where the block's last layer is not; digits only), and a module named
     * in both numberings in one file is refused, not merged twice */
    static const char *const bogus[] = {
        "lora_unet_middle_block_3_in_layers_2",    "lora_unet_input_blocks_4_2_proj_in",
        "lora_unet_output_blocks_3_1_conv",        "lora_unet_input_blocks_+4_1_proj_in",
        "lora_unet_input_blocks_4_0_in_layers_ 2", "lora_unet_time_embed_1",
    };
    for (size_t b = 0; b < sizeof bogus / sizeof *bogus; b++) {
        char dn[256], un[256], p2[1100];
        snprintf(dn, sizeof dn, "%s.lora_down.weight", bogus[b]);
        snprintf(un, sizeof un, "%s.lora_up.weight", bogus[b]);
        snprintf(p2, sizeof p2, "%s.bogus", path[1]);
        write_lora(p2, dn, 32, un, 32);
        CHECK(dm_model_open(model, &m[0], &err) == DM_OK);
        err.msg[0] = 0;
        CHECKF(dm_lora_merge(m[0]->w, p2, 1.0f, NULL, &err) != DM_OK &&
                   strstr(err.msg, "matches no weight"),
               "%s: merged, or another error: %s", bogus[b], err.msg);
        dm_model_free(m[0]);
    }
    {
        static float zeros[4 * 32];
        int64_t ds[2] = {4, 32}, us[2] = {32, 4};
        const char *both[] = {
            "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q",
            "lora_unet_input_blocks_1_1_transformer_blocks_0_attn1_to_q"};
        w = dm_st_writer_new();
        for (int k = 0; k < 2; k++) {
            char dn[256], un[256];
            snprintf(dn, sizeof dn, "%s.lora_down.weight", both[k]);
            snprintf(un, sizeof un, "%s.lora_up.weight", both[k]);
            dm_st_writer_add_f32(w, dn, 2, ds, zeros, &err);
            dm_st_writer_add_f32(w, un, 2, us, zeros, &err);
        }
        char p2[1100];
        snprintf(p2, sizeof p2, "%s.both", path[1]);
        CHECK(dm_st_write(w, p2, &err) == DM_OK);
        dm_st_writer_free(w);
        CHECK(dm_model_open(model, &m[0], &err) == DM_OK);
        err.msg[0] = 0;
        CHECKF(dm_lora_merge(m[0]->w, p2, 1.0f, NULL, &err) != DM_OK &&
                   strstr(err.msg, "both name the weight"),
               "one module in two numberings: %s", err.msg);
        printf("  one module in two numberings: %s\n", err.msg);
        dm_model_free(m[0]);
    }
}

int main(void) {
    char models[2][1024], loras[2][1024];
    snprintf(models[0], sizeof models[0], "%s", check_shared("golden/tiny-sd1"));
    snprintf(models[1], sizeof models[1], "%s",
             check_shared("golden/tiny-sd1-original.safetensors"));
    snprintf(loras[0], sizeof loras[0], "%s", check_shared("golden/fast/lora-kohya.safetensors"));
    snprintf(loras[1], sizeof loras[1], "%s",
             check_shared("golden/fast/lora-diffusers.safetensors"));
    components(models[0], NULL, 1.0f, "base");
    for (int m = 0; m < 2; m++)
        for (int l = 0; l < 2; l++) {
            components(models[m], loras[l], 1.0f, "scale_1_0");
            components(models[m], loras[l], 0.5f, "scale_0_5");
            pipeline(models[m], loras[l]);
        }
    /* merge counts: 204 modules, 192 in the UNet and 12 in the text encoder */
    dm_error err = {0};
    dm_model *mdl;
    CHECK(dm_model_open(models[0], &mdl, &err) == DM_OK);
    dm_lora_info info;
    CHECKF(dm_lora_merge(mdl->w, loras[0], 1.0f, &info, &err) == DM_OK, "%s", err.msg);
    CHECKF(info.n_unet == 192 && info.n_text == 12, "merged %d + %d", info.n_unet, info.n_text);
    dm_model_free(mdl);
    refusals(models[0], check_tmpdir());
    kept_apart(models[0], loras[0]);
    kept_apart(models[1], loras[1]);
    ldm_numbering(models[0], check_tmpdir());
    ldm_numbering(models[1], check_tmpdir());
    return check_finish();
}
