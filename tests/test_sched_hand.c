/* Samplers without goldens (Euler a, PNDM, DDIM eta > 0), v-prediction, the spacings and the
 * config errors, against expectations derived by hand from the published formulas. The
 * references below are written independently of src/sched (double precision, often a
 * different but equivalent form of the formula), never by calling the implementation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sched/sampler.h"

#define T 1000

/* alphas_cumprod in double: betas = linspace(sqrt(b0), sqrt(b1), T)^2 (scaled_linear) or
 * linspace(b0, b1, T) (linear); alphas_cumprod = prod_{s<=t} (1 - beta_s). */
static void ref_alphas(int scaled, double b0, double b1, double *ac) {
    double a = scaled ? sqrt(b0) : b0, b = scaled ? sqrt(b1) : b1, p = 1.0;
    for (int t = 0; t < T; t++) {
        double v = a + (b - a) * t / (T - 1);
        p *= 1.0 - (scaled ? v * v : v);
        ac[t] = p;
    }
}

static dm_sampler *make(const dm_sched_config *c, dm_sampler_kind k, int steps, float eta) {
    dm_sampler *s = NULL;
    dm_error err = {0};
    CHECKF(dm_sampler_create(c, k, steps, eta, &s, &err) == DM_OK, "%s", err.msg);
    return s;
}

static void check_timesteps(const dm_sched_config *c, dm_sampler_kind k, int steps,
                            const double *want, int nwant, const char *what) {
    dm_sampler *s = make(c, k, steps, 0.0f);
    if (!s) return;
    CHECKF(dm_sampler_num_calls(s) == nwant, "%s: %d calls, want %d", what, dm_sampler_num_calls(s),
           nwant);
    for (int i = 0; i < nwant && i < dm_sampler_num_calls(s); i++)
        CHECKF(dm_sampler_timestep(s, i) == (float)want[i], "%s: t[%d] = %g, want %g", what, i,
               dm_sampler_timestep(s, i), want[i]);
    dm_sampler_free(s);
}

