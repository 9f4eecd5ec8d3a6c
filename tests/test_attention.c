/* dm_attention against a naive double-precision softmax(Q Kᵀ / sqrt(d)) V written in plain
 * loops, on the shapes Stable Diffusion uses (cross-attention to 77 tokens, self-attention of
 * 256..1024 tokens, d = 40/64/80/160), lengths that are not multiples of any block, the causal
 * text encoder, widths the SIMD flash path does not take (d % 8 != 0, d = 512), strided
 * tensors, the probability callback, and bit-reproducibility across runs and thread counts. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/rng.h"
#include "ops/ops.h"

/* One problem: token-major q/k/v/out with strides wider than heads·d, so that a kernel
 * reading or writing the wrong column or row shows up. */
typedef struct {
    int Lq, Lk, heads, d, causal;
    int qs, ks, vs, os; /* strides */
    float *q, *k, *v;
} problem;

static problem make(int Lq, int Lk, int heads, int d, int causal, float amp, uint64_t seed) {
    int C = heads * d;
    problem p = {.Lq = Lq,
                 .Lk = Lk,
                 .heads = heads,
                 .d = d,
                 .causal = causal,
                 .qs = C + 3,
                 .ks = C + 5,
                 .vs = C + 1,
                 .os = C + 7};
    dm_rng r;
    dm_rng_seed(&r, seed);
    p.q = malloc(sizeof(float) * (size_t)Lq * p.qs);
    p.k = malloc(sizeof(float) * (size_t)Lk * p.ks);
    p.v = malloc(sizeof(float) * (size_t)Lk * p.vs);
    dm_rng_fill_normal(&r, p.q, (size_t)Lq * p.qs);
    dm_rng_fill_normal(&r, p.k, (size_t)Lk * p.ks);
    dm_rng_fill_normal(&r, p.v, (size_t)Lk * p.vs);
    /* amp sharpens the softmax: scores ~ amp² · N(0, 1), so the running max moves and the
     * small probabilities underflow */
    for (size_t i = 0; i < (size_t)Lq * p.qs; i++) p.q[i] *= amp;
    for (size_t i = 0; i < (size_t)Lk * p.ks; i++) p.k[i] *= amp;
    return p;
}

static void drop(problem *p) {
    free(p->q);
    free(p->k);
    free(p->v);
}

/* probs[h][i][j] (double) and out[i][h·d + c] (stride heads·d) */
static void naive(const problem *p, double *probs, double *out) {
    int d = p->d, Lk = p->Lk;
    double scale = 1.0 / sqrt((double)d), *s = malloc(sizeof(double) * (size_t)Lk);
    for (int h = 0; h < p->heads; h++)
        for (int i = 0; i < p->Lq; i++) {
            int n = p->causal && i + 1 < Lk ? i + 1 : Lk;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int c = 0; c < d; c++)
                    acc += (double)p->q[(size_t)i * p->qs + h * d + c] *
                           p->k[(size_t)j * p->ks + h * d + c];
                s[j] = acc * scale;
                mx = s[j] > mx ? s[j] : mx;
            }
            for (int j = 0; j < n; j++) sum += s[j] = exp(s[j] - mx);
            for (int j = n; j < Lk; j++) s[j] = 0;
            double *pr = probs + ((size_t)h * p->Lq + i) * Lk;
            for (int j = 0; j < Lk; j++) pr[j] = s[j] / sum;
            for (int c = 0; c < d; c++) {
                double acc = 0;
                for (int j = 0; j < n; j++) acc += pr[j] * p->v[(size_t)j * p->vs + h * d + c];
                out[(size_t)i * p->heads * d + h * d + c] = acc;
            }
        }
    free(s);
}

static float *run(const problem *p, dm_probs_fn fn, void *user) {
    float *out = malloc(sizeof(float) * (size_t)p->Lq * p->os);
    float *sc = malloc(sizeof(float) * (dm_attention_scratch(p->Lq, p->Lk, p->d) + 1));
    /* a sentinel in the stride padding: the kernel must write only h·d + c columns */
    for (size_t i = 0; i < (size_t)p->Lq * p->os; i++) out[i] = 12345.0f;
    dm_attention(p->q, p->qs, p->k, p->ks, p->v, p->vs, p->Lq, p->Lk, p->heads, p->d, p->causal,
                 out, p->os, sc, fn, user);
    free(sc);
    return out;
}

typedef struct {
    const problem *p;
    float *probs; /* [heads][Lq][Lk] as the callback saw them */
    int *seen;    /* [heads][Lq] times each row was handed over */
    int bad_bounds;
} capture;

static void capture_fn(void *user, int head, int q0, int q1, int Lk, const float *probs) {
    capture *c = user;
    if (head < 0 || head >= c->p->heads || q0 < 0 || q1 > c->p->Lq || q0 >= q1 || Lk != c->p->Lk) {
        c->bad_bounds++;
        return;
    }
    for (int i = q0; i < q1; i++) {
        c->seen[(size_t)head * c->p->Lq + i]++;
        memcpy(c->probs + ((size_t)head * c->p->Lq + i) * Lk, probs + (size_t)(i - q0) * Lk,
               sizeof(float) * (size_t)Lk);
    }
}

