/* What to generate: the class list (names, the words that name them in prompts, synonyms) and
 * the plan, one item per sample with its prompt, class words and seed. Sample i's seed comes
 * from the run's seed and i only, so any subset (a shard, a resumed run) draws the same images. */
#ifndef DM_DATASET_PROMPTS_H
#define DM_DATASET_PROMPTS_H

#include <stdint.h>

#include "core/status.h"
#include "model/tokenizer.h"

#define DM_MAX_OBJECTS 8 /* class words per prompt */
/* Samples in one plan: the plan is held in memory (about 300 bytes a sample plus its prompt),
 * and a million images is weeks of a CPU server; bigger sets are several datasets merged. */
#define DM_PLAN_MAX_SAMPLES 1000000L
/* Longest template and class word: the text encoder reads 77 tokens (~300 characters) anyway,
 * and these bound the memory of the largest plan (each sample holds its prompt and word). */
#define DM_MAX_TEMPLATE_BYTES 1000
#define DM_MAX_WORD_BYTES     200

typedef struct {
    char *label;  /* labels.txt name ("pottedplant") */
    char **words; /* prompt words: the class word, then synonyms / sub-classes ("potted plant") */
    int n_words;
} dm_class;

typedef struct {
    long index;     /* global sample index */
    char name[160]; /* "000042_bird": sorting by name follows the plan */
    char *prompt;
    int n_obj;
    int class_id[DM_MAX_OBJECTS]; /* 1..n_classes */
    char *word[DM_MAX_OBJECTS];   /* the words of the prompt that name them */
    uint64_t seed;
} dm_plan_item;

typedef struct {
    dm_class *classes; /* id i+1 = classes[i] */
    int n_classes;
    dm_plan_item *items;
    long n_items;
    long cap_items; /* allocated items */
} dm_plan;

void dm_plan_free(dm_plan *p);
/* "bird,cat,potted plant" */
dm_status dm_plan_classes_csv(dm_plan *p, const char *csv, dm_error *err);
/* One class a line, optional synonyms: "bird: sparrow, parrot, eagle"; '#' comments. */
dm_status dm_plan_classes_file(dm_plan *p, const char *path, dm_error *err);
/* "voc": the 20 PASCAL VOC classes with their VOC ids. */
dm_status dm_plan_classes_preset(dm_plan *p, const char *name, dm_error *err);
/* The paper's default template when none is given. */
#define DM_DEFAULT_TEMPLATE "a photograph of a {}"
/* images_per_class samples per class: sample j of class c uses word j % n_words and template
 * j % n_templates; "{}" is replaced by the word (and "a {}" becomes "an {}" before a vowel). */
dm_status dm_plan_from_templates(dm_plan *p, const char *const *templates, int n_templates,
                                 long images_per_class, uint64_t seed, dm_error *err);
/* One sample per JSONL line: {"prompt", "class", "word"?, "seed"?} or, for several objects,
 * {"prompt", "classes": [...], "words": [...]?, "seed"?}. Classes must be in p's list when it
 * has one (ids in that order); otherwise they are added in order of first appearance. */
dm_status dm_plan_from_jsonl(dm_plan *p, const char *path, uint64_t seed, dm_error *err);
/* Seed of sample i of a run seeded with seed. */
uint64_t dm_sample_seed(uint64_t run_seed, long index);

/* Words of PHRASE ("circel", "potted plant") that are not one whole token of the vocabulary:
 * returns how many, and desc gets each as "'circel' = 'ci' + 'rc' + 'el'" ("; "-separated, cut
 * to cap). Such a word still gets a mask (its pieces' attention is joined), but it is usually a
 * misspelling or a word the text encoder knows poorly. -1 on error. */
int dm_phrase_split_words(const dm_tokenizer *t, const char *phrase, char *desc, size_t cap,
                          dm_error *err);

#endif
