/* Private to src/sched: the sampler's state (struct dm_sampler) and the helpers the steps share
 * (noise draws in noise.c, schedule arithmetic in schedule.c). The step functions are declared in
 * steps.h; only sampler.c, which dispatches to them, needs that table.
 * Arithmetic convention: where diffusers computes with float32 torch tensors (alphas_cumprod,
 * sigmas, per-step coefficients) we compute in float; where it uses numpy float64 (timestep
 * spacing, np.interp) we compute in double. That keeps us within ~1e-6 of the reference. */
#ifndef DM_SCHED_INTERNAL_H
#define DM_SCHED_INTERNAL_H

#include <stddef.h>

#include "core/rng.h"
#include "sched/config.h"

/* The same typedef as sampler.h's (C11 allows the repeat): the steps see the state, not the API. */
typedef struct dm_sampler dm_sampler;

struct dm_sampler {
    dm_sampler_kind kind;
    dm_sched_config cfg; /* resolved: timestep_spacing, set_alpha_to_one, clip_sample filled in */
    int steps;           /* num_inference_steps as asked */
    float eta;
    int T;                 /* num_train_timesteps */
    float *alphas_cumprod; /* [T] */
    float final_alpha;     /* DDIM/PNDM: alpha_prod at "t = -1" */
    int ncalls;
    float *timesteps;   /* [ncalls], what the UNet gets */
    int *int_timesteps; /* [ncalls], DDIM/PNDM/DPM++ integer timesteps (indices into alphas) */
    float *sigmas;      /* [ncalls + 1] for Euler / Euler a / DPM++ */
    float init_noise_sigma;

    /* run state */
    int next;       /* index the next step() must have */
    size_t n;       /* elements per step, fixed by the first step */
    float *noise;   /* [n] Euler a / DDIM eta > 0 */
    float *prev_x0; /* [n] DPM++: data prediction of the previous step */
    int lower_order_nums;
    float *ets[4]; /* [n] each, PNDM: last model outputs, ets[nets-1] newest */
    int nets;
    float *cur_sample; /* [n] PNDM: the sample saved by the first PLMS step */
    int counter;       /* PNDM */
    /* noise replay (dm_sampler_replay_noise) */
    const float *replay; /* [replay_count, n] or NULL */
    int replay_count;
    int draws;     /* noise tensors drawn so far in this run */
    int drew_last; /* the last step drew s->noise */
};

/* s->noise <- the run's next noise tensor: replayed, or n normals from rng. */
dm_status dm_sched_draw_noise(dm_sampler *s, dm_rng *rng, size_t n, dm_error *err);

/* betas -> alphas_cumprod exactly as diffusers' __init__ builds them (float32). */
void dm_sched_alphas_cumprod(const dm_sched_config *c, float *ac);
/* Descending timesteps of DDIM/Euler's set_timesteps for n steps (double, unrounded only for
 * Euler's linspace when round_linspace is 0). out must hold n + 2 values; *count receives the
 * length (numpy's arange may give n + 1 for "trailing"). */
void dm_sched_spacing(const char *spacing, int T, int n, int steps_offset, int round_linspace,
                      double *out, int *count);
/* np.interp(x, arange(len), fp) with fp in float, in double as numpy does. */
double dm_sched_interp(double x, const float *fp, int len);

#endif