static void check_case(int Lq, int Lk, int heads, int d, int causal, float amp, int callback) {
    problem p = make(Lq, Lk, heads, d, causal, amp, 1000u * Lq + 10u * d + heads);
    int C = heads * d;
    double *rp = malloc(sizeof(double) * (size_t)heads * Lq * Lk);
    double *ro = malloc(sizeof(double) * (size_t)Lq * C);
    naive(&p, rp, ro);

    float *out = run(&p, NULL, NULL);
    double scale = 0, err = 0;
    int pad_ok = 1;
    for (int i = 0; i < Lq; i++) {
        for (int c = 0; c < C; c++) {
            double r = ro[(size_t)i * C + c], e = fabs(out[(size_t)i * p.os + c] - r);
            scale = fabs(r) > scale ? fabs(r) : scale;
            err = e > err || isnan(e) ? e : err;
        }
        for (int c = C; c < p.os; c++) pad_ok &= out[(size_t)i * p.os + c] == 12345.0f;
    }
    CHECKF(err <= 1e-4 * scale, "Lq=%d Lk=%d heads=%d d=%d causal=%d amp=%g: max err %.3g of %.3g",
           Lq, Lk, heads, d, causal, amp, err, scale);
    CHECKF(pad_ok, "Lq=%d Lk=%d d=%d: wrote into the stride padding", Lq, Lk, d);

    /* same inputs, same threads: same bytes */
    float *again = run(&p, NULL, NULL);
    CHECKF(memcmp(out, again, sizeof(float) * (size_t)Lq * p.os) == 0,
           "Lq=%d Lk=%d d=%d: two runs differ", Lq, Lk, d);
    free(again);

    if (callback) {
        capture cap = {&p, calloc((size_t)heads * Lq * Lk, sizeof(float)),
                       calloc((size_t)heads * Lq, sizeof(int)), 0};
        float *with = run(&p, capture_fn, &cap);
        CHECKF(memcmp(out, with, sizeof(float) * (size_t)Lq * p.os) == 0,
               "Lq=%d Lk=%d d=%d causal=%d: output changes with a probability callback", Lq, Lk, d,
               causal);
        CHECK(cap.bad_bounds == 0);
        int once = 1;
        double sum_err = 0, perr = 0;
        for (size_t r = 0; r < (size_t)heads * Lq; r++) {
            once &= cap.seen[r] == 1;
            double sum = 0;
            for (int j = 0; j < Lk; j++) {
                double e = fabs(cap.probs[r * Lk + j] - rp[r * Lk + j]);
                perr = e > perr || isnan(e) ? e : perr;
                sum += cap.probs[r * Lk + j];
            }
            sum_err = fabs(sum - 1) > sum_err ? fabs(sum - 1) : sum_err;
        }
        CHECKF(once, "Lq=%d Lk=%d: every (head, row) handed over exactly once", Lq, Lk);
        CHECKF(sum_err < 1e-5, "Lq=%d Lk=%d d=%d: a probability row sums to 1 ± %.3g", Lq, Lk, d,
               sum_err);
        CHECKF(perr < 1e-5, "Lq=%d Lk=%d d=%d causal=%d: probabilities off by %.3g", Lq, Lk, d,
               causal, perr);
        free(with);
        free(cap.probs);
        free(cap.seen);
    }
    free(out);
    free(rp);
    free(ro);
    drop(&p);
}

/* The flash kernels split work into (head, query block) tasks computed in a fixed order, so
 * the thread count must not change a bit of a non-causal, callback-free result. */
static void check_thread_invariance(int Lq, int Lk, int heads, int d) {
    problem p = make(Lq, Lk, heads, d, 0, 1.0f, 7);
    int T = omp_get_max_threads();
    dm_ops_set_threads(1);
    float *one = run(&p, NULL, NULL);
    dm_ops_set_threads(T > 1 ? T : 2);
    float *many = run(&p, NULL, NULL);
    dm_ops_set_threads(T);
    CHECKF(memcmp(one, many, sizeof(float) * (size_t)Lq * p.os) == 0,
           "Lq=%d Lk=%d d=%d: 1 thread and %d threads differ", Lq, Lk, d, T > 1 ? T : 2);
    free(one);
    free(many);
    drop(&p);
}

int main(void) {
    dm_ops_set_threads(0); /* OpenMP threads, single-threaded OpenBLAS: the engine's setting */
    /* cross-attention: 256 latent tokens to 77 text tokens, every UNet head width */
    int widths[] = {40, 64, 80, 160};
    for (int i = 0; i < 4; i++) check_case(256, 77, 8, widths[i], 0, 1.0f, i == 0);
    /* self-attention with lengths that fill no block evenly, 1..8 heads */
    check_case(300, 300, 1, 40, 0, 1.0f, 1);
    check_case(300, 300, 3, 40, 0, 2.0f, 0);
    check_case(1024, 1024, 2, 80, 0, 1.0f, 0);
    check_case(100, 1000, 5, 64, 0, 1.5f, 0);
    check_case(1, 77, 8, 40, 0, 1.0f, 1);
    check_case(33, 65, 8, 8, 0, 1.0f, 0);
    check_case(70, 130, 2, 160, 0, 1.0f, 0);
    /* sharp softmax: scores of tens of units, most probabilities underflow */
    check_case(129, 257, 2, 40, 0, 3.0f, 1);
    /* causal text encoder (CLIP: 77 tokens, d = 64), and its callback */
    check_case(77, 77, 8, 64, 1, 1.0f, 1);
    /* widths the SIMD path leaves to the cblas kernels: d % 8 != 0, and the VAE's d = 512 */
    check_case(100, 90, 2, 36, 0, 1.0f, 0);
    check_case(64, 64, 1, 512, 0, 1.0f, 1);

    check_thread_invariance(300, 300, 3, 40);
    check_thread_invariance(256, 77, 8, 80);
    return check_finish();
}
