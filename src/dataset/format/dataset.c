/* The dataset writer: opening an output folder (lock, repair after a kill, config.json check)
 * and adding one finished sample (files renamed into place, then its manifest line). */
#include "dataset/format/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset/format/ds_internal.h"
#include "io/file.h"
#include "io/image.h"

#define PATH_CAP 4096

struct dm_dataset {
    char dir[PATH_CAP];
    char ext[8];
    int n_classes;
    int manifest_fd; /* O_APPEND, holds the flock that keeps a second process out */
    dm_name_set names;
    dm_name_set pruned; /* samples moved to pruned/: made, not part of the dataset */
    bool heat_dir_made;
    uint8_t pal[256 * 3];
};

/* ------------------------------------------------------------ open */

/* Leftovers of atomic writes interrupted by a kill ("x.png.tmp-1234"). */
static void remove_stale_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[PATH_CAP];
        if (!strstr(e->d_name, ".tmp-")) continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        if (dm_file_exists(path)) unlink(path);
    }
    closedir(d);
}

/* fresh: the folder holds no finished sample, so an earlier run's file gives way to this one's */
static dm_status write_text_once(const char *path, const char *text, const char *what, bool fresh,
                                 dm_error *err) {
    if (dm_file_exists(path) && !fresh) {
        char *old;
        size_t len;
        DM_TRY(dm_read_file(path, &old, &len, err));
        bool same = len == strlen(text) && !memcmp(old, text, len);
        free(old);
        if (!same)
            return dm_fail(err, "%s: OUT was made with a different %s; use a new --out", path,
                           what);
        return DM_OK;
    }
    return dm_write_file_atomic(path, text, strlen(text), err);
}

static dm_status check_config(const char *path, const char *canon, bool fresh, dm_error *err) {
    if (!dm_file_exists(path)) return dm_write_file_atomic(path, canon, strlen(canon), err);
    char *old;
    size_t len;
    DM_TRY(dm_read_file(path, &old, &len, err));
    if (len == strlen(canon) && !memcmp(old, canon, len)) {
        free(old);
        return DM_OK;
    }
    if (fresh) { /* a failed first run (say --width 4) must not block the corrected command */
        free(old);
        return dm_write_file_atomic(path, canon, strlen(canon), err);
    }
    cJSON *a = cJSON_Parse(old), *b = cJSON_Parse(canon);
    free(old);
    char key[512] = "";
    if (!a)
        snprintf(key, sizeof key, "(unreadable config.json)");
    else if (!dm_json_first_diff(a, b, key, sizeof key))
        key[0] = 0; /* same values, other layout */
    cJSON_Delete(a);
    cJSON_Delete(b);
    if (!key[0]) return DM_OK;
    return dm_fail(err,
                   "%s: OUT was made with different settings (key %s differs); use a new --out",
                   path, key);
}

static dm_status lock_manifest(dm_dataset *ds, const char *path, dm_error *err) {
    ds->manifest_fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (ds->manifest_fd < 0) return dm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (flock(ds->manifest_fd, LOCK_EX | LOCK_NB) != 0)
        return dm_fail(err, "%s: in use by another diffumask process (one writer per OUT)", path);
    return DM_OK;
}

/* Drops what is not a finished sample: a partial last line (truncated in place) or bad lines
 * (the manifest is rewritten atomically with the good ones). */
static dm_status repair_manifest(dm_dataset *ds, const char *path, dm_error *err) {
    char *text;
    size_t len;
    DM_TRY(dm_read_file(path, &text, &len, err));
    dm_manifest m;
    dm_status st = dm_manifest_parse(ds->dir, text, len, &m, err);
    free(text);
    DM_TRY(st);
    for (int i = 0; i < m.n && st == DM_OK; i++)
        if (!dm_name_set_add(&ds->names, m.v[i].name)) st = dm_fail(err, "%s: out of memory", path);
    if (st == DM_OK && m.dirty) {
        size_t total = 1;
        for (int i = 0; i < m.n; i++) total += strlen(m.v[i].line) + 1;
        char *buf = malloc(total), *p = buf;
        if (!buf) st = dm_fail(err, "%s: out of memory", path);
        for (int i = 0; buf && i < m.n; i++) p += sprintf(p, "%s\n", m.v[i].line);
        if (buf) st = dm_write_file_atomic(path, buf, (size_t)(p - buf), err);
        free(buf);
        if (st == DM_OK) { /* the old inode is gone: lock the new file */
            close(ds->manifest_fd);
            st = lock_manifest(ds, path, err);
        }
    } else if (st == DM_OK && m.good_bytes < len) {
        if (ftruncate(ds->manifest_fd, (off_t)m.good_bytes) != 0 || fsync(ds->manifest_fd) != 0)
            st = dm_fail(err, "%s: cannot drop the partial last line: %s", path, strerror(errno));
    }
    dm_manifest_free(&m);
    return st;
}

