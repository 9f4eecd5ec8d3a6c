/* The training noise schedule (betas -> alphas_cumprod) and the timestep spacings, with the
 * same number types and rounding as diffusers (torch float32 / numpy float64, round half even). */
#include <math.h>

#include "sched/sched_internal.h"

/* torch.linspace(a, b, N, dtype=float32) with a, b already rounded to float. The reference
 * build's kernel is reproduced best (alphas_cumprod bit-exact up to t = 699, within 1 ulp
 * after) by stepping in double from a and rounding each value to float once. */
static float torch_linspace_f32(float a, float b, int N, int i) {
    double step = ((double)b - (double)a) / (double)(N - 1);
    return (float)((double)a + step * (double)i);
}

void dm_sched_alphas_cumprod(const dm_sched_config *c, float *ac) {
    int T = c->num_train_timesteps;
    int scaled = c->beta_schedule[0] == 's';
    /* scaled_linear: betas = linspace(beta_start**0.5, beta_end**0.5, T) ** 2
     * linear:        betas = linspace(beta_start, beta_end, T) */
    float a = (float)(scaled ? sqrt(c->beta_start) : c->beta_start);
    float b = (float)(scaled ? sqrt(c->beta_end) : c->beta_end);
    /* alphas_cumprod = torch.cumprod(1 - betas): torch's CPU cumprod accumulates in double and
     * rounds each partial product to float. */
    double acc = 1.0;
    for (int t = 0; t < T; t++) {
        float v = torch_linspace_f32(a, b, T, t);
        float beta = scaled ? v * v : v;
        float alpha = 1.0f - beta;
        acc *= (double)alpha;
        ac[t] = (float)acc;
    }
}

/* numpy's np.round / ndarray.round: round half to even (nearbyint in the default FE mode). */
static double np_round(double v) {
    return nearbyint(v);
}

void dm_sched_spacing(const char *spacing, int T, int n, int steps_offset, int round_linspace,
                      double *out, int *count) {
    if (spacing[0] == 'l' && spacing[1] == 'e') {
        /* leading: step_ratio = T // n; (arange(0, n) * step_ratio).round()[::-1] + steps_offset */
        int ratio = T / n;
        for (int k = 0; k < n; k++) out[k] = (double)((n - 1 - k) * ratio + steps_offset);
        *count = n;
    } else if (spacing[0] == 't') {
        /* trailing: step_ratio = T / n (float); round(arange(T, 0, -step_ratio)) - 1.
         * np.arange: length ceil((stop - start) / step); element k = start + k * delta with
         * delta = (start + step) - start, the way numpy fills float ranges. */
        double step = -((double)T / (double)n);
        long len = (long)ceil((0.0 - (double)T) / step);
        if (len > n + 1) len = n + 1; /* cannot happen for n <= T; guards the caller's buffer */
        double delta = ((double)T + step) - (double)T;
        for (long k = 0; k < len; k++) {
            double v = k == 0   ? (double)T
                       : k == 1 ? (double)T + step
                                : (double)T + (double)k * delta;
            out[k] = np_round(v) - 1.0;
        }
        *count = (int)len;
    } else {
        /* linspace: np.linspace(0, T - 1, n)[::-1] (rounded for the integer schedulers):
         * numpy computes k * ((stop - start) / (n - 1)) + start and sets the last to stop. */
        double stop = (double)(T - 1);
        double step = n > 1 ? stop / (double)(n - 1) : 0.0;
        for (int k = 0; k < n; k++) {
            double v = (n > 1 && k == n - 1) ? stop : (double)k * step;
            out[n - 1 - k] = round_linspace ? np_round(v) : v;
        }
        *count = n;
    }
}

double dm_sched_interp(double x, const float *fp, int len) {
    /* np.interp(x, arange(len), fp): clamps outside, exact value on a knot, else
     * slope * (x - xp[j]) + fp[j]. */
    if (!(x > 0.0)) return fp[0];
    if (x >= (double)(len - 1)) return fp[len - 1];
    int j = (int)floor(x);
    if ((double)j == x) return fp[j];
    double slope = ((double)fp[j + 1] - (double)fp[j]) / 1.0;
    return slope * (x - (double)j) + (double)fp[j];
}