/* ---- spacings: values worked out by hand from diffusers' set_timesteps formulas ---- */
static void test_spacings(void) {
    dm_sched_config c;
    dm_sched_config_default(&c); /* leading, steps_offset 1 */
    /* DDIM leading, 10 steps: (arange(10) * (1000 // 10))[::-1] + 1 */
    double lead[10] = {901, 801, 701, 601, 501, 401, 301, 201, 101, 1};
    check_timesteps(&c, DM_SAMPLER_DDIM, 10, lead, 10, "ddim leading");
    /* PNDM skip_prk: the second timestep repeated, 11 calls */
    double plms[11] = {901, 801, 801, 701, 601, 501, 401, 301, 201, 101, 1};
    check_timesteps(&c, DM_SAMPLER_PNDM, 10, plms, 11, "pndm leading");
    /* DPM++ leading: step 1000 // 11 = 90 => k * 90 + 1 for k = 10 .. 1 */
    double dpm[10] = {901, 811, 721, 631, 541, 451, 361, 271, 181, 91};
    check_timesteps(&c, DM_SAMPLER_DPMPP_2M, 10, dpm, 10, "dpm leading");

    strcpy(c.timestep_spacing, "trailing");
    /* trailing: round(arange(1000, 0, -100)) - 1 */
    double trail[10] = {999, 899, 799, 699, 599, 499, 399, 299, 199, 99};
    check_timesteps(&c, DM_SAMPLER_DDIM, 10, trail, 10, "ddim trailing");
    check_timesteps(&c, DM_SAMPLER_EULER, 10, trail, 10, "euler trailing");
    check_timesteps(&c, DM_SAMPLER_DPMPP_2M, 10, trail, 10, "dpm trailing");
    /* 16 steps: ratio 62.5 puts every other value on .5; numpy rounds half to even:
     * 1000, 937.5->938, 875, 812.5->812, 750, 687.5->688, ... then - 1 */
    double trail16[16] = {999, 937, 874, 811, 749, 687, 624, 561,
                          499, 437, 374, 311, 249, 187, 124, 61};
    check_timesteps(&c, DM_SAMPLER_DDIM, 16, trail16, 16, "ddim trailing 16");

    strcpy(c.timestep_spacing, "linspace");
    /* linspace: round(linspace(0, 999, 10))[::-1], 999 / 9 = 111 exactly */
    double lin[10] = {999, 888, 777, 666, 555, 444, 333, 222, 111, 0};
    check_timesteps(&c, DM_SAMPLER_DDIM, 10, lin, 10, "ddim linspace");
    check_timesteps(&c, DM_SAMPLER_EULER, 10, lin, 10, "euler linspace");
    /* 7 steps: 999 / 6 = 166.5: DDIM rounds half to even (166.5 -> 166, 499.5 -> 500,
     * 832.5 -> 832); Euler keeps the float values */
    double lin7[7] = {999, 832, 666, 500, 333, 166, 0};
    double lin7f[7] = {999, 832.5, 666, 499.5, 333, 166.5, 0};
    check_timesteps(&c, DM_SAMPLER_DDIM, 7, lin7, 7, "ddim linspace 7");
    check_timesteps(&c, DM_SAMPLER_EULER_A, 7, lin7f, 7, "euler_a linspace 7");
    /* DPM++ linspace: round(linspace(0, 999, 11))[::-1][:-1] (k * 99.9, 499.5 -> 500) */
    double dlin[10] = {999, 899, 799, 699, 599, 500, 400, 300, 200, 100};
    check_timesteps(&c, DM_SAMPLER_DPMPP_2M, 10, dlin, 10, "dpm linspace");

    /* A config without timestep_spacing takes each class's default (from_config semantics):
     * DDIM / PNDM leading, Euler / DPM++ linspace. */
    dm_sched_config nc;
    dm_error err = {0};
    CHECK(dm_sched_config_parse("{\"beta_schedule\":\"scaled_linear\",\"beta_start\":0.00085,"
                                "\"beta_end\":0.012,\"steps_offset\":1}",
                                "sd15-like", &nc, &err) == DM_OK);
    check_timesteps(&nc, DM_SAMPLER_DDIM, 10, lead, 10, "ddim class default");
    check_timesteps(&nc, DM_SAMPLER_EULER, 10, lin, 10, "euler class default");

    /* Euler init_noise_sigma: sqrt(sigma_max^2 + 1) for leading, sigma_max for linspace /
     * trailing, sigma(t) = sqrt((1 - a_t) / a_t). */
    double ac[T];
    ref_alphas(1, 0.00085, 0.012, ac);
    dm_sampler *s = make(&c, DM_SAMPLER_EULER, 10, 0.0f); /* linspace: first t = 999 */
    double smax = sqrt((1 - ac[999]) / ac[999]);
    if (s)
        CHECKF(fabs(dm_sampler_init_noise_sigma(s) - smax) < 1e-4 * smax, "%g vs %g",
               dm_sampler_init_noise_sigma(s), smax);
    dm_sampler_free(s);
    dm_sched_config_default(&c);
    s = make(&c, DM_SAMPLER_EULER, 10, 0.0f); /* leading: first t = 901 */
    double s901 = sqrt((1 - ac[901]) / ac[901]);
    if (s) {
        CHECKF(fabs(dm_sampler_init_noise_sigma(s) - sqrt(s901 * s901 + 1)) < 1e-4, "%g",
               dm_sampler_init_noise_sigma(s));
        /* scale_model_input: x / sqrt(sigma^2 + 1) */
        float x = 2.0f, y;
        dm_sampler_scale_model_input(s, 0, &x, &y, 1);
        CHECK(fabs(y - 2.0 / sqrt(s901 * s901 + 1)) < 1e-6);
        /* the sampler's alphas_cumprod agrees with the double-precision product */
        double md = 0;
        for (int t = 0; t < T; t++)
            md = check_worst(md, fabs(dm_sampler_alphas_cumprod(s)[t] - ac[t]));
        CHECKF(md < 1e-6, "alphas_cumprod vs double reference: %g", md);
    }
    dm_sampler_free(s);
    /* linear betas 0.0001 -> 0.02 (diffusers' class default) */
    CHECK(dm_sched_config_parse("{}", "empty", &nc, &err) == DM_OK);
    s = make(&nc, DM_SAMPLER_DDIM, 10, 0.0f);
    ref_alphas(0, 0.0001, 0.02, ac);
    if (s) {
        double md = 0;
        for (int t = 0; t < T; t++)
            md = check_worst(md, fabs(dm_sampler_alphas_cumprod(s)[t] - ac[t]));
        CHECKF(md < 1e-6, "linear alphas_cumprod vs double reference: %g", md);
        CHECK(dm_sampler_timestep(s, 0) == 900.0f); /* leading, steps_offset 0 */
    }
    dm_sampler_free(s);
}

/* ---- v-prediction: build v from a known (x0, eps) pair and check every sampler recovers x0.
 * DDPM: x_t = sqrt(a) x0 + sqrt(1-a) eps, v = sqrt(a) eps - sqrt(1-a) x0, so by hand
 * x0 = sqrt(a) x_t - sqrt(1-a) v. Euler works on x_t / sqrt(a) = x0 + sigma eps. ---- */
