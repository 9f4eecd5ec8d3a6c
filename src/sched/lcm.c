/* LCMScheduler.step (Luo et al. 2023, latent consistency models; also what LCM-LoRA runs),
 * diffusers 0.25.1. Each step predicts the clean sample with the consistency boundary
 * conditions, then re-noises it to the next timestep with fresh noise (none after the last). */
#include <math.h>

#include "sched/steps.h"

dm_status dm_lcm_step(dm_sampler *s, int i, const float *mo, float *x, size_t n, dm_rng *rng,
                      float *x0_out, dm_error *err) {
    int t = s->int_timesteps[i];
    int last = i == s->ncalls - 1;
    /* prev_timestep = timesteps[step_index + 1] (the current one at the last step) */
    int prev_t = last ? t : s->int_timesteps[i + 1];
    float a_t = s->alphas_cumprod[t];
    float a_prev = prev_t >= 0 ? s->alphas_cumprod[prev_t] : s->final_alpha;
    float b_t = 1.0f - a_t, b_prev = 1.0f - a_prev;
    /* get_scalings_for_boundary_condition_discrete: sigma_data = 0.5,
     * scaled_timestep = timestep * timestep_scaling (float32 tensor),
     * c_skip = sigma_data**2 / (scaled**2 + sigma_data**2),
     * c_out = scaled / (scaled**2 + sigma_data**2) ** 0.5 */
    float u = (float)t * s->cfg.timestep_scaling;
    float c_skip = 0.25f / (u * u + 0.25f);
    float c_out = u / sqrtf(u * u + 0.25f);
    float sa_t = sqrtf(a_t), sb_t = sqrtf(b_t), sa_prev = sqrtf(a_prev), sb_prev = sqrtf(b_prev);
    int vpred = s->cfg.prediction_v;
    if (!last) DM_TRY(dm_sched_draw_noise(s, rng, n, err)); /* noise = randn_tensor(...) */
    for (size_t e = 0; e < n; e++) {
        /* epsilon: predicted_original_sample = (sample - beta_prod_t.sqrt() * model_output)
         *                                       / alpha_prod_t.sqrt()
         * v_prediction: alpha_prod_t.sqrt() * sample - beta_prod_t.sqrt() * model_output */
        float x0 = vpred ? sa_t * x[e] - sb_t * mo[e] : (x[e] - sb_t * mo[e]) / sa_t;
        /* denoised = c_out * predicted_original_sample + c_skip * sample */
        float den = c_out * x0 + c_skip * x[e];
        if (x0_out) x0_out[e] = den;
        /* prev_sample = alpha_prod_t_prev.sqrt() * denoised + beta_prod_t_prev.sqrt() * noise */
        x[e] = last ? den : sa_prev * den + sb_prev * s->noise[e];
    }
    return DM_OK;
}
