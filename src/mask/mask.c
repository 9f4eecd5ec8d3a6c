/* dm_mask_make: the whole attention-to-mask method for one sample, every choice a parameter
 * (see mask.h for the data flow). Buffers are allocated once per call. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mask/mask.h"

void dm_mask_params_default(dm_mask_params *p) {
    memset(p, 0, sizeof *p);
    p->n_res_sizes = 0;
    p->norm = DM_NORM_MINMAX;
    p->norm_each = 0;
    p->threshold = 0.5f;
    p->agree_lo = 0.2f;
    p->agree_hi = 0.8f;
    p->agree_step = 0.05f;
    p->ignore_lo = p->ignore_hi = 0;
    p->margin = 0;
    p->selfattn_tau = 2;
    dm_crf_params_default(&p->crf);
    p->area_min = 0.001f;
    p->area_max = 0.95f;
    /* The best method measured on toy-shapes, tuned on a separate set of seeds and reported on
     * the README's 100 evaluation prompts (BENCHMARKS.md, "Mask quality on toy-shapes"):
     * self-attention propagation (tau 2) then the dense CRF, threshold 0.45; mIoU 0.77 against
     * the paper's rule's 0.53, every class better. A colour std of 20 and an appearance weight
     * of 10 beat the generic 13 / 5 there (flat-coloured objects; the spatial std stays 60 px,
     * about W/8 at 512). "basic" (dm_mask_method_parse) turns the refinements off again. */
    p->use_selfattn = 1;
    p->use_crf = 1;
    p->threshold = 0.45f;
    p->crf.bilateral_sigma_rgb = 20;
    p->crf.bilateral_weight = 10;
    /* The border prior (polarity.c), chosen by what a segmenter trained on the data scores on
     * real drawings (BENCHMARKS.md, "Training on it"): with it the demo model's inverted star
     * masks become star masks; eval-toy 0.765 -> 0.805 (star 0.17 -> 0.37), nothing else moves. */
    p->use_border_prior = 1;
    p->border_ring = 0.95f;
    p->score_w = (dm_score_weights){.mass = 0, .contrast = 1, .agreement = 0, .border = 1};
}

/* ------------------------------------------------------------------ names and parsing */

static const struct {
    const char *name;
    size_t field; /* offset of the int flag in dm_mask_params */
} methods[] = {
    {"selfattn", offsetof(dm_mask_params, use_selfattn)},
    {"crf", offsetof(dm_mask_params, use_crf)},
    {"otsu", offsetof(dm_mask_params, otsu)},
    {"agreement", offsetof(dm_mask_params, agreement)},
    {"border", offsetof(dm_mask_params, use_border_prior)},
};
enum { N_METHODS = sizeof methods / sizeof methods[0] };

dm_status dm_mask_method_parse(const char *name, dm_mask_params *p, dm_error *err) {
    int flags[N_METHODS] = {0};
    const char *s = name ? name : "";
    if (!*s) return dm_fail_code(err, DM_EUSAGE, "mask method: empty name");
    while (*s) {
        const char *end = strchr(s, '+');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        int found = 0;
        if (len == 5 && strncmp(s, "basic", 5) == 0) found = 1;
        for (int m = 0; m < N_METHODS && !found; m++)
            if (strlen(methods[m].name) == len && strncmp(s, methods[m].name, len) == 0) {
                flags[m] = found = 1;
            }
        if (!found)
            return dm_fail_code(
                err, DM_EUSAGE,
                "mask method '%s': unknown part '%.*s' (known: basic, selfattn, crf, "
                "otsu, agreement, border, joined by '+')",
                name, (int)len, s);
        s += len;
        if (*s == '+') s++;
    }
    for (int m = 0; m < N_METHODS; m++) *(int *)((char *)p + methods[m].field) = flags[m];
    return DM_OK;
}

void dm_mask_method_name(const dm_mask_params *p, char *buf, size_t size) {
    if (!size) return;
    buf[0] = 0;
    size_t used = 0;
    for (int m = 0; m < N_METHODS; m++) {
        if (!*(const int *)((const char *)p + methods[m].field)) continue;
        int k = snprintf(buf + used, size - used, "%s%s", used ? "+" : "", methods[m].name);
        if (k < 0 || (size_t)k >= size - used) return;
        used += (size_t)k;
    }
    if (!used) snprintf(buf, size, "basic");
}

