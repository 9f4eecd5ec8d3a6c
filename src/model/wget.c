#include "model/wget.h"

#include <stdarg.h>
#include <stdio.h>

#define FORMAT_NAME(buf, fmt)                                                                      \
    char buf[512];                                                                                 \
    va_list ap;                                                                                    \
    va_start(ap, fmt);                                                                             \
    vsnprintf(buf, sizeof buf, fmt, ap);                                                           \
    va_end(ap)

dm_status dm_w_vec(dm_weights *w, const float **out, int64_t n, dm_error *err, const char *fmt,
                   ...) {
    FORMAT_NAME(name, fmt);
    int64_t s[1] = {n};
    return dm_weights_get(w, name, 1, s, out, err);
}

dm_status dm_w_mat(dm_weights *w, dm_w *out, int64_t rows, int64_t cols, dm_error *err,
                   const char *fmt, ...) {
    FORMAT_NAME(name, fmt);
    int64_t s[2] = {rows, cols};
    return dm_weights_get_w(w, name, 2, s, out, err);
}

dm_status dm_w_conv(dm_weights *w, dm_w *out, int64_t o, int64_t i, int64_t k, dm_error *err,
                    const char *fmt, ...) {
    FORMAT_NAME(name, fmt);
    int64_t s[4] = {o, i, k, k};
    return dm_weights_get_w(w, name, 4, s, out, err);
}

int dm_w_has(dm_weights *w, const char *fmt, ...) {
    FORMAT_NAME(name, fmt);
    return dm_weights_has(w, name);
}
