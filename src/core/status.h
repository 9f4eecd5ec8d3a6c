/* Errors: every fallible function returns dm_status and fills a dm_error with one line
 * that names the file / tensor / argument and the rule broken (SQLite style: the caller
 * decides what to do with it; the library never prints or exits). */
#ifndef DM_CORE_STATUS_H
#define DM_CORE_STATUS_H

#include "diffumask.h"

/* Sets err->msg from a printf format and returns DM_ERR (or the given code). */
dm_status dm_fail(dm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
dm_status dm_fail_code(dm_error *err, dm_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message: "context: old message". */
dm_status dm_fail_wrap(dm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define DM_TRY(expr)                                                                               \
    do {                                                                                           \
        dm_status dm_try_s_ = (expr);                                                              \
        if (dm_try_s_ != DM_OK) return dm_try_s_;                                                  \
    } while (0)

#endif
