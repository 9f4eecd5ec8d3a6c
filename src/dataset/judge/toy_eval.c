/* The toy-shapes protocol, part 2: mask methods evaluated on stored samples (toy_oracle.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/judge/toy_oracle.h"

enum { NC = DM_TOY_N_CLASSES, CONF = (NC + 1) * (NC + 1) };

dm_status dm_toy_method_parse(const char *spec, dm_toy_method *m, dm_error *err) {
    memset(m, 0, sizeof *m);
    dm_mask_params_default(&m->p);
    if (!spec || !*spec) return dm_fail_code(err, DM_EUSAGE, "method: empty name");
    if (strlen(spec) >= sizeof m->name)
        return dm_fail_code(err, DM_EUSAGE, "method '%.40s...': name too long", spec);
    snprintf(m->name, sizeof m->name, "%s", spec);
    char buf[sizeof m->name];
    snprintf(buf, sizeof buf, "%s", spec);
    /* NAME[@GAMMA|@best] then :key=value modifiers */
    char *mods = strchr(buf, ':');
    if (mods) *mods++ = 0;
    char *at = strchr(buf, '@');
    if (at) *at++ = 0;
    if (strcmp(buf, "default") != 0) DM_TRY(dm_mask_method_parse(buf, &m->p, err));
    if (at) {
        if (!strcmp(at, "best")) {
            m->sweep = 1;
        } else {
            char *end;
            float g = strtof(at, &end);
            if (end == at || *end || !(g >= 0 && g < 1))
                return dm_fail_code(err, DM_EUSAGE,
                                    "method '%s': threshold must be in [0,1) or best", spec);
            m->p.threshold = g;
        }
    }
    while (mods && *mods) {
        char *next = strchr(mods, ':');
        if (next) *next++ = 0;
        if (!strncmp(mods, "tau=", 4)) {
            char *end;
            long t = strtol(mods + 4, &end, 10);
            if (end == mods + 4 || *end || t < 1 || t > 64)
                return dm_fail_code(err, DM_EUSAGE, "method '%s': tau must be 1..64", spec);
            m->p.selfattn_tau = (int)t;
        } else if (!strncmp(mods, "margin=", 7)) {
            char *end;
            float g = strtof(mods + 7, &end);
            if (end == mods + 7 || *end || !(g >= 0 && g <= 1))
                return dm_fail_code(err, DM_EUSAGE, "method '%s': margin must be in [0,1]", spec);
            m->p.margin = g;
        } else if (!strncmp(mods, "res=", 4)) {
            for (char *c = mods + 4; *c; c++)
                if (*c == '/') *c = ',';
            DM_TRY(dm_mask_parse_resolutions(mods + 4, &m->p, err));
        } else {
            return dm_fail_code(
                err, DM_EUSAGE,
                "method '%s': unknown modifier '%s' (known: tau=N, res=A/B, margin=M)", spec, mods);
        }
        mods = next;
    }
    return DM_OK;
}

dm_status dm_toy_mask(const dm_mask_params *p, const dm_toy_sample *s, uint8_t *mask,
                      dm_mask_score *score, dm_error *err) {
    dm_attn_map maps[DM_TOY_MAX_OBJ * DM_MASK_MAX_RES];
    dm_toy_sample_maps(s, maps);
    if (p->use_selfattn && !s->selfattn)
        return dm_fail_code(err, DM_EUSAGE,
                            "toy: method selfattn needs the self-attention captured");
    return dm_mask_make(p, maps, s->K, s->n_res, s->class_ids, s->rgb, s->H, s->W, s->selfattn,
                        s->sa_h, s->sa_w, mask, NULL, score, err);
}

/* Per-sample confusion matrices (n * CONF), scores and 255 counts for one parameter set. */
static dm_status run_all(const dm_mask_params *p, const dm_toy_sample *s, int n, uint64_t *conf,
                         float *scores, long *ignored, dm_error *err) {
    uint8_t *mask = NULL;
    long cap = 0;
    for (int i = 0; i < n; i++) {
        long px = (long)s[i].H * s[i].W;
        if (px > cap) {
            free(mask);
            mask = malloc((size_t)px);
            cap = px;
            if (!mask) return dm_fail(err, "toy: out of memory");
        }
        dm_mask_score sc;
        dm_status st = dm_toy_mask(p, &s[i], mask, scores ? &sc : NULL, err);
        if (st != DM_OK) {
            free(mask);
            return dm_fail_wrap(err, "sample %d", i);
        }
        memset(conf + (long)i * CONF, 0, CONF * sizeof *conf);
        dm_confusion_add(conf + (long)i * CONF, mask, s[i].gt, (size_t)px, NC, DM_MASK_IGNORE);
        if (scores) scores[i] = sc.score;
        if (ignored) {
            long c = 0;
            for (long j = 0; j < px; j++) c += mask[j] == DM_MASK_IGNORE;
            ignored[i] = c;
        }
    }
    free(mask);
    return DM_OK;
}