dm_status dm_mask_parse_band(const char *s, float *lo, float *hi, dm_error *err) {
    char *end;
    float a = strtof(s, &end);
    if (end == s || *end != ':')
        return dm_fail_code(err, DM_EUSAGE, "ignore band '%s': expected LO:HI", s);
    const char *t = end + 1;
    float b = strtof(t, &end);
    if (end == t || *end)
        return dm_fail_code(err, DM_EUSAGE, "ignore band '%s': expected LO:HI", s);
    if (!(a >= 0 && a < b && b <= 1))
        return dm_fail_code(err, DM_EUSAGE, "ignore band '%s': need 0 <= LO < HI <= 1", s);
    *lo = a;
    *hi = b;
    return DM_OK;
}

dm_status dm_mask_parse_resolutions(const char *s, dm_mask_params *p, dm_error *err) {
    int n = 0;
    if (!*s || strcmp(s, "all") == 0) {
        p->n_res_sizes = 0;
        return DM_OK;
    }
    const char *c = s;
    while (*c) {
        char *end;
        long v = strtol(c, &end, 10);
        if (end == c || v < 1 || v > 1 << 16 || (*end && *end != ','))
            return dm_fail_code(err, DM_EUSAGE, "resolutions '%s': expected e.g. 64,32,16 or all",
                                s);
        if (n == DM_MASK_MAX_RES)
            return dm_fail_code(err, DM_EUSAGE, "resolutions '%s': at most %d", s, DM_MASK_MAX_RES);
        p->res_sizes[n++] = (int)v;
        c = *end ? end + 1 : end;
    }
    p->n_res_sizes = n;
    return DM_OK;
}

/* ------------------------------------------------------------------ the method */

/* Exponent a with (1 - gamma)^a = gamma: the background probability (1 - p)^a then equals the
 * class probability exactly at p = gamma, so the CRF's unaries decide like the threshold. */
static float bg_exponent(const dm_crf_params *c, float gamma) {
    if (c->bg_power > 0) return c->bg_power;
    if (gamma < 0.01f) gamma = 0.01f;
    if (gamma > 0.99f) gamma = 0.99f;
    return logf(gamma) / logf(1 - gamma);
}

/* CRF on the soft maps s (K*n) with per-class thresholds; Q: (K+1)*n, label 0 = background. */
static dm_status run_crf(const dm_mask_params *p, const uint8_t *rgb, int H, int W, const float *s,
                         int K, const float *gamma, float *prob, float *Q, dm_error *err) {
    long n = (long)H * W;
    float alpha[DM_MASK_MAX_CLASSES];
    for (int k = 0; k < K; k++) alpha[k] = bg_exponent(&p->crf, gamma[k]);
    for (long i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (s[(long)k * n + i] > s[(long)best * n + i]) best = k;
        float m = s[(long)best * n + i];
        if (m < 0) m = 0;
        if (m > 1) m = 1;
        prob[i] = powf(1 - m, alpha[best]);
    }
    memcpy(prob + n, s, (size_t)K * n * sizeof *prob);
    DM_TRY(dm_crf_mean_field(&p->crf, rgb, H, W, prob, K + 1, Q, err));
    return DM_OK;
}

/* Turns over the maps of the classes with flip[k] (s0 and s1 alike), each weighed by the maps
 * of the classes never turned over (dm_mask_turn_over_among); turned[] gains them. */
static int turn_over(float *s0, float *s1, int K, long n, const int *flip, int *turned) {
    int keep[DM_MASK_MAX_CLASSES], count = 0;
    for (int k = 0; k < K; k++) keep[k] = !turned[k] && !flip[k];
    for (int k = 0; k < K; k++) {
        if (!flip[k]) continue;
        dm_mask_turn_over_among(s1, K, k, n, keep);
        if (s0 != s1) dm_mask_turn_over_among(s0, K, k, n, keep);
        turned[k] = 1;
        count++;
    }
    return count;
}

/* Steps 3-5 of the method: thresholds gamma (fixed, Otsu or agreement), the dense CRF, labels.
 * *final: the soft maps the labels came from (s1, or the CRF marginals in Q). basic (refined
 * methods only): the unrefined labeling, for disagreement and the score's agreement part. */
