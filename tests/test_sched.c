/* Samplers against diffusers 0.25.1 goldens (golden/README.md (e)): DDIM, Euler and DPM++ 2M
 * driven by the saved model outputs, configured from tiny-sd1's scheduler_config.json (a DDIM
 * config, i.e. XScheduler.from_config(ddim_config)) and from index.json's per-class configs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "sched/sampler.h"

/* One golden file: the loop of README (e). */
static void run_golden(const char *file, dm_sampler_kind kind, const dm_sched_config *cfg) {
    dm_error err = {0};
    dm_safetensors *st = NULL;
    if (dm_st_open(check_shared(file), &st, &err) != DM_OK) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    dm_sampler *s = NULL;
    CHECKF(dm_sampler_create(cfg, kind, 10, 0.0f, &s, &err) == DM_OK, "%s", err.msg);
    if (!s) {
        dm_st_close(st);
        return;
    }
    const char *name = dm_sampler_kind_name(kind);
    CHECK(dm_sampler_num_calls(s) == 10);

    /* timesteps: exactly equal (int64 for DDIM/DPM++, float32 for Euler) */
    const dm_st_tensor *tt = dm_st_find(st, "timesteps");
    CHECK(tt && tt->numel == 10);
    if (tt && tt->dtype == DM_I64) {
        int64_t want[10], got[10];
        CHECK(dm_st_read_i64(tt, want, &err) == DM_OK);
        dm_sampler_timesteps_i64(s, got);
        CHECK(!dm_sampler_timesteps_are_float(s));
        for (int k = 0; k < 10; k++)
            CHECKF(got[k] == want[k] && dm_sampler_timestep(s, k) == (float)want[k],
                   "%s timestep %d: %lld vs %lld", name, k, (long long)got[k], (long long)want[k]);
    } else if (tt) {
        float want[10];
        CHECK(dm_st_read_f32(tt, want, &err) == DM_OK);
        CHECK(dm_sampler_timesteps_are_float(s));
        for (int k = 0; k < 10; k++)
            CHECKF(dm_sampler_timestep(s, k) == want[k], "%s timestep %d: %g vs %g", name, k,
                   dm_sampler_timestep(s, k), want[k]);
    }

    float *ac = check_read_f32(st, "alphas_cumprod", NULL);
    float *ins = check_read_f32(st, "init_noise_sigma", NULL);
    float *noise = check_read_f32(st, "init_noise", NULL);
    float *mos = check_read_f32(st, "model_outputs", NULL);
    float *lat_in = check_read_f32(st, "latent_in", NULL);
    float *scaled = check_read_f32(st, "scaled_model_input", NULL);
    float *lat = check_read_f32(st, "latents", NULL);
    float *x0s = dm_st_find(st, "pred_original_sample")
                     ? check_read_f32(st, "pred_original_sample", NULL)
                     : NULL;
    long nsig = 0;
    float *sig = dm_st_find(st, "sigmas") ? check_read_f32(st, "sigmas", &nsig) : NULL;
    CHECK(ac && ins && noise && mos && lat_in && scaled && lat);
    if (!(ac && ins && noise && mos && lat_in && scaled && lat)) goto done;

    double e_ac = check_max_abs_diff(dm_sampler_alphas_cumprod(s), ac, 1000);
    CHECKF(e_ac <= 1e-6, "%s alphas_cumprod max err %g", name, e_ac);
    double e_ins = fabs((double)dm_sampler_init_noise_sigma(s) - ins[0]);
    CHECKF(e_ins <= 1e-5, "%s init_noise_sigma %g vs %g", name, dm_sampler_init_noise_sigma(s),
           ins[0]);
    double e_sig = 0;
    if (sig) {
        int cnt;
        const float *mine = dm_sampler_sigmas(s, &cnt);
        CHECK(mine && cnt == nsig);
        if (mine && cnt == nsig) e_sig = check_max_abs_diff(mine, sig, nsig);
        CHECKF(e_sig <= 1e-5, "%s sigmas max err %g", name, e_sig);
    }

    /* x = init_noise * init_noise_sigma; for i: in = scale(x); x = step(mo[i], t_i, x) */
    enum { N = 4 * 16 * 16 };
    float x[N], in[N], x0[N];
    for (int e = 0; e < N; e++) x[e] = noise[e] * dm_sampler_init_noise_sigma(s);
    double e_in = 0, e_sc = 0, e_lat = 0, e_x0 = 0;
    for (int i = 0; i < 10; i++) {
        double d = check_max_abs_diff(x, lat_in + (long)i * N, N);
        e_in = d > e_in ? d : e_in;
        dm_sampler_scale_model_input(s, i, x, in, N);
        d = check_max_abs_diff(in, scaled + (long)i * N, N);
        e_sc = d > e_sc ? d : e_sc;
        dm_status rc = dm_sampler_step(s, i, mos + (long)i * N, x, N, NULL, x0, &err);
        CHECKF(rc == DM_OK, "%s step %d: %s", name, i, err.msg);
        d = check_max_abs_diff(x, lat + (long)i * N, N);
        e_lat = d > e_lat ? d : e_lat;
        if (x0s) {
            d = check_max_abs_diff(x0, x0s + (long)i * N, N);
            e_x0 = d > e_x0 ? d : e_x0;
        }
    }
    CHECKF(e_in <= 1e-4, "%s latent_in max err %g", name, e_in);
    CHECKF(e_sc <= 1e-4, "%s scaled_model_input max err %g", name, e_sc);
    CHECKF(e_lat <= 1e-4, "%s latents max err %g", name, e_lat);
    CHECKF(e_x0 <= 1e-4, "%s pred_original_sample max err %g", name, e_x0);
    printf("%-9s max abs err: alphas_cumprod %.3g  init_noise_sigma %.3g  sigmas %.3g  "
           "latent_in %.3g  scaled_model_input %.3g  pred_original_sample %.3g  latents %.3g\n",
           name, e_ac, e_ins, e_sig, e_in, e_sc, x0s ? e_x0 : -1.0, e_lat);

    /* Out of order / past the end: usage errors. */
    CHECK(dm_sampler_step(s, 10, mos, x, N, NULL, NULL, &err) == DM_EUSAGE);
    CHECK(dm_sampler_step(s, 3, mos, x, N, NULL, NULL, &err) == DM_EUSAGE);
    /* reset => the same run again gives the same bytes */
    dm_sampler_reset(s);
    float y[N];
    for (int e = 0; e < N; e++) y[e] = noise[e] * dm_sampler_init_noise_sigma(s);
    for (int i = 0; i < 10; i++) dm_sampler_step(s, i, mos + (long)i * N, y, N, NULL, NULL, &err);
    CHECK(memcmp(x, y, sizeof x) == 0);
done:
    free(ac), free(ins), free(noise), free(mos), free(lat_in), free(scaled), free(lat), free(x0s),
        free(sig);
    dm_sampler_free(s);
    dm_st_close(st);
}

