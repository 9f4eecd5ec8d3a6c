/* The noise a sampler step draws: the next tensor of a replayed run (dm_sampler_replay_noise) or
 * fresh normals from the caller's generator. Called by the ancestral / stochastic steps (DDIM with
 * eta > 0, Euler a, LCM); it counts the draws for dm_sampler_noise_draws. */
#include <string.h>

#include "sched/sched_internal.h"

dm_status dm_sched_draw_noise(dm_sampler *s, dm_rng *rng, size_t n, dm_error *err) {
    if (s->replay) {
        if (s->draws >= s->replay_count)
            return dm_fail(err, "sampler %s: needs noise draw %d but the replayed noise has %d",
                           dm_sampler_kind_name(s->kind), s->draws + 1, s->replay_count);
        memcpy(s->noise, s->replay + (size_t)s->draws * n, n * sizeof(float));
    } else {
        dm_rng_fill_normal(rng, s->noise, n);
    }
    s->draws++;
    s->drew_last = 1;
    return DM_OK;
}
