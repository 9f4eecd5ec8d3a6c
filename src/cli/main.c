/* diffumask command line: dispatches to one function per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/cpu.h"
#include "ops/ops.h"

static const dm_cli_command commands[] = {
    {"generate", "make a segmentation dataset from a list of classes (DiffuMask)", dm_cmd_generate},
    {"txt2img", "generate one image from a prompt", dm_cmd_txt2img},
    {"tokenize", "print the 77 token ids of a prompt", dm_cmd_tokenize},
    {"debug", "run one network (text-encoder, unet, vae-decode) on tensors from a file",
     dm_cmd_debug},
    {"augment", "write augmented copies of a dataset (mosaic, paste, blur, occlusion, perspective)",
     dm_cmd_augment},
    {"filter", "prune the samples an external segmenter disagrees with most (per-sample IoU)",
     dm_cmd_filter},
    {"bench",
     "time text encoder, UNet step and VAE decode; FLOPs, GFLOP/s vs sgemm, per-op profile",
     dm_cmd_bench},
    {"tools",
     "developer tools (random-checkpoint: a full-size SD 1.5/2.1 file with random weights)",
     dm_cmd_tools},
    {"eval", "score predicted masks against ground truth (per-class IoU, mIoU)", dm_cmd_eval},
    {"eval-toy", "score every mask method on the toy-shapes protocol (colour-oracle ground truth)",
     dm_cmd_eval_toy},
    {"merge", "merge the output folders of a sharded run into one dataset", dm_cmd_merge},
    {"viz", "draw a contact sheet of a dataset (image | mask overlay | heat map)", dm_cmd_viz},
    {"report", "write a self-contained HTML page about a dataset (counts, scores, thumbnails)",
     dm_cmd_report},
};

static void usage(FILE *fp) {
    fprintf(fp,
            "diffumask %s — Stable Diffusion in C that writes segmentation datasets (DiffuMask)\n\n"
            "usage: diffumask COMMAND [options]   (diffumask COMMAND --help for its options)\n\n"
            "commands:\n",
            DM_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(fp, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    dm_ops_set_threads(0); /* one OpenMP pool; --threads changes its size */
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        dm_cpu c;
        dm_cpu_detect(&c);
        char kernels[128], flags[256];
        dm_cpu_kernels_string(&c, kernels, sizeof kernels);
        dm_cpu_flags_string(&c, flags, sizeof flags);
        printf("diffumask %s\nbuild: %s\nkernels: %s\ncpu flags: %s\n", DM_VERSION,
               dm_cpu_build_string(), kernels, flags);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "diffumask: unknown command '%s' (see diffumask --help)\n", argv[1]);
    return 2;
}
