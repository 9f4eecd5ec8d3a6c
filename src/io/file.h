/* Whole-file reads and atomic writes (temporary name + fsync + rename). */
#ifndef DM_IO_FILE_H
#define DM_IO_FILE_H

#include <stdbool.h>
#include <stdio.h>

#include "core/status.h"

/* Reads a whole file into a NUL-terminated malloc'd buffer. */
dm_status dm_read_file(const char *path, char **data, size_t *len, dm_error *err);
bool dm_file_exists(const char *path);
bool dm_dir_exists(const char *path);
/* mkdir -p */
dm_status dm_mkdirs(const char *path, dm_error *err);

/* Atomic writer: writes go to "<path>.tmp-<pid>", commit fsyncs and renames over path. */
typedef struct {
    FILE *fp;
    char path[4096];
    char tmp[4200];
} dm_atomic_file;

dm_status dm_atomic_open(dm_atomic_file *af, const char *path, dm_error *err);
dm_status dm_atomic_commit(dm_atomic_file *af, dm_error *err);
void dm_atomic_abort(dm_atomic_file *af);
/* Makes dst a hard link of src (no copy of the bytes) when both are on one file system, else a
 * copy; either way dst appears atomically under its final name. */
dm_status dm_link_or_copy(const char *src, const char *dst, dm_error *err);
/* One-shot: writes len bytes atomically. */
dm_status dm_write_file_atomic(const char *path, const void *data, size_t len, dm_error *err);

#endif
