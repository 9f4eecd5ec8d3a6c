/* Sampler object: resolves the config per diffusers class, builds timesteps / sigmas
 * (each class's set_timesteps), and dispatches step() through a table of the step functions. */
#include "sched/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sched/steps.h"

/* Fills in what a from_config(json) leaves to the class's own __init__ defaults. */
static void resolve_class_defaults(dm_sched_config *c, dm_sampler_kind kind) {
    if (!c->timestep_spacing[0]) {
        /* DDIMScheduler / PNDMScheduler default "leading"; Euler, Euler a, DPM++ "linspace". */
        int leading = kind == DM_SAMPLER_DDIM || kind == DM_SAMPLER_PNDM;
        strcpy(c->timestep_spacing, leading ? "leading" : "linspace");
    }
    if (c->set_alpha_to_one < 0) c->set_alpha_to_one = kind == DM_SAMPLER_DDIM ? 1 : 0;
    if (c->clip_sample < 0) c->clip_sample = kind == DM_SAMPLER_DDIM ? 1 : 0;
}

/* Full-schedule sigmas of Euler / DPM++: ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5 (float). */
static float sigma_of(float ac) {
    return sqrtf((1.0f - ac) / ac);
}

static dm_status build_schedule(dm_sampler *s, dm_error *err) {
    const dm_sched_config *c = &s->cfg;
    int T = s->T, N = s->steps, cnt = 0;
    double *ts = malloc(sizeof(double) * (size_t)(N + 4));
    float *full = malloc(sizeof(float) * (size_t)T);
    if (!ts || !full) {
        free(ts);
        free(full);
        return dm_fail(err, "sampler: out of memory for %d timesteps", N);
    }
    const char *sp = c->timestep_spacing;
    switch (s->kind) {
    case DM_SAMPLER_DDIM:
        dm_sched_spacing(sp, T, N, c->steps_offset, 1, ts, &cnt);
        break;
    case DM_SAMPLER_EULER:
    case DM_SAMPLER_EULER_A:
        /* Euler's linspace is not rounded; its timesteps are float32. */
        dm_sched_spacing(sp, T, N, c->steps_offset, 0, ts, &cnt);
        for (int k = 0; k < cnt; k++) ts[k] = (double)(float)ts[k];
        break;
    case DM_SAMPLER_DPMPP_2M:
        if (sp[0] == 't') {
            /* trailing: round(arange(last_timestep, 0, -T / N)) - 1 (last_timestep = T). */
            dm_sched_spacing(sp, T, N, 0, 1, ts, &cnt);
        } else {
            /* leading: step_ratio = T // (N + 1); (arange(N + 1) * step_ratio).round()[::-1][:-1]
             *          + steps_offset  (0.25's rule: 10 steps -> 901, 811, ..., 91)
             * linspace: linspace(0, T - 1, N + 1).round()[::-1][:-1] */
            dm_sched_spacing(sp, T, N + 1, c->steps_offset, 1, ts, &cnt);
            cnt--;
        }
        break;
    case DM_SAMPLER_LCM: {
        /* LCMScheduler.set_timesteps: k = T // original_inference_steps; the distilled schedule
         * lcm_origin_timesteps = arange(1, orig + 1) * k - 1, reversed; indices
         * floor(linspace(0, orig, N, endpoint=False)) of it (strength 1). */
        int orig = c->original_inference_steps, k = T / orig;
        for (int j = 0; j < N; j++) {
            long idx = (long)floor((double)j * ((double)orig / (double)N));
            ts[j] = (double)((orig - idx) * k - 1);
        }
        cnt = N;
        break;
    }
    case DM_SAMPLER_PNDM: {
        /* _timesteps ascending = DDIM's set reversed; with skip_prk_steps:
         * plms = concat(_ts[:-1], _ts[-2:-1], _ts[-1:])[::-1]  => t_{N-1}, t_{N-2}, t_{N-2}, ...,
         * t_0 (the first step is repeated: N + 1 model calls). */
        double *base = malloc(sizeof(double) * (size_t)(N + 4));
        if (!base) {
            free(ts);
            free(full);
            return dm_fail(err, "sampler: out of memory for %d timesteps", N);
        }
        int nb;
        dm_sched_spacing(sp, T, N, c->steps_offset, 1, base, &nb); /* descending */
        cnt = 0;
        ts[cnt++] = base[0];
        if (nb >= 2) {
            ts[cnt++] = base[1];
            for (int k = 1; k < nb; k++) ts[cnt++] = base[k];
        }
        free(base);
        break;
    }
    }
    if (cnt < 1) {
        free(ts);
        free(full);
        return dm_fail(err, "%s: %d steps give no timesteps", c->source, N);
    }
    s->ncalls = cnt;
    s->timesteps = malloc(sizeof(float) * (size_t)cnt);
    s->int_timesteps = malloc(sizeof(int) * (size_t)cnt);
    if (!s->timesteps || !s->int_timesteps) {
        free(ts);
        free(full);
        return dm_fail(err, "sampler: out of memory for %d timesteps", cnt);
    }
    int integer = s->kind != DM_SAMPLER_EULER && s->kind != DM_SAMPLER_EULER_A;
    for (int k = 0; k < cnt; k++) {
        s->timesteps[k] = (float)ts[k];
        s->int_timesteps[k] = (int)ts[k];
        /* DDIM/PNDM index alphas_cumprod with t (diffusers would raise IndexError past T - 1). */
        if (integer && (ts[k] < 0 || ts[k] > T - 1)) {
            dm_status st = dm_fail(err,
                                   "%s: steps_offset %d with %s spacing and %d steps gives "
                                   "timestep %.0f outside 0..%d",
                                   c->source, c->steps_offset, sp, N, ts[k], T - 1);
            free(ts);
            free(full);
            return st;
        }
    }

    s->init_noise_sigma = 1.0f;
    if (s->kind == DM_SAMPLER_EULER || s->kind == DM_SAMPLER_EULER_A ||
        s->kind == DM_SAMPLER_DPMPP_2M) {
        s->sigmas = malloc(sizeof(float) * (size_t)(cnt + 1));
        if (!s->sigmas) {
            free(ts);
            free(full);
            return dm_fail(err, "sampler: out of memory for sigmas");
        }
        for (int t = 0; t < T; t++) full[t] = sigma_of(s->alphas_cumprod[t]);
        /* sigmas = np.interp(timesteps, arange(T), sigmas) (float64), then float32 */
        for (int k = 0; k < cnt; k++) s->sigmas[k] = (float)dm_sched_interp(ts[k], full, T);
        /* Euler: append 0. DPM++ (0.25): append sigma at t = 0, ((1 - ac[0]) / ac[0]) ** 0.5 */
        s->sigmas[cnt] = s->kind == DM_SAMPLER_DPMPP_2M ? full[0] : 0.0f;
        if (s->kind != DM_SAMPLER_DPMPP_2M) {
            /* init_noise_sigma = max(sigmas) for linspace/trailing, else
             * (max(sigmas) ** 2 + 1) ** 0.5, computed on float32 tensors. */
            float m = 0.0f;
            for (int k = 0; k <= cnt; k++) m = s->sigmas[k] > m ? s->sigmas[k] : m;
            s->init_noise_sigma = strcmp(sp, "leading") ? m : sqrtf(m * m + 1.0f);
        }
    }
    free(ts);
    free(full);
    return DM_OK;
}

