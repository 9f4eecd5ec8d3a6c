/* The weight store: one internal naming (diffusers / transformers module names with a
 * component prefix: "text.", "unet.", "vae.") over one or more mmapped safetensors files.
 * A name may point at a row slice of a source tensor (OpenCLIP's fused q/k/v). Weights are
 * handed out as f32: f32 data straight from the mapping, f16/bf16 converted once. */
#ifndef DM_MODEL_WEIGHTS_H
#define DM_MODEL_WEIGHTS_H

#include <stdint.h>

#include "io/safetensors.h"
#include "ops/ops.h"

typedef struct dm_weights dm_weights;

dm_weights *dm_weights_new(void);
void dm_weights_free(dm_weights *w);
/* Takes ownership of st (closed by dm_weights_free). */
void dm_weights_own_file(dm_weights *w, dm_safetensors *st);
/* Registers src (or rows [row0, row0+rows) of its first dimension; rows = -1 for all) as name. */
dm_status dm_weights_add(dm_weights *w, const char *file, const char *name, const dm_st_tensor *src,
                         int64_t row0, int64_t rows, dm_error *err);
/* Registers the 2-D tensor src as name, served transposed (shape [cols, rows]). */
dm_status dm_weights_add_transposed(dm_weights *w, const char *file, const char *name,
                                    const dm_st_tensor *src, dm_error *err);
/* Registers every tensor of st as prefix + its name. */
dm_status dm_weights_add_all(dm_weights *w, const dm_safetensors *st, const char *prefix,
                             dm_error *err);
/* Call once after adding: sorts, checks duplicates. */
dm_status dm_weights_seal(dm_weights *w, dm_error *err);

int dm_weights_has(const dm_weights *w, const char *name);
/* Shape of a weight (after slicing); NULL if absent. */
const int64_t *dm_weights_shape(const dm_weights *w, const char *name, int *ndim);
/* f32 data of a weight whose shape must equal shape[0..ndim) (trailing 1-dims ignored, so a
 * 1x1 conv kernel serves as a matrix). Error names the weight, the file and both shapes. */
dm_status dm_weights_get(dm_weights *w, const char *name, int ndim, const int64_t *shape,
                         const float **out, dm_error *err);
/* With keep_half set (the default; 0 = f32 copies, the old mode), dm_weights_get_w leaves f16/bf16
 * weights as the file's bits in the mapping instead of converting them (--f16-weights). */
void dm_weights_set_keep_half(dm_weights *w, int keep_half);
/* Hands back the file pages of the weights whose names start with prefix ("text."), for
 * networks that run rarely: see dm_pages_drop. */
void dm_weights_drop_pages(const dm_weights *w, const char *prefix);
int dm_weights_keep_half(const dm_weights *w);
/* Like dm_weights_get, for a weight matrix / conv kernel: out->f32 as dm_weights_get gives it,
 * or (keep_half, an f16/bf16 source, 2-byte aligned) out->half pointing into the mapping. */
dm_status dm_weights_get_w(dm_weights *w, const char *name, int ndim, const int64_t *shape,
                           dm_w *out, dm_error *err);
/* With d set (bf16 runs; before the networks load), dm_weights_get_w hands out matrices and
 * conv kernels with a dm_wprep of d (ops/dnnl_ops.h): the kernels then run them in bf16. */
typedef struct dm_dnnl dm_dnnl;
void dm_weights_set_dnnl(dm_weights *w, dm_dnnl *d);
/* A private f32 copy of a weight (made once, from whatever dtype the file stores), for changing
 * it in place before the networks load it (LoRA merge). Later dm_weights_get / _get_w calls hand
 * out this copy, never the file's bits. *shape / *ndim describe it. */
dm_status dm_weights_get_mutable(dm_weights *w, const char *name, float **out, int *ndim,
                                 const int64_t **shape, dm_error *err);
/* With lazy set (bf16 runs, before any LoRA is merged), LoRAs are not merged into f32 copies:
 * dm_weights_add_delta records W += coef · up · down, and dm_weights_get_w hands the weight out
 * as stored with a dm_w_patch that applies it wherever its f32 values are made: once for a
 * weight oneDNN prepares in bf16; on every call where the weight runs in fp32 (the text
 * encoders, once per distinct prompt; a shape oneDNN refuses). No copy of the weight is kept,
 * unless dm_weights_get asks for a plain f32 pointer, which merges them into one. */
void dm_weights_set_lazy_deltas(dm_weights *w, int lazy);
/* Lazy mode, and name is a weight that can take a recorded delta. */
int dm_weights_can_delta(const dm_weights *w, const char *name);
/* Records W[out, K] += coef · up[out, r] · down[r, K] for a 2-D / 4-D weight (not a transposed
 * one); takes up and down (malloc'd), freeing them on failure too. */
dm_status dm_weights_add_delta(dm_weights *w, const char *name, float *up, float *down, int r,
                               float coef, dm_error *err);
/* Most elements of one weight handed out as half so far (conversion scratch to reserve). */
size_t dm_weights_half_max(const dm_weights *w);
/* Bytes of f32 copies made so far (f16/bf16 conversion). */
size_t dm_weights_converted_bytes(const dm_weights *w);
/* Number of entries and access by index (sorted by name). */
int dm_weights_count(const dm_weights *w);
const char *dm_weights_name(const dm_weights *w, int i);

/* "[d0, d1, ...]" of a shape, cut to fit n bytes (for error messages). */
void dm_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);

#endif
