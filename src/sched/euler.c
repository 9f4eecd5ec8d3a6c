/* EulerDiscreteScheduler.step and EulerAncestralDiscreteScheduler.step (Karras et al. 2022,
 * k-diffusion's sample_euler / sample_euler_ancestral), diffusers 0.25.1. x lives in the
 * sigma parameterisation: x = x0 + sigma * eps. */
#include <math.h>

#include "sched/steps.h"

dm_status dm_euler_step(dm_sampler *s, int i, const float *mo, float *x, size_t n, dm_rng *rng,
                        float *x0_out, dm_error *err) {
    /* s_churn = 0 => gamma = 0 => sigma_hat = sigma * (gamma + 1) = sigma */
    float sigma = s->sigmas[i];
    float sigma_next = s->sigmas[i + 1];
    float dt;
    float sigma_up = 0.0f;
    int ancestral = s->kind == DM_SAMPLER_EULER_A;
    if (ancestral) {
        /* sigma_up = (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5
         * sigma_down = (sigma_to**2 - sigma_up**2) ** 0.5;  dt = sigma_down - sigma */
        float f2 = sigma * sigma, t2 = sigma_next * sigma_next;
        sigma_up = sqrtf(t2 * (f2 - t2) / f2);
        float down2 = t2 - sigma_up * sigma_up;
        /* mathematically sigma_to**4 / sigma_from**2 >= 0; keep float rounding from making NaN */
        float sigma_down = sqrtf(down2 > 0.0f ? down2 : 0.0f);
        dt = sigma_down - sigma;
        DM_TRY(dm_sched_draw_noise(s, rng, n, err)); /* noise = randn_tensor(model_output.shape) */
    } else {
        dt = sigma_next - sigma; /* dt = sigmas[step_index + 1] - sigma_hat */
    }
    /* v_prediction: pred_x0 = model_output * (-sigma / (sigma**2 + 1) ** 0.5)
     *                        + sample / (sigma**2 + 1) */
    float c_out = -sigma / sqrtf(sigma * sigma + 1.0f);
    float c_skip = sigma * sigma + 1.0f;
    int vpred = s->cfg.prediction_v;
    for (size_t e = 0; e < n; e++) {
        /* epsilon: pred_original_sample = sample - sigma_hat * model_output */
        float x0 = vpred ? mo[e] * c_out + x[e] / c_skip : x[e] - sigma * mo[e];
        if (x0_out) x0_out[e] = x0;
        /* derivative = (sample - pred_original_sample) / sigma_hat; prev = sample + derivative * dt
         */
        float d = (x[e] - x0) / sigma;
        float prev = x[e] + d * dt;
        /* ancestral: prev_sample = prev_sample + noise * sigma_up */
        if (ancestral) prev += s->noise[e] * sigma_up;
        x[e] = prev;
    }
    return DM_OK;
}