dm_status dm_sampler_create(const dm_sched_config *config, dm_sampler_kind kind, int steps,
                            float eta, dm_sampler **out, dm_error *err) {
    *out = NULL;
    DM_TRY(dm_sched_config_check(config, err));
    const char *src = config->source[0] ? config->source : "scheduler config";
    if ((unsigned)kind > DM_SAMPLER_LCM)
        return dm_fail_code(err, DM_EUSAGE, "sampler: unknown kind %d", (int)kind);
    if (steps < 1 || steps > config->num_train_timesteps)
        return dm_fail_code(err, DM_EUSAGE,
                            "steps %d is out of range 1..%d (num_train_timesteps of %s)", steps,
                            config->num_train_timesteps, src);
    if (!(eta >= 0.0f) || !isfinite(eta))
        return dm_fail_code(err, DM_EUSAGE, "eta %g must be a finite value >= 0", eta);
    if (eta != 0.0f && kind != DM_SAMPLER_DDIM)
        return dm_fail_code(err, DM_EUSAGE, "eta %g applies to the ddim sampler only, not %s", eta,
                            dm_sampler_kind_name(kind));
    if (kind == DM_SAMPLER_LCM && steps > config->original_inference_steps)
        return dm_fail_code(err, DM_EUSAGE,
                            "lcm: %d steps is more than original_inference_steps %d of %s", steps,
                            config->original_inference_steps, src);
    if (config->use_karras_sigmas && (kind == DM_SAMPLER_EULER || kind == DM_SAMPLER_DPMPP_2M))
        return dm_fail(err, "%s: use_karras_sigmas true is not supported", src);
    if (kind == DM_SAMPLER_EULER && strcmp(config->interpolation_type, "linear"))
        return dm_fail(err, "%s: interpolation_type \"%s\" is not supported (linear)", src,
                       config->interpolation_type);

    dm_sampler *s = calloc(1, sizeof *s);
    if (!s) return dm_fail(err, "sampler: out of memory");
    s->kind = kind;
    s->cfg = *config;
    resolve_class_defaults(&s->cfg, kind);
    s->steps = steps;
    s->eta = eta;
    s->T = config->num_train_timesteps;
    s->alphas_cumprod = malloc(sizeof(float) * (size_t)s->T);
    if (!s->alphas_cumprod) {
        free(s);
        return dm_fail(err, "sampler: out of memory");
    }
    dm_sched_alphas_cumprod(&s->cfg, s->alphas_cumprod);
    /* final_alpha_cumprod = 1.0 if set_alpha_to_one else alphas_cumprod[0] */
    s->final_alpha = s->cfg.set_alpha_to_one ? 1.0f : s->alphas_cumprod[0];
    dm_status st = build_schedule(s, err);
    if (st != DM_OK) {
        dm_sampler_free(s);
        return st;
    }
    *out = s;
    return DM_OK;
}

