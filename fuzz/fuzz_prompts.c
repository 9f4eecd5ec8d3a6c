/* libFuzzer harness: a prompts .jsonl (and, by the first byte, a --classes-file) through the
 * plan builder. The first byte: bit 0 = a fixed class list first (--classes circle,square),
 * bit 1 = the bytes are a classes file instead. Invariants of a plan that builds: every item has
 * a prompt, 1..DM_MAX_OBJECTS class ids inside the class list, and a name that is a safe file
 * name (no '/', no ".."); labels are non-empty, one line, not "background". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/make/prompts.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 16) return 0;
    int mode = data[0];
    data++, size--;
    dm_plan p = {0};
    dm_error err = {{0}};
    dm_status s = DM_OK;
    if (mode & 1) s = dm_plan_classes_csv(&p, "circle,square", &err);
    if (!s && (mode & 2)) {
        s = dm_plan_classes_file(&p, fuzz_write("classes.txt", data, size), &err);
        if (!s) s = dm_plan_from_templates(&p, NULL, 0, 2, 7, &err);
    } else if (!s) {
        s = dm_plan_from_jsonl(&p, fuzz_write("prompts.jsonl", data, size), 7, &err);
    }
    if (!s) {
        for (int c = 0; c < p.n_classes; c++) {
            const char *l = p.classes[c].label;
            if (!*l || strpbrk(l, "\n\r") || !strcmp(l, "background")) abort();
        }
        for (long i = 0; i < p.n_items; i++) {
            const dm_plan_item *it = &p.items[i];
            if (!it->prompt || it->n_obj < 1 || it->n_obj > DM_MAX_OBJECTS) abort();
            for (int k = 0; k < it->n_obj; k++)
                if (it->class_id[k] < 1 || it->class_id[k] > p.n_classes) abort();
            if (!it->name[0] || strchr(it->name, '/') || strstr(it->name, "..")) abort();
        }
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    dm_plan_free(&p);
    return 0;
}