dm_status dm_dataset_open(const char *out_dir, const char *config_json,
                          const char *const *class_names, int n_classes, const char *image_ext,
                          dm_dataset **out, dm_error *err) {
    *out = NULL;
    if (!out_dir || !*out_dir)
        return dm_fail_code(err, DM_EUSAGE, "dataset: no output folder given");
    if (strlen(out_dir) > PATH_CAP - 512) return dm_fail(err, "%s: path too long", out_dir);
    if (n_classes < 1 || n_classes > 254)
        return dm_fail_code(err, DM_EUSAGE, "%s: %d classes (1..254 fit a mask next to 0 and 255)",
                            out_dir, n_classes);
    if (strcmp(image_ext, "jpg") && strcmp(image_ext, "png"))
        return dm_fail_code(err, DM_EUSAGE, "%s: image type '%s' is not jpg or png", out_dir,
                            image_ext);
    /* labels.txt: line i = class id i. */
    size_t lab_len = strlen("background\n") + 1;
    for (int i = 0; i < n_classes; i++) {
        const char *c = class_names[i];
        if (!c || !*c || strpbrk(c, "\n\r"))
            return dm_fail_code(err, DM_EUSAGE, "%s: class %d has an empty or multi-line name",
                                out_dir, i + 1);
        lab_len += strlen(c) + 1;
    }
    char *labels = malloc(lab_len), *p = labels;
    if (!labels) return dm_fail(err, "%s: out of memory", out_dir);
    p += sprintf(p, "background\n");
    for (int i = 0; i < n_classes; i++) p += sprintf(p, "%s\n", class_names[i]);

    char *canon = NULL;
    dm_dataset *ds = calloc(1, sizeof *ds);
    dm_status st = ds ? DM_OK : dm_fail(err, "%s: out of memory", out_dir);
    if (st == DM_OK) {
        ds->manifest_fd = -1;
        snprintf(ds->dir, sizeof ds->dir, "%s", out_dir);
        snprintf(ds->ext, sizeof ds->ext, "%s", image_ext);
        ds->n_classes = n_classes;
        dm_voc_palette(ds->pal);
        st = dm_config_canonical(config_json ? config_json : "{}", NULL, "dataset config", &canon,
                                 err);
    }
    const char *subdirs[] = {"JPEGImages", "SegmentationClass", "ImageSets/Segmentation",
                             "Heatmaps"};
    char path[PATH_CAP];
    if (st == DM_OK) st = dm_mkdirs(out_dir, err);
    for (int i = 0; i < 3 && st == DM_OK; i++)
        if ((st = dm_join_path(path, out_dir, subdirs[i], err)) == DM_OK) st = dm_mkdirs(path, err);
    if (st == DM_OK && (st = dm_join_path(path, out_dir, "manifest.jsonl", err)) == DM_OK)
        st = lock_manifest(ds, path, err);
    if (st == DM_OK) {
        /* We hold the lock, so any .tmp- file belongs to a dead writer. */
        remove_stale_tmp(out_dir);
        for (int i = 0; i < 4; i++)
            if (dm_join_path(path, out_dir, subdirs[i], NULL) == DM_OK) remove_stale_tmp(path);
        ds->heat_dir_made = dm_dir_exists(path);
        if ((st = dm_join_path(path, out_dir, "manifest.jsonl", err)) == DM_OK)
            st = repair_manifest(ds, path, err);
    }
    if (st == DM_OK) { /* samples pruned into pruned/ count as finished: a resumed run skips them */
        char pruned[PATH_CAP];
        dm_manifest pm = {0};
        if (dm_join_path(pruned, out_dir, "pruned", NULL) == DM_OK && dm_dir_exists(pruned) &&
            (st = dm_manifest_load(pruned, &pm, err)) == DM_OK)
            for (int i = 0; i < pm.n && st == DM_OK; i++)
                if (!dm_name_set_add(&ds->pruned, pm.v[i].name))
                    st = dm_fail(err, "%s: out of memory", pruned);
        dm_manifest_free(&pm);
    }
    /* after the manifest: only finished samples bind the folder to its settings */
    bool fresh = ds && ds->names.n == 0 && ds->pruned.n == 0;
    if (st == DM_OK && (st = dm_join_path(path, out_dir, "config.json", err)) == DM_OK)
        st = check_config(path, canon, fresh, err);
    if (st == DM_OK && (st = dm_join_path(path, out_dir, "labels.txt", err)) == DM_OK)
        st = write_text_once(path, labels, "class list (labels.txt)", fresh, err);
    free(labels);
    free(canon);
    if (st != DM_OK) {
        dm_dataset_close(ds);
        return st;
    }
    *out = ds;
    return DM_OK;
}

