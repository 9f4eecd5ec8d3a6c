/* The per-algorithm step functions, one signature for all, so sampler.c picks one from a table by
 * sampler kind. Each step reads and updates the sampler's state (sched_internal.h) and draws noise
 * through dm_sched_draw_noise (noise.c); none of them calls back into sampler.c. */
#ifndef DM_SCHED_STEPS_H
#define DM_SCHED_STEPS_H

#include "sched/sched_internal.h"

/* One denoising step i: model output mo, sample x updated in place (n elements); rng for the
 * samplers that draw noise; x0_out (may be NULL) receives the predicted clean sample where the
 * algorithm has one (not PNDM). */
typedef dm_status (*dm_sched_step_fn)(dm_sampler *s, int i, const float *mo, float *x, size_t n,
                                      dm_rng *rng, float *x0_out, dm_error *err);

dm_status dm_ddim_step(dm_sampler *s, int i, const float *mo, float *x, size_t n, dm_rng *rng,
                       float *x0_out, dm_error *err);
dm_status dm_euler_step(dm_sampler *s, int i, const float *mo, float *x, size_t n, dm_rng *rng,
                        float *x0_out, dm_error *err);
dm_status dm_dpmpp2m_step(dm_sampler *s, int i, const float *mo, float *x, size_t n, dm_rng *rng,
                          float *x0_out, dm_error *err);
dm_status dm_lcm_step(dm_sampler *s, int i, const float *mo, float *x, size_t n, dm_rng *rng,
                      float *x0_out, dm_error *err);
dm_status dm_pndm_step(dm_sampler *s, int i, const float *mo, float *x, size_t n, dm_rng *rng,
                       float *x0_out, dm_error *err);

#endif
