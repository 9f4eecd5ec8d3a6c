/* The test harness itself (tests/check.c): a skip after a failed check exits 1, not 77 (a
 * skip must never turn red into "skipped"); a skip with no failure exits 77 and prints
 * "SKIPPED: reason" (what CI's summary lists); the NaN-aware maxima see a NaN. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Runs scenario k in a child with stdout into out (cap bytes); returns its exit status. */
static int child(int k, char *out, size_t cap) {
    int fd[2];
    if (pipe(fd) != 0) return -2;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        check_passed = check_failed = 0;
        if (k == 0) {
            CHECK(1 == 2); /* a failure first */
            check_skip("scenario 0: nothing here");
        } else {
            CHECK(1 == 1);
            check_skip("scenario 1: nothing here");
        }
        _exit(0); /* check_skip returned: wrong either way */
    }
    close(fd[1]);
    size_t n = 0;
    for (ssize_t r; n + 1 < cap && (r = read(fd[0], out + n, cap - 1 - n)) > 0;) n += (size_t)r;
    out[n] = 0;
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void) {
    char out[4096];
    int rc = child(0, out, sizeof out);
    CHECKF(rc == 1 && !strstr(out, "SKIPPED"), "skip after a failure: exit %d, output '%s'", rc,
           out);
    rc = child(1, out, sizeof out);
    CHECKF(rc == 77 && strstr(out, "SKIPPED: scenario 1: nothing here\n"),
           "skip without failure: exit %d, output '%s'", rc, out);

    CHECK(isnan(check_worst(0, NAN)) && isnan(check_worst(NAN, 1)) && check_worst(1, 2) == 2 &&
          check_worst(2, 1) == 2);
    double w = 0;
    const double errs[] = {1e-3, NAN, 2e-3};
    for (int i = 0; i < 3; i++) w = check_worst(w, errs[i]);
    CHECK(!(w < 1)); /* a NaN among the errors fails a `worst < tol` check */
    float a[3] = {1, NAN, 3}, b[3] = {1, 2, 3};
    CHECK(check_max_abs_diff(a, b, 3) == INFINITY && check_max_abs_diff(b, b, 3) == 0);
    return check_finish();
}
