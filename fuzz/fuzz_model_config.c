/* libFuzzer harness: a diffusers folder's config files through their loaders and range checks.
 * The first byte picks the file (UNet config.json, VAE config.json, text encoder config.json,
 * scheduler_config.json, model_index.json), the rest is its text. Invariants: a config that
 * loads passes its own range check (so nothing later divides by zero or sizes a buffer from
 * an unchecked value), and a failure leaves one non-empty line in err. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "model/config.h"
#include "model/model.h"
#include "sched/sampler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 16) return 0;
    int which = data[0] % 5;
    data++, size--;
    dm_error err = {{0}};
    dm_status s;
    const char *path = fuzz_write("config.json", data, size);
    switch (which) {
    case 0: {
        dm_unet_config c;
        s = dm_unet_config_load(path, &c, &err);
        if (!s && dm_unet_config_check(&c, path, &err)) abort();
        break;
    }
    case 1: {
        dm_vae_config c;
        s = dm_vae_config_load(path, &c, &err);
        if (!s && dm_vae_config_check(&c, path, &err)) abort();
        break;
    }
    case 2: {
        dm_clip_config c;
        s = dm_clip_config_load(path, &c, &err);
        if (!s && dm_clip_config_check(&c, path, &err)) abort();
        break;
    }
    case 3: {
        char *text = malloc(size + 1);
        memcpy(text, data, size);
        text[size] = 0;
        dm_sched_config c;
        s = dm_sched_config_parse(text, "scheduler_config.json", &c, &err);
        if (!s && dm_sched_config_check(&c, &err)) abort();
        free(text);
        break;
    }
    default:
        s = dm_model_index_check(path, &err);
        break;
    }
    if (s && (!err.msg[0] || strchr(err.msg, '\n'))) abort();
    return 0;
}
