/* The random checkpoint writer: the plans of the full-size releases (names, shapes, parameter
 * counts), the tiny plan against the reference converter's file, and small written files
 * opened by dm_model_open with exactly the expected configs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/file.h"
#include "tools/random_ckpt.h"
#include "model/unet.h"
#include "ops/ops.h"

typedef struct {
    int n;
    long long unet, vae, text, other;
} totals;

static totals count(dm_rck_arch arch) {
    dm_rck_tensor *t;
    totals s = {0};
    dm_error err = {{0}};
    if (dm_rck_plan(arch, &t, &s.n, &err)) {
        CHECKF(0, "%s", err.msg);
        return s;
    }
    for (int i = 0; i < s.n; i++) {
        const char *nm = t[i].name;
        if (!strncmp(nm, "model.diffusion_model.", 22))
            s.unet += t[i].numel;
        else if (!strncmp(nm, "first_stage_model.", 18))
            s.vae += t[i].numel;
        else if (!strncmp(nm, "cond_stage_model.", 17) || !strncmp(nm, "conditioner.", 12))
            s.text += t[i].numel;
        else
            s.other += t[i].numel;
    }
    free(t);
    return s;
}

static const dm_rck_tensor *find(const dm_rck_tensor *t, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) return &t[i];
    return NULL;
}

static int shape_is(const dm_rck_tensor *t, int ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
    int64_t s[4] = {a, b, c, d};
    if (!t || t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != s[i]) return 0;
    return 1;
}

/* Parameter counts of the real releases (torch: sum(p.numel())); text adds position_ids. */
static void full_size_plans(void) {
    totals a = count(DM_RCK_SD15);
    CHECKF(a.unet == 859520964LL, "sd15 UNet %lld parameters", a.unet);
    CHECKF(a.vae == 83653863LL, "sd15 VAE %lld parameters", a.vae);
    CHECKF(a.text == 123060480LL + 77, "sd15 text %lld", a.text);
    CHECKF(a.n == 1145, "sd15 has %d tensors", a.n);
    totals b = count(DM_RCK_SD21);
    CHECKF(b.unet == 865910724LL, "sd21 UNet %lld parameters", b.unet);
    CHECKF(b.vae == 83653863LL, "sd21 VAE %lld", b.vae);
    CHECKF(b.text == 354032641LL, "sd21 OpenCLIP text %lld", b.text);
    CHECKF(b.n == 1242, "sd21 has %d tensors", b.n);

    /* SDXL base 1.0: diffusers' UNet 2,567,463,684; CLIPTextModel 123,060,480 (+ 77 position
     * ids) and CLIPTextModelWithProjection 694,659,840 (+ OpenCLIP's logit_scale) */
    totals c = count(DM_RCK_SDXL);
    CHECKF(c.unet == 2567463684LL, "sdxl UNet %lld parameters", c.unet);
    CHECKF(c.vae == 83653863LL, "sdxl VAE %lld", c.vae);
    CHECKF(c.text == 123060480LL + 77 + 694659840LL + 1, "sdxl text %lld", c.text);
    CHECKF(c.other == 0, "sdxl: %lld parameters outside the three networks", c.other);

    dm_rck_tensor *t;
    int n;
    dm_error err = {{0}};
    CHECK(dm_rck_plan(DM_RCK_SDXL, &t, &n, &err) == DM_OK);
    CHECK(shape_is(find(t, n, "model.diffusion_model.label_emb.0.0.weight"), 2, 1280, 2816, 0, 0));
    CHECK(shape_is(find(t, n,
                        "model.diffusion_model.input_blocks.8.1.transformer_blocks.9.attn2.to_k."
                        "weight"),
                   2, 1280, 2048, 0, 0));
    CHECK(
        shape_is(find(t, n, "conditioner.embedders.1.model.text_projection"), 2, 1280, 1280, 0, 0));
    CHECK(!find(t, n, "model.diffusion_model.input_blocks.1.1.proj_in.weight"));
    free(t);
    CHECK(dm_rck_plan(DM_RCK_SD21, &t, &n, &err) == DM_OK);
    CHECK(
        shape_is(find(t, n, "cond_stage_model.model.transformer.resblocks.23.attn.in_proj_weight"),
                 2, 3072, 1024, 0, 0));
    CHECK(shape_is(find(t, n, "cond_stage_model.model.positional_embedding"), 2, 77, 1024, 0, 0));
    CHECK(shape_is(find(t, n, "cond_stage_model.model.logit_scale"), 0, 0, 0, 0, 0));
    CHECK(shape_is(find(t, n, "model.diffusion_model.input_blocks.1.1.proj_in.weight"), 2, 320, 320,
                   0, 0));
    CHECK(shape_is(
        find(t, n,
             "model.diffusion_model.output_blocks.11.1.transformer_blocks.0.attn2.to_k.weight"),
        2, 320, 1024, 0, 0));
    free(t);
    CHECK(dm_rck_plan(DM_RCK_SD15, &t, &n, &err) == DM_OK);
    CHECK(shape_is(find(t, n, "model.diffusion_model.input_blocks.1.1.proj_in.weight"), 4, 320, 320,
                   1, 1));
    CHECK(shape_is(
        find(t, n,
             "model.diffusion_model.middle_block.1.transformer_blocks.0.ff.net.0.proj.weight"),
        2, 10240, 1280, 0, 0));
    CHECK(shape_is(find(t, n, "model.diffusion_model.output_blocks.2.1.conv.weight"), 4, 1280, 1280,
                   3, 3));
    CHECK(shape_is(find(t, n, "model.diffusion_model.output_blocks.5.2.conv.weight"), 4, 1280, 1280,
                   3, 3));
    CHECK(shape_is(find(t, n, "first_stage_model.decoder.mid.attn_1.q.weight"), 4, 512, 512, 1, 1));
    CHECK(shape_is(find(t, n, "first_stage_model.decoder.up.0.block.0.nin_shortcut.weight"), 4, 128,
                   256, 1, 1));
    CHECK(shape_is(
        find(t, n, "cond_stage_model.transformer.text_model.encoder.layers.11.mlp.fc1.weight"), 2,
        3072, 768, 0, 0));
    free(t);
}