static void test_vpred(void) {
    dm_sched_config c;
    dm_sched_config_default(&c);
    c.prediction_v = 1;
    double ac[T];
    ref_alphas(1, 0.00085, 0.012, ac);
    const float x0[4] = {0.5f, -1.25f, 2.0f, 0.0f}, eps[4] = {1.0f, 0.3f, -0.7f, 2.5f};
    dm_sampler_kind kinds[3] = {DM_SAMPLER_DDIM, DM_SAMPLER_EULER, DM_SAMPLER_DPMPP_2M};
    for (int k = 0; k < 3; k++) {
        dm_sampler *s = make(&c, kinds[k], 10, 0.0f);
        if (!s) continue;
        int t = (int)dm_sampler_timestep(s, 0);
        double a = ac[t];
        float x[4], v[4], got[4];
        for (int e = 0; e < 4; e++) {
            double xt = sqrt(a) * x0[e] + sqrt(1 - a) * eps[e];
            v[e] = (float)(sqrt(a) * eps[e] - sqrt(1 - a) * x0[e]);
            x[e] = (float)(kinds[k] == DM_SAMPLER_EULER ? xt / sqrt(a) : xt);
        }
        float xin[4];
        memcpy(xin, x, sizeof x);
        dm_error err = {0};
        CHECK(dm_sampler_step(s, 0, v, x, 4, NULL, got, &err) == DM_OK);
        for (int e = 0; e < 4; e++)
            CHECKF(fabs(got[e] - x0[e]) < 2e-5, "%s v-pred x0[%d] %g vs %g",
                   dm_sampler_kind_name(kinds[k]), e, got[e], x0[e]);
        if (kinds[k] == DM_SAMPLER_DDIM) {
            /* prev = sqrt(a_prev) x0 + sqrt(1 - a_prev) eps, with eps = sqrt(a) v + sqrt(1-a) x */
            double ap = ac[t - 100];
            for (int e = 0; e < 4; e++) {
                double x0h = sqrt(a) * xin[e] - sqrt(1 - a) * v[e];
                double eh = sqrt(a) * v[e] + sqrt(1 - a) * xin[e];
                CHECK(fabs(x[e] - (sqrt(ap) * x0h + sqrt(1 - ap) * eh)) < 2e-5);
            }
        }
        dm_sampler_free(s);
    }
    /* PNDM with v: after the first call x_{t-r} = DDIM transfer with the eps recovered from v */
    dm_sampler *s = make(&c, DM_SAMPLER_PNDM, 10, 0.0f);
    if (s) {
        double a = ac[901], ap = ac[801];
        float x[4], v[4];
        for (int e = 0; e < 4; e++) {
            x[e] = (float)(sqrt(a) * x0[e] + sqrt(1 - a) * eps[e]);
            v[e] = (float)(sqrt(a) * eps[e] - sqrt(1 - a) * x0[e]);
        }
        dm_error err = {0};
        CHECK(dm_sampler_step(s, 0, v, x, 4, NULL, NULL, &err) == DM_OK);
        for (int e = 0; e < 4; e++)
            CHECKF(fabs(x[e] - (sqrt(ap) * x0[e] + sqrt(1 - ap) * eps[e])) < 2e-5,
                   "pndm v-pred [%d]", e);
        dm_sampler_free(s);
    }
}

/* A known "model": eps(x, t) = 0.2 x + 0.3 cos(t / 150 + e). */
static double model_fn(double x, double t, int e) {
    return 0.2 * x + 0.3 * cos(t / 150.0 + e);
}
#define NE 6

/* ---- PNDM: (1) against a double-precision PLMS written from the PNDM paper in DDIM form
 * phi(x, eps, a, a_prev) = sqrt(a_prev) (x - sqrt(1-a) eps) / sqrt(a) + sqrt(1-a_prev) eps
 * (PNDM eq. 11 is this transfer rewritten); first step = diffusers' improved Euler
 * (eps_0 + eps at t-r on the provisional sample) / 2; then Adams-Bashforth 2, 3, 4 on the
 * eps history of the main trajectory. (2) With a constant eps every combination is that
 * constant (coefficients sum to 1), so PNDM's N+1 calls equal DDIM's N steps. ---- */