bool dm_dataset_has(const dm_dataset *ds, const char *name) {
    return dm_name_set_has(&ds->names, name) || dm_name_set_has(&ds->pruned, name);
}

int dm_dataset_count(const dm_dataset *ds) {
    return (int)ds->names.n;
}

void dm_dataset_close(dm_dataset *ds) {
    if (!ds) return;
    if (ds->manifest_fd >= 0) close(ds->manifest_fd);
    dm_name_set_free(&ds->names);
    dm_name_set_free(&ds->pruned);
    free(ds);
}

/* ------------------------------------------------------------ add */

dm_status dm_dataset_append_line(dm_dataset *ds, const char *name, const char *line,
                                 dm_error *err) {
    char path[PATH_CAP];
    DM_TRY(dm_join_path(path, ds->dir, "manifest.jsonl", err));
    off_t before = lseek(ds->manifest_fd, 0, SEEK_END);
    size_t n = strlen(line);
    char *buf = malloc(n + 1);
    if (!buf) return dm_fail(err, "%s: out of memory", path);
    memcpy(buf, line, n);
    buf[n] = '\n';
    size_t done = 0;
    int e = 0;
    while (done < n + 1) {
        ssize_t w = write(ds->manifest_fd, buf + done, n + 1 - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            e = w < 0 ? errno : EIO;
            break;
        }
        done += (size_t)w;
    }
    free(buf);
    if (!e && fsync(ds->manifest_fd) != 0) e = errno;
    if (e) {
        /* Leave no half line behind (reopen would drop it anyway). */
        if (before >= 0 && ftruncate(ds->manifest_fd, before) != 0) { /* nothing more to do */
        }
        return dm_fail(err, "%s: cannot append the line of %s: %s", path, name, strerror(e));
    }
    if (!dm_name_set_add(&ds->names, name)) return dm_fail(err, "%s: out of memory", path);
    return DM_OK;
}

static dm_status add_fields(cJSON *line, const dm_sample *s, const char *where, dm_error *err) {
    cJSON *parsed = NULL;
    const cJSON *f = s->fields;
    if (!f && s->fields_json) {
        f = parsed = cJSON_Parse(s->fields_json);
        if (!parsed)
            return dm_fail_code(err, DM_EUSAGE, "%s: manifest fields are not valid JSON", where);
    }
    if (f && !cJSON_IsObject(f)) {
        cJSON_Delete(parsed);
        return dm_fail_code(err, DM_EUSAGE, "%s: manifest fields are not a JSON object", where);
    }
    for (const cJSON *c = f ? f->child : NULL; c; c = c->next) {
        if (cJSON_GetObjectItemCaseSensitive(line, c->string)) {
            dm_fail_code(err, DM_EUSAGE, "%s: manifest field '%s' is the writer's own", where,
                         c->string);
            cJSON_Delete(parsed);
            return DM_EUSAGE;
        }
        cJSON *d = cJSON_Duplicate(c, 1);
        if (!d) {
            cJSON_Delete(parsed);
            return dm_fail(err, "%s: out of memory", where);
        }
        cJSON_AddItemToObject(line, c->string, d);
    }
    cJSON_Delete(parsed);
    return DM_OK;
}