static void free_state(dm_sampler *s) {
    free(s->noise);
    free(s->prev_x0);
    free(s->cur_sample);
    for (int k = 0; k < 4; k++) free(s->ets[k]);
    s->noise = s->prev_x0 = s->cur_sample = NULL;
    for (int k = 0; k < 4; k++) s->ets[k] = NULL;
    s->n = 0;
}

void dm_sampler_reset(dm_sampler *s) {
    if (!s) return;
    /* Buffers stay allocated (same n next time); only the history is forgotten. */
    s->next = 0;
    s->lower_order_nums = 0;
    s->nets = 0;
    s->counter = 0;
    s->draws = 0;
    s->drew_last = 0;
}

void dm_sampler_replay_noise(dm_sampler *s, const float *noise, int count) {
    s->replay = noise;
    s->replay_count = noise ? count : 0;
}

const float *dm_sampler_last_noise(const dm_sampler *s) {
    return s->drew_last ? s->noise : NULL;
}

static int draws_noise(const dm_sampler *s) {
    return s->kind == DM_SAMPLER_EULER_A || s->kind == DM_SAMPLER_LCM ||
           (s->kind == DM_SAMPLER_DDIM && s->eta > 0);
}

int dm_sampler_noise_draws(const dm_sampler *s) {
    if (!draws_noise(s)) return 0;
    return s->kind == DM_SAMPLER_LCM ? s->ncalls - 1 : s->ncalls;
}

void dm_sampler_free(dm_sampler *s) {
    if (!s) return;
    free_state(s);
    free(s->alphas_cumprod);
    free(s->timesteps);
    free(s->int_timesteps);
    free(s->sigmas);
    free(s);
}

dm_sampler_kind dm_sampler_kind_of(const dm_sampler *s) {
    return s->kind;
}
int dm_sampler_num_calls(const dm_sampler *s) {
    return s->ncalls;
}
float dm_sampler_timestep(const dm_sampler *s, int i) {
    return (i >= 0 && i < s->ncalls) ? s->timesteps[i] : NAN;
}
void dm_sampler_timesteps_i64(const dm_sampler *s, int64_t *out) {
    for (int k = 0; k < s->ncalls; k++) out[k] = (int64_t)s->timesteps[k];
}
int dm_sampler_timesteps_are_float(const dm_sampler *s) {
    return s->kind == DM_SAMPLER_EULER || s->kind == DM_SAMPLER_EULER_A;
}
float dm_sampler_init_noise_sigma(const dm_sampler *s) {
    return s->init_noise_sigma;
}
int dm_sampler_num_train_timesteps(const dm_sampler *s) {
    return s->T;
}
const float *dm_sampler_alphas_cumprod(const dm_sampler *s) {
    return s->alphas_cumprod;
}
const float *dm_sampler_sigmas(const dm_sampler *s, int *count) {
    *count = s->sigmas ? s->ncalls + 1 : 0;
    return s->sigmas;
}
int dm_sampler_has_pred_x0(const dm_sampler *s) {
    return s->kind != DM_SAMPLER_PNDM;
}

