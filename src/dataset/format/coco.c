/* COCO annotations: connected components of a class mask, their uncompressed RLE, and the
 * annotation objects of one image (annotations.json is assembled in finish.c). */
#include <stdlib.h>
#include <string.h>

#include "dataset/format/ds_internal.h"

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
dm_status dm_coco_annotate(const char *path, const uint8_t *mask, int w, int h, int n_classes,
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
