#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One line, always: a name or value quoted from a hostile file may hold a newline or other
 * control bytes; they become spaces. */
static void one_line(char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = ' ';
}

static void set_msg(dm_error *err, const char *fmt, va_list ap) {
    if (!err) return;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    one_line(err->msg);
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
    /* both parts may be long: keep the prefix whole and cut the old message */
    size_t k = strlen(prefix);
    if (k > sizeof err->msg - 3) k = sizeof err->msg - 3;
    memcpy(err->msg, prefix, k);
    memcpy(err->msg + k, ": ", 2);
    size_t room = sizeof err->msg - k - 3, n = strlen(old);
    if (n > room) n = room;
    memcpy(err->msg + k + 2, old, n);
    err->msg[k + 2 + n] = 0;
    one_line(err->msg);
    return DM_ERR;
}
