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

typedef enum {
    DM_SAMPLER_DDIM,
    DM_SAMPLER_EULER,
    DM_SAMPLER_EULER_A,
    DM_SAMPLER_DPMPP_2M,
    DM_SAMPLER_PNDM,
    DM_SAMPLER_LCM
} dm_sampler_kind;

/* The subset of scheduler_config.json the samplers read. Fields marked "class default" hold a
 * sentinel meaning "the key was absent": the chosen sampler's diffusers default is used. */
typedef struct {
    int num_train_timesteps;      /* 1000 */
    double beta_start, beta_end;  /* Python floats (double), as diffusers receives them */
    char beta_schedule[32];       /* "linear" | "scaled_linear" */
    int steps_offset;             /* added to "leading" timesteps */
    char timestep_spacing[16];    /* "leading" | "trailing" | "linspace" | "" = class default */
    int prediction_v;             /* 0 = "epsilon", 1 = "v_prediction" */
    int set_alpha_to_one;         /* DDIM/PNDM: 1/0, -1 = class default (DDIM 1, PNDM 0) */
    int clip_sample;              /* DDIM only: 1/0, -1 = class default (1) */
    float clip_sample_range;      /* DDIM only: 1.0 */
    int use_karras_sigmas;        /* Euler/DPM++: only 0 is supported */
    char interpolation_type[16];  /* Euler: only "linear" is supported */
    int original_inference_steps; /* LCM: 50 */
    float timestep_scaling;       /* LCM: 10.0 */
    char source[256];             /* file (or label) the values came from, for error messages */
} dm_sched_config;

/* Stable Diffusion 1.x defaults, for a one-file checkpoint without scheduler_config.json (what
 * diffusers' single-file loader builds): scaled_linear 0.00085 -> 0.012, 1000 train steps,
 * steps_offset 1, leading, epsilon (set prediction_v yourself for v-models),
 * set_alpha_to_one false, clip_sample false. */
void dm_sched_config_default(dm_sched_config *c);
/* Reads a diffusers scheduler_config.json (any scheduler class); errors name the file and key. */
dm_status dm_sched_config_load(const char *scheduler_config_json_path, dm_sched_config *c,
                               dm_error *err);
/* Same from JSON text; label names it in errors (e.g. "index.json: schedulers.ddim"). */
dm_status dm_sched_config_parse(const char *json_text, const char *label, dm_sched_config *c,
                                dm_error *err);
/* Checks the values (also of a struct the caller filled by hand). */
dm_status dm_sched_config_check(const dm_sched_config *c, dm_error *err);

/* "ddim" | "euler" | "euler_a" | "dpmpp_2m" | "pndm" | "lcm" (DM_EUSAGE otherwise). */
dm_status dm_sampler_kind_parse(const char *name, dm_sampler_kind *k, dm_error *err);
const char *dm_sampler_kind_name(dm_sampler_kind k);

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
/* "leading" | "trailing" | "linspace" -> DM_OK; anything else DM_EUSAGE naming it. */
dm_status dm_sched_spacing_check(const char *spacing, dm_error *err);
/* Overrides the spacing of a config ("leading" | "trailing" | "linspace"); DM_EUSAGE otherwise. */
dm_status dm_sched_config_set_spacing(dm_sched_config *c, const char *spacing, dm_error *err);

/* Schedule internals, for tests and --save-tensors. */
int dm_sampler_num_train_timesteps(const dm_sampler *s);
const float *dm_sampler_alphas_cumprod(const dm_sampler *s); /* [num_train_timesteps] */
/* Euler / Euler a / DPM++: sigmas [num_calls + 1] (count written to *count); else NULL, 0. */
const float *dm_sampler_sigmas(const dm_sampler *s, int *count);

#endif