dm_status dm_dataset_add(dm_dataset *ds, const dm_sample *s, dm_error *err) {
    const char *name = s->name ? s->name : "";
    if (!dm_valid_name(name))
        return dm_fail_code(err, DM_EUSAGE, "%s: bad sample name '%s' (use [A-Za-z0-9_.-])",
                            ds->dir, name);
    if (dm_dataset_has(ds, name))
        return dm_fail_code(err, DM_EUSAGE, "%s: sample %s is already in the dataset", ds->dir,
                            name);
    if (!s->rgb || !s->mask || s->width <= 0 || s->height <= 0)
        return dm_fail_code(err, DM_EUSAGE, "%s: sample %s has no pixels", ds->dir, name);
    size_t npix = (size_t)s->width * s->height;
    for (size_t i = 0; i < npix; i++)
        if (s->mask[i] > ds->n_classes && s->mask[i] != 255)
            return dm_fail_code(err, DM_EUSAGE,
                                "%s: sample %s: mask value %d is not a class id (0..%d or 255)",
                                ds->dir, name, s->mask[i], ds->n_classes);

    char rel_img[512], rel_mask[512], rel_heat[512], path[PATH_CAP];
    snprintf(rel_img, sizeof rel_img, "JPEGImages/%s.%s", name, ds->ext);
    snprintf(rel_mask, sizeof rel_mask, "SegmentationClass/%s.png", name);
    snprintf(rel_heat, sizeof rel_heat, "Heatmaps/%s.png", name);

    DM_TRY(dm_join_path(path, ds->dir, rel_img, err));
    if (!strcmp(ds->ext, "jpg"))
        DM_TRY(dm_jpeg_write_rgb(path, s->rgb, s->width, s->height, 0, err));
    else
        DM_TRY(dm_png_write_rgb(path, s->rgb, s->width, s->height, err));
    DM_TRY(dm_join_path(path, ds->dir, rel_mask, err));
    DM_TRY(dm_png_write_palette(path, s->mask, s->width, s->height, ds->pal, err));
    if (s->heat) {
        if (!ds->heat_dir_made) {
            DM_TRY(dm_join_path(path, ds->dir, "Heatmaps", err));
            DM_TRY(dm_mkdirs(path, err));
            ds->heat_dir_made = true;
        }
        uint8_t *g = malloc(npix);
        if (!g) return dm_fail(err, "%s: out of memory", ds->dir);
        for (size_t i = 0; i < npix; i++) {
            float v = s->heat[i];
            v = v > 0 ? (v < 1 ? v : 1) : 0; /* also maps NaN to 0 */
            g[i] = (uint8_t)lrintf(v * 255.0f);
        }
        dm_status st = dm_join_path(path, ds->dir, rel_heat, err);
        if (st == DM_OK) st = dm_png_write_gray(path, g, s->width, s->height, err);
        free(g);
        DM_TRY(st);
    }

    /* The line goes last: a kill before it leaves the sample unfinished, never half-recorded. */
    cJSON *line = cJSON_CreateObject();
    if (!line) return dm_fail(err, "%s: out of memory", ds->dir);
    cJSON_AddStringToObject(line, "name", name);
    cJSON_AddStringToObject(line, "image", rel_img);
    cJSON_AddStringToObject(line, "mask", rel_mask);
    if (s->heat) cJSON_AddStringToObject(line, "heatmap", rel_heat);
    cJSON_AddNumberToObject(line, "width", s->width);
    cJSON_AddNumberToObject(line, "height", s->height);
    dm_status st = add_fields(line, s, name, err);
    char *text = st == DM_OK ? cJSON_PrintUnformatted(line) : NULL;
    cJSON_Delete(line);
    if (st != DM_OK) return st;
    if (!text) return dm_fail(err, "%s: out of memory", ds->dir);
    st = dm_dataset_append_line(ds, name, text, err);
    free(text);
    return st;
}

dm_status dm_dataset_finish(dm_dataset *ds, dm_error *err) {
    return dm_dataset_finish_dir(ds->dir, err);
}