/* IoU of the summed confusion of the samples with use[i] (all when use is NULL) in [a, b). */
static void sum_iou(const uint64_t *conf, int a, int b, const char *use, dm_eval_result *r) {
    uint64_t tot[CONF] = {0};
    memset(r, 0, sizeof *r);
    if (b <= a) return;
    for (int i = a; i < b; i++)
        if (!use || use[i])
            for (int j = 0; j < CONF; j++) tot[j] += conf[(long)i * CONF + j];
    dm_error e;
    dm_confusion_iou(tot, NC, r, &e);
    r->images = 0;
    for (int i = a; i < b; i++) r->images += !use || use[i];
}

static int cmp_score(const void *a, const void *b) {
    const float *x = *(const float *const *)a, *y = *(const float *const *)b;
    if (*x != *y) return *x < *y ? -1 : 1;
    return x < y ? -1 : x > y; /* stable: earlier sample first */
}

dm_status dm_toy_evaluate(const dm_toy_method *m, const dm_toy_sample *s, int n, int n_tune,
                          float prune_fraction, dm_toy_result *r, dm_error *err) {
    memset(r, 0, sizeof *r);
    if (n < 1 || n_tune < 0 || n_tune > n || !(prune_fraction >= 0 && prune_fraction < 1))
        return dm_fail_code(err, DM_EUSAGE, "toy: bad evaluation (%d samples, %d to tune)", n,
                            n_tune);
    r->method = *m;
    r->n = n, r->n_tune = n_tune;
    uint64_t *conf = malloc((size_t)n * CONF * sizeof *conf);
    r->scores = malloc((size_t)n * sizeof *r->scores);
    r->fg_iou = malloc((size_t)n * sizeof *r->fg_iou);
    long *ignored = malloc((size_t)n * sizeof *ignored);
    char *use = malloc((size_t)n);
    const float **order = malloc((size_t)n * sizeof *order);
    dm_status st = DM_OK;
    if (!conf || !r->scores || !r->fg_iou || !ignored || !use || !order) {
        st = dm_fail(err, "toy: out of memory");
        goto done;
    }

    /* the sweep: threshold (unless a label-free one decides) and tau, on the tuning samples */
    if (m->sweep && n_tune > 0) {
        dm_mask_params p = m->p, best = m->p;
        double best_miou = -1;
        int sweep_g = !p.otsu && !p.agreement;
        int t_lo = p.use_selfattn ? 1 : p.selfattn_tau, t_hi = p.use_selfattn ? 6 : p.selfattn_tau;
        for (int tau = t_lo; tau <= t_hi; tau++)
            for (int gi = 0; gi <= (sweep_g ? 12 : 0); gi++) {
                p.selfattn_tau = tau;
                if (sweep_g) p.threshold = 0.2f + 0.05f * (float)gi;
                st = run_all(&p, s, n_tune, conf, NULL, NULL, err);
                if (st != DM_OK) goto done;
                dm_eval_result e;
                sum_iou(conf, 0, n_tune, NULL, &e);
                if (e.miou > best_miou + 1e-9) best_miou = e.miou, best = p;
            }
        r->method.p = best;
    }

    long px_all = 0, ign_all = 0;
    st = run_all(&r->method.p, s, n, conf, r->scores, ignored, err);
    if (st != DM_OK) goto done;
    for (int i = 0; i < n; i++) {
        px_all += (long)s[i].H * s[i].W;
        ign_all += ignored[i];
        dm_eval_result e;
        sum_iou(conf, i, i + 1, NULL, &e);
        double sum = 0;
        int cnt = 0;
        for (int c = 1; c < NC; c++)
            if (!isnan(e.iou[c])) sum += e.iou[c], cnt++;
        r->fg_iou[i] = cnt ? (float)(sum / cnt) : 0;
    }
    r->ignore_fraction = px_all ? (double)ign_all / (double)px_all : 0;
    sum_iou(conf, 0, n, NULL, &r->all);
    sum_iou(conf, 0, n_tune, NULL, &r->tune);
    sum_iou(conf, n_tune, n, NULL, &r->held);

    /* pruning: drop the lowest-scoring samples */
    for (int i = 0; i < n; i++) order[i] = &r->scores[i], use[i] = 1;
    qsort(order, (size_t)n, sizeof *order, cmp_score);
    int drop = (int)floorf(prune_fraction * (float)n);
    for (int j = 0; j < drop; j++) use[order[j] - r->scores] = 0;
    r->n_kept = n - drop;
    sum_iou(conf, 0, n, use, &r->kept);
done:
    free(conf);
    free(ignored);
    free(use);
    free(order);
    if (st != DM_OK) dm_toy_result_free(r);
    return st;
}

void dm_toy_result_free(dm_toy_result *r) {
    free(r->scores);
    free(r->fg_iou);
    r->scores = r->fg_iou = NULL;
}
