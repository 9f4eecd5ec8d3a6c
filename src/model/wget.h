/* Typed weight lookups with printf-style names, for the network loaders. */
#ifndef DM_MODEL_WGET_H
#define DM_MODEL_WGET_H

#include "model/weights.h"

/* (n) */
dm_status dm_w_vec(dm_weights *w, const float **out, int64_t n, dm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* (rows, cols) — also accepts a 1x1 conv kernel (rows, cols, 1, 1). Matrices and conv kernels
 * come as dm_w: kept f16/bf16 when the store keeps halves (dm_weights_set_keep_half). */
dm_status dm_w_mat(dm_weights *w, dm_w *out, int64_t rows, int64_t cols, dm_error *err,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* (out, in, k, k) */
dm_status dm_w_conv(dm_weights *w, dm_w *out, int64_t o, int64_t i, int64_t k, dm_error *err,
                    const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* 1 if the formatted name exists */
int dm_w_has(dm_weights *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
