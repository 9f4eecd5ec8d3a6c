/* diffumask filter: prune the samples an external segmenter disagrees with most. */
#include "dataset/judge/filter.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/format/dataset.h"
#include "dataset/format/ds_internal.h"
#include "io/file.h"
#include "io/json.h"
#include "io/image.h"

#define PATH_CAP 4096

double dm_sample_iou(const uint8_t *mask, const uint8_t *pred, size_t n) {
    uint64_t tp[256] = {0}, gt[256] = {0}, pr[256] = {0};
    for (size_t i = 0; i < n; i++) {
        if (mask[i] == 255 || pred[i] == 255) continue;
        gt[mask[i]]++;
        pr[pred[i]]++;
        if (mask[i] == pred[i]) tp[mask[i]]++;
    }
    double sum = 0;
    int classes = 0;
    for (int c = 0; c < 255; c++) {
        if (!gt[c] && !pr[c]) continue;
        sum += (double)tp[c] / (double)(gt[c] + pr[c] - tp[c]);
        classes++;
    }
    return classes ? sum / classes : 0.0;
}

void dm_filter_result_free(dm_filter_result *res) {
    for (int i = 0; res->scores && i < res->total; i++) free(res->scores[i].name);
    free(res->scores);
    memset(res, 0, sizeof *res);
}

static int score_cmp(const void *a, const void *b) {
    const dm_filter_score *x = a, *y = b;
    if (x->iou != y->iou) return x->iou < y->iou ? -1 : 1;
    return strcmp(x->name, y->name);
}