void dm_sampler_scale_model_input(const dm_sampler *s, int i, const float *x, float *out,
                                  size_t n) {
    if ((s->kind == DM_SAMPLER_EULER || s->kind == DM_SAMPLER_EULER_A) && i >= 0 && i < s->ncalls) {
        /* sample / ((sigma**2 + 1) ** 0.5), the denominator a float32 scalar */
        float sigma = s->sigmas[i];
        float d = sqrtf(sigma * sigma + 1.0f);
        for (size_t e = 0; e < n; e++) out[e] = x[e] / d;
    } else if (out != x) {
        memcpy(out, x, n * sizeof(float));
    }
}

static float *alloc_n(size_t n) {
    return malloc(n * sizeof(float));
}

/* Allocates the run-state buffers the first time (n fixed from then on). */
static dm_status ensure_state(dm_sampler *s, size_t n, dm_error *err) {
    if (s->n == n) return DM_OK;
    if (s->n != 0 && s->next != 0)
        return dm_fail_code(err, DM_EUSAGE,
                            "sampler step: %zu elements, but this run started with %zu", n, s->n);
    free_state(s);
    int oom = 0;
    if (draws_noise(s)) oom |= !(s->noise = alloc_n(n));
    if (s->kind == DM_SAMPLER_DPMPP_2M) oom |= !(s->prev_x0 = alloc_n(n));
    if (s->kind == DM_SAMPLER_PNDM) {
        oom |= !(s->cur_sample = alloc_n(n));
        for (int k = 0; k < 4; k++) oom |= !(s->ets[k] = alloc_n(n));
    }
    if (oom) {
        free_state(s);
        return dm_fail(err, "sampler step: out of memory for %zu-element state", n);
    }
    s->n = n;
    return DM_OK;
}

/* The step function of each sampler kind (Euler ancestral is Euler's step with noise). */
static const dm_sched_step_fn step_of[] = {
    [DM_SAMPLER_DDIM] = dm_ddim_step,     [DM_SAMPLER_EULER] = dm_euler_step,
    [DM_SAMPLER_EULER_A] = dm_euler_step, [DM_SAMPLER_DPMPP_2M] = dm_dpmpp2m_step,
    [DM_SAMPLER_PNDM] = dm_pndm_step,     [DM_SAMPLER_LCM] = dm_lcm_step,
};
_Static_assert(sizeof step_of / sizeof *step_of == DM_SAMPLER_LCM + 1, "a step for every kind");

dm_status dm_sampler_step(dm_sampler *s, int i, const float *model_output, float *x, size_t n,
                          dm_rng *rng, float *pred_x0_out, dm_error *err) {
    if (i != s->next)
        return dm_fail_code(err, DM_EUSAGE,
                            "sampler step %d called out of order: expected step %d of %d", i,
                            s->next, s->ncalls);
    if (i >= s->ncalls)
        return dm_fail_code(err, DM_EUSAGE, "sampler step %d: the schedule has only %d steps", i,
                            s->ncalls);
    if (n == 0) return dm_fail_code(err, DM_EUSAGE, "sampler step: 0 elements");
    int needs_rng = draws_noise(s) && !s->replay;
    if (needs_rng && !rng)
        return dm_fail_code(err, DM_EUSAGE, "sampler %s: step %d needs a random generator",
                            dm_sampler_kind_name(s->kind), i);
    DM_TRY(ensure_state(s, n, err));
    s->drew_last = 0;
    dm_status st = step_of[s->kind](s, i, model_output, x, n, rng, pred_x0_out, err);
    if (st == DM_OK) s->next = i + 1;
    return st;
}
