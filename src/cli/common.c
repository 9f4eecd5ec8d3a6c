#include "cli/common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/file.h"

int dm_cli_fail(const dm_cmd_spec *spec, dm_status s, const dm_error *err) {
    fprintf(stderr, "%s: %s\n", spec->command, err->msg);
    return s == DM_EUSAGE ? 2 : 1;
}

const char *dm_cli_default_model(void) {
    /* installed copy first, then the source tree the binary was built from */
    static const char *const candidates[] = {DM_DEMO_MODEL_INSTALLED, DM_DEMO_MODEL_SOURCE, NULL};
    for (const char *const *c = candidates; *c; c++)
        if (dm_dir_exists(*c)) return *c;
    return NULL;
}

int dm_cli_open_engine(const dm_cmd_spec *spec, const dm_cli_model_opts *o, int need_tokenizer,
                       dm_engine **e) {
    const char *model = o->model ? o->model : dm_cli_default_model();
    if (!model) return dm_usage_error(spec, "--model is required (no built-in demo model found)");
    int pred = -1;
    if (o->prediction) {
        if (!strcmp(o->prediction, "eps") || !strcmp(o->prediction, "epsilon"))
            pred = 0;
        else if (!strcmp(o->prediction, "v") || !strcmp(o->prediction, "v_prediction"))
            pred = 1;
        else
            return dm_usage_error(spec, "--prediction must be eps or v, not '%s'", o->prediction);
    }
    dm_engine_options eo = {.model_path = model,
                            .tokenizer_dir = o->tokenizer,
                            .ldm_config = o->config,
                            .threads = (int)o->threads,
                            .prediction = pred,
                            .no_tokenizer = !need_tokenizer,
                            .f16_weights = o->f16_weights};
    dm_error err = {0};
    dm_status s = dm_engine_open(&eo, e, &err);
    if (s) return dm_cli_fail(spec, s, &err);
    return 0;
}
