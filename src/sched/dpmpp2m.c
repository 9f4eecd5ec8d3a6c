/* DPMSolverMultistepScheduler.step with algorithm_type dpmsolver++, solver_order 2,
 * solver_type midpoint, lower_order_final (Lu et al. 2022, DPM-Solver++(2M)), diffusers 0.25.1.
 * Works in the data-prediction form: each model output is first converted to x0_pred. */
#include <math.h>

#include "sched/steps.h"

/* _sigma_to_alpha_sigma_t: alpha_t = 1 / (sigma**2 + 1) ** 0.5, sigma_t = sigma * alpha_t */
static void alpha_sigma(float sigma, float *alpha_t, float *sigma_t) {
    *alpha_t = 1.0f / sqrtf(sigma * sigma + 1.0f);
    *sigma_t = sigma * *alpha_t;
}

dm_status dm_dpmpp2m_step(dm_sampler *s, int i, const float *mo, float *x, size_t n, dm_rng *rng,
                          float *x0_out, dm_error *err) {
    (void)rng, (void)err; /* deterministic, and nothing here can fail */
    int N = s->ncalls;
    /* lower_order_final = step_index == len(timesteps) - 1 and lower_order_final and
     * len(timesteps) < 15 (euler_at_final false): only short schedules end first-order */
    int lower_final = (i == N - 1) && N < 15;
    int first_order = s->lower_order_nums < 1 || lower_final;

    float a_s0, s_s0, a_t, s_t;
    alpha_sigma(s->sigmas[i], &a_s0, &s_s0);
    alpha_sigma(s->sigmas[i + 1], &a_t, &s_t);
    /* lambda = log(alpha) - log(sigma); h = lambda_t - lambda_s0 */
    float lambda_t = logf(a_t) - logf(s_t);
    float lambda_s0 = logf(a_s0) - logf(s_s0);
    float h = lambda_t - lambda_s0;
    float c_x = s_t / s_s0;              /* sigma_t / sigma_s0 */
    float c_d = a_t * (expf(-h) - 1.0f); /* alpha_t * (exp(-h) - 1) */
    float inv_r0 = 0.0f;
    if (!first_order) {
        float a_s1, s_s1;
        alpha_sigma(s->sigmas[i - 1], &a_s1, &s_s1);
        float lambda_s1 = logf(a_s1) - logf(s_s1);
        /* h_0 = lambda_s0 - lambda_s1; r0 = h_0 / h */
        float r0 = (lambda_s0 - lambda_s1) / h;
        inv_r0 = 1.0f / r0;
    }
    int vpred = s->cfg.prediction_v;
    for (size_t e = 0; e < n; e++) {
        /* convert_model_output: epsilon: x0_pred = (sample - sigma_t * model_output) / alpha_t
         *                       v:       x0_pred = alpha_t * sample - sigma_t * model_output */
        float x0 = vpred ? a_s0 * x[e] - s_s0 * mo[e] : (x[e] - s_s0 * mo[e]) / a_s0;
        if (x0_out) x0_out[e] = x0;
        float xt;
        if (first_order) {
            /* x_t = (sigma_t / sigma_s) * sample - (alpha_t * (exp(-h) - 1.0)) * model_output */
            xt = c_x * x[e] - c_d * x0;
        } else {
            /* D0 = m0, D1 = (1 / r0) * (m0 - m1);
             * x_t = (sigma_t / sigma_s0) * sample - c_d * D0 - 0.5 * c_d * D1 */
            float d1 = inv_r0 * (x0 - s->prev_x0[e]);
            xt = c_x * x[e] - c_d * x0 - 0.5f * c_d * d1;
        }
        s->prev_x0[e] = x0; /* model_outputs list shifts: this becomes m1 next step */
        x[e] = xt;
    }
    if (s->lower_order_nums < 2) s->lower_order_nums++;
    return DM_OK;
}
