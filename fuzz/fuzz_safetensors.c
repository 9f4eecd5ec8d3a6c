/* libFuzzer harness for the safetensors reader: any byte string must either be refused with a
 * message naming the input, or open into tensors that all lie inside the data area, match their
 * shapes, do not overlap and can be read without touching memory outside the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

#define LABEL          "fuzz-input"
#define MAX_READ_ELEMS (1 << 20) /* bigger tensors are checked but not converted */

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_safetensors: invariant broken: %s (line %d)\n", #cond,           \
                    __LINE__);                                                                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dm_error err = {{0}};
    dm_safetensors *st = NULL;
    if (dm_st_open_buffer(data, size, LABEL, &st, &err) != DM_OK) {
        REQUIRE(st == NULL);
        REQUIRE(strncmp(err.msg, LABEL ": ", strlen(LABEL) + 2) == 0);
        return 0;
    }
    REQUIRE(st != NULL);
    const uint8_t *end = data + size;
    int n = dm_st_count(st);
    REQUIRE(n >= 0 && dm_st_at(st, n) == NULL && dm_st_at(st, -1) == NULL);
    for (int i = 0; i < n; i++) {
        const dm_st_tensor *t = dm_st_at(st, i);
        REQUIRE(t && t->name && t->ndim >= 0 && t->ndim <= DM_MAX_DIMS);
        /* sorted, unique, and found by name */
        if (i > 0) REQUIRE(strcmp(dm_st_at(st, i - 1)->name, t->name) < 0);
        REQUIRE(dm_st_find(st, t->name) == t);
        /* the shape accounts for every byte */
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            REQUIRE(t->shape[d] >= 0);
            numel *= (uint64_t)t->shape[d];
        }
        REQUIRE(t->numel >= 0 && (uint64_t)t->numel == numel);
        REQUIRE(numel * dm_dtype_size(t->dtype) == t->nbytes);
        /* inside the input */
        const uint8_t *p = t->data;
        REQUIRE(p >= data + 8 && p <= end && t->nbytes <= (size_t)(end - p));
        /* no two non-empty tensors share a byte (quadratic: only for small headers) */
        if (n <= 256 && t->nbytes)
            for (int j = 0; j < i; j++) {
                const dm_st_tensor *u = dm_st_at(st, j);
                const uint8_t *q = u->data;
                REQUIRE(!u->nbytes || q + u->nbytes <= p || p + t->nbytes <= q);
            }
        /* every element converts (reads under ASan catch any stray byte) */
        if (t->numel > MAX_READ_ELEMS) continue;
        size_t cnt = t->numel ? (size_t)t->numel : 1;
        if (dm_dtype_is_float(t->dtype)) {
            float *dst = malloc(cnt * sizeof *dst);
            REQUIRE(dst && dm_st_read_f32(t, dst, &err) == DM_OK);
            free(dst);
        } else {
            int64_t *dst = malloc(cnt * sizeof *dst);
            REQUIRE(dst && dm_st_read_i64(t, dst, &err) == DM_OK);
            free(dst);
        }
    }
    (void)dm_st_metadata(st, "format");
    (void)dm_st_metadata(st, "");
    REQUIRE(strcmp(dm_st_path(st), LABEL) == 0);
    dm_st_close(st);
    return 0;
}