static const char *entry_str(const dm_manifest_entry *e, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e->json, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Score of one sample: its mask against PRED/NAME.png. */
static dm_status score_entry(const char *dir, const char *pred_dir, const dm_manifest_entry *e,
                             double *iou, dm_error *err) {
    char mpath[PATH_CAP], ppath[PATH_CAP];
    snprintf(mpath, sizeof mpath, "%s/%s", dir, entry_str(e, "mask"));
    if ((size_t)snprintf(ppath, sizeof ppath, "%s/%s.png", pred_dir, e->name) >= sizeof ppath)
        return dm_fail(err, "%s/%s.png: path too long", pred_dir, e->name);
    if (!dm_file_exists(ppath))
        return dm_fail(err, "%s: no prediction for sample %s", ppath, e->name);
    uint8_t *mask = NULL, *pred = NULL;
    int mw, mh, pw, ph;
    DM_TRY(dm_png_read(mpath, 1, &mask, &mw, &mh, err));
    dm_status st = dm_png_read(ppath, 1, &pred, &pw, &ph, err);
    if (st == DM_OK && (pw != mw || ph != mh))
        st = dm_fail(err, "%s: prediction is %dx%d but the mask of %s is %dx%d", ppath, pw, ph,
                     e->name, mw, mh);
    if (st == DM_OK) *iou = dm_sample_iou(mask, pred, (size_t)mw * mh);
    free(mask);
    free(pred);
    return st;
}

/* The manifest line with "pred_iou" set. */
static char *line_with_iou(const dm_manifest_entry *e, double iou) {
    cJSON *j = cJSON_Duplicate(e->json, 1);
    if (!j) return NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(j, "pred_iou");
    cJSON_AddNumberToObject(j, "pred_iou", floor(iou * 1e6 + 0.5) / 1e6);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

/* Creates the folder a file path lies in. */
static dm_status mkdirs_for(const char *path, dm_error *err) {
    char d[PATH_CAP];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash) return DM_OK;
    *slash = 0;
    return dm_mkdirs(d, err);
}

static const char *const FILE_KEYS[] = {"image", "mask", "heatmap"};

/* Moves (move = true) or links one sample's files from dir to to_dir, same relative paths. */
static dm_status transfer(const char *dir, const char *to_dir, const dm_manifest_entry *e,
                          bool move, dm_error *err) {
    for (int k = 0; k < 3; k++) {
        const char *rel = entry_str(e, FILE_KEYS[k]);
        if (!rel) continue;
        char src[PATH_CAP], dst[PATH_CAP];
        if ((size_t)snprintf(src, sizeof src, "%s/%s", dir, rel) >= sizeof src ||
            (size_t)snprintf(dst, sizeof dst, "%s/%s", to_dir, rel) >= sizeof dst)
            return dm_fail(err, "%s/%s: path too long", to_dir, rel);
        DM_TRY(mkdirs_for(dst, err));
        if (!move) {
            DM_TRY(dm_link_or_copy(src, dst, err));
            continue;
        }
        if (dm_file_exists(dst))
            return dm_fail(err, "%s: already exists (sample %s was pruned before)", dst, e->name);
        if (rename(src, dst) != 0)
            return dm_fail(err, "%s: cannot move to %s: %s", src, dst, strerror(errno));
    }
    return DM_OK;
}

static dm_status append_line(const char *path, const char *line, dm_error *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) return dm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t n = strlen(line);
    bool ok = write(fd, line, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int e = errno;
    close(fd);
    return ok ? DM_OK : dm_fail(err, "%s: cannot append: %s", path, strerror(e));
}

/* (files are always replaced by rename, never rewritten in place, so a link shares no future write)
 */
static dm_status copy_if_absent(const char *src, const char *dst, dm_error *err) {
    if (dm_file_exists(dst) || !dm_file_exists(src)) return DM_OK;
    return dm_link_or_copy(src, dst, err);
}

/* In place: dropped samples to DIR/pruned/, kept lines back into manifest.jsonl, then finish. */
static dm_status prune_in_place(const char *dir, const dm_manifest *m, const double *iou,
                                const dm_name_set *dropped, const dm_filter_result *res,
                                dm_error *err) {
    char pruned[PATH_CAP], path[PATH_CAP + 64], src[PATH_CAP + 64];
    snprintf(pruned, sizeof pruned, "%s/pruned", dir);
    if (res->dropped) {
        DM_TRY(dm_mkdirs(pruned, err));
        static const char *const copied[] = {"labels.txt", "config.json"};
        for (int k = 0; k < 2; k++) {
            snprintf(src, sizeof src, "%s/%s", dir, copied[k]);
            snprintf(path, sizeof path, "%s/%s", pruned, copied[k]);
            DM_TRY(copy_if_absent(src, path, err));
        }
    }
    snprintf(path, sizeof path, "%s/manifest.jsonl", pruned);
    size_t total = 1;
    for (int i = 0; i < m->n; i++) total += strlen(m->v[i].line) + 64;
    char *buf = malloc(total), *p = buf;
    if (!buf) return dm_fail(err, "%s: out of memory", dir);
    dm_status st = DM_OK;
    for (int i = 0; i < m->n && st == DM_OK; i++) {
        const dm_manifest_entry *e = &m->v[i];
        char *line = iou ? line_with_iou(e, iou[i]) : strdup(e->line);
        if (!line)
            st = dm_fail(err, "%s: out of memory", dir);
        else if (dm_name_set_has(dropped, e->name)) {
            /* Files first, then the line: pruned/manifest.jsonl only lists moved samples. */
            if ((st = transfer(dir, pruned, e, true, err)) == DM_OK)
                st = append_line(path, line, err);
        } else if (p + strlen(line) + 2 <= buf + total)
            p += sprintf(p, "%s\n", line);
        else
            st = dm_fail(err, "%s: internal error sizing manifest.jsonl", dir);
        free(line);
    }
    snprintf(path, sizeof path, "%s/manifest.jsonl", dir);
    if (st == DM_OK) st = dm_write_file_atomic(path, buf, (size_t)(p - buf), err);
    free(buf);
    if (st == DM_OK) st = dm_dataset_finish_dir(dir, err);
    return st;
}

/* With OUT: a new dataset of the kept samples. */
static dm_status write_kept(const char *dir, const char *out_dir, const char *config_text,
                            const char *pred_dir, double drop, char **labels, int n_labels,
                            const dm_manifest *m, const double *iou, const dm_name_set *dropped,
                            dm_error *err) {
    char abs_src[PATH_CAP], abs_pred[PATH_CAP];
    if (!realpath(dir, abs_src)) snprintf(abs_src, sizeof abs_src, "%s", dir);
    if (!realpath(pred_dir, abs_pred)) snprintf(abs_pred, sizeof abs_pred, "%s", pred_dir);
    char where[PATH_CAP + 16];
    snprintf(where, sizeof where, "%s/config.json", dir);
    cJSON *cfg;
    DM_TRY(dm_json_parse_object(config_text, strlen(config_text), where, 0, &cfg, err));
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "filter");
    cJSON *f = cJSON_AddObjectToObject(cfg, "filter");
    cJSON_AddStringToObject(f, "source", abs_src);
    cJSON_AddStringToObject(f, "pred", abs_pred);
    cJSON_AddNumberToObject(f, "drop", drop);
    char *text = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);
    if (!text) return dm_fail(err, "%s: out of memory", out_dir);
    dm_dataset *ds = NULL;
    dm_status st = dm_dataset_open(out_dir, text, (const char *const *)labels + 1, n_labels - 1,
                                   "png", &ds, err);
    free(text);
    if (st == DM_OK && dm_dataset_count(ds) > 0)
        st = dm_fail(err, "%s: already holds %d samples; filter into a new folder", out_dir,
                     dm_dataset_count(ds));
    for (int i = 0; i < m->n && st == DM_OK; i++) {
        const dm_manifest_entry *e = &m->v[i];
        if (dm_name_set_has(dropped, e->name)) continue;
        char *line = iou ? line_with_iou(e, iou[i]) : strdup(e->line);
        if (!line) st = dm_fail(err, "%s: out of memory", out_dir);
        if (st == DM_OK) st = transfer(dir, out_dir, e, false, err);
        if (st == DM_OK) st = dm_dataset_append_line(ds, e->name, line, err);
        free(line);
    }
    if (st == DM_OK) st = dm_dataset_finish(ds, err);
    dm_dataset_close(ds);
    return st;
}

