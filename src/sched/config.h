/* The scheduler config (config.c): a diffusers scheduler_config.json or the SD 1.x defaults come
 * in, a checked dm_sched_config goes out; and the sampler kinds by name. Read by sampler.c and the
 * step files (through sched_internal.h), which never call each other through it; sampler.h
 * includes it for the engine and the CLI. */
#ifndef DM_SCHED_CONFIG_H
#define DM_SCHED_CONFIG_H

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

/* "leading" | "trailing" | "linspace" -> DM_OK; anything else DM_EUSAGE naming it. */
dm_status dm_sched_spacing_check(const char *spacing, dm_error *err);
/* Overrides the spacing of a config ("leading" | "trailing" | "linspace"); DM_EUSAGE otherwise. */
dm_status dm_sched_config_set_spacing(dm_sched_config *c, const char *spacing, dm_error *err);

#endif
