/* Class words that are not one whole token of the vocabulary (dm_phrase_split_words): the toy
 * model's own vocabulary ("circel" is a typo of "circle") and the real CLIP vocabulary of the
 * goldens (every word the VOC preset puts in prompts is one token; "aeroplane" is not). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dataset/make/prompts.h"
#include "io/file.h"

static int split(const dm_tokenizer *t, const char *w, char *desc) {
    dm_error err = {0};
    int n = dm_phrase_split_words(t, w, desc, 512, &err);
    CHECKF(n >= 0, "%s: %s", w, err.msg);
    return n;
}

int main(void) {
    const char *src = getenv("DM_SOURCE_DIR"), *shared = getenv("DM_SHARED_DIR");
    if (!src) check_skip("DM_SOURCE_DIR not set");
    char dir[4096], desc[512];
    dm_error err = {0};
    dm_tokenizer *t;
    snprintf(dir, sizeof dir, "%s/models/toy-shapes/tokenizer", src);
    CHECKF(dm_tokenizer_load(dir, &t, &err) == DM_OK, "%s", err.msg);
    CHECK(split(t, "circle", desc) == 0 && !strcmp(desc, ""));
    CHECK(split(t, "red circle", desc) == 0);
    CHECK(split(t, "circel", desc) == 1);
    CHECKF(!strcmp(desc, "'circel' = 'circ' + 'e' + 'l'"), "%s", desc);
    CHECK(split(t, "squar circel", desc) == 2);
    CHECKF(strstr(desc, "'squar' = ") == desc && strstr(desc, "; 'circel' = 'circ' + 'e' + 'l'"),
           "%s", desc);
    char small[12];
    CHECK(dm_phrase_split_words(t, "circel", small, sizeof small, &err) == 1 &&
          strlen(small) == sizeof small - 1); /* cut to the buffer, still terminated */
    dm_tokenizer_free(t);

    snprintf(dir, sizeof dir, "%s/golden/tokenizer", shared ? shared : "/nonexistent");
    /* only a missing folder is a skip: a tokenizer that is there and fails to load is a failure */
    if (!dm_dir_exists(dir)) check_skip("test_class_words: ../shared/golden/tokenizer missing");
    if (dm_tokenizer_load(dir, &t, &err) != DM_OK) {
        CHECKF(0, "%s", err.msg);
        return check_finish();
    }
    dm_plan p = {0};
    CHECK(dm_plan_classes_preset(&p, "voc", &err) == DM_OK && p.n_classes == 20);
    for (int c = 0; c < p.n_classes; c++)
        for (int k = 0; k < p.classes[c].n_words; k++)
            CHECKF(split(t, p.classes[c].words[k], desc) == 0, "VOC class %s: %s",
                   p.classes[c].label, desc);
    dm_plan_free(&p);
    CHECK(split(t, "aeroplane", desc) == 1);
    CHECKF(!strcmp(desc, "'aeroplane' = 'aerop' + 'lane'"), "%s", desc);
    CHECK(split(t, "potted plant", desc) == 0);
    dm_tokenizer_free(t);
    return check_finish();
}
