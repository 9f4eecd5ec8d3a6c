/* diffumask tools: developer tools, one sub-tool per name ("tools random-checkpoint ..."). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "model/model.h"
#include "tools/random_ckpt.h"
#include "tools/random_extra.h"

static int random_checkpoint(int argc, char **argv) {
    const char *arch_s = NULL, *dtype_s = "f16", *out = NULL, *model = NULL;
    long seed = 0, rank = 64, channels = 64;
    const dm_opt opts[] = {
        {"--arch", DM_ARG_STR, &arch_s, "sd15|sd21|sdxl|taesd|lora",
         "the release whose names and shapes to reproduce; taesd: a TAESD folder "
         "(AutoencoderTiny, --channels wide); lora: a kohya LoRA of --rank on every attention, "
         "feed-forward and conv target of --model's UNet (like LCM-LoRA)"},
        {"--model", DM_ARG_STR, &model, "PATH", "lora: the model whose UNet it adapts"},
        {"--rank", DM_ARG_INT, &rank, "R", "lora: rank (default 64)", 1, 1024},
        {"--channels", DM_ARG_INT, &channels, "C", "taesd: width (default 64, as the real one)", 1,
         1024},
        {"--dtype", DM_ARG_STR, &dtype_s, "f16|f32",
         "stored float type (default f16: 2.1 GB for sd15)"},
        {"--out", DM_ARG_STR, &out, "FILE.safetensors", "where to write (atomically)"},
        {"--seed", DM_ARG_INT, &seed, "S", "random seed (default 0); same seed, same bytes", 0,
         DM_ARG_SEED_MAX},
    };
    const dm_cmd_spec spec = {
        "diffumask tools random-checkpoint",
        "--arch sd15|sd21|sdxl|taesd|lora --out PATH [--dtype f16|f32] [--seed S] [--model M] "
        "[--rank R] [--channels C]",
        "Writes a full-size Stable Diffusion checkpoint in the original one-file layout "
        "(model.diffusion_model.*, first_stage_model.*, cond_stage_model.*; SDXL: Stability's SGM "
        "layout with conditioner.embedders.*) with the tensor names "
        "and "
        "shapes of the real release and deterministic random weights (N(0, 1/sqrt(fan_in)) "
        "matrices, "
        "unit-ish norms, small biases, the real DDPM schedule buffers). For timing and testing the "
        "engine at full size without the real weights; its images are noise.",
        opts,
        (int)(sizeof opts / sizeof *opts),
        0,
        0};
    const char *pos[1];
    int n_pos;
    int r = dm_parse_args(&spec, argc, argv, pos, &n_pos);
    if (r) return r < 0 ? 0 : r;
    if (!arch_s || !out) return dm_usage_error(&spec, "--arch and --out are required");
    dm_dtype dtype;
    if (!strcmp(dtype_s, "f16"))
        dtype = DM_F16;
    else if (!strcmp(dtype_s, "f32"))
        dtype = DM_F32;
    else
        return dm_usage_error(&spec, "--dtype '%s': expected f16 or f32", dtype_s);
    dm_error err = {{0}};
    if (!strcmp(arch_s, "taesd")) {
        if (dm_rck_write_taesd(out, (int)channels, (uint64_t)seed, &err)) {
            fprintf(stderr, "%s: %s\n", spec.command, err.msg);
            return 1;
        }
        printf("wrote %s (TAESD, %ld channels, seed %ld)\n", out, channels, seed);
        return 0;
    }
    if (!strcmp(arch_s, "lora")) {
        if (!model) return dm_usage_error(&spec, "--arch lora needs --model");
        dm_model *m;
        int nm = 0;
        dm_status st = dm_model_open(model, &m, &err);
        if (!st) {
            st = dm_rck_write_lora(m->w, out, (int)rank, (uint64_t)seed, &nm, &err);
            dm_model_free(m);
        }
        if (st) {
            fprintf(stderr, "%s: %s\n", spec.command, err.msg);
            return 1;
        }
        printf("wrote %s (LoRA rank %ld on %d modules of %s, seed %ld)\n", out, rank, nm, model,
               seed);
        return 0;
    }
    dm_rck_arch arch;
    if (dm_rck_arch_parse(arch_s, &arch, &err)) return dm_usage_error(&spec, "%s", err.msg);
    if (dm_rck_write(out, arch, dtype, (uint64_t)seed, &err)) {
        fprintf(stderr, "%s: %s\n", spec.command, err.msg);
        return 1;
    }
    printf("wrote %s (%s, %s, seed %ld)\n", out, arch_s, dtype_s, seed);
    return 0;
}

static const dm_cli_command tools[] = {
    {"random-checkpoint", "write a full-size SD 1.5 / 2.1 checkpoint with random weights",
     random_checkpoint},
};

int dm_cmd_tools(int argc, char **argv) {
    int n = (int)(sizeof tools / sizeof *tools);
    if (argc >= 2)
        for (int i = 0; i < n; i++)
            if (!strcmp(argv[1], tools[i].name)) return tools[i].run(argc - 1, argv + 1);
    int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    FILE *fp = help ? stdout : stderr;
    if (argc >= 2 && !help) fprintf(fp, "diffumask tools: unknown tool '%s'\n", argv[1]);
    fprintf(fp,
            "usage: diffumask tools TOOL [options]   (diffumask tools TOOL --help)\n\ntools:\n");
    for (int i = 0; i < n; i++) fprintf(fp, "  %-18s %s\n", tools[i].name, tools[i].summary);
    return help ? 0 : 2;
}