dm_status dm_filter_dataset(const char *dir, const char *pred_dir, double drop, const char *out_dir,
                            dm_filter_result *res, dm_error *err) {
    memset(res, 0, sizeof *res);
    if (!(drop >= 0 && drop <= 1))
        return dm_fail_code(err, DM_EUSAGE, "filter: --drop %g is not in 0..1", drop);
    if (!dm_dir_exists(pred_dir)) return dm_fail(err, "%s: no such prediction folder", pred_dir);
    bool in_place = !out_dir || !*out_dir;
    if (strlen(dir) > PATH_CAP - 512) return dm_fail(err, "%s: path too long", dir);
    char abs_dir[PATH_CAP], abs_out[PATH_CAP];
    if (!in_place && realpath(dir, abs_dir) && realpath(out_dir, abs_out) &&
        !strcmp(abs_dir, abs_out))
        return dm_fail_code(err, DM_EUSAGE,
                            "%s: --out is the dataset itself (leave --out out to prune in place)",
                            out_dir);
    char path[PATH_CAP], *config = NULL, **labels = NULL;
    int n_labels = 0;
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (!dm_file_exists(path))
        return dm_fail(err, "%s: not a diffumask dataset (no config.json)", dir);
    DM_TRY(dm_read_file(path, &config, NULL, err));
    dm_status st = dm_read_labels(dir, &labels, &n_labels, err);
    dm_dataset *lock = NULL; /* in place: holds the dataset's writer lock (and repairs it) */
    if (st == DM_OK && in_place)
        st = dm_dataset_open(dir, config, (const char *const *)labels + 1, n_labels - 1, "png",
                             &lock, err);
    dm_manifest m = {0};
    if (st == DM_OK) st = dm_manifest_load(dir, &m, err);
    dm_manifest_sort(&m);

    double *iou = NULL; /* per manifest entry (name order) */
    if (st == DM_OK && m.n &&
        (!(res->scores = calloc((size_t)m.n, sizeof *res->scores)) ||
         !(iou = calloc((size_t)m.n, sizeof *iou))))
        st = dm_fail(err, "%s: out of memory", dir);
    for (int i = 0; i < m.n && st == DM_OK; i++) {
        if (!(res->scores[i].name = strdup(m.v[i].name)))
            st = dm_fail(err, "%s: out of memory", dir);
        else {
            res->total++;
            st = score_entry(dir, pred_dir, &m.v[i], &iou[i], err);
            res->scores[i].iou = iou[i];
        }
    }
    dm_name_set dropped = {0};
    if (st == DM_OK) {
        if (res->total) qsort(res->scores, (size_t)res->total, sizeof *res->scores, score_cmp);
        res->dropped = (int)floor(drop * res->total + 1e-9);
        res->kept = res->total - res->dropped;
        double all = 0, kept = 0;
        for (int i = 0; i < res->total; i++) {
            all += res->scores[i].iou;
            if (i >= res->dropped)
                kept += res->scores[i].iou;
            else if (!dm_name_set_add(&dropped, res->scores[i].name))
                st = dm_fail(err, "%s: out of memory", dir);
        }
        res->miou_before = res->total ? all / res->total : 0;
        res->miou_after = res->kept ? kept / res->kept : 0;
    }
    if (st == DM_OK && in_place)
        st = prune_in_place(dir, &m, iou, &dropped, res, err);
    else if (st == DM_OK)
        st = write_kept(dir, out_dir, config, pred_dir, drop, labels, n_labels, &m, iou, &dropped,
                        err);
    dm_name_set_free(&dropped);
    free(iou);
    dm_manifest_free(&m);
    dm_dataset_close(lock);
    dm_free_lines(labels, n_labels);
    free(config);
    if (st != DM_OK) dm_filter_result_free(res);
    return st;
}

