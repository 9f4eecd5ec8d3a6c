/* The generation plan: class lists (csv, file with synonyms, the VOC preset), templates, JSONL
 * prompts with seeds and several classes, sample names and seeds, and the errors. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "dataset/make/prompts.h"
#include "io/file.h"

static const char *write_tmp(const char *dir, const char *name, const char *text) {
    static char path[8][1024];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 1024, "%s/%s", dir, name);
    dm_error err;
    dm_write_file_atomic(p, text, strlen(text), &err);
    return p;
}

int main(void) {
    const char *tmp = check_tmpdir();
    dm_error err;
    dm_plan p = {0};

    /* csv + two templates: sample j of class c uses template j % 2; "a {}" -> "an {}" before a
     * vowel */
    const char *tpl[2] = {"a photograph of a {}", "{} in the wild"};
    CHECK(dm_plan_classes_csv(&p, "bird, owl ,potted plant", &err) == DM_OK && p.n_classes == 3);
    CHECK(dm_plan_from_templates(&p, tpl, 2, 2, 5, &err) == DM_OK && p.n_items == 6);
    CHECK(!strcmp(p.items[0].prompt, "a photograph of a bird"));
    CHECK(!strcmp(p.items[1].prompt, "bird in the wild"));
    CHECK(!strcmp(p.items[2].prompt, "a photograph of an owl"));
    CHECK(!strcmp(p.items[4].name, "000004_potted-plant") &&
          !strcmp(p.items[4].word[0], "potted plant") &&
          !strcmp(p.classes[2].label, "potted plant"));
    CHECK(p.items[5].class_id[0] == 3 && p.items[5].index == 5);
    /* seeds pinned to literals (an independent Python SplitMix64 of seed ^ index * constant, 53
     * bits), not to dm_sample_seed itself: the same dataset on every machine and release */
    CHECK(p.items[3].seed == 3603664608935020ull && p.items[2].seed == 1007757710217475ull);
    CHECK(p.items[3].seed < (1ull << 53)); /* exact in JSON */
    dm_plan_free(&p);

    /* a classes file with synonyms and comments: words cycle over the class and its synonyms */
    const char *cf =
        write_tmp(tmp, "classes.txt", "# birds and cats\nbird: sparrow, parrot\n\ncat   # plain\n");
    CHECK(dm_plan_classes_file(&p, cf, &err) == DM_OK && p.n_classes == 2);
    CHECK(p.classes[0].n_words == 3 && !strcmp(p.classes[0].words[2], "parrot"));
    CHECK(dm_plan_from_templates(&p, NULL, 0, 3, 0, &err) == DM_OK && p.n_items == 6);
    CHECK(!strcmp(p.items[1].prompt, "a photograph of a sparrow")); /* the default template */
    CHECK(!strcmp(p.items[1].word[0], "sparrow") && p.items[1].class_id[0] == 1);
    CHECK(!strcmp(p.items[1].name, "000001_bird"));
    dm_plan_free(&p);

    /* a plan too big to hold is refused before anything is allocated for it (a fuzzer found
     * --images-per-class 7111111 asking for 2 GB); the message gives the count and the limit */
    CHECK(dm_plan_classes_csv(&p, "circle,star", &err) == DM_OK);
    CHECK(dm_plan_from_templates(&p, NULL, 0, DM_PLAN_MAX_SAMPLES / 2 + 1, 0, &err) == DM_EUSAGE &&
          p.n_items == 0 && strstr(err.msg, "1000002 samples") &&
          strstr(err.msg, "at most 1000000"));
    CHECK(dm_plan_from_templates(&p, NULL, 0, 7111111, 0, &err) == DM_EUSAGE &&
          strstr(err.msg, "--images-per-class must be 1..1000000"));
    CHECK(dm_plan_from_templates(&p, NULL, 0, 1000, 0, &err) == DM_OK && p.n_items == 2000 &&
          !strcmp(p.items[1999].name, "001999_star"));
    dm_plan_free(&p);
    /* nor can the bytes: a template or a class word too long to repeat a million times */
    static char longer[1100];
    memset(longer, 'x', sizeof longer - 1);
    memcpy(longer, "{}", 2);
    const char *lt[1] = {longer};
    CHECK(dm_plan_classes_csv(&p, "circle", &err) == DM_OK);
    CHECK(dm_plan_from_templates(&p, lt, 1, 10, 0, &err) == DM_EUSAGE &&
          strstr(err.msg, "longer than 1000 bytes"));
    dm_plan_free(&p);
    longer[203] = 0; /* 201 letters after the "{}" */
    CHECK(dm_plan_classes_csv(&p, longer + 2, &err) == DM_EUSAGE &&
          strstr(err.msg, "longer than 200 bytes"));
    dm_plan_free(&p);

    /* the VOC preset: VOC ids, VOC label names, natural prompt words */
    CHECK(dm_plan_classes_preset(&p, "voc", &err) == DM_OK && p.n_classes == 20);
    CHECK(!strcmp(p.classes[7].label, "cat") && !strcmp(p.classes[19].label, "tvmonitor"));
    CHECK(!strcmp(p.classes[19].words[0], "tv monitor") &&
          !strcmp(p.classes[10].label, "diningtable"));
    dm_plan_free(&p);
    CHECK(dm_plan_classes_preset(&p, "coco", &err) == DM_EUSAGE && strstr(err.msg, "coco"));
    dm_plan_free(&p);

    /* JSONL: seeds kept, several classes per line, ids in --classes order */
    const char *jl =
        write_tmp(tmp, "p.jsonl",
                  "{\"prompt\": \"a photo of a red circle\", \"class\": \"circle\", \"seed\": 42}\n"
                  "\n"
                  "{\"prompt\": \"a star and a circle\", \"classes\": [\"star\", \"circle\"]}\n");
    CHECK(dm_plan_classes_csv(&p, "circle,square,star", &err) == DM_OK);
    CHECK(dm_plan_from_jsonl(&p, jl, 9, &err) == DM_OK && p.n_items == 2);
    CHECK(p.items[0].seed == 42 && p.items[0].class_id[0] == 1 &&
          !strcmp(p.items[0].word[0], "circle"));
    CHECK(p.items[1].n_obj == 2 && p.items[1].class_id[0] == 3 && p.items[1].class_id[1] == 1);
    CHECK(p.items[1].seed == 5337879451078892ull && !strcmp(p.items[1].name, "000001_star_circle"));
    dm_plan_free(&p);
    /* without a class list, classes come in order of first appearance */
    CHECK(dm_plan_from_jsonl(&p, jl, 9, &err) == DM_OK && p.n_classes == 2);
    CHECK(!strcmp(p.classes[0].label, "circle") && !strcmp(p.classes[1].label, "star"));
    dm_plan_free(&p);

    /* errors: a class not in the list, no prompt, bad JSON, empty list, template without {} */
    const char *bad1 =
        write_tmp(tmp, "b1.jsonl", "{\"prompt\": \"a heart\", \"class\": \"heart\"}\n");
    CHECK(dm_plan_classes_csv(&p, "circle", &err) == DM_OK);
    CHECK(dm_plan_from_jsonl(&p, bad1, 0, &err) == DM_EUSAGE && strstr(err.msg, "b1.jsonl:1") &&
          strstr(err.msg, "heart"));
    dm_plan_free(&p);
    const char *bad2 = write_tmp(tmp, "b2.jsonl", "{\"class\": \"circle\"}\n");
    CHECK(dm_plan_from_jsonl(&p, bad2, 0, &err) == DM_EUSAGE && strstr(err.msg, "prompt"));
    dm_plan_free(&p);
    /* a syntax error names the file, line and column */
    const char *bad3 = write_tmp(tmp, "b3.jsonl",
                                 "{\"prompt\": \"a circle\", \"class\": \"circle\"}\n"
                                 "{\"prompt\": \"x\", \"class\": circle}\n");
    CHECKF(dm_plan_from_jsonl(&p, bad3, 0, &err) == DM_EUSAGE &&
               strstr(err.msg, "b3.jsonl: invalid JSON at line 2, column 26 (near 'circle}')"),
           "%s", err.msg);
    dm_plan_free(&p);
    const char *bad4 = write_tmp(tmp, "b4.jsonl", "\n[\"circle\"]\n");
    CHECKF(
        dm_plan_from_jsonl(&p, bad4, 0, &err) == DM_EUSAGE &&
            strstr(err.msg, "b4.jsonl: line 2: a JSON object {...} was expected, found an array"),
        "%s", err.msg);
    dm_plan_free(&p);
    CHECK(dm_plan_classes_csv(&p, " , ", &err) == DM_EUSAGE);
    dm_plan_free(&p);
    CHECK(dm_plan_classes_csv(&p, "cat,cat", &err) == DM_EUSAGE && strstr(err.msg, "twice"));
    dm_plan_free(&p);
    const char *nobrace[1] = {"a photo"};
    CHECK(dm_plan_classes_csv(&p, "cat", &err) == DM_OK);
    CHECK(dm_plan_from_templates(&p, nobrace, 1, 1, 0, &err) == DM_EUSAGE && strstr(err.msg, "{}"));
    dm_plan_free(&p);
    CHECK(dm_plan_classes_file(&p, "/nonexistent/classes.txt", &err) == DM_ERR &&
          strstr(err.msg, "/nonexistent/classes.txt"));
    dm_plan_free(&p);
    return check_finish();
}
