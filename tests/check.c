#include "check.h"

#include "io/safetensors.h"

#include <math.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int check_passed, check_failed;

void check_skip(const char *why) {
    if (check_failed) {
        /* a skip after failures would report the failures as "skipped" */
        fprintf(stderr, "not skipping (%s): %d check(s) already failed\n", why, check_failed);
        printf("%d passed, %d failed\n", check_passed, check_failed);
        exit(1);
    }
    printf("SKIPPED: %s\n", why);
    fflush(stdout);
    exit(77);
}

void check_skip_part(const char *why) {
    printf("SKIPPED PART: %s\n", why);
    fflush(stdout);
}

const char *check_shared_dir(void) {
    const char *d = getenv("DM_SHARED_DIR");
    struct stat s;
    if (!d || stat(d, &s) != 0 || !S_ISDIR(s.st_mode)) check_skip("../shared not found");
    return d;
}

const char *check_shared(const char *rel) {
    static char buf[32][4096];
    static int k;
    char *b = buf[k++ % 32];
    snprintf(b, 4096, "%s/%s", check_shared_dir(), rel);
    return b;
}

const char *check_tmpdir(void) {
    static char buf[256];
    const char *base = getenv("TMPDIR");
    snprintf(buf, sizeof buf, "%s/dmtest-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(1);
    }
    return buf;
}

int check_quick(void) {
    const char *q = getenv("DM_TESTS_QUICK");
    int on = q && *q && strcmp(q, "0");
    if (on) printf("DM_TESTS_QUICK=1: the first case only (what the emulated CI runs)\n");
    return on;
}

int check_finish(void) {
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

double check_max_abs_diff(const float *a, const float *b, long n) {
    double m = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

const char *check_tiny_yaml(const char *model_path) {
    size_t n = strlen(model_path), k = strlen("-f16.safetensors");
    if (n < k || strcmp(model_path + n - k, "-f16.safetensors")) return NULL;
    return check_shared("golden/tiny-sd1-original.yaml");
}

int check_run_cli(const char *fmt, ...) {
    const char *cli = getenv("DM_CLI");
    if (!cli) check_skip("DM_CLI not set");
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=PASSIVE %s ", cli);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Every tensor of `golden` named in `names` (NULL-terminated; "*" = all but the skipped ones)
 * equals the one in `mine` within tol. */
double check_compare_st(const char *mine_path, const char *golden_path, const char *const *names,
                        double tol) {
    dm_error err;
    dm_safetensors *a, *b;
    if (dm_st_open(mine_path, &a, &err)) {
        CHECKF(0, "%s", err.msg);
        return -1;
    }
    CHECK(dm_st_open(golden_path, &b, &err) == DM_OK);
    double worst = 0;
    int compared = 0;
    for (const char *const *n = names; *n; n++) {
        for (int i = 0; i < dm_st_count(b); i++) {
            const dm_st_tensor *g = dm_st_at(b, i);
            size_t k = strlen(*n);
            int match = (*n)[k - 1] == '*' ? !strncmp(g->name, *n, k - 1) : !strcmp(g->name, *n);
            if (!match) continue;
            const dm_st_tensor *m = dm_st_find(a, g->name);
            CHECKF(m && m->numel == g->numel, "%s: missing or wrong size: %s", mine_path, g->name);
            if (!m || m->numel != g->numel) continue;
            CHECKF(m->ndim == g->ndim, "%s: %s rank %d vs golden %d", mine_path, g->name, m->ndim,
                   g->ndim);
            float *x = malloc(sizeof(float) * m->numel), *y = malloc(sizeof(float) * g->numel);
            if (dm_dtype_is_float(g->dtype)) {
                dm_st_read_f32(m, x, &err);
                dm_st_read_f32(g, y, &err);
            } else {
                int64_t *u = malloc(8 * m->numel), *v = malloc(8 * g->numel);
                CHECKF(dm_st_read_i64(m, u, &err) == DM_OK, "%s: %s not integer", mine_path,
                       g->name);
                dm_st_read_i64(g, v, &err);
                for (long j = 0; j < (long)g->numel; j++) x[j] = (float)u[j], y[j] = (float)v[j];
                free(u), free(v);
            }
            double e = check_max_abs_diff(x, y, (long)g->numel);
            CHECKF(e <= tol, "%s: %s max err %g > %g", mine_path, g->name, e, tol);
            worst = check_worst(worst, e);
            compared++;
            free(x), free(y);
        }
    }
    printf("%s vs %s: %d tensors, max abs error %.3g\n", mine_path, golden_path, compared, worst);
    CHECK(compared > 0);
    dm_st_close(a), dm_st_close(b);
    return worst;
}

float *check_read_f32(const dm_safetensors *st, const char *name, long *numel) {
    dm_error err = {0};
    const dm_st_tensor *t = dm_st_find(st, name);
    if (!t) return NULL;
    float *v = malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
    if (!v) return NULL;
    if (dm_st_read_f32(t, v, &err) != DM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        free(v);
        return NULL;
    }
    if (numel) *numel = (long)t->numel;
    return v;
}
