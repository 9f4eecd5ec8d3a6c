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

#include "core/sha256.h"
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

/* ------------------------------------------------------------ small helpers */

bool dm_valid_name(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 200 || name[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

bool dm_name_set_has(const dm_name_set *s, const char *name) {
    if (!s->cap) return false;
    for (size_t i = hash_str(name) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slot[i]) return false;
        if (!strcmp(s->slot[i], name)) return true;
    }
}

static void set_put(char **slot, size_t cap, char *name) {
    size_t i = hash_str(name) & (cap - 1);
    while (slot[i]) i = (i + 1) & (cap - 1);
    slot[i] = name;
}

bool dm_name_set_add(dm_name_set *s, const char *name) {
    if (dm_name_set_has(s, name)) return true;
    if (2 * (s->n + 1) > s->cap) { /* keep the table at most half full */
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot) return false;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i]) set_put(slot, cap, s->slot[i]);
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return false;
    set_put(s->slot, s->cap, copy);
    s->n++;
    return true;
}

void dm_name_set_free(dm_name_set *s) {
    for (size_t i = 0; i < s->cap; i++) free(s->slot[i]);
    free(s->slot);
    memset(s, 0, sizeof *s);
}

static dm_status join(char *buf, const char *a, const char *b, dm_error *err) {
    if ((size_t)snprintf(buf, PATH_CAP, "%s/%s", a, b) >= PATH_CAP)
        return dm_fail(err, "%s/%s: path too long", a, b);
    return DM_OK;
}

void dm_free_lines(char **lines, int n) {
    if (!lines) return;
    for (int i = 0; i < n; i++) free(lines[i]);
    free(lines);
}

dm_status dm_read_lines(const char *path, char ***lines, int *n, dm_error *err) {
    char *text;
    size_t len;
    DM_TRY(dm_read_file(path, &text, &len, err));
    int cap = 16, cnt = 0;
    char **v = malloc(sizeof *v * cap);
    char *p = text;
    while (v && *p) {
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        size_t keep = l && p[l - 1] == '\r' ? l - 1 : l; /* tolerate CRLF files */
        if (cnt == cap) {
            char **nv = realloc(v, sizeof *v * (cap *= 2));
            if (!nv) break;
            v = nv;
        }
        if (!(v[cnt] = strndup(p, keep))) break;
        cnt++;
        p = nl ? nl + 1 : p + l;
    }
    bool oom = !v || *p;
    free(text);
    if (oom) {
        dm_free_lines(v, cnt);
        return dm_fail(err, "%s: out of memory", path);
    }
    *lines = v;
    *n = cnt;
    return DM_OK;
}

dm_status dm_read_labels(const char *dir, char ***names, int *n, dm_error *err) {
    char path[PATH_CAP];
    DM_TRY(join(path, dir, "labels.txt", err));
    DM_TRY(dm_read_lines(path, names, n, err));
    if (*n < 1) {
        dm_free_lines(*names, *n);
        return dm_fail(err, "%s: empty (line 0 must be the background)", path);
    }
    return DM_OK;
}

/* ------------------------------------------------------------ config.json */

dm_status dm_config_canonical(const char *json, const char *drop_key, const char *what, char **out,
                              dm_error *err) {
    cJSON *j = cJSON_Parse(json);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return dm_fail(err, "%s: settings are not a JSON object", what);
    }
    if (drop_key) cJSON_DeleteItemFromObjectCaseSensitive(j, drop_key);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    size_t n = s ? strlen(s) : 0;
    char *r = s ? malloc(n + 2) : NULL;
    if (!r) {
        free(s);
        return dm_fail(err, "%s: out of memory printing settings", what);
    }
    memcpy(r, s, n);
    r[n] = '\n';
    r[n + 1] = 0;
    free(s);
    *out = r;
    return DM_OK;
}