static dm_status label_pass(const dm_mask_params *p, const float *s0, const float *s1, int K, int H,
                            int W, const uint8_t *image_rgb, const uint8_t *ids, float *prob,
                            float *Q, uint8_t *basic, float *gamma, const float **final,
                            uint8_t *mask_out, dm_error *err) {
    long n = (long)H * W;
    int refined = p->use_selfattn || p->use_crf;
    for (int k = 0; k < K; k++) gamma[k] = p->threshold;
    int crf_done = 0;
    if (p->agreement) {
        const float *ref = s1;
        if (p->use_crf) { /* the refined map is the CRF's marginal at the neutral gamma 0.5 */
            float g05[DM_MASK_MAX_CLASSES];
            for (int k = 0; k < K; k++) g05[k] = 0.5f;
            DM_TRY(run_crf(p, image_rgb, H, W, s1, K, g05, prob, Q, err));
            ref = Q + n;
        }
        crf_done = 1;
        for (int k = 0; k < K; k++) {
            gamma[k] = dm_agreement_threshold(s0 + k * n, ref + k * n, n, p->agree_lo, p->agree_hi,
                                              p->agree_step);
            if (gamma[k] != 0.5f) crf_done = 0;
        }
    } else if (p->otsu) {
        for (int k = 0; k < K; k++) gamma[k] = dm_otsu_threshold(s1 + k * n, n);
    }
    const float *bg = NULL;
    *final = s1;
    if (p->use_crf) {
        if (!crf_done) DM_TRY(run_crf(p, image_rgb, H, W, s1, K, gamma, prob, Q, err));
        *final = Q + n;
        bg = Q;
    }
    if (refined) dm_mask_assemble(s0, K, n, gamma, NULL, ids, 0, 0, 0, NULL, basic);
    dm_mask_assemble(*final, K, n, gamma, bg, ids, p->margin, p->ignore_lo, p->ignore_hi,
                     p->ignore_disagree && refined ? basic : NULL, mask_out);
    return DM_OK;
}

static float label_iou(const uint8_t *a, const uint8_t *b, uint8_t label, long n) {
    long inter = 0, uni = 0;
    for (long i = 0; i < n; i++) {
        int x = a[i] == label, y = b[i] == label;
        inter += x & y;
        uni += x | y;
    }
    return uni ? (float)inter / (float)uni : 1.0f; /* both empty: they agree */
}