static void test_pndm(void) {
    dm_sched_config c;
    dm_sched_config_default(&c);
    double ac[T];
    ref_alphas(1, 0.00085, 0.012, ac);
    const int N = 10;
    int ts[10];
    for (int k = 0; k < N; k++) ts[k] = 901 - 100 * k; /* DDIM leading by hand */
    double alpha_at[11];
    for (int k = 0; k < N; k++) alpha_at[k] = ac[ts[k]];
    alpha_at[N] = ac[0]; /* set_alpha_to_one false: t = -1 uses alphas_cumprod[0] */

    /* reference trajectory: after_step[k] = x at t_{k+1} */
    double xr[NE], hist[12][NE], after[11][NE];
    for (int e = 0; e < NE; e++) xr[e] = 1.0 - 0.3 * e;
    for (int k = 0; k < N; k++) {
        double a = alpha_at[k], ap = alpha_at[k + 1];
        for (int e = 0; e < NE; e++) hist[k][e] = model_fn(xr[e], ts[k], e);
        for (int e = 0; e < NE; e++) {
            double ee;
            if (k == 0) {
                double xp = sqrt(ap) * (xr[e] - sqrt(1 - a) * hist[0][e]) / sqrt(a) +
                            sqrt(1 - ap) * hist[0][e];
                ee = (hist[0][e] + model_fn(xp, ts[1], e)) / 2;
            } else if (k == 1) {
                ee = 1.5 * hist[1][e] - 0.5 * hist[0][e];
            } else if (k == 2) {
                ee = (23 * hist[2][e] - 16 * hist[1][e] + 5 * hist[0][e]) / 12;
            } else {
                ee = (55 * hist[k][e] - 59 * hist[k - 1][e] + 37 * hist[k - 2][e] -
                      9 * hist[k - 3][e]) /
                     24;
            }
            xr[e] = sqrt(ap) * (xr[e] - sqrt(1 - a) * ee) / sqrt(a) + sqrt(1 - ap) * ee;
            after[k][e] = xr[e];
        }
    }
    dm_sampler *s = make(&c, DM_SAMPLER_PNDM, N, 0.0f);
    if (!s) return;
    CHECK(!dm_sampler_has_pred_x0(s));
    float x[NE], mo[NE];
    for (int e = 0; e < NE; e++) x[e] = (float)(1.0 - 0.3 * e);
    dm_error err = {0};
    double maxd = 0;
    for (int i = 0; i < dm_sampler_num_calls(s); i++) {
        for (int e = 0; e < NE; e++) mo[e] = (float)model_fn(x[e], dm_sampler_timestep(s, i), e);
        CHECK(dm_sampler_step(s, i, mo, x, NE, NULL, NULL, &err) == DM_OK);
        if (i >= 1) /* call i >= 1 completes step i - 1 */
            for (int e = 0; e < NE; e++) maxd = check_worst(maxd, fabs(x[e] - after[i - 1][e]));
    }
    CHECKF(maxd < 1e-5, "pndm vs double PLMS reference: %g", maxd);
    printf("pndm  vs double PLMS reference: max abs err %.3g\n", maxd);
    dm_sampler_free(s);

    /* constant eps: PNDM == DDIM (eta 0) */
    dm_sampler *p = make(&c, DM_SAMPLER_PNDM, N, 0.0f), *d = make(&c, DM_SAMPLER_DDIM, N, 0.0f);
    if (p && d) {
        float xp[NE], xd[NE], ce[NE];
        for (int e = 0; e < NE; e++) xp[e] = xd[e] = (float)(0.5 * e - 1), ce[e] = 0.1f * e - 0.2f;
        for (int i = 0; i < dm_sampler_num_calls(p); i++)
            dm_sampler_step(p, i, ce, xp, NE, NULL, NULL, &err);
        for (int i = 0; i < N; i++) dm_sampler_step(d, i, ce, xd, NE, NULL, NULL, &err);
        double md = 0;
        for (int e = 0; e < NE; e++) md = check_worst(md, fabs(xp[e] - xd[e]));
        CHECKF(md < 1e-5, "pndm constant-eps vs ddim: %g", md);
    }
    dm_sampler_free(p);
    dm_sampler_free(d);
}

/* ---- DPM++ 2M: a double reference written from Lu et al. 2022, Algorithm 2 (DPM-Solver++(2M)):
 * lambda = log(alpha / sigma), h_i = lambda_i - lambda_{i-1}, r_i = h_{i-1} / h_i,
 * D_i = (1 + 1/(2 r_i)) x0_{i-1} - 1/(2 r_i) x0_{i-2},
 * x_i = (sigma_i / sigma_{i-1}) x_{i-1} - alpha_i (exp(-h_i) - 1) D_i  (first step: D = x0_0).
 * The final sigma is that of t = 0 and diffusers ends first-order only when N < 15:
 * checked with N = 10 and N = 20. ---- */
