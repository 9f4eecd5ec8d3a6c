#include "cli/common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/file.h"
#include "model/lora.h"

int dm_cli_fail(const dm_cmd_spec *spec, dm_status s, const dm_error *err) {
    fprintf(stderr, "%s: %s\n", spec->command, err->msg);
    return s == DM_EUSAGE ? 2 : 1;
}

int dm_cli_open_engine(const dm_cmd_spec *spec, const dm_cli_model_opts *o, int need_tokenizer,
                       dm_engine **e) {
    char demo[4096];
    const char *model = o->model;
    if (!model) {
        dm_error derr = {0};
        if (dm_default_model(demo, sizeof demo, &derr))
            return dm_usage_error(spec, "--model is required (%s)", derr.msg);
        model = demo;
    }
    int pred = -1;
    if (o->prediction) {
        if (!strcmp(o->prediction, "eps") || !strcmp(o->prediction, "epsilon"))
            pred = 0;
        else if (!strcmp(o->prediction, "v") || !strcmp(o->prediction, "v_prediction"))
            pred = 1;
        else
            return dm_usage_error(spec, "--prediction must be eps or v, not '%s'", o->prediction);
    }
    dm_precision prec = DM_PRECISION_AUTO;
    dm_error perr = {0};
    if (o->precision && dm_precision_parse(o->precision, &prec, &perr))
        return dm_usage_error(spec, "%s", perr.msg);
    dm_engine_options eo = {.model_path = model,
                            .tokenizer_dir = o->tokenizer,
                            .ldm_config = o->config,
                            .threads = (int)o->threads,
                            .prediction = pred,
                            .no_tokenizer = !need_tokenizer,
                            .vae_decoder = o->vae_decoder,
                            .f32_weights = o->f32_weights,
                            .precision = prec};
    dm_error err = {0};
    dm_lora loras[DM_ARG_LIST_MAX];
    char paths[DM_ARG_LIST_MAX][4096];
    for (int k = 0; k < o->loras.n; k++) {
        if (dm_lora_parse_spec(o->loras.v[k], paths[k], sizeof paths[k], &loras[k].scale, &err))
            return dm_usage_error(spec, "%s", err.msg);
        loras[k].path = paths[k];
    }
    eo.loras = loras;
    eo.n_loras = o->loras.n;
    dm_status s = dm_engine_open(&eo, e, &err);
    if (s) return dm_cli_fail(spec, s, &err);
    return 0;
}

/* "A,B": two whole numbers in [lo, 65536], nothing else. */
static int parse_pair(const char *s, int lo, int out[2]) {
    const char *comma = strchr(s, ',');
    if (!comma || comma == s || strchr(comma + 1, ',')) return -1;
    char a[32];
    size_t n = (size_t)(comma - s);
    if (n >= sizeof a) return -1;
    memcpy(a, s, n);
    a[n] = 0;
    long x, y;
    if (dm_arg_parse_long(a, &x) || dm_arg_parse_long(comma + 1, &y)) return -1;
    if (x < lo || y < lo || x > 65536 || y > 65536) return -1;
    out[0] = (int)x, out[1] = (int)y;
    return 0;
}

int dm_cli_parse_sizes(const dm_cmd_spec *spec, const dm_cli_size_opts *o, int original[2],
                       int crop[2], int target[2]) {
    original[0] = original[1] = crop[0] = crop[1] = target[0] = target[1] = 0;
    if (o->original_size && parse_pair(o->original_size, 1, original))
        return dm_usage_error(spec,
                              "--original-size must be H,W (two integers in 1..65536), not '%s'",
                              o->original_size);
    if (o->crop && parse_pair(o->crop, 0, crop))
        return dm_usage_error(spec, "--crop must be TOP,LEFT (two integers in 0..65536), not '%s'",
                              o->crop);
    if (o->target_size && parse_pair(o->target_size, 1, target))
        return dm_usage_error(
            spec, "--target-size must be H,W (two integers in 1..65536), not '%s'", o->target_size);
    return 0;
}
