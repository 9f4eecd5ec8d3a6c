#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

dm_status dm_read_file(const char *path, char **data, size_t *len, dm_error *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return dm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        return dm_fail(err, "%s: cannot seek: %s", path, strerror(errno));
    }
    long n = ftell(fp);
    if (n < 0) {
        fclose(fp);
        return dm_fail(err, "%s: cannot tell size: %s", path, strerror(errno));
    }
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    if (!buf) {
        fclose(fp);
        return dm_fail(err, "%s: out of memory reading %ld bytes", path, n);
    }
    size_t got = fread(buf, 1, (size_t)n, fp);
    fclose(fp);
    if (got != (size_t)n) {
        free(buf);
        return dm_fail(err, "%s: short read (%zu of %ld bytes)", path, got, n);
    }
    buf[n] = 0;
    *data = buf;
    if (len) *len = (size_t)n;
    return DM_OK;
}

bool dm_file_exists(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

bool dm_dir_exists(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
}

dm_status dm_mkdirs(const char *path, dm_error *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return dm_fail(err, "%s: bad directory name", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return dm_fail(err, "%s: cannot create directory: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    if (!dm_dir_exists(path)) return dm_fail(err, "%s: exists and is not a directory", path);
    return DM_OK;
}

dm_status dm_atomic_open(dm_atomic_file *af, const char *path, dm_error *err) {
    if (strlen(path) >= sizeof af->path) return dm_fail(err, "%s: path too long", path);
    strcpy(af->path, path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp-%ld", path, (long)getpid());
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp) return dm_fail(err, "%s: cannot create: %s", af->tmp, strerror(errno));
    return DM_OK;
}

dm_status dm_atomic_commit(dm_atomic_file *af, dm_error *err) {
    int bad = ferror(af->fp);
    if (fflush(af->fp) != 0) bad = 1;
    int e = errno;
    if (!bad && fsync(fileno(af->fp)) != 0) bad = 1, e = errno;
    if (fclose(af->fp) != 0 && !bad) bad = 1, e = errno;
    af->fp = NULL;
    if (bad) {
        unlink(af->tmp);
        return dm_fail(err, "%s: write failed: %s", af->path, strerror(e ? e : EIO));
    }
    if (rename(af->tmp, af->path) != 0) {
        e = errno;
        unlink(af->tmp);
        return dm_fail(err, "%s: cannot rename into place: %s", af->path, strerror(e));
    }
    return DM_OK;
}

void dm_atomic_abort(dm_atomic_file *af) {
    if (af->fp) fclose(af->fp);
    af->fp = NULL;
    unlink(af->tmp);
}

dm_status dm_write_file_atomic(const char *path, const void *data, size_t len, dm_error *err) {
    dm_atomic_file af;
    DM_TRY(dm_atomic_open(&af, path, err));
    if (len && fwrite(data, 1, len, af.fp) != len) {
        int e = errno;
        dm_atomic_abort(&af);
        return dm_fail(err, "%s: write failed: %s", path, strerror(e));
    }
    return dm_atomic_commit(&af, err);
}

dm_status dm_link_or_copy(const char *src, const char *dst, dm_error *err) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", dst, (long)getpid());
    unlink(tmp);
    if (link(src, tmp) == 0) {
        if (rename(tmp, dst) == 0) return DM_OK;
        int e = errno;
        unlink(tmp);
        return dm_fail(err, "%s: cannot rename into place: %s", dst, strerror(e));
    }
    char *data;
    size_t len;
    DM_TRY(dm_read_file(src, &data, &len, err));
    dm_status st = dm_write_file_atomic(dst, data, len, err);
    free(data);
    return st;
}