static void test_dpm(int N) {
    dm_sched_config c;
    dm_sched_config_default(&c);
    double ac[T];
    ref_alphas(1, 0.00085, 0.012, ac);
    int step = 1000 / (N + 1);
    double al[32], sg[32], lam[32];
    int ts[32];
    for (int k = 0; k < N; k++) ts[k] = (N - k) * step + 1;
    for (int k = 0; k <= N; k++) {
        double a = k < N ? ac[ts[k]] : ac[0];
        al[k] = sqrt(a), sg[k] = sqrt(1 - a), lam[k] = log(al[k] / sg[k]);
    }
    double xr[NE], x0prev[NE] = {0};
    for (int e = 0; e < NE; e++) xr[e] = 1.5 - 0.4 * e;
    for (int k = 0; k < N; k++) {
        double h = lam[k + 1] - lam[k];
        int first = k == 0 || (k == N - 1 && N < 15);
        for (int e = 0; e < NE; e++) {
            double x0 = (xr[e] - sg[k] * model_fn(xr[e], ts[k], e)) / al[k];
            double D = x0;
            if (!first) {
                double r = (lam[k] - lam[k - 1]) / h;
                D = (1 + 1 / (2 * r)) * x0 - 1 / (2 * r) * x0prev[e];
            }
            xr[e] = sg[k + 1] / sg[k] * xr[e] - al[k + 1] * (exp(-h) - 1) * D;
            x0prev[e] = x0;
        }
    }
    dm_sampler *s = make(&c, DM_SAMPLER_DPMPP_2M, N, 0.0f);
    if (!s) return;
    float x[NE], mo[NE];
    for (int e = 0; e < NE; e++) x[e] = (float)(1.5 - 0.4 * e);
    dm_error err = {0};
    for (int i = 0; i < N; i++) {
        CHECK(dm_sampler_timestep(s, i) == (float)ts[i]);
        for (int e = 0; e < NE; e++) mo[e] = (float)model_fn(x[e], dm_sampler_timestep(s, i), e);
        CHECK(dm_sampler_step(s, i, mo, x, NE, NULL, NULL, &err) == DM_OK);
    }
    double md = 0;
    for (int e = 0; e < NE; e++) md = check_worst(md, fabs(x[e] - xr[e]));
    CHECKF(md < 2e-5, "dpm++ %d steps vs double reference: %g", N, md);
    printf("dpm++ %2d steps vs double reference: max abs err %.3g\n", N, md);
    dm_sampler_free(s);
}

/* mean / std of a float array */
static void stats(const float *v, size_t n, double *mean, double *sd) {
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) s1 += v[i], s2 += (double)v[i] * v[i];
    *mean = s1 / n;
    *sd = sqrt(s2 / n - *mean * *mean);
}

/* ---- Euler ancestral (k-diffusion sample_euler_ancestral):
 * sigma_up = sqrt(s_to^2 (s_from^2 - s_to^2) / s_from^2), sigma_down = sqrt(s_to^2 - sigma_up^2)
 * x' = x + (x - x0) / s_from * (sigma_down - s_from) + z * sigma_up, x0 = x - s_from * eps.
 * The noise z is re-drawn from a second rng with the same seed (n normals per step). ---- */
static void test_euler_a(void) {
    dm_sched_config c;
    dm_sched_config_default(&c);
    double ac[T];
    ref_alphas(1, 0.00085, 0.012, ac);
    enum { NN = 65536 };
    float *x = malloc(NN * sizeof(float)), *y = malloc(NN * sizeof(float)),
          *mo = malloc(NN * sizeof(float)), *z = malloc(NN * sizeof(float)),
          *x0 = malloc(NN * sizeof(float));
    dm_sampler *s = make(&c, DM_SAMPLER_EULER_A, 10, 0.0f);
    if (!s || !x || !y || !mo || !z || !x0) goto out;
    for (int e = 0; e < NN; e++) x[e] = (float)(8.0 * sin(e * 0.37)), mo[e] = (float)cos(e * 0.11);
    memcpy(y, x, NN * sizeof(float));
    dm_error err = {0};
    dm_rng r1, r2;
    dm_rng_seed(&r1, 1234);
    dm_rng_seed(&r2, 1234);
    double sf = sqrt((1 - ac[901]) / ac[901]), st = sqrt((1 - ac[801]) / ac[801]);
    double up = sqrt(st * st * (sf * sf - st * st) / (sf * sf)), down = sqrt(st * st - up * up);
    CHECK(dm_sampler_step(s, 0, mo, x, NN, &r1, x0, &err) == DM_OK);
    dm_rng_fill_normal(&r2, z, NN);
    double md = 0;
    for (int e = 0; e < NN; e++) {
        double x0h = y[e] - sf * mo[e];
        double want = y[e] + (y[e] - x0h) / sf * (down - sf) + z[e] * up;
        md = check_worst(md, fabs(x[e] - want) / (1 + fabs(want)));
        md = check_worst(md, fabs(x0[e] - x0h) / (1 + fabs(x0h)));
    }
    CHECKF(md < 2e-5, "euler_a step vs hand formula (relative): %g", md);
    /* determinism: same seed, same bytes */
    dm_sampler *s2 = make(&c, DM_SAMPLER_EULER_A, 10, 0.0f);
    dm_rng_seed(&r2, 1234);
    if (s2) {
        CHECK(dm_sampler_step(s2, 0, mo, y, NN, &r2, NULL, &err) == DM_OK);
        CHECK(memcmp(x, y, NN * sizeof(float)) == 0);
    }
    dm_sampler_free(s2);
    /* noise statistics: x = 0, eps = 0 => x0 = 0 and x' = z * sigma_up ~ N(0, sigma_up^2) */
    dm_sampler_reset(s);
    memset(x, 0, NN * sizeof(float));
    memset(mo, 0, NN * sizeof(float));
    CHECK(dm_sampler_step(s, 0, mo, x, NN, &r1, NULL, &err) == DM_OK);
    double mean, sd;
    stats(x, NN, &mean, &sd);
    CHECKF(fabs(mean) < 5 * up / sqrt(NN) && fabs(sd / up - 1) < 0.02,
           "euler_a noise mean %g sd %g (sigma_up %g)", mean, sd, up);
    /* last step: sigma_to = 0 => sigma_up = sigma_down = 0: no noise, x' = x0 exactly */
    for (int i = 1; i < 9; i++) dm_sampler_step(s, i, mo, x, NN, &r1, NULL, &err);
    for (int e = 0; e < NN; e++) x[e] = 3.0f, mo[e] = 0.5f;
    CHECK(dm_sampler_step(s, 9, mo, x, NN, &r1, x0, &err) == DM_OK);
    CHECK(memcmp(x, x0, NN * sizeof(float)) == 0);
    /* rng is required */
    dm_sampler_reset(s);
    CHECK(dm_sampler_step(s, 0, mo, x, NN, NULL, NULL, &err) == DM_EUSAGE);
out:
    dm_sampler_free(s);
    free(x), free(y), free(mo), free(z), free(x0);
}

