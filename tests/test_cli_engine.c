/* The engine's CLI contract, checked from outside: debug text-encoder / unet / vae-decode and
 * txt2img --save-tensors write files equal to the goldens; bad input gives exit codes 1 / 2. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "check.h"
#include "io/safetensors.h"

static const char *cli, *tmp;

#define run check_run_cli

#define compare check_compare_st

int main(void) {
    cli = getenv("DM_CLI");
    if (!cli) check_skip("DM_CLI not set");
    tmp = check_tmpdir();
    char models[2][1024]; /* check_shared's buffers rotate: keep copies */
    snprintf(models[0], sizeof models[0], "%s", check_shared("golden/tiny-sd1"));
    snprintf(models[1], sizeof models[1], "%s",
             check_shared("golden/tiny-sd1-original.safetensors"));
    for (int m = 0; m < 2; m++) {
        const char *te_names[] = {"last_hidden_state", "hidden_states.*", NULL};
        CHECK(run("debug text-encoder --precision fp32 --model %s --in %s --out %s/te.safetensors",
                  models[m], check_shared("golden/sd1/text_encoder.safetensors"), tmp) == 0);
        char up[512];
        snprintf(up, sizeof up, "%s/te.safetensors", tmp);
        compare(up, check_shared("golden/sd1/text_encoder.safetensors"), te_names, 1e-4);
        const char *unet_names[] = {"noise_pred", NULL};
        const char *attn_names[] = {"*", NULL};
        CHECK(
            run("debug unet --precision fp32 --model %s --in %s --out %s/u.safetensors --attention",
                models[m], check_shared("golden/sd1/unet.safetensors"), tmp) == 0);
        snprintf(up, sizeof up, "%s/u.safetensors", tmp);
        compare(up, check_shared("golden/sd1/unet.safetensors"), unet_names, 1e-4);
        compare(up, check_shared("golden/sd1/unet_attn2.safetensors"), attn_names, 1e-4);
        const char *vae_names[] = {"image", NULL};
        CHECK(run("debug vae-decode --precision fp32 --model %s --in %s --out %s/v.safetensors",
                  models[m], check_shared("golden/sd1/vae_decode.safetensors"), tmp) == 0);
        snprintf(up, sizeof up, "%s/v.safetensors", tmp);
        compare(up, check_shared("golden/sd1/vae_decode.safetensors"), vae_names, 1e-4);
    }
    /* txt2img with the golden's initial noise: the pipeline tensors of pipe_ddim / pipe_euler */
    const char *pipe_names[] = {"final_latent", "image_raw",  "latents", "timesteps",
                                "attn_layer.*", "attn_res.*", NULL};
    const char *pipes[3][2] = {{"ddim", "golden/sd1/pipe_ddim.safetensors"},
                               {"euler", "golden/sd1/pipe_euler.safetensors"},
                               {"dpmpp_2m", "golden/sd1/pipe_dpmpp2m.safetensors"}};
    for (int k = 0; k < 3; k++) {
        char out[512], png[512];
        snprintf(out, sizeof out, "%s/p_%s.safetensors", tmp, pipes[k][0]);
        snprintf(png, sizeof png, "%s/p_%s.png", tmp, pipes[k][0]);
        CHECK(run("txt2img --precision fp32 --model %s --prompt 'a photograph of a bird' "
                  "--negative-prompt '' "
                  "--steps 10 "
                  "--guidance 7.5 --sampler %s --width 128 --height 128 --init-noise %s "
                  "--save-tensors %s "
                  "--out %s 2>/dev/null",
                  models[0], pipes[k][0], check_shared(pipes[k][1]), out, png) == 0);
        compare(out, check_shared(pipes[k][1]),
                k == 0
                    ? pipe_names
                    : (const char *[]){"final_latent", "image_raw", "latents", "timesteps", NULL},
                1e-3);
    }
    /* same seed + settings => same bytes */
    CHECK(run("txt2img --model %s --prompt 'a bird' --steps 3 --width 64 --height 64 --seed 7 "
              "--out %s/a.png 2>/dev/null",
              models[0], tmp) == 0);
    CHECK(run("txt2img --model %s --prompt 'a bird' --steps 3 --width 64 --height 64 --seed 7 "
              "--out %s/b.png 2>/dev/null",
              models[0], tmp) == 0);
    char cmp[1024];
    snprintf(cmp, sizeof cmp, "cmp -s %s/a.png %s/b.png", tmp, tmp);
    CHECK(system(cmp) == 0);
    /* errors: usage -> 2, bad input -> 1 */
    CHECK(run("txt2img --model %s --out %s/x.png 2>/dev/null", models[0], tmp) == 2);
    CHECK(run("txt2img --model %s --prompt a --width 100 --out %s/x.png 2>/dev/null", models[0],
              tmp) == 2);
    CHECK(run("txt2img --model %s/nope --prompt a --out %s/x.png 2>/dev/null", tmp, tmp) == 1);
    CHECK(run("debug unet --model %s --in %s --out %s/x.safetensors 2>/dev/null", models[0],
              check_shared("golden/sd1/vae_decode.safetensors"), tmp) == 1);
    CHECK(run("debug frobnicate --model %s --in a --out b 2>/dev/null", models[0]) == 2);
    CHECK(run("txt2img --help >/dev/null") == 0);
    return check_finish();
}
