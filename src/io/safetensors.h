/* safetensors: mmap, strict validation, typed access; and an atomic writer.
 * Format: u64 little-endian header length N, N bytes of JSON object
 * {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {str: str}}, then the data. */
#ifndef DM_IO_SAFETENSORS_H
#define DM_IO_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define DM_MAX_DIMS 8

typedef enum {
    DM_F32,
    DM_F16,
    DM_BF16,
    DM_F64,
    DM_I64,
    DM_I32,
    DM_I16,
    DM_I8,
    DM_U8,
    DM_BOOL
} dm_dtype;

size_t dm_dtype_size(dm_dtype t);
const char *dm_dtype_name(dm_dtype t);
bool dm_dtype_is_float(dm_dtype t);

typedef struct {
    const char *name;
    dm_dtype dtype;
    int ndim;
    int64_t shape[DM_MAX_DIMS];
    int64_t numel;
    const void *data; /* inside the mapping; not necessarily aligned */
    size_t nbytes;
    int mapped; /* data lies in a read-only file mapping (dm_st_open), not a caller's buffer */
} dm_st_tensor;

typedef struct dm_safetensors dm_safetensors;

/* Opens and validates a file; every rule broken is reported naming the file and the tensor. */
dm_status dm_st_open(const char *path, dm_safetensors **out, dm_error *err);
/* Same rules on a buffer the caller keeps alive (fuzzing, tests); label names it in errors. */
dm_status dm_st_open_buffer(const void *buf, size_t len, const char *label, dm_safetensors **out,
                            dm_error *err);
void dm_st_close(dm_safetensors *st);

const char *dm_st_path(const dm_safetensors *st);
int dm_st_count(const dm_safetensors *st);
const dm_st_tensor *dm_st_at(const dm_safetensors *st, int i); /* sorted by name */
const dm_st_tensor *dm_st_find(const dm_safetensors *st, const char *name);
/* Value of a __metadata__ key, or NULL. */
const char *dm_st_metadata(const dm_safetensors *st, const char *key);

/* Element conversion, any float dtype -> f32 / any int dtype -> i64 (n elements from offset 0). */
dm_status dm_st_read_f32(const dm_st_tensor *t, float *dst, dm_error *err);
dm_status dm_st_read_i64(const dm_st_tensor *t, int64_t *dst, dm_error *err);
/* Converts a contiguous run of elements (used for row slices of fused tensors). */
void dm_convert_to_f32(dm_dtype dtype, const void *src, size_t n, float *dst);

float dm_f16_to_f32(uint16_t h);
uint16_t dm_f32_to_f16(float f);
float dm_bf16_to_f32(uint16_t h);

/* --- writer: collects tensors (pointers stay owned by the caller until dm_st_write) --- */
typedef struct dm_st_writer dm_st_writer;
dm_st_writer *dm_st_writer_new(void);
/* data holds numel elements of dtype. Names must be unique. */
dm_status dm_st_writer_add(dm_st_writer *w, const char *name, dm_dtype dtype, int ndim,
                           const int64_t *shape, const void *data, dm_error *err);
dm_status dm_st_writer_add_f32(dm_st_writer *w, const char *name, int ndim, const int64_t *shape,
                               const float *data, dm_error *err);
void dm_st_writer_meta(dm_st_writer *w, const char *key, const char *value);
/* Writes to a temporary name beside path, then renames: never a half-written file. */
dm_status dm_st_write(dm_st_writer *w, const char *path, dm_error *err);
void dm_st_writer_free(dm_st_writer *w);

#endif