/* ---- DDIM eta > 0 (Song et al. eq. 12/16): sigma_t = eta sqrt((1-a_prev)/(1-a)) sqrt(1 -
 * a/a_prev), x' = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma_t^2) eps + sigma_t z ---- */
static void test_ddim_eta(void) {
    dm_sched_config c;
    dm_sched_config_default(&c);
    double ac[T];
    ref_alphas(1, 0.00085, 0.012, ac);
    enum { NN = 65536 };
    float *x = malloc(NN * sizeof(float)), *y = malloc(NN * sizeof(float)),
          *mo = malloc(NN * sizeof(float)), *z = malloc(NN * sizeof(float));
    const float eta = 0.7f;
    dm_sampler *s = make(&c, DM_SAMPLER_DDIM, 10, eta);
    if (!s || !x || !y || !mo || !z) goto out;
    for (int e = 0; e < NN; e++) x[e] = (float)sin(e * 0.21), mo[e] = (float)cos(e * 0.05);
    memcpy(y, x, NN * sizeof(float));
    dm_rng r1, r2;
    dm_rng_seed(&r1, 99);
    dm_rng_seed(&r2, 99);
    dm_error err = {0};
    CHECK(dm_sampler_step(s, 0, mo, x, NN, &r1, NULL, &err) == DM_OK);
    dm_rng_fill_normal(&r2, z, NN);
    double a = ac[901], ap = ac[801];
    double sig = eta * sqrt((1 - ap) / (1 - a)) * sqrt(1 - a / ap);
    double md = 0;
    for (int e = 0; e < NN; e++) {
        double x0 = (y[e] - sqrt(1 - a) * mo[e]) / sqrt(a);
        double want = sqrt(ap) * x0 + sqrt(1 - ap - sig * sig) * mo[e] + sig * z[e];
        md = check_worst(md, fabs(x[e] - want));
    }
    CHECKF(md < 1e-5, "ddim eta step vs hand formula: %g", md);
    /* zero-noise check: the same step with eta = 0 is the deterministic DDIM update */
    dm_sampler *d = make(&c, DM_SAMPLER_DDIM, 10, 0.0f);
    if (d) {
        memcpy(x, y, NN * sizeof(float));
        CHECK(dm_sampler_step(d, 0, mo, x, NN, NULL, NULL, &err) == DM_OK);
        double m0 = 0;
        for (int e = 0; e < NN; e++) {
            double x0 = (y[e] - sqrt(1 - a) * mo[e]) / sqrt(a);
            m0 = check_worst(m0, fabs(x[e] - (sqrt(ap) * x0 + sqrt(1 - ap) * mo[e])));
        }
        CHECKF(m0 < 1e-5, "ddim eta 0 vs hand formula: %g", m0);
    }
    dm_sampler_free(d);
    /* statistics: x = 0, eps = 0 => x' = sigma_t z */
    dm_sampler_reset(s);
    memset(x, 0, NN * sizeof(float));
    memset(mo, 0, NN * sizeof(float));
    CHECK(dm_sampler_step(s, 0, mo, x, NN, &r1, NULL, &err) == DM_OK);
    double mean, sd;
    stats(x, NN, &mean, &sd);
    CHECKF(fabs(mean) < 5 * sig / sqrt(NN) && fabs(sd / sig - 1) < 0.02,
           "ddim eta noise mean %g sd %g (sigma_t %g)", mean, sd, sig);
    /* determinism */
    dm_sampler_reset(s);
    for (int e = 0; e < NN; e++) x[e] = y[e] = (float)sin(e * 0.21), mo[e] = 0.3f;
    dm_rng_seed(&r1, 5);
    dm_rng_seed(&r2, 5);
    dm_sampler *s2 = make(&c, DM_SAMPLER_DDIM, 10, eta);
    if (s2) {
        dm_sampler_step(s, 0, mo, x, NN, &r1, NULL, &err);
        dm_sampler_step(s2, 0, mo, y, NN, &r2, NULL, &err);
        CHECK(memcmp(x, y, NN * sizeof(float)) == 0);
    }
    dm_sampler_free(s2);
    dm_sampler_reset(s);
    CHECK(dm_sampler_step(s, 0, mo, x, NN, NULL, NULL, &err) == DM_EUSAGE);
out:
    dm_sampler_free(s);
    free(x), free(y), free(mo), free(z);
}