/* The tiny plans have the topology of the golden tiny models: they must name and shape every
 * tensor exactly like the files diffusers' conversion scripts wrote (the SDXL reference lacks
 * only the position_ids and logit_scale buffers real SDXL files carry). */
static void tiny_matches_reference(dm_rck_arch arch, const char *rel, int extra) {
    dm_error err = {{0}};
    dm_safetensors *st;
    if (dm_st_open(check_shared(rel), &st, &err)) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    dm_rck_tensor *t;
    int n;
    CHECK(dm_rck_plan(arch, &t, &n, &err) == DM_OK);
    CHECKF(n == dm_st_count(st) + extra, "%s: plan %d tensors, reference %d", rel, n,
           dm_st_count(st));
    int bad = 0;
    for (int i = 0; i < n; i++) {
        const dm_st_tensor *r = dm_st_find(st, t[i].name);
        if (!r && extra && (strstr(t[i].name, "position_ids") || strstr(t[i].name, "logit_scale")))
            continue;
        int same = r && r->ndim == t[i].ndim;
        for (int j = 0; same && j < r->ndim; j++) same = r->shape[j] == t[i].shape[j];
        if (!same && bad++ < 5)
            fprintf(stderr, "%s: plan '%s' missing or shaped differently\n", rel, t[i].name);
    }
    CHECKF(bad == 0, "%d tensors differ from the reference", bad);
    free(t);
    dm_st_close(st);
}

static int same_bytes(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    dm_error err = {{0}};
    if (dm_read_file(a, &x, &nx, &err) || dm_read_file(b, &y, &ny, &err)) return 0;
    int same = nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return same;
}

