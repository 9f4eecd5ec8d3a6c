/* DDIMScheduler.step (Song et al. 2020, eq. 12), diffusers 0.25.1. */
#include <math.h>

#include "sched/steps.h"

dm_status dm_ddim_step(dm_sampler *s, int i, const float *mo, float *x, size_t n, dm_rng *rng,
                       float *x0_out, dm_error *err) {
    int t = s->int_timesteps[i];
    /* prev_timestep = timestep - num_train_timesteps // num_inference_steps (whatever the
     * spacing: diffusers uses this stride even for trailing / linspace) */
    int prev_t = t - s->T / s->steps;
    float a_t = s->alphas_cumprod[t];                                        /* alpha_prod_t */
    float a_prev = prev_t >= 0 ? s->alphas_cumprod[prev_t] : s->final_alpha; /* alpha_prod_t_prev */
    float b_t = 1.0f - a_t;                                                  /* beta_prod_t */
    float b_prev = 1.0f - a_prev;
    float sa_t = sqrtf(a_t), sb_t = sqrtf(b_t), sa_prev = sqrtf(a_prev);
    /* variance = (beta_prod_t_prev / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev);
     * std_dev_t = eta * variance ** 0.5 */
    float variance = (b_prev / b_t) * (1.0f - a_t / a_prev);
    float std_dev = s->eta * sqrtf(variance);
    /* coefficient of pred_epsilon: (1 - alpha_prod_t_prev - std_dev_t**2) ** 0.5 */
    float dir = sqrtf(1.0f - a_prev - std_dev * std_dev);
    int clip = s->cfg.clip_sample;
    float r = s->cfg.clip_sample_range;
    int vpred = s->cfg.prediction_v;
    int noisy = s->eta > 0;
    if (noisy) DM_TRY(dm_sched_draw_noise(s, rng, n, err)); /* variance_noise = randn_tensor(...) */
    for (size_t e = 0; e < n; e++) {
        float x0, eps;
        if (vpred) {
            /* pred_original_sample = alpha_prod_t**0.5 * sample - beta_prod_t**0.5 * model_output
             * pred_epsilon = alpha_prod_t**0.5 * model_output + beta_prod_t**0.5 * sample */
            x0 = sa_t * x[e] - sb_t * mo[e];
            eps = sa_t * mo[e] + sb_t * x[e];
        } else {
            /* pred_original_sample = (sample - beta_prod_t ** 0.5 * model_output) / alpha_prod_t **
             * 0.5 */
            x0 = (x[e] - sb_t * mo[e]) / sa_t;
            eps = mo[e];
        }
        /* clip_sample: pred_original_sample.clamp(-clip_sample_range, clip_sample_range)
         * (pred_epsilon is not recomputed: use_clipped_model_output is false) */
        if (clip) x0 = x0 < -r ? -r : x0 > r ? r : x0;
        if (x0_out) x0_out[e] = x0;
        /* prev_sample = alpha_prod_t_prev ** 0.5 * pred_original_sample + pred_sample_direction */
        float prev = sa_prev * x0 + dir * eps;
        /* eta > 0: prev_sample = prev_sample + std_dev_t * variance_noise */
        if (noisy) prev += std_dev * s->noise[e];
        x[e] = prev;
    }
    return DM_OK;
}