/* ---- set_alpha_to_one: at the last DDIM step (t = 1, prev = -1) alpha_prev is 1 (=> x' = x0)
 * when true or when a DDIM config omits the key (DDIMScheduler's default), alphas_cumprod[0]
 * when false. ---- */
static void test_alpha_to_one(void) {
    dm_sched_config c;
    dm_error err = {0};
    CHECK(dm_sched_config_parse("{\"beta_schedule\":\"scaled_linear\",\"beta_start\":0.00085,"
                                "\"beta_end\":0.012,\"steps_offset\":1,\"clip_sample\":false}",
                                "no set_alpha_to_one", &c, &err) == DM_OK);
    double ac[T];
    ref_alphas(1, 0.00085, 0.012, ac);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) c.set_alpha_to_one = 0;
        dm_sampler *s = make(&c, DM_SAMPLER_DDIM, 10, 0.0f);
        if (!s) continue;
        float x[2] = {0.4f, -2.0f}, mo[2] = {0.1f, 0.9f}, x0[2];
        for (int i = 0; i < 9; i++) dm_sampler_step(s, i, mo, x, 2, NULL, NULL, &err);
        float xin[2] = {x[0], x[1]};
        CHECK(dm_sampler_step(s, 9, mo, x, 2, NULL, x0, &err) == DM_OK);
        double ap = pass == 0 ? 1.0 : ac[0], a = ac[1];
        for (int e = 0; e < 2; e++) {
            double x0h = (xin[e] - sqrt(1 - a) * mo[e]) / sqrt(a);
            CHECKF(fabs(x[e] - (sqrt(ap) * x0h + sqrt(1 - ap) * mo[e])) < 1e-5,
                   "set_alpha_to_one pass %d", pass);
        }
        dm_sampler_free(s);
    }
    /* PNDM's class default is false: the same config (set_alpha_to_one absent) ends on
     * alphas_cumprod[0]. With a constant eps PNDM equals DDIM (test_pndm), so its last x is
     * DDIM's with set_alpha_to_one 0 (pass 1 above) and not DDIM's with the default 1. */
    dm_sampler *smp[3]; /* PNDM with the class default, DDIM with 0, DDIM with 1 */
    float xs[3][2] = {{0.4f, -2.0f}, {0.4f, -2.0f}, {0.4f, -2.0f}}, mo[2] = {0.1f, 0.9f};
    for (int k = 0; k < 3; k++) {
        c.set_alpha_to_one = k - 1;
        smp[k] = make(&c, k ? DM_SAMPLER_DDIM : DM_SAMPLER_PNDM, 10, 0.0f);
        for (int i = 0; smp[k] && i < dm_sampler_num_calls(smp[k]); i++)
            dm_sampler_step(smp[k], i, mo, xs[k], 2, NULL, NULL, &err);
    }
    double to0 = check_worst(fabs(xs[0][0] - xs[1][0]), fabs(xs[0][1] - xs[1][1])),
           to1 = check_worst(fabs(xs[0][0] - xs[2][0]), fabs(xs[0][1] - xs[2][1]));
    CHECKF(smp[0] && smp[1] && smp[2] && to0 < 1e-5 && to1 > 1e-3,
           "pndm default final alpha: %g from alphas_cumprod[0], %g from 1", to0, to1);
    for (int k = 0; k < 3; k++) dm_sampler_free(smp[k]);
}

static int msg_has(const dm_error *e, const char *needle) {
    return strstr(e->msg, needle) != NULL;
}

