/* PNDMScheduler.step_plms with skip_prk_steps (Liu et al. 2022, PLMS: linear multistep on eps
 * with the DDIM-like transfer of eq. 11), diffusers 0.25.1. The first step is the
 * "pseudo improved Euler" of diffusers: call 0 steps t -> t-r with eps_0, call 1 evaluates the
 * model at t-r and redoes the step from the saved sample with (eps_0 + eps_1) / 2. */
#include <math.h>
#include <string.h>

#include "sched/steps.h"

dm_status dm_pndm_step(dm_sampler *s, int i, const float *mo, float *x, size_t n, dm_rng *rng,
                       float *x0_out, dm_error *err) {
    (void)rng, (void)err; /* deterministic, and nothing here can fail */
    (void)x0_out;         /* PLMS has no clean-sample prediction to report (as before the table) */
    int r = s->T / s->steps; /* num_train_timesteps // num_inference_steps */
    int t = s->int_timesteps[i];
    int prev_t = t - r;
    if (s->counter != 1) {
        /* ets = ets[-3:]; ets.append(model_output) */
        if (s->nets == 4) {
            float *oldest = s->ets[0];
            memmove(s->ets, s->ets + 1, 3 * sizeof s->ets[0]);
            s->ets[3] = oldest;
            s->nets = 3;
        }
        memcpy(s->ets[s->nets++], mo, n * sizeof(float));
    } else {
        /* the repeated timestep: redo the first step, from t + r to t */
        prev_t = t;
        t = t + r;
    }
    const float *sample = x;
    int save_sample = 0;
    if (s->nets == 1 && s->counter == 0) {
        save_sample = 1; /* cur_sample = sample */
    } else if (s->nets == 1 && s->counter == 1) {
        sample = s->cur_sample; /* sample = cur_sample */
    }
    float a_t = s->alphas_cumprod[t];
    float a_prev = prev_t >= 0 ? s->alphas_cumprod[prev_t] : s->final_alpha;
    float b_t = 1.0f - a_t, b_prev = 1.0f - a_prev;
    /* _get_prev_sample (PNDM eq. 9):
     * sample_coeff = (alpha_prod_t_prev / alpha_prod_t) ** 0.5
     * denom = alpha_prod_t * beta_prod_t_prev ** 0.5 + (alpha_prod_t * beta_prod_t *
     * alpha_prod_t_prev) ** 0.5 prev_sample = sample_coeff * sample - (alpha_prod_t_prev -
     * alpha_prod_t) * model_output / denom */
    float coeff = sqrtf(a_prev / a_t);
    float denom = a_t * sqrtf(b_prev) + sqrtf(a_t * b_t * a_prev);
    float diff = a_prev - a_t;
    float sa_t = sqrtf(a_t), sb_t = sqrtf(b_t);
    int vpred = s->cfg.prediction_v;
    const float *e1 = s->ets[s->nets - 1];
    const float *e2 = s->nets >= 2 ? s->ets[s->nets - 2] : NULL;
    const float *e3 = s->nets >= 3 ? s->ets[s->nets - 3] : NULL;
    const float *e4 = s->nets >= 4 ? s->ets[s->nets - 4] : NULL;
    for (size_t e = 0; e < n; e++) {
        float m;
        if (s->nets == 1 && s->counter == 0)
            m = mo[e];
        else if (s->nets == 1)
            m = (mo[e] + e1[e]) / 2.0f; /* (model_output + ets[-1]) / 2 */
        else if (s->nets == 2)
            m = (3.0f * e1[e] - e2[e]) / 2.0f; /* (3 e1 - e2) / 2 */
        else if (s->nets == 3)                 /* (23 e1 - 16 e2 + 5 e3) / 12 */
            m = (23.0f * e1[e] - 16.0f * e2[e] + 5.0f * e3[e]) / 12.0f;
        else /* (1/24) (55 e1 - 59 e2 + 37 e3 - 9 e4) */
            m = (1.0f / 24.0f) * (55.0f * e1[e] - 59.0f * e2[e] + 37.0f * e3[e] - 9.0f * e4[e]);
        float smp = sample[e];
        if (save_sample) s->cur_sample[e] = smp;
        /* v_prediction: model_output = alpha_prod_t**0.5 * model_output + beta_prod_t**0.5 * sample
         */
        if (vpred) m = sa_t * m + sb_t * smp;
        x[e] = coeff * smp - diff * m / denom;
    }
    s->counter++;
    return DM_OK;
}
