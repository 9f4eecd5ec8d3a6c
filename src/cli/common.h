/* Pieces every model-using subcommand shares: the engine options and error reporting. */
#ifndef DM_CLI_COMMON_H
#define DM_CLI_COMMON_H

#include "cli/args.h"
#include "pipeline/engine.h"

/* --model, --tokenizer, --config, --threads, --prediction, --f16-weights: declared once,
 * parsed into here */
typedef struct {
    const char *model, *tokenizer, *config, *prediction, *precision;
    long threads;
    int f16_weights;
    int f32_weights;         /* bench: f32 copies of half weights at load, for comparison */
    dm_arg_list loras;       /* --lora FILE[:SCALE], repeatable */
    const char *vae_decoder; /* --vae-decoder DIR */
} dm_cli_model_opts;

#define DM_CLI_MODEL_OPTS(o)                                                                       \
    {"--model", DM_ARG_STR, &(o).model, "PATH",                                                    \
     "diffusers folder or one .safetensors file (SD 1.x / 2.x); default: the built-in demo model " \
     "toy-shapes (64x64 shapes: circle, square, triangle, star, heart)"},                          \
        {"--tokenizer", DM_ARG_STR, &(o).tokenizer, "DIR",                                         \
         "tokenizer folder (vocab.json, merges.txt); default: the model's own"},                   \
        {"--config", DM_ARG_STR, &(o).config, "YAML|DIR",                                          \
         "config of a one-file checkpoint: an LDM .yaml (default: FILE.yaml beside it, if any) "   \
         "or a diffusers folder (its configs and tokenizers; its weights are not read)"},          \
        {"--prediction", DM_ARG_STR, &(o).prediction, "eps|v",                                     \
         "override the model's prediction type (SD 2.x 768 models are v)"},                        \
        {"--lora", DM_ARG_MULTI, &(o).loras, "FILE[:SCALE]",                                       \
         "merge a LoRA (kohya/A1111 or diffusers naming) into the weights; repeatable; SCALE "     \
         "default 1"},                                                                             \
        {"--vae-decoder", DM_ARG_STR, &(o).vae_decoder, "DIR",                                     \
         "a diffusers AutoencoderTiny (TAESD) folder used instead of the model's VAE"},            \
        {"--threads", DM_ARG_INT, &(o).threads, "T", "CPU threads, 0 = all cores (default 0)",     \
         0,           1024},                                                                       \
        {"--precision", DM_ARG_STR, &(o).precision, "auto|fp32|bf16",                              \
         "number format of the networks (auto: bf16 where the CPU has avx512_bf16 / amx_bf16)"},   \
    {                                                                                              \
        "--f16-weights", DM_ARG_FLAG, &(o).f16_weights, NULL,                                      \
            "accepted for old scripts: f16/bf16 weights now always stay as stored (converted per " \
            "layer in fp32; once to oneDNN's layout in bf16)"                                      \
    }

/* SDXL's size conditioning (time_ids), for txt2img and generate. */
typedef struct {
    const char *original_size, *crop, *target_size;
} dm_cli_size_opts;

#define DM_CLI_SIZE_OPTS(o)                                                                        \
    {"--original-size", DM_ARG_STR, &(o).original_size, "H,W",                                     \
     "SDXL: original image size it conditions on (default: the image size)"},                      \
        {"--crop", DM_ARG_STR, &(o).crop, "TOP,LEFT",                                              \
         "SDXL: crop top-left coordinates it conditions on (default 0,0)"},                        \
    {                                                                                              \
        "--target-size", DM_ARG_STR, &(o).target_size, "H,W",                                      \
            "SDXL: target image size it conditions on (default: the image size)"                   \
    }
/* Parses the given size options into original[2], crop[2], target[2] (0 where not given);
 * returns 0, or 2 after a usage error naming the option. */
int dm_cli_parse_sizes(const dm_cmd_spec *spec, const dm_cli_size_opts *o, int original[2],
                       int crop[2], int target[2]);

/* Opens the engine; on failure prints "CMD: message" and returns 1 (2 for usage errors). */
int dm_cli_open_engine(const dm_cmd_spec *spec, const dm_cli_model_opts *o, int need_tokenizer,
                       dm_engine **e);
/* Prints "CMD: message" on stderr; returns the exit status for s (1, or 2 for DM_EUSAGE). */
int dm_cli_fail(const dm_cmd_spec *spec, dm_status s, const dm_error *err);

#endif
