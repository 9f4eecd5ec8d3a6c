/* bench --recipe: per-image cost of whole sampling recipes (bench_recipe.c). */
#ifndef DM_CLI_BENCH_RECIPE_H
#define DM_CLI_BENCH_RECIPE_H

#include "cli/args.h"
#include "cli/common.h"
#include "pipeline/engine.h"

typedef struct {
    const dm_cmd_spec *spec;    /* bench's, for the messages */
    const dm_cli_model_opts *m; /* model, tokenizer, precision, LoRAs, --vae-decoder, threads */
    const dm_arg_list *recipes;
    int width, height, measure_calls, json;
} dm_bench_recipe_opts;

/* Prints the table (or JSON); returns the exit status. */
int dm_bench_recipes(const dm_bench_recipe_opts *o);

#endif
