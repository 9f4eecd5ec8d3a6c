/* libFuzzer harness: an LDM .yaml (the line reader of the hints a one-file checkpoint cannot
 * carry). Invariants: what loads is in range (heads and head channels 0 = unknown or 1..65536,
 * scale_factor 0 = unknown or finite > 0), and a failure leaves one line naming the file. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "model/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    const char *path = fuzz_write("model.yaml", data, size);
    dm_ldm_hints h;
    dm_error err = {{0}};
    if (dm_ldm_hints_load(path, &h, &err) == DM_OK) {
        if (h.unet_heads < 0 || h.unet_heads > 65536 || h.unet_head_channels < 0 ||
            h.unet_head_channels > 65536)
            abort();
        if (h.scale_factor != 0 && !(isfinite(h.scale_factor) && h.scale_factor > 0)) abort();
    } else if (!strstr(err.msg, path) || strchr(err.msg, '\n')) {
        abort();
    }
    return 0;
}
