/* bench --recipe: per-image cost of whole sampling recipes (bench_recipe.c). */
#ifndef DM_CLI_BENCH_RECIPE_H
#define DM_CLI_BENCH_RECIPE_H

#include "cli/args.h"
#include "pipeline/engine.h"

typedef struct {
    const char *model, *tokenizer, *vae_decoder, *precision; /* precision: auto|fp32|bf16 */
    const dm_arg_list *recipes, *loras;
    int width, height, threads, measure_calls, json, f32_weights;
} dm_bench_recipe_opts;

/* Prints the table (or JSON); returns the exit status. */
int dm_bench_recipes(const dm_bench_recipe_opts *o);

#endif
