/* SDXL through the command line, from the diffusers folder and from the one SGM-layout file with
 * --config pointing at the folder: debug text-encoder / unet / vae-decode and txt2img
 * --save-tensors against every golden of golden/sdxl; the size options (--original-size, --crop,
 * --target-size) and the negative-prompt rule (absent = zeroed, "" = encoded). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/safetensors.h"

#define run check_run_cli

static const char *tmp;

static void golden(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s", check_shared(name));
}

/* add_time_ids of a --save-tensors file equal want[12]. */
static void check_time_ids(const char *path, const float want[12]) {
    dm_error err;
    dm_safetensors *st;
    if (dm_st_open(path, &st, &err)) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    const dm_st_tensor *t = dm_st_find(st, "add_time_ids");
    float got[12] = {0};
    CHECK(t && t->numel == 12 && dm_st_read_f32(t, got, &err) == DM_OK);
    CHECKF(!memcmp(got, want, sizeof got), "%s: add_time_ids [%g %g %g %g %g %g]", path, got[0],
           got[1], got[2], got[3], got[4], got[5]);
    dm_st_close(st);
}

static void model(const char *m, const char *config_opt, const char *tag) {
    char g[1024], out[1024], png[1024];
    golden(g, sizeof g, "golden/sdxl/text_encoders.safetensors");
    snprintf(out, sizeof out, "%s/%s_te.safetensors", tmp, tag);
    CHECK(run("debug text-encoder --model %s %s --in %s --out %s", m, config_opt, g, out) == 0);
    const char *te[] = {"te1.hidden_states.*", "te1.last_hidden_state", "te2.*",
                        "prompt_embeds",       "pooled_prompt_embeds",  NULL};
    printf("%s text_encoders: %.3g\n", tag, check_compare_st(out, g, te, 1e-4));

    golden(g, sizeof g, "golden/sdxl/unet.safetensors");
    snprintf(out, sizeof out, "%s/%s_unet.safetensors", tmp, tag);
    CHECK(run("debug unet --model %s %s --in %s --out %s --attention", m, config_opt, g, out) == 0);
    const char *un[] = {
        "noise_pred", "time_emb", "add_time_proj", "add_embedding_input", "add_embedding",
        "emb",        NULL};
    printf("%s unet: %.3g\n", tag, check_compare_st(out, g, un, 1e-4));
    golden(g, sizeof g, "golden/sdxl/unet_attn2.safetensors");
    const char *all[] = {"*", NULL};
    printf("%s unet_attn2: %.3g\n", tag, check_compare_st(out, g, all, 1e-4));

    golden(g, sizeof g, "golden/sdxl/vae_decode.safetensors");
    snprintf(out, sizeof out, "%s/%s_vae.safetensors", tmp, tag);
    CHECK(run("debug vae-decode --model %s %s --in %s --out %s", m, config_opt, g, out) == 0);
    const char *vae[] = {"image", "image_16x24", NULL};
    printf("%s vae_decode: %.3g\n", tag, check_compare_st(out, g, vae, 1e-4));

    static const struct {
        const char *name, *sampler, *extra;
    } pipes[] = {
        {"pipe_euler", "euler", "--negative-prompt '' --width 128 --height 128"},
        {"pipe_ddim", "ddim", "--negative-prompt '' --width 128 --height 128"},
        {"pipe_ddim_16x24", "ddim", "--negative-prompt '' --width 192 --height 128"},
        /* no --negative-prompt: zeroed unconditional embeddings (force_zeros_for_empty_prompt) */
        {"pipe_euler_zero_neg", "euler", "--width 128 --height 128"},
    };
    const char *lat[] = {"final_latent",
                         "image_raw",
                         "latents",
                         "unet_input",
                         "unet_output",
                         "timesteps",
                         "prompt_embeds",
                         "add_text_embeds",
                         "add_time_ids",
                         "pred_original_sample",
                         NULL};
    const char *attn[] = {"attn_layer.*", "attn_res.*", NULL};
    for (int k = 0; k < 4; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "golden/sdxl/%s.safetensors", pipes[k].name);
        golden(g, sizeof g, rel);
        snprintf(out, sizeof out, "%s/%s_%s.safetensors", tmp, tag, pipes[k].name);
        snprintf(png, sizeof png, "%s/%s_%s.png", tmp, tag, pipes[k].name);
        CHECK(run("txt2img --model %s %s --prompt 'a photograph of a bird' %s --steps 10 "
                  "--guidance 5 --sampler %s --init-noise %s --save-tensors %s --out %s "
                  "2>/dev/null",
                  m, config_opt, pipes[k].extra, pipes[k].sampler, g, out, png) == 0);
        double a = check_compare_st(out, g, lat, 1e-3), b = check_compare_st(out, g, attn, 1e-4);
        printf("%s %s: latents/images %.3g, attention %.3g\n", tag, pipes[k].name, a, b);
    }
}

int main(void) {
    if (!getenv("DM_CLI")) check_skip("DM_CLI not set");
    tmp = check_tmpdir();
    char folder[1024], single[1024], cfg[1100];
    golden(folder, sizeof folder, "golden/sdxl/tiny-sdxl");
    golden(single, sizeof single, "golden/sdxl/tiny-sdxl-original.safetensors");
    snprintf(cfg, sizeof cfg, "--config %s", folder);
    model(folder, "", "folder");
    model(single, cfg, "file");

    /* the size conditioning options reach add_time_ids: original h,w, crop top,left, target h,w */
    char out[1024];
    snprintf(out, sizeof out, "%s/sizes.safetensors", tmp);
    CHECK(run("txt2img --model %s --prompt 'a bird' --steps 1 --width 128 --height 128 "
              "--original-size 256,512 --crop 16,8 --target-size 96,64 --save-tensors %s "
              "--out %s/sizes.png 2>/dev/null",
              folder, out, tmp) == 0);
    const float want[12] = {256, 512, 16, 8, 96, 64, 256, 512, 16, 8, 96, 64};
    check_time_ids(out, want);
    CHECK(run("txt2img --model %s --prompt 'a bird' --steps 1 --width 192 --height 128 "
              "--save-tensors %s --out %s/sizes.png 2>/dev/null",
              folder, out, tmp) == 0);
    const float dflt[12] = {128, 192, 0, 0, 128, 192, 128, 192, 0, 0, 128, 192};
    check_time_ids(out, dflt);
    /* bad values are usage errors; a wrong config folder is a clear error */
    CHECK(run("txt2img --model %s --prompt a --crop 1 --out %s/x.png 2>/dev/null", folder, tmp) ==
          2);
    CHECK(run("txt2img --model %s --prompt a --original-size 0,5 --out %s/x.png 2>/dev/null",
              folder, tmp) == 2);
    CHECK(run("txt2img --model %s --prompt a --target-size 1,2,3 --out %s/x.png 2>/dev/null",
              folder, tmp) == 2);
    CHECK(run("txt2img --model %s --config %s --prompt a --out %s/x.png 2>/dev/null", single,
              check_shared("golden/tiny-sd1"), tmp) == 1);
    return check_finish();
}
