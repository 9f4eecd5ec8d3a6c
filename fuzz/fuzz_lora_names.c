/* libFuzzer harness: a LoRA module name in kohya's LDM numbering, read from a LoRA file, turned
 * into the diffusers numbering (dm_kohya_ldm_unet). Invariants: no read or write out of bounds
 * (ASan: the output is a heap block of exactly cap bytes, so one byte past cap is caught),
 * whatever the name and the output size; what it writes is a kohya spelling (no '.'),
 * NUL-terminated inside the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > 2048) return 0;
    int L = 1 + data[0] % 4;       /* layers_per_block */
    size_t cap = 1 + data[1] % 96; /* small outputs too: truncation must be refused, not written */
    char *name = malloc(size - 1), *out = malloc(cap);
    memcpy(name, data + 2, size - 2);
    name[size - 2] = 0;
    memset(out, 'x', cap);
    if (dm_kohya_ldm_unet(name, L, out, cap)) {
        size_t n = strnlen(out, cap);
        if (n >= cap || memchr(out, '.', n)) abort();
    }
    free(name);
    free(out);
    return 0;
}
