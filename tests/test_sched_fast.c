/* Few-step schedulers against diffusers 0.25.1 (golden/fast/README.md (a)): LCMScheduler and
 * Euler / Euler ancestral with "trailing" spacing, 4 steps, driven by the saved model outputs and
 * replaying the saved scheduler noise. Configured from tiny-sd1's DDIM config (from_config) with
 * the spacing overridden, and from the built-in SD defaults (one-file checkpoints). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/safetensors.h"
#include "sched/sampler.h"

static double maxd(double a, double b) { /* NaN-aware: a NaN error stays NaN */
    return check_worst(a, b);
}

static void run_golden(const char *file, dm_sampler_kind kind, const char *spacing,
                       const dm_sched_config *base) {
    enum { N = 4 * 16 * 16, STEPS = 4 };
    dm_error err = {0};
    dm_safetensors *st = NULL;
    if (dm_st_open(check_shared(file), &st, &err) != DM_OK) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    dm_sched_config cfg = *base;
    if (spacing) CHECK(dm_sched_config_set_spacing(&cfg, spacing, &err) == DM_OK);
    dm_sampler *s = NULL;
    CHECKF(dm_sampler_create(&cfg, kind, STEPS, 0.0f, &s, &err) == DM_OK, "%s", err.msg);
    if (!s) {
        dm_st_close(st);
        return;
    }
    const char *name = file;
    CHECK(dm_sampler_num_calls(s) == STEPS);
    const dm_st_tensor *tt = dm_st_find(st, "timesteps");
    CHECK(tt && tt->numel == STEPS);
    if (tt && tt->dtype == DM_I64) {
        int64_t want[STEPS], got[STEPS];
        dm_st_read_i64(tt, want, &err);
        dm_sampler_timesteps_i64(s, got);
        for (int k = 0; k < STEPS; k++)
            CHECKF(got[k] == want[k], "%s timestep %d: %lld vs %lld", name, k, (long long)got[k],
                   (long long)want[k]);
    } else if (tt) {
        float want[STEPS];
        dm_st_read_f32(tt, want, &err);
        for (int k = 0; k < STEPS; k++)
            CHECKF(dm_sampler_timestep(s, k) == want[k], "%s timestep %d: %g vs %g", name, k,
                   dm_sampler_timestep(s, k), want[k]);
    }
    long nsig = 0, nnoise = 0;
    float *ac = check_read_f32(st, "alphas_cumprod", NULL),
          *ins = check_read_f32(st, "init_noise_sigma", NULL);
    float *noise = check_read_f32(st, "init_noise", NULL),
          *mos = check_read_f32(st, "model_outputs", NULL);
    float *lat_in = check_read_f32(st, "latent_in", NULL),
          *lat = check_read_f32(st, "latents", NULL);
    float *scaled = check_read_f32(st, "scaled_model_input", NULL);
    float *x0s = check_read_f32(st, "pred_original_sample", NULL);
    if (!x0s) x0s = check_read_f32(st, "denoised", NULL);
    float *sig = check_read_f32(st, "sigmas", &nsig),
          *sn = check_read_f32(st, "scheduler_noise", &nnoise);
    CHECK(ac && ins && noise && mos && lat_in && scaled && lat && x0s);
    if (!(ac && ins && noise && mos && lat_in && scaled && lat && x0s)) goto done;
    CHECK(dm_sampler_noise_draws(s) == nnoise / N);
    if (sn) dm_sampler_replay_noise(s, sn, (int)(nnoise / N));

    double e_ac = check_max_abs_diff(dm_sampler_alphas_cumprod(s), ac, 1000);
    double e_ins = fabs((double)dm_sampler_init_noise_sigma(s) - ins[0]), e_sig = 0;
    CHECKF(e_ac <= 1e-6, "%s alphas_cumprod max err %g", name, e_ac);
    CHECKF(e_ins <= 1e-5, "%s init_noise_sigma %g vs %g", name, dm_sampler_init_noise_sigma(s),
           ins[0]);
    if (sig) {
        int cnt;
        const float *mine = dm_sampler_sigmas(s, &cnt);
        CHECK(mine && cnt == nsig);
        if (mine && cnt == nsig) e_sig = check_max_abs_diff(mine, sig, nsig);
        CHECKF(e_sig <= 1e-5, "%s sigmas max err %g", name, e_sig);
    }
    static float x[N], in[N], x0[N];
    for (int e = 0; e < N; e++) x[e] = noise[e] * dm_sampler_init_noise_sigma(s);
    double e_in = 0, e_sc = 0, e_lat = 0, e_x0 = 0;
    for (int i = 0; i < STEPS; i++) {
        e_in = maxd(e_in, check_max_abs_diff(x, lat_in + (long)i * N, N));
        dm_sampler_scale_model_input(s, i, x, in, N);
        e_sc = maxd(e_sc, check_max_abs_diff(in, scaled + (long)i * N, N));
        dm_status rc = dm_sampler_step(s, i, mos + (long)i * N, x, N, NULL, x0, &err);
        CHECKF(rc == DM_OK, "%s step %d: %s", name, i, err.msg);
        e_lat = maxd(e_lat, check_max_abs_diff(x, lat + (long)i * N, N));
        e_x0 = maxd(e_x0, check_max_abs_diff(x0, x0s + (long)i * N, N));
    }
    CHECKF(e_in <= 1e-4 && e_sc <= 1e-4 && e_lat <= 1e-4 && e_x0 <= 1e-4,
           "%s: latent_in %g scaled %g latents %g x0 %g > 1e-4", name, e_in, e_sc, e_lat, e_x0);
    printf("%-40s max abs err: alphas_cumprod %.3g init_noise_sigma %.3g sigmas %.3g latent_in "
           "%.3g scaled_model_input %.3g pred_x0 %.3g latents %.3g\n",
           name, e_ac, e_ins, e_sig, e_in, e_sc, e_x0, e_lat);
    /* The replayed noise runs out: a stochastic step without a generator fails cleanly. */
    if (sn) {
        dm_sampler_reset(s);
        dm_sampler_replay_noise(s, sn, 0);
        for (int e = 0; e < N; e++) x[e] = noise[e];
        CHECK(dm_sampler_step(s, 0, mos, x, N, NULL, NULL, &err) != DM_OK);
    }
done:
    free(ac), free(ins), free(noise), free(mos), free(lat_in), free(scaled), free(lat), free(x0s);
    free(sig), free(sn);
    dm_sampler_free(s);
    dm_st_close(st);
}

