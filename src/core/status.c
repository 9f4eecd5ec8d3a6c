#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void set_msg(dm_error *err, const char *fmt, va_list ap) {
    if (!err) return;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

dm_status dm_fail(dm_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_msg(err, fmt, ap);
    va_end(ap);
    return DM_ERR;
}

dm_status dm_fail_code(dm_error *err, dm_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_msg(err, fmt, ap);
    va_end(ap);
    return code;
}

dm_status dm_fail_wrap(dm_error *err, const char *fmt, ...) {
    if (!err) return DM_ERR;
    char prefix[512], old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return DM_ERR;
}
