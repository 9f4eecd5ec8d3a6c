/* The few-step CLI contract (issue 9) from outside: txt2img --sampler lcm / --timestep-spacing
 * with --init-noise replaying the golden's scheduler noise, --save-tensors, from the diffusers
 * folder and the one-file checkpoint, against golden/fast; bad options give exit code 2. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"

#define run check_run_cli

int main(void) {
    if (!getenv("DM_CLI")) check_skip("DM_CLI not set");
    const char *tmp = check_tmpdir();
    char models[2][1024];
    snprintf(models[0], sizeof models[0], "%s", check_shared("golden/tiny-sd1"));
    snprintf(models[1], sizeof models[1], "%s",
             check_shared("golden/tiny-sd1-original.safetensors"));
    const char *names[] = {"final_latent",         "image_raw",  "latents",
                           "pred_original_sample", "timesteps",  "scheduler_noise",
                           "attn_layer.*",         "attn_res.*", NULL};
    struct {
        const char *golden, *opts;
    } pipes[] = {
        {"golden/fast/pipe_lcm.safetensors", "--sampler lcm --steps 4 --guidance 1"},
        {"golden/fast/pipe_lcm_cfg.safetensors", "--sampler lcm --steps 4 --guidance 2"},
        {"golden/fast/pipe_turbo.safetensors",
         "--sampler euler_a --timestep-spacing trailing --steps 1 --guidance 0"},
        {"golden/fast/pipe_euler_trailing.safetensors",
         "--sampler euler --timestep-spacing trailing --steps 4 --guidance 0"},
    };
    for (int m = 0; m < 2; m++)
        for (int k = 0; k < 4; k++) {
            char out[512];
            snprintf(out, sizeof out, "%s/p%d_%d.safetensors", tmp, m, k);
            CHECK(run("txt2img --model %s --prompt 'a photograph of a bird' --negative-prompt '' "
                      "%s --width 128 --height 128 --init-noise %s --save-tensors %s "
                      "--out %s/p.png 2>/dev/null",
                      models[m], pipes[k].opts, check_shared(pipes[k].golden), out, tmp) == 0);
            check_compare_st(out, check_shared(pipes[k].golden), names, 1e-3);
        }
    /* --lora (both namings, the second with an explicit :1) against pipe_ddim_lora */
    const char *lora_names[] = {"final_latent", "image_raw", "latents", "attn_res.*", NULL};
    const char *lfiles[2] = {"golden/fast/lora-kohya.safetensors",
                             "golden/fast/lora-diffusers.safetensors:1"};
    for (int m = 0; m < 2; m++) {
        char out[512];
        snprintf(out, sizeof out, "%s/lora%d.safetensors", tmp, m);
        CHECK(run("txt2img --model %s --lora %s --prompt 'a photograph of a bird' "
                  "--negative-prompt '' --steps 10 --guidance 7.5 --width 128 --height 128 "
                  "--init-noise %s --save-tensors %s --out %s/p.png 2>/dev/null",
                  models[m], check_shared(lfiles[m]),
                  check_shared("golden/fast/pipe_ddim_lora.safetensors"), out, tmp) == 0);
        check_compare_st(out, check_shared("golden/fast/pipe_ddim_lora.safetensors"), lora_names,
                         1e-3);
    }
    /* --vae-decoder: TAESD alone (debug vae-decode / vae-encode) and in txt2img */
    const char *taesd = check_shared("golden/fast/tiny-taesd");
    char taesd_dir[1024];
    snprintf(taesd_dir, sizeof taesd_dir, "%s", taesd);
    for (int m = 0; m < 2; m++) {
        char out[512];
        const char *img_names[] = {"image", NULL}, *lat_names[] = {"latent", NULL};
        snprintf(out, sizeof out, "%s/td%d.safetensors", tmp, m);
        CHECK(run("debug vae-decode --model %s --vae-decoder %s --in %s --out %s", models[m],
                  taesd_dir, check_shared("golden/fast/taesd_decode.safetensors"), out) == 0);
        check_compare_st(out, check_shared("golden/fast/taesd_decode.safetensors"), img_names,
                         1e-4);
        snprintf(out, sizeof out, "%s/te%d.safetensors", tmp, m);
        CHECK(run("debug vae-encode --model %s --vae-decoder %s --in %s --out %s", models[m],
                  taesd_dir, check_shared("golden/fast/taesd_encode.safetensors"), out) == 0);
        check_compare_st(out, check_shared("golden/fast/taesd_encode.safetensors"), lat_names,
                         1e-4);
        snprintf(out, sizeof out, "%s/tp%d.safetensors", tmp, m);
        CHECK(run("txt2img --model %s --vae-decoder %s --prompt 'a photograph of a bird' "
                  "--negative-prompt '' --steps 10 --guidance 7.5 --width 128 --height 128 "
                  "--init-noise %s --save-tensors %s --out %s/p.png 2>/dev/null",
                  models[m], taesd_dir, check_shared("golden/fast/pipe_ddim_taesd.safetensors"),
                  out, tmp) == 0);
        const char *pn[] = {"final_latent", "image_raw", "latents", NULL};
        check_compare_st(out, check_shared("golden/fast/pipe_ddim_taesd.safetensors"), pn, 1e-3);
    }
    CHECK(run("txt2img --model %s --vae-decoder %s/vae --prompt a --out %s/bad.png 2>/dev/null",
              models[0], models[0], tmp) == 1);
    /* tools random-checkpoint: a TAESD folder and a LoRA for the model (3x3 LoCon targets too)
     * load and run; bench --recipe times both recipes */
    CHECK(run("tools random-checkpoint --arch taesd --channels 8 --out %s/rtaesd >/dev/null",
              tmp) == 0);
    CHECK(run("tools random-checkpoint --arch lora --model %s --rank 2 --out %s/rlora.safetensors "
              ">/dev/null",
              models[0], tmp) == 0);
    CHECK(run("txt2img --model %s --lora %s/rlora.safetensors:0.7 --vae-decoder %s/rtaesd "
              "--sampler lcm --steps 2 --guidance 1 --width 64 --height 64 --prompt a "
              "--out %s/r.png 2>/dev/null",
              models[1], tmp, tmp, tmp) == 0);
    CHECK(run("bench --model %s --vae-decoder %s/rtaesd --lora %s/rlora.safetensors --width 64 "
              "--height 64 --measure-calls 2 --json > %s/bench.json",
              models[0], tmp, tmp, tmp) == 0);
    char bj[1100];
    snprintf(
        bj, sizeof bj,
        "grep -q '\"recipe\":\"4,1,taesd,lcm\",\"sampler\":\"lcm\",\"unet_calls\":4,\"batch\":1' "
        "%s/bench.json",
        tmp);
    CHECK(system(bj) == 0);
    CHECK(run("bench --model %s --recipe 4,1,taesd --width 64 --height 64 2>/dev/null",
              models[0]) == 2);
    /* recipe numbers through the strict parser: junk, NaN and overflow are usage errors */
    const char *bad_recipes[] = {"4x,1,vae", "4,nan,vae", "99999999999999999999,1,vae",
                                 "4,1e999,vae"};
    for (int k = 0; k < 4; k++)
        CHECKF(run("bench --model %s --recipe %s --width 64 --height 64 2>/dev/null", models[0],
                   bad_recipes[k]) == 2,
               "bench --recipe %s", bad_recipes[k]);
    /* a bad LoRA: exit 1, one line, no image written */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "head -c 100000 %s > %s/trunc.safetensors",
             check_shared("golden/fast/lora-kohya.safetensors"), tmp);
    CHECK(system(cmd) == 0);
    CHECK(run("txt2img --model %s --lora %s/trunc.safetensors --prompt a --out %s/bad.png "
              "2>%s/err.txt",
              models[0], tmp, tmp, tmp) == 1);
    snprintf(cmd, sizeof cmd, "test ! -e %s/bad.png && test $(wc -l < %s/err.txt) -eq 1", tmp, tmp);
    CHECK(system(cmd) == 0);
    CHECK(run("txt2img --model %s --lora %s:abc --prompt a --out %s/bad.png 2>/dev/null", models[0],
              check_shared("golden/fast/lora-kohya.safetensors"), tmp) == 1);
    /* usage errors */
    CHECK(run("txt2img --model %s --prompt a --timestep-spacing middle --out %s/x.png "
              "2>/dev/null",
              models[0], tmp) == 2);
    CHECK(run("txt2img --model %s --prompt a --sampler lcm --steps 60 --out %s/x.png 2>/dev/null",
              models[0], tmp) == 2);
    /* LCM without replay draws its own noise: runs, deterministic per seed */
    CHECK(run("txt2img --model %s --prompt a --sampler lcm --steps 2 --guidance 1 --width 64 "
              "--height 64 --seed 3 --out %s/l1.png 2>/dev/null",
              models[0], tmp) == 0);
    CHECK(run("txt2img --model %s --prompt a --sampler lcm --steps 2 --guidance 1 --width 64 "
              "--height 64 --seed 3 --out %s/l2.png 2>/dev/null",
              models[0], tmp) == 0);
    snprintf(cmd, sizeof cmd, "cmp -s %s/l1.png %s/l2.png", tmp, tmp);
    CHECK(system(cmd) == 0);
    return check_finish();
}
