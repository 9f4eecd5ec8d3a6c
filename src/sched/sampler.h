/* Samplers (diffusers "schedulers"), configured and stepped exactly as diffusers 0.25.1 does:
 *
 *   DDIM        DDIMScheduler (eta 0 = deterministic, eta > 0 adds noise from a dm_rng)
 *   EULER       EulerDiscreteScheduler (interpolation_type linear, no Karras sigmas, s_churn 0)
 *   EULER_A     EulerAncestralDiscreteScheduler
 *   DPMPP_2M    DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2,
 *               solver_type midpoint, lower_order_final true; last sigma = sigma at t=0 as in 0.25)
 *   PNDM        PNDMScheduler with skip_prk_steps (PLMS only, what SD 1.x ships): N+1 model calls
 *   LCM         LCMScheduler (latent consistency models, LCM-LoRA): original_inference_steps,
 *               timestep_scaling, c_skip / c_out boundary conditions, fresh noise between steps
 *
 * Like `XScheduler.from_config(model_config)`, the betas, timestep spacing, steps_offset and
 * prediction_type come from the model's scheduler_config.json; a key the file lacks takes the
 * default of the chosen sampler's diffusers class (e.g. no timestep_spacing => DDIM/PNDM
 * "leading", Euler/DPM++ "linspace").
 *
 * Loop (what StableDiffusionPipeline does):
 *   x = noise * dm_sampler_init_noise_sigma(s)
 *   for i in 0 .. dm_sampler_num_calls(s)-1:
 *       in  = dm_sampler_scale_model_input(s, i, x)
 *       eps = unet(in, dm_sampler_timestep(s, i), ...)       (guided)
 *       dm_sampler_step(s, i, eps, x, ...)                    (x <- previous sample)
 */
#ifndef DM_SCHED_SAMPLER_H
#define DM_SCHED_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "core/status.h"
#include "sched/config.h" /* the scheduler config and the sampler kinds */

typedef struct dm_sampler dm_sampler;

/* steps = num_inference_steps (1 .. num_train_timesteps). eta is DDIM's eta (>= 0); it must be 0
 * for the other samplers (diffusers ignores it there; we refuse rather than pretend). */
dm_status dm_sampler_create(const dm_sched_config *c, dm_sampler_kind kind, int steps, float eta,
                            dm_sampler **out, dm_error *err);
void dm_sampler_free(dm_sampler *s);
/* Forgets the multistep history so the same schedule can run again (next image). */
void dm_sampler_reset(dm_sampler *s);

dm_sampler_kind dm_sampler_kind_of(const dm_sampler *s);
/* Model evaluations per image: steps, except PNDM (steps + 1). */
int dm_sampler_num_calls(const dm_sampler *s);
/* The t given to the UNet at call i (Euler's timesteps are float32 in diffusers). */
float dm_sampler_timestep(const dm_sampler *s, int i);
/* All timesteps as int64 (Euler's float timesteps truncated, as torch .long() would). */
void dm_sampler_timesteps_i64(const dm_sampler *s, int64_t *out);
/* 1 when diffusers' `scheduler.timesteps` is a float tensor (Euler, Euler a): save them as F32. */
int dm_sampler_timesteps_are_float(const dm_sampler *s);
float dm_sampler_init_noise_sigma(const dm_sampler *s);
/* out = scale_model_input(x, t_i): x / sqrt(sigma_i^2 + 1) for Euler / Euler a, else a copy.
 * out may equal x. */
void dm_sampler_scale_model_input(const dm_sampler *s, int i, const float *x, float *out, size_t n);

/* x <- step(model_output, t_i, x).prev_sample. Calls must come in order i = 0, 1, ... (the
 * multistep samplers keep history); n must stay the same for the whole run. rng draws the noise
 * of Euler a and DDIM eta > 0 (n normals per step; may be NULL otherwise). pred_x0_out (may be
 * NULL) receives diffusers' pred_original_sample (DDIM, Euler, Euler a; DPM++: its data
 * prediction x0_pred); PNDM has none and leaves it untouched (see dm_sampler_has_pred_x0). */
dm_status dm_sampler_step(dm_sampler *s, int i, const float *model_output, float *x, size_t n,
                          dm_rng *rng, float *pred_x0_out, dm_error *err);
int dm_sampler_has_pred_x0(const dm_sampler *s);

/* Replays stored noise instead of drawing it: the k-th noise tensor the sampler needs (Euler a,
 * LCM, DDIM eta > 0) is noise[k * n .. (k + 1) * n) ((count, n) floats, kept by the caller until
 * the run ends). A step that needs draw k >= count fails. NULL switches replay off. */
void dm_sampler_replay_noise(dm_sampler *s, const float *noise, int count);
/* The noise the last step drew ([n] floats), or NULL when it drew none. */
const float *dm_sampler_last_noise(const dm_sampler *s);
/* Noise tensors a whole run draws (LCM: steps - 1, Euler a: steps, DDIM eta > 0: steps). */
int dm_sampler_noise_draws(const dm_sampler *s);

/* Schedule internals, for tests and --save-tensors. */
int dm_sampler_num_train_timesteps(const dm_sampler *s);
const float *dm_sampler_alphas_cumprod(const dm_sampler *s); /* [num_train_timesteps] */
/* Euler / Euler a / DPM++: sigmas [num_calls + 1] (count written to *count); else NULL, 0. */
const float *dm_sampler_sigmas(const dm_sampler *s, int *count);

#endif