dm_status dm_mask_make(const dm_mask_params *p, const dm_attn_map *maps, int K, int n_res,
                       const int *class_ids, const uint8_t *image_rgb, int H, int W,
                       const float *selfattn, int sa_h, int sa_w, uint8_t *mask_out,
                       float *soft_out, dm_mask_score *score_out, dm_error *err) {
    if (K < 1 || K > DM_MASK_MAX_CLASSES)
        return dm_fail_code(err, DM_EUSAGE, "mask: %d classes in one image (1..%d)", K,
                            DM_MASK_MAX_CLASSES);
    if (n_res < 1 || H < 1 || W < 1 || !maps || !class_ids || !mask_out)
        return dm_fail_code(err, DM_EUSAGE, "mask: bad call (%d resolutions, %dx%d output)", n_res,
                            H, W);
    for (int k = 0; k < K; k++)
        if (class_ids[k] < 1 || class_ids[k] > 254)
            return dm_fail_code(err, DM_EUSAGE, "mask: class id %d of word %d not in 1..254",
                                class_ids[k], k);
    if (p->use_crf && !image_rgb)
        return dm_fail_code(err, DM_EUSAGE, "mask: method crf needs the generated image");
    if (p->use_selfattn && (!selfattn || sa_h < 1 || sa_w < 1))
        return dm_fail_code(err, DM_EUSAGE, "mask: method selfattn needs a self-attention map");
    if (p->use_selfattn && p->selfattn_tau < 1)
        return dm_fail_code(err, DM_EUSAGE, "mask: selfattn tau %d must be >= 1", p->selfattn_tau);
    int refined = p->use_selfattn || p->use_crf;
    if (p->agreement && !refined)
        return dm_fail_code(err, DM_EUSAGE,
                            "mask: the agreement threshold needs a refinement (selfattn or crf)");

    long n = (long)H * W;
    int sa_n = p->use_selfattn ? sa_h * sa_w : 0;
    int L = K + 1;
    float *s0 = malloc((size_t)K * n * sizeof *s0);
    float *s1 = p->use_selfattn ? malloc((size_t)K * n * sizeof *s1) : s0;
    float *scratch = malloc((size_t)n * sizeof *scratch);
    float *sa_buf = sa_n ? malloc((size_t)sa_n * 3 * sizeof *sa_buf) : NULL;
    float *prob = p->use_crf ? malloc((size_t)L * n * sizeof *prob) : NULL;
    float *Q = p->use_crf ? malloc((size_t)L * n * sizeof *Q) : NULL;
    uint8_t *basic = refined ? malloc((size_t)n) : NULL;
    dm_status st = DM_OK;
    if (!s0 || !s1 || !scratch || (sa_n && !sa_buf) || (p->use_crf && (!prob || !Q)) ||
        (refined && !basic)) {
        st = dm_fail(err, "mask: out of memory for %d classes at %dx%d", K, H, W);
        goto done;
    }

    /* 1. basic soft maps */
    for (int k = 0; k < K; k++) {
        st = dm_mask_aggregate(maps + (long)k * n_res, n_res, p->res_sizes, p->n_res_sizes, p->norm,
                               p->norm_each, H, W, s0 + k * n, scratch, err);
        if (st != DM_OK) {
            dm_fail_wrap(err, "mask: class word %d", k);
            goto done;
        }
    }
    /* 2. self-attention propagation at the affinity's resolution, then up to H x W */
    if (p->use_selfattn) {
        float *a = sa_buf, *tmp = sa_buf + sa_n, *agg_scratch = sa_buf + 2 * sa_n;
        for (int k = 0; k < K; k++) {
            st = dm_mask_aggregate(maps + (long)k * n_res, n_res, p->res_sizes, p->n_res_sizes,
                                   p->norm, p->norm_each, sa_h, sa_w, a, agg_scratch, err);
            if (st != DM_OK) {
                dm_fail_wrap(err, "mask: class word %d at the self-attention resolution", k);
                goto done;
            }
            dm_selfattn_propagate(selfattn, sa_n, p->selfattn_tau, a, tmp);
            dm_resize_bilinear(a, sa_h, sa_w, s1 + k * n, H, W);
            dm_normalize(s1 + k * n, n, p->norm);
        }
    }
    /* 2b. the border prior (polarity.c): a map whose region surrounds the image is turned over
     * before the thresholds; a class whose final mask still surrounds it (the CRF can grow a
     * region to the frame) is turned over and labelled again, once. */
    float ring = p->use_border_prior ? p->border_ring : 0;
    int was_turned[DM_MASK_MAX_CLASSES] = {0}, flip[DM_MASK_MAX_CLASSES];
    for (int k = 0; k < K; k++) flip[k] = dm_mask_surrounds(s1 + k * n, H, W, p->threshold, ring);
    int turned = turn_over(s0, s1, K, n, flip, was_turned);
    uint8_t ids[DM_MASK_MAX_CLASSES];
    for (int k = 0; k < K; k++) ids[k] = (uint8_t)class_ids[k];
    float gamma[DM_MASK_MAX_CLASSES];
    const float *final = s1;
    st = label_pass(p, s0, s1, K, H, W, image_rgb, ids, prob, Q, basic, gamma, &final, mask_out,
                    err);
    if (st != DM_OK) goto done;
    for (int k = 0; k < K; k++)
        flip[k] = !was_turned[k] && dm_mask_label_surrounds(mask_out, ids[k], H, W, ring);
    int again = turn_over(s0, s1, K, n, flip, was_turned);
    turned += again;
    if (again) {
        st = label_pass(p, s0, s1, K, H, W, image_rgb, ids, prob, Q, basic, gamma, &final, mask_out,
                        err);
        if (st != DM_OK) goto done;
    }
    if (soft_out) memcpy(soft_out, final, (size_t)K * n * sizeof *soft_out);

    /* 6. quality score: per class, the sample's score is its weakest class */
    if (score_out) {
        dm_mask_score sum = {0}, part;
        sum.score = 1;
        for (int k = 0; k < K; k++) {
            float agree = refined ? label_iou(mask_out, basic, ids[k], n) : 1.0f;
            float sc = dm_mask_score_class(s0 + k * n, mask_out, ids[k], H, W, agree, p->area_min,
                                           p->area_max, &p->score_w, &part);
            sum.class_score[k] = sc;
            if (sc < sum.score) sum.score = sc;
            sum.mass_inside += part.mass_inside / (float)K;
            sum.contrast += part.contrast / (float)K;
            sum.area_fraction += part.area_fraction / (float)K;
            sum.agreement += part.agreement / (float)K;
            sum.border += part.border / (float)K;
        }
        sum.n_classes = K;
        sum.turned_over = turned;
        *score_out = sum;
    }

done:
    free(s0);
    if (s1 != s0) free(s1);
    free(scratch);
    free(sa_buf);
    free(prob);
    free(Q);
    free(basic);
    return st;
}
