#include "check.h"

#include <math.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int check_passed, check_failed;

void check_skip(const char *why) {
    printf("SKIPPED: %s\n", why);
    exit(77);
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
