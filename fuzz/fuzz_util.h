/* Shared by the harnesses that feed loaders which take a path: one scratch folder per process,
 * files written there with the fuzz input. */
#ifndef DM_FUZZ_UTIL_H
#define DM_FUZZ_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir_[512];

/* Removes the scratch folder and its files at exit. */
static inline void fuzz_scratch_remove(void) {
    DIR *d = opendir(fuzz_dir_);
    if (!d) return;
    char path[1024];
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", fuzz_dir_, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(fuzz_dir_);
}

/* A fresh folder for this process, in memory where it can (/dev/shm: a file per input on a
 * disk folder is 20x slower), else under $TMPDIR or /tmp; aborts when it cannot make one. */
static inline const char *fuzz_scratch_dir(void) {
    if (!fuzz_dir_[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "/dev/shm/dm-fuzz-XXXXXX");
        if (!mkdtemp(fuzz_dir_)) {
            snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/dm-fuzz-XXXXXX", t && *t ? t : "/tmp");
            if (!mkdtemp(fuzz_dir_)) abort();
        }
        atexit(fuzz_scratch_remove);
    }
    return fuzz_dir_;
}

/* Writes n bytes to dir/name and returns the path (a static buffer). */
static inline const char *fuzz_write(const char *name, const void *data, size_t n) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", fuzz_scratch_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(data, 1, n, f) != n) abort();
    fclose(f);
    return path;
}

/* fuzz_write of a string. */
static inline const char *fuzz_write_str(const char *name, const char *text) {
    return fuzz_write(name, text, strlen(text));
}

#endif