/* Writes a small variant, opens it and runs the UNet once at 8x8. */
static void written(dm_rck_arch arch, dm_dtype dtype, int openclip) {
    char path[4200], again[4200];
    snprintf(path, sizeof path, "%s/r%d.safetensors", check_tmpdir(), (int)arch);
    snprintf(again, sizeof again, "%s/r%d-again.safetensors", check_tmpdir(), (int)arch);
    dm_error err = {{0}};
    dm_status s = dm_rck_write(path, arch, dtype, 7, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    if (s) return;
    CHECK(dm_rck_write(again, arch, dtype, 7, &err) == DM_OK);
    CHECKF(same_bytes(path, again), "same seed must give the same bytes");
    dm_model *m;
    s = dm_model_open(path, &m, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    if (s) return;
    CHECK(m->single_file && m->openclip == openclip);
    const dm_unet_config *u = &m->unet;
    int C0 = openclip ? 64 : 32, ctx = openclip ? 64 : 32;
    CHECK(u->levels == 4 && u->layers_per_block == 2 && u->in_ch == 4 && u->out_ch == 4);
    CHECK(u->block_out[0] == C0 && u->block_out[1] == C0 && u->block_out[2] == 2 * C0 &&
          u->block_out[3] == 2 * C0);
    CHECK(u->down_attn[0] && u->down_attn[1] && u->down_attn[2] && !u->down_attn[3]);
    CHECK(!u->up_attn[0] && u->up_attn[1] && u->up_attn[2] && u->up_attn[3]);
    CHECK(u->mid_attn && u->depth[0] == 1 && u->mid_depth == 1 && u->cross_dim == ctx);
    CHECK(u->linear_proj == openclip && u->time_dim == 4 * C0);
    /* SD 1.x: 8 heads everywhere; SD 2.x: 64-wide heads */
    CHECK(u->heads[0] == (openclip ? 1 : 8) && u->heads[2] == (openclip ? 2 : 8));
    const dm_clip_config *c = &m->clip;
    CHECK(c->vocab == 49408 && c->max_pos == 77 && c->act_gelu == openclip);
    CHECK(c->hidden == (openclip ? 64 : 32) && c->intermediate == (openclip ? 256 : 128));
    CHECK(c->layers == (openclip ? 2 : 2)); /* OpenCLIP: 3 resblocks, the penultimate output */
    const dm_vae_config *v = &m->vae;
    CHECK(v->levels == 4 && v->block_out[0] == 32 && v->block_out[3] == 64 &&
          v->layers_per_block == 1);
    CHECK(v->latent_ch == 4 && v->in_ch == 3 && v->out_ch == 3);

    dm_unet un;
    s = dm_unet_load(m, &un, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    if (!s) {
        dm_arena a;
        CHECK(dm_arena_init(&a, dm_unet_arena_bytes(&un, 8, 8, 77), &err) == DM_OK);
        float x[4 * 64], y[4 * 64], t = 500, *cond = calloc((size_t)77 * ctx, sizeof(float));
        for (int i = 0; i < 4 * 64; i++) x[i] = sinf((float)i);
        for (int i = 0; i < 77 * ctx; i++) cond[i] = cosf((float)i * 0.37f);
        s = dm_unet_forward(&un, x, 1, 8, 8, &t, cond, 77, y, NULL, &a, &err);
        CHECKF(s == DM_OK, "%s", err.msg);
        double ss = 0;
        int finite = 1;
        for (int i = 0; i < 4 * 64; i++) finite &= isfinite(y[i]), ss += (double)y[i] * y[i];
        double rms = sqrt(ss / 256);
        CHECKF(finite && rms > 1e-3 && rms < 1e3, "UNet output rms %g", rms);
        /* one OpenMP pool splitting single-threaded GEMMs (what the CLI runs) agrees with
         * OpenBLAS threading each GEMM, and repeats itself bit for bit */
        if (arch == DM_RCK_TINY21) {
            float y1[4 * 64], y2[4 * 64];
            dm_ops_set_threads(2);
            CHECK(dm_unet_forward(&un, x, 1, 8, 8, &t, cond, 77, y1, NULL, &a, &err) == DM_OK);
            CHECK(dm_unet_forward(&un, x, 1, 8, 8, &t, cond, 77, y2, NULL, &a, &err) == DM_OK);
            CHECK(memcmp(y1, y2, sizeof y1) == 0);
            double e = check_max_abs_diff(y, y1, 4 * 64);
            CHECKF(e <= 1e-4 * (1 + rms), "split GEMMs differ by %g", e);
        }
        free(cond);
        dm_arena_free(&a);
        dm_unet_free(&un);
    }
    dm_model_free(m);
}

/* The tiny SDXL layout, written in f16: read back as SDXL with the configs of its
 * shapes, and its UNet runs with the added conditioning. */
static void written_xl(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/xl.safetensors", check_tmpdir());
    dm_error err = {{0}};
    dm_status s = dm_rck_write(path, DM_RCK_TINYXL, DM_F16, 3, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    dm_model *m;
    if (s || (s = dm_model_open(path, &m, &err))) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    const dm_unet_config *u = &m->unet;
    CHECK(m->sdxl && m->force_zeros && !m->openclip && m->vae.scaling == 0.13025f);
    CHECK(u->levels == 3 && !u->down_attn[0] && u->down_attn[1] && u->up_attn[0] &&
          !u->up_attn[2] && u->depth[1] == 2 && u->depth[2] == 3 && u->mid_depth == 3);
    CHECK(u->cross_dim == 96 && u->add_in_dim == 112 && u->add_time_dim == 8 && u->linear_proj);
    CHECK(m->clip.hidden == 32 && m->clip.layers == 3 && !m->clip.act_gelu);
    CHECK(m->clip2.hidden == 64 && m->clip2.layers == 3 && m->clip2.act_gelu &&
          m->clip2.proj_dim == 64);
    dm_unet un;
    s = dm_unet_load(m, &un, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    if (!s) {
        dm_arena a;
        CHECK(dm_arena_init(&a, dm_unet_arena_bytes(&un, 8, 8, 77), &err) == DM_OK);
        float x[4 * 64], y[4 * 64], t = 500, te[64], ti[6] = {64, 64, 0, 0, 64, 64};
        float *cond = calloc((size_t)77 * 96, sizeof(float));
        for (int i = 0; i < 4 * 64; i++) x[i] = sinf((float)i);
        for (int i = 0; i < 64; i++) te[i] = cosf((float)i);
        for (int i = 0; i < 77 * 96; i++) cond[i] = cosf((float)i * 0.37f);
        dm_unet_added add = {te, ti};
        CHECK(dm_unet_forward(&un, x, 1, 8, 8, &t, cond, 77, y, NULL, &a, &err) == DM_ERR &&
              strstr(err.msg, "time ids"));
        s = dm_unet_forward_cond(&un, x, 1, 8, 8, &t, cond, 77, &add, y, NULL, &a, &err);
        CHECKF(s == DM_OK, "%s", err.msg);
        double ss = 0;
        int finite = 1;
        for (int i = 0; i < 4 * 64; i++) finite &= isfinite(y[i]), ss += (double)y[i] * y[i];
        CHECKF(finite && ss > 0, "SDXL UNet output not finite / zero");
        free(cond);
        dm_arena_free(&a);
        dm_unet_free(&un);
    }
    dm_model_free(m);
}

int main(void) {
    full_size_plans();
    tiny_matches_reference(DM_RCK_TINY, "golden/tiny-sd1-original.safetensors", 0);
    tiny_matches_reference(DM_RCK_TINYXL, "golden/sdxl/tiny-sdxl-original.safetensors", 2);
    written(DM_RCK_TINY, DM_F32, 0);
    written(DM_RCK_TINY21, DM_F16, 1);
    written_xl();
    dm_error err = {{0}};
    dm_rck_arch a;
    CHECK(dm_rck_arch_parse("sd21", &a, &err) == DM_OK && a == DM_RCK_SD21);
    CHECK(dm_rck_arch_parse("sdxl", &a, &err) == DM_OK && a == DM_RCK_SDXL);
    CHECK(dm_rck_arch_parse("sd3", &a, &err) == DM_EUSAGE && strstr(err.msg, "sd3"));
    CHECK(dm_rck_write("/nonexistent-dir/x.safetensors", DM_RCK_TINY, DM_F32, 0, &err) != DM_OK);
    return check_finish();
}