bool dm_json_first_diff(const cJSON *a, const cJSON *b, char *path, size_t cap) {
    if (cJSON_Compare(a, b, 1)) return false;
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        size_t base = strlen(path);
        /* Keys of a (changed or gone), then keys only b has. */
        for (int pass = 0; pass < 2; pass++) {
            const cJSON *x = pass ? b : a, *y = pass ? a : b;
            for (const cJSON *c = x->child; c; c = c->next) {
                const cJSON *o = cJSON_GetObjectItemCaseSensitive(y, c->string);
                if (o && cJSON_Compare(c, o, 1)) continue;
                snprintf(path + base, cap - base, "%s%s", base ? "." : "", c->string);
                if (o) dm_json_first_diff(pass ? o : c, pass ? c : o, path, cap);
                return true;
            }
        }
    }
    if (!path[0]) snprintf(path, cap, "(whole config)");
    return true;
}

/* ------------------------------------------------------------ manifest */

static dm_status manifest_push(dm_manifest *m, char *name, char *line, cJSON *json) {
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 64;
        dm_manifest_entry *v = realloc(m->v, sizeof *v * cap);
        if (!v) return DM_ERR;
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n++] = (dm_manifest_entry){name, line, json};
    return DM_OK;
}

/* Does a relative path climb out of its folder? Only a ".." component does ("../x", "a/../..");
 * ".." inside a name ("JPEGImages/000000_a..b.jpg") is a harmless file name. */
static bool climbs_out(const char *p) {
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.') return true;
        c += n;
        if (*c == '/') c++;
    }
    return false;
}

/* A manifest path must stay inside the dataset and name an existing file. */
static bool entry_file_ok(const char *dir, const cJSON *j, const char *key, bool required) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return !required;
    if (!cJSON_IsString(v) || climbs_out(v->valuestring) || v->valuestring[0] == '/') return false;
    char path[PATH_CAP];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, v->valuestring) >= sizeof path)
        return false;
    return dm_file_exists(path);
}

dm_status dm_manifest_parse(const char *dir, const char *text, size_t len, dm_manifest *m,
                            dm_error *err) {
    memset(m, 0, sizeof *m);
    dm_name_set seen = {0};
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl) break; /* a partial line left by a kill: not finished */
        size_t l = (size_t)(nl - (text + pos));
        cJSON *j = cJSON_ParseWithLength(text + pos, l);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
        bool ok = cJSON_IsObject(j) && cJSON_IsString(name) && dm_valid_name(name->valuestring) &&
                  !dm_name_set_has(&seen, name->valuestring) &&
                  entry_file_ok(dir, j, "image", true) && entry_file_ok(dir, j, "mask", true) &&
                  entry_file_ok(dir, j, "heatmap", false);
        if (ok) {
            char *n = strdup(name->valuestring), *line = strndup(text + pos, l);
            if (!n || !line || !dm_name_set_add(&seen, n) ||
                manifest_push(m, n, line, j) != DM_OK) {
                free(n);
                free(line);
                cJSON_Delete(j);
                dm_name_set_free(&seen);
                dm_manifest_free(m);
                return dm_fail(err, "%s/manifest.jsonl: out of memory", dir);
            }
        } else {
            cJSON_Delete(j);
            m->dirty = true;
        }
        pos += l + 1;
    }
    m->good_bytes = pos;
    dm_name_set_free(&seen);
    return DM_OK;
}

dm_status dm_manifest_load(const char *dir, dm_manifest *m, dm_error *err) {
    char path[PATH_CAP];
    DM_TRY(join(path, dir, "manifest.jsonl", err));
    if (!dm_file_exists(path)) {
        memset(m, 0, sizeof *m);
        return DM_OK;
    }
    char *text;
    size_t len;
    DM_TRY(dm_read_file(path, &text, &len, err));
    dm_status st = dm_manifest_parse(dir, text, len, m, err);
    free(text);
    return st;
}

static int entry_cmp(const void *a, const void *b) {
    return strcmp(((const dm_manifest_entry *)a)->name, ((const dm_manifest_entry *)b)->name);
}

void dm_manifest_sort(dm_manifest *m) {
    if (m->n) qsort(m->v, (size_t)m->n, sizeof *m->v, entry_cmp);
}