dm_status dm_prune_by_score(const char *dir, double fraction, double min_score, int *n_dropped,
                            dm_error *err) {
    *n_dropped = 0;
    if (!(fraction >= 0 && fraction < 1))
        return dm_fail_code(err, DM_EUSAGE, "prune: fraction %g is not in [0, 1)", fraction);
    if (!(min_score >= 0 && min_score <= 1))
        return dm_fail_code(err, DM_EUSAGE, "prune: minimum score %g is not in [0, 1]", min_score);
    char path[PATH_CAP], *config = NULL, **labels = NULL;
    int n_labels = 0;
    snprintf(path, sizeof path, "%s/config.json", dir);
    DM_TRY(dm_read_file(path, &config, NULL, err));
    dm_status st = dm_read_labels(dir, &labels, &n_labels, err);
    dm_dataset *lock = NULL;
    if (st == DM_OK)
        st = dm_dataset_open(dir, config, (const char *const *)labels + 1, n_labels - 1, "png",
                             &lock, err);
    dm_manifest m = {0}, pm = {0};
    if (st == DM_OK) st = dm_manifest_load(dir, &m, err);
    snprintf(path, sizeof path, "%s/pruned", dir);
    if (st == DM_OK && dm_dir_exists(path)) st = dm_manifest_load(path, &pm, err);
    dm_manifest_sort(&m);
    /* the target counts every sample ever made, so pruning again after a resume is a no-op */
    int total = m.n + pm.n, target = (int)floor(fraction * total + 1e-9), extra = target - pm.n;
    dm_filter_score *order = NULL;
    dm_name_set dropped = {0};
    /* every sample below the floor goes too: a rule of the sample alone, so shards, resumed and
     * single runs keep the same samples */
    int below = 0; /* sorted by score, the samples below the floor come first */
    for (int i = 0; i < m.n && min_score > 0; i++)
        below += dm_manifest_score(m.v[i].json, 0.0) < min_score;
    if (below > extra) extra = below;
    if (st == DM_OK && extra > 0) {
        if (!(order = calloc((size_t)m.n, sizeof *order)))
            st = dm_fail(err, "%s: out of memory", dir);
        for (int i = 0; i < m.n && st == DM_OK; i++)
            order[i].name = m.v[i].name, order[i].iou = dm_manifest_score(m.v[i].json, 0.0);
        if (st == DM_OK) qsort(order, (size_t)m.n, sizeof *order, score_cmp);
        for (int i = 0; i < extra && i < m.n && st == DM_OK; i++)
            if (!dm_name_set_add(&dropped, order[i].name))
                st = dm_fail(err, "%s: out of memory", dir);
        dm_filter_result res = {.total = m.n, .dropped = extra < m.n ? extra : m.n};
        if (st == DM_OK) st = prune_in_place(dir, &m, NULL, &dropped, &res, err);
        if (st == DM_OK) *n_dropped = res.dropped;
    }
    free(order);
    dm_name_set_free(&dropped);
    dm_manifest_free(&m);
    dm_manifest_free(&pm);
    dm_dataset_close(lock);
    dm_free_lines(labels, n_labels);
    free(config);
    return st;
}