/* ---- bad input => one clear error line naming the file / setting ---- */
static void test_errors(void) {
    dm_sched_config c;
    dm_error err = {0};
    dm_sampler *s = NULL;
    CHECK(dm_sched_config_load("/nonexistent/scheduler_config.json", &c, &err) == DM_ERR);
    CHECKF(msg_has(&err, "/nonexistent/scheduler_config.json"), "%s", err.msg);

    const char *dir = check_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/scheduler_config.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("{\"beta_schedule\": \"cosine_fancy\"}", f);
        fclose(f);
        CHECK(dm_sched_config_load(path, &c, &err) == DM_ERR);
        CHECKF(msg_has(&err, path) && msg_has(&err, "beta_schedule") &&
                   msg_has(&err, "cosine_fancy"),
               "%s", err.msg);
    }
    CHECK(dm_sched_config_parse("{\"timestep_spacing\": \"sideways\"}", "cfg", &c, &err) == DM_ERR);
    CHECKF(msg_has(&err, "timestep_spacing") && msg_has(&err, "sideways"), "%s", err.msg);
    CHECK(dm_sched_config_parse("{\"prediction_type\": \"sample\"}", "cfg", &c, &err) == DM_ERR);
    CHECKF(msg_has(&err, "prediction_type"), "%s", err.msg);
    CHECK(dm_sched_config_parse("{\"num_train_timesteps\": \"1000\"}", "cfg", &c, &err) == DM_ERR);
    CHECKF(msg_has(&err, "num_train_timesteps"), "%s", err.msg);
    CHECK(dm_sched_config_parse("{\"trained_betas\": [0.1, 0.2]}", "cfg", &c, &err) == DM_ERR);
    CHECKF(msg_has(&err, "trained_betas"), "%s", err.msg);
    CHECK(dm_sched_config_parse("{not json", "cfg", &c, &err) == DM_ERR);
    CHECKF(msg_has(&err, "cfg"), "%s", err.msg);

    dm_sched_config_default(&c);
    CHECK(dm_sampler_create(&c, DM_SAMPLER_DDIM, 0, 0.0f, &s, &err) == DM_EUSAGE && !s);
    CHECKF(msg_has(&err, "steps 0"), "%s", err.msg);
    CHECK(dm_sampler_create(&c, DM_SAMPLER_EULER, 1001, 0.0f, &s, &err) == DM_EUSAGE && !s);
    CHECKF(msg_has(&err, "1001"), "%s", err.msg);
    CHECK(dm_sampler_create(&c, DM_SAMPLER_EULER, 10, 0.5f, &s, &err) == DM_EUSAGE && !s);
    CHECKF(msg_has(&err, "eta"), "%s", err.msg);
    CHECK(dm_sampler_create(&c, DM_SAMPLER_DDIM, 10, -1.0f, &s, &err) == DM_EUSAGE && !s);
    strcpy(c.timestep_spacing, "bogus");
    CHECK(dm_sampler_create(&c, DM_SAMPLER_DDIM, 10, 0.0f, &s, &err) == DM_ERR && !s);
    CHECKF(msg_has(&err, "timestep_spacing"), "%s", err.msg);
    dm_sched_config_default(&c);
    strcpy(c.beta_schedule, "squaredcos_cap_v2");
    CHECK(dm_sampler_create(&c, DM_SAMPLER_DDIM, 10, 0.0f, &s, &err) == DM_ERR && !s);
    CHECKF(msg_has(&err, "beta_schedule"), "%s", err.msg);
    /* steps_offset pushing a DDIM timestep past T - 1 (diffusers: IndexError) */
    dm_sched_config_default(&c);
    CHECK(dm_sampler_create(&c, DM_SAMPLER_DDIM, 1000, 0.0f, &s, &err) == DM_ERR && !s);
    CHECKF(msg_has(&err, "timestep 1000"), "%s", err.msg);

    dm_sampler_kind k;
    CHECK(dm_sampler_kind_parse("dpmpp_2m", &k, &err) == DM_OK && k == DM_SAMPLER_DPMPP_2M);
    CHECK(dm_sampler_kind_parse("euler_a", &k, &err) == DM_OK && k == DM_SAMPLER_EULER_A);
    CHECK(dm_sampler_kind_parse("heun", &k, &err) == DM_EUSAGE);
    CHECKF(msg_has(&err, "heun"), "%s", err.msg);

    /* n must stay the same within a run */
    s = make(&c, DM_SAMPLER_DPMPP_2M, 10, 0.0f);
    if (s) {
        float x[4] = {0}, mo[4] = {0};
        CHECK(dm_sampler_step(s, 0, mo, x, 4, NULL, NULL, &err) == DM_OK);
        CHECK(dm_sampler_step(s, 1, mo, x, 3, NULL, NULL, &err) == DM_EUSAGE);
    }
    dm_sampler_free(s);
}

int main(void) {
    test_spacings();
    test_vpred();
    test_pndm();
    test_dpm(10);
    test_dpm(20);
    test_euler_a();
    test_ddim_eta();
    test_alpha_to_one();
    test_errors();
    return check_finish();
}
