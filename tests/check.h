/* A tiny test harness: CHECK records a failure and goes on; each test binary ends with
 * check_finish(), which prints "N passed, N failed" and returns the exit code for ctest.
 * A test that needs ../shared and cannot find it calls check_skip() (exit 77 = skipped), which
 * prints "SKIPPED: reason" for CI's summary (.ci/skips) and never hides earlier failures. */
#ifndef DM_TESTS_CHECK_H
#define DM_TESTS_CHECK_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

extern int check_passed, check_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond)                                                                                  \
            check_passed++;                                                                        \
        else {                                                                                     \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECKF(cond, ...)                                                                          \
    do {                                                                                           \
        if (cond)                                                                                  \
            check_passed++;                                                                        \
        else {                                                                                     \
            check_failed++;                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* Path of ../shared (from DM_SHARED_DIR), or skips the whole test when it is missing. */
const char *check_shared_dir(void);
/* Joins the shared dir and a relative path into a static buffer (one of 32 rotating). */
const char *check_shared(const char *rel);
/* Creates a fresh temporary directory for this test. */
const char *check_tmpdir(void);
/* Exits 77 (skipped) with "SKIPPED: why", unless a check has already failed: then it prints
 * the failures' count and exits 1, so a skip can never turn red into "skipped". */
void check_skip(const char *why);
/* One part of a test could not run here (the rest did): prints "SKIPPED PART: why", which
 * CI's summary lists by name like a whole skipped test. */
void check_skip_part(const char *why);
int check_finish(void);
/* 1 under DM_TESTS_QUICK=1: a golden test then runs its first case only (the tiny SD 1 folder),
 * as CI runs it under CPU emulation (qemu), where a whole suite would take an hour; it says so. */
int check_quick(void);
/* The LDM .yaml the f16 copy of the tiny golden model needs (its name has no .yaml twin:
 * heads cannot be read from shapes), or NULL for other paths. */
const char *check_tiny_yaml(const char *model_path);
/* Runs "$DM_CLI <formatted arguments>" through the shell (OMP_WAIT_POLICY=PASSIVE); returns its
 * exit status (-1 if it did not exit normally). Skips the test when DM_CLI is not set. */
int check_run_cli(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A golden tensor converted to float32 (malloc'd; the caller frees it), its element count in
 * *numel (may be NULL); NULL when the file has no such tensor or it cannot be read. */
typedef struct dm_safetensors dm_safetensors;
float *check_read_f32(const dm_safetensors *st, const char *name, long *numel);
/* The running maximum of errors, NaN-aware: fmax(w, NaN) is w, so a NaN output would pass
 * a `worst < tol` check; here a NaN makes the maximum NaN for good (and `NaN < tol` fails). */
static inline double check_worst(double worst, double e) {
    return isnan(worst) || isnan(e) ? NAN : e > worst ? e : worst;
}
/* Max |a-b| over n floats (infinite when any difference is NaN). */
double check_max_abs_diff(const float *a, const float *b, long n);

/* Every tensor of the safetensors file `golden_path` named in `names` (NULL-terminated; a name
 * ending in '*' is a prefix) equals the one of the same name in `mine_path` within tol (CHECKs);
 * returns the largest difference seen. */
double check_compare_st(const char *mine_path, const char *golden_path, const char *const *names,
                        double tol);

#endif