void dm_manifest_free(dm_manifest *m) {
    for (int i = 0; i < m->n; i++) {
        free(m->v[i].name);
        free(m->v[i].line);
        cJSON_Delete(m->v[i].json);
    }
    free(m->v);
    memset(m, 0, sizeof *m);
}

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
        if ((st = join(path, out_dir, subdirs[i], err)) == DM_OK) st = dm_mkdirs(path, err);
    if (st == DM_OK && (st = join(path, out_dir, "manifest.jsonl", err)) == DM_OK)
        st = lock_manifest(ds, path, err);
    if (st == DM_OK) {
        /* We hold the lock, so any .tmp- file belongs to a dead writer. */
        remove_stale_tmp(out_dir);
        for (int i = 0; i < 4; i++)
            if (join(path, out_dir, subdirs[i], NULL) == DM_OK) remove_stale_tmp(path);
        ds->heat_dir_made = dm_dir_exists(path);
        if ((st = join(path, out_dir, "manifest.jsonl", err)) == DM_OK)
            st = repair_manifest(ds, path, err);
    }
    if (st == DM_OK) { /* samples pruned into pruned/ count as finished: a resumed run skips them */
        char pruned[PATH_CAP];
        dm_manifest pm = {0};
        if (join(pruned, out_dir, "pruned", NULL) == DM_OK && dm_dir_exists(pruned) &&
            (st = dm_manifest_load(pruned, &pm, err)) == DM_OK)
            for (int i = 0; i < pm.n && st == DM_OK; i++)
                if (!dm_name_set_add(&ds->pruned, pm.v[i].name))
                    st = dm_fail(err, "%s: out of memory", pruned);
        dm_manifest_free(&pm);
    }
    /* after the manifest: only finished samples bind the folder to its settings */
    bool fresh = ds && ds->names.n == 0 && ds->pruned.n == 0;
    if (st == DM_OK && (st = join(path, out_dir, "config.json", err)) == DM_OK)
        st = check_config(path, canon, fresh, err);
    if (st == DM_OK && (st = join(path, out_dir, "labels.txt", err)) == DM_OK)
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
    DM_TRY(join(path, ds->dir, "manifest.jsonl", err));
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

    DM_TRY(join(path, ds->dir, rel_img, err));
    if (!strcmp(ds->ext, "jpg"))
        DM_TRY(dm_jpeg_write_rgb(path, s->rgb, s->width, s->height, 0, err));
    else
        DM_TRY(dm_png_write_rgb(path, s->rgb, s->width, s->height, err));
    DM_TRY(join(path, ds->dir, rel_mask, err));
    DM_TRY(dm_png_write_palette(path, s->mask, s->width, s->height, ds->pal, err));
    if (s->heat) {
        if (!ds->heat_dir_made) {
            DM_TRY(join(path, ds->dir, "Heatmaps", err));
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
        dm_status st = join(path, ds->dir, rel_heat, err);
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

/* ------------------------------------------------------------ COCO */

dm_status dm_components(const uint8_t *mask, int w, int h, int ignore, int32_t *label, int *n_comp,
                        dm_error *err) {
    size_t n = (size_t)w * h;
    memset(label, 0, n * sizeof *label);
    int32_t *stack = malloc(n * sizeof *stack);
    if (!stack) return dm_fail(err, "components: out of memory for %dx%d", w, h);
    int32_t next = 0;
    for (size_t start = 0; start < n; start++) {
        uint8_t v = mask[start];
        if (v == 0 || v == ignore || label[start]) continue;
        label[start] = ++next;
        size_t top = 0;
        stack[top++] = (int32_t)start;
        while (top) { /* flood fill; each pixel is pushed once (labelled when pushed) */
            int32_t i = stack[--top];
            int x = i % w, y = i / w;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int nx = x + dx, ny = y + dy;
                    if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                    int32_t j = ny * w + nx;
                    if (mask[j] == v && !label[j]) {
                        label[j] = next;
                        stack[top++] = j;
                    }
                }
        }
    }
    free(stack);
    *n_comp = next;
    return DM_OK;
}

/* RLE of one component whose pixels all lie in columns x0..x1: the columns outside are one
 * background run each side, so only the bounding columns are scanned. */
static int rle_cols(const int32_t *label, int w, int h, int32_t id, int x0, int x1,
                    uint32_t *counts) {
    int n = 0;
    uint32_t run = (uint32_t)x0 * h;
    int cur = 0; /* runs alternate 0,1,0,...; the first counts background */
    for (int x = x0; x <= x1; x++)
        for (int y = 0; y < h; y++) {
            int v = label[(size_t)y * w + x] == id;
            if (v != cur) {
                counts[n++] = run;
                run = 0;
                cur = v;
            }
            run++;
        }
    uint32_t tail = (uint32_t)(w - 1 - x1) * h; /* background columns right of the component */
    if (cur == 1 && tail) { /* the last run is foreground: close it before the background tail */
        counts[n++] = run;
        run = 0;
    }
    counts[n++] = run + tail;
    return n;
}

int dm_rle_encode(const int32_t *label, int w, int h, int32_t id, uint32_t *counts) {
    return rle_cols(label, w, h, id, 0, w - 1, counts);
}

typedef struct {
    int cls, x0, y0, x1, y1;
    long area;
} comp_info;

/* Adds the annotations of one mask (class by class, components in raster order). */
static dm_status coco_annotate(const char *path, const uint8_t *mask, int w, int h, int n_classes,
                               int image_id, int *next_ann, cJSON *anns, dm_error *err) {
    size_t n = (size_t)w * h;
    for (size_t i = 0; i < n; i++)
        if (mask[i] > n_classes && mask[i] != 255)
            return dm_fail(
                err, "%s: pixel (%zu,%zu) has value %d, not a class id of labels.txt (0..%d, 255)",
                path, i % w, i / w, mask[i], n_classes);
    int32_t *label = malloc(n * sizeof *label);
    uint32_t *counts = malloc((n + 1) * sizeof *counts);
    comp_info *ci = NULL;
    int nc = 0;
    dm_status st = label && counts ? dm_components(mask, w, h, 255, label, &nc, err)
                                   : dm_fail(err, "%s: out of memory", path);
    if (st == DM_OK && !(ci = calloc((size_t)nc + 1, sizeof *ci)))
        st = dm_fail(err, "%s: out of memory", path);
    if (st == DM_OK) {
        for (size_t i = 0; i < n; i++) {
            if (!label[i]) continue;
            comp_info *c = &ci[label[i]];
            int x = (int)(i % w), y = (int)(i / w);
            if (!c->area) *c = (comp_info){mask[i], x, y, x, y, 0};
            c->area++;
            if (x < c->x0) c->x0 = x;
            if (x > c->x1) c->x1 = x;
            if (y > c->y1) c->y1 = y; /* y0 is the first pixel's row: raster order */
        }
        for (int cls = 1; cls <= n_classes && st == DM_OK; cls++)
            for (int id = 1; id <= nc && st == DM_OK; id++) {
                const comp_info *c = &ci[id];
                if (c->cls != cls) continue;
                int nr = rle_cols(label, w, h, id, c->x0, c->x1, counts);
                cJSON *a = cJSON_CreateObject(), *seg = cJSON_CreateObject();
                cJSON *cnt = cJSON_CreateArray(), *size = cJSON_CreateArray(),
                      *bbox = cJSON_CreateArray();
                if (!a || !seg || !cnt || !size || !bbox) {
                    cJSON_Delete(a), cJSON_Delete(seg), cJSON_Delete(cnt), cJSON_Delete(size),
                        cJSON_Delete(bbox);
                    st = dm_fail(err, "%s: out of memory", path);
                    break;
                }
                for (int r = 0; r < nr; r++)
                    cJSON_AddItemToArray(cnt, cJSON_CreateNumber(counts[r]));
                cJSON_AddItemToArray(size, cJSON_CreateNumber(h));
                cJSON_AddItemToArray(size, cJSON_CreateNumber(w));
                cJSON_AddItemToObject(seg, "counts", cnt);
                cJSON_AddItemToObject(seg, "size", size);
                int box[4] = {c->x0, c->y0, c->x1 - c->x0 + 1, c->y1 - c->y0 + 1};
                for (int k = 0; k < 4; k++) cJSON_AddItemToArray(bbox, cJSON_CreateNumber(box[k]));
                cJSON_AddNumberToObject(a, "id", (*next_ann)++);
                cJSON_AddNumberToObject(a, "image_id", image_id);
                cJSON_AddNumberToObject(a, "category_id", cls);
                cJSON_AddItemToObject(a, "segmentation", seg);
                cJSON_AddNumberToObject(a, "area", (double)c->area);
                cJSON_AddItemToObject(a, "bbox", bbox);
                cJSON_AddNumberToObject(a, "iscrowd", 0);
                cJSON_AddItemToArray(anns, a);
            }
    }
    free(label);
    free(counts);
    free(ci);
    return st;
}

static dm_status write_string_list(const char *path, char **items, int from, int to,
                                   dm_error *err) {
    size_t total = 1;
    for (int i = from; i < to; i++) total += strlen(items[i]) + 1;
    char *buf = malloc(total), *p = buf;
    if (!buf) return dm_fail(err, "%s: out of memory", path);
    for (int i = from; i < to; i++) p += sprintf(p, "%s\n", items[i]);
    dm_status st = dm_write_file_atomic(path, buf, (size_t)(p - buf), err);
    free(buf);
    return st;
}

typedef struct {
    char key[65]; /* SHA-256 of the name, hex */
    int index;
} val_key;

static int val_key_cmp(const void *a, const void *b) {
    const val_key *x = a, *y = b;
    int c = memcmp(x->key, y->key, sizeof x->key);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

int dm_val_split(char *const *names, int n, double fraction, unsigned char *is_val) {
    memset(is_val, 0, (size_t)n);
    if (!(fraction > 0) || n < 2) return 0;
    int n_val = (int)(fraction * n + 0.5);
    if (n_val < 1) n_val = 1;
    if (n_val > n - 1) n_val = n - 1;
    val_key *k = malloc(sizeof *k * (size_t)n);
    if (!k) return -1;
    for (int i = 0; i < n; i++) {
        dm_sha256 h;
        dm_sha256_init(&h);
        dm_sha256_update(&h, names[i], strlen(names[i]));
        dm_sha256_hex(&h, k[i].key);
        k[i].index = i;
    }
    qsort(k, (size_t)n, sizeof *k, val_key_cmp);
    for (int i = 0; i < n_val; i++) is_val[k[i].index] = 1;
    free(k);
    return n_val;
}

/* "val_fraction" of DIR/config.json; 0 when absent (or no config.json: merge output before
 * its config is written has one, filter/augment copy theirs). */
static dm_status read_val_fraction(const char *dir, double *fraction, dm_error *err) {
    char path[PATH_CAP];
    *fraction = 0;
    DM_TRY(join(path, dir, "config.json", err));
    if (!dm_file_exists(path)) return DM_OK;
    char *text;
    size_t len;
    DM_TRY(dm_read_file(path, &text, &len, err));
    cJSON *c = cJSON_ParseWithLength(text, len);
    free(text);
    if (!c) return dm_fail(err, "%s: not valid JSON", path);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "val_fraction");
    dm_status st = DM_OK;
    if (v && (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= 1))
        st = dm_fail(err, "%s: val_fraction must be a number in [0, 1)", path);
    else if (v)
        *fraction = v->valuedouble;
    cJSON_Delete(c);
    return st;
}

dm_status dm_dataset_finish_dir(const char *dir, dm_error *err) {
    double val_fraction;
    DM_TRY(read_val_fraction(dir, &val_fraction, err));
    char **labels = NULL;
    int n_labels = 0;
    DM_TRY(dm_read_labels(dir, &labels, &n_labels, err));
    dm_manifest m;
    dm_status st = dm_manifest_load(dir, &m, err);
    if (st != DM_OK) {
        dm_free_lines(labels, n_labels);
        return st;
    }
    dm_manifest_sort(&m);
    char path[PATH_CAP];

    /* names: the train samples, then the val samples, each in name order */
    char **names = malloc(sizeof *names * ((size_t)m.n + 1) * 2);
    unsigned char *is_val = malloc((size_t)m.n + 1);
    if (!names || !is_val) st = dm_fail(err, "%s: out of memory", dir);
    for (int i = 0; st == DM_OK && i < m.n; i++) names[m.n + i] = m.v[i].name;
    if (st == DM_OK && dm_val_split(names + m.n, m.n, val_fraction, is_val) < 0)
        st = dm_fail(err, "%s: out of memory", dir);
    int n_train = 0;
    for (int i = 0; st == DM_OK && i < m.n; i++)
        if (!is_val[i]) names[n_train++] = m.v[i].name;
    for (int i = 0, j = n_train; st == DM_OK && i < m.n; i++)
        if (is_val[i]) names[j++] = m.v[i].name;
    if (st == DM_OK && (st = join(path, dir, "ImageSets/Segmentation", err)) == DM_OK)
        st = dm_mkdirs(path, err);
    if (st == DM_OK && (st = join(path, dir, "ImageSets/Segmentation/train.txt", err)) == DM_OK)
        st = write_string_list(path, names, 0, n_train, err);
    if (st == DM_OK && val_fraction > 0) {
        if ((st = join(path, dir, "ImageSets/Segmentation/val.txt", err)) == DM_OK)
            st = write_string_list(path, names, n_train, m.n, err);
        if (st == DM_OK &&
            (st = join(path, dir, "ImageSets/Segmentation/trainval.txt", err)) == DM_OK)
            st = write_string_list(path, names, m.n, 2 * m.n, err);
    }
    free(names);
    free(is_val);
    if (st == DM_OK && (st = join(path, dir, "labels.txt", err)) == DM_OK)
        st = write_string_list(path, labels, 0, n_labels, err);

    cJSON *coco = cJSON_CreateObject();
    cJSON *info = cJSON_AddObjectToObject(coco, "info");
    cJSON_AddStringToObject(info, "description", "diffumask synthetic segmentation dataset");
    cJSON *cats = cJSON_AddArrayToObject(coco, "categories");
    cJSON *imgs = cJSON_AddArrayToObject(coco, "images");
    cJSON *anns = cJSON_AddArrayToObject(coco, "annotations");
    if (!anns && st == DM_OK) st = dm_fail(err, "%s: out of memory", dir);
    for (int c = 1; c < n_labels && st == DM_OK; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", c);
        cJSON_AddStringToObject(o, "name", labels[c]);
        cJSON_AddItemToArray(cats, o);
    }
    int next_ann = 1;
    for (int i = 0; i < m.n && st == DM_OK; i++) {
        const cJSON *jm = cJSON_GetObjectItemCaseSensitive(m.v[i].json, "mask");
        const cJSON *ji = cJSON_GetObjectItemCaseSensitive(m.v[i].json, "image");
        if ((st = join(path, dir, jm->valuestring, err)) != DM_OK) break;
        uint8_t *mask;
        int w, h;
        if ((st = dm_png_read(path, 1, &mask, &w, &h, err)) != DM_OK) break;
        const char *slash = strrchr(ji->valuestring, '/');
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", i + 1);
        cJSON_AddStringToObject(o, "file_name", slash ? slash + 1 : ji->valuestring);
        cJSON_AddNumberToObject(o, "width", w);
        cJSON_AddNumberToObject(o, "height", h);
        cJSON_AddItemToArray(imgs, o);
        st = coco_annotate(path, mask, w, h, n_labels - 1, i + 1, &next_ann, anns, err);
        free(mask);
    }
    if (st == DM_OK) {
        char *text = cJSON_PrintUnformatted(coco);
        size_t len = text ? strlen(text) : 0;
        char *buf = text ? realloc(text, len + 2) : NULL;
        if (!buf) {
            free(text);
            st = dm_fail(err, "%s: out of memory printing annotations.json", dir);
        } else {
            buf[len] = '\n';
            if ((st = join(path, dir, "annotations.json", err)) == DM_OK)
                st = dm_write_file_atomic(path, buf, len + 1, err);
            free(buf);
        }
    }
    cJSON_Delete(coco);
    dm_manifest_free(&m);
    dm_free_lines(labels, n_labels);
    return st;
}

dm_status dm_dataset_finish(dm_dataset *ds, dm_error *err) {
    return dm_dataset_finish_dir(ds->dir, err);
}

double dm_manifest_score(const cJSON *line, double absent) {
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(line, "quality");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(q, "score");
    return cJSON_IsNumber(s) ? s->valuedouble : absent;
}