/* index.json's "schedulers".<key> object -> config via dm_sched_config_parse. */
static int index_config(const char *key, dm_sched_config *c) {
    char *text;
    size_t len;
    dm_error err = {0};
    if (dm_read_file(check_shared("golden/sd1/index.json"), &text, &len, &err) != DM_OK) {
        CHECKF(0, "%s", err.msg);
        return 0;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *o =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "schedulers"), key);
    char *sub = o ? cJSON_PrintUnformatted(o) : NULL;
    char label[64];
    snprintf(label, sizeof label, "index.json: schedulers.%s", key);
    int ok = sub && dm_sched_config_parse(sub, label, c, &err) == DM_OK;
    CHECKF(ok, "%s: %s", label, err.msg);
    free(sub);
    cJSON_Delete(root);
    return ok;
}

int main(void) {
    dm_error err = {0};
    dm_sched_config ddim_cfg, c;
    CHECKF(dm_sched_config_load(check_shared("golden/tiny-sd1/scheduler/scheduler_config.json"),
                                &ddim_cfg, &err) == DM_OK,
           "%s", err.msg);
    CHECK(ddim_cfg.num_train_timesteps == 1000 && ddim_cfg.steps_offset == 1);
    CHECK(!strcmp(ddim_cfg.beta_schedule, "scaled_linear") &&
          !strcmp(ddim_cfg.timestep_spacing, "leading"));
    CHECK(ddim_cfg.set_alpha_to_one == 0 && ddim_cfg.clip_sample == 0 && !ddim_cfg.prediction_v);

    /* XScheduler.from_config(tiny-sd1's DDIM config) */
    run_golden("golden/sd1/sched_ddim.safetensors", DM_SAMPLER_DDIM, &ddim_cfg);
    run_golden("golden/sd1/sched_euler.safetensors", DM_SAMPLER_EULER, &ddim_cfg);
    run_golden("golden/sd1/sched_dpmpp2m.safetensors", DM_SAMPLER_DPMPP_2M, &ddim_cfg);

    /* The per-class configs recorded in index.json give the same runs. */
    if (index_config("ddim", &c))
        run_golden("golden/sd1/sched_ddim.safetensors", DM_SAMPLER_DDIM, &c);
    if (index_config("euler", &c))
        run_golden("golden/sd1/sched_euler.safetensors", DM_SAMPLER_EULER, &c);
    if (index_config("dpmpp2m", &c))
        run_golden("golden/sd1/sched_dpmpp2m.safetensors", DM_SAMPLER_DPMPP_2M, &c);

    /* The built-in SD defaults (one-file checkpoints) equal tiny-sd1's config. */
    dm_sched_config def;
    dm_sched_config_default(&def);
    run_golden("golden/sd1/sched_ddim.safetensors", DM_SAMPLER_DDIM, &def);
    run_golden("golden/sd1/sched_euler.safetensors", DM_SAMPLER_EULER, &def);
    run_golden("golden/sd1/sched_dpmpp2m.safetensors", DM_SAMPLER_DPMPP_2M, &def);
    return check_finish();
}