int main(void) {
    dm_error err = {0};
    dm_sched_config cfg, def;
    CHECKF(dm_sched_config_load(check_shared("golden/tiny-sd1/scheduler/scheduler_config.json"),
                                &cfg, &err) == DM_OK,
           "%s", err.msg);
    dm_sched_config_default(&def);
    CHECK(cfg.original_inference_steps == 50 && cfg.timestep_scaling == 10.0f);
    for (int k = 0; k < 2; k++) {
        const dm_sched_config *c = k ? &def : &cfg;
        run_golden("golden/fast/sched_lcm.safetensors", DM_SAMPLER_LCM, NULL, c);
        run_golden("golden/fast/sched_euler_trailing.safetensors", DM_SAMPLER_EULER, "trailing", c);
        run_golden("golden/fast/sched_euler_a_trailing.safetensors", DM_SAMPLER_EULER_A, "trailing",
                   c);
    }
    /* spacing names and LCM limits */
    dm_sampler_kind kd;
    CHECK(dm_sampler_kind_parse("lcm", &kd, &err) == DM_OK && kd == DM_SAMPLER_LCM);
    CHECK(dm_sched_config_set_spacing(&cfg, "middle", &err) == DM_EUSAGE);
    dm_sampler *s = NULL;
    CHECK(dm_sampler_create(&cfg, DM_SAMPLER_LCM, 51, 0.0f, &s, &err) == DM_EUSAGE && !s);
    CHECK(dm_sampler_create(&cfg, DM_SAMPLER_LCM, 1, 0.0f, &s, &err) == DM_OK);
    CHECK(s && dm_sampler_timestep(s, 0) == 999.0f && dm_sampler_noise_draws(s) == 0);
    dm_sampler_free(s);
    return check_finish();
}
