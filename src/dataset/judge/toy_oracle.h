/* The toy-shapes mask-quality protocol (models/toy-shapes/README.md): generate the evaluation
 * prompts with the toy model, take the ground truth from the README's colour oracle, turn the
 * stored attention into masks with several methods (src/mask) and score them VOC-style.
 *
 *   items (eval-prompts.json, or 40 fixed two-object prompts)
 *     ── dm_toy_generate: txt2img (DDIM, guidance, empty negative) + attention store ──► sample:
 *        image, oracle ground truth, per class word and resolution its cross-attention map,
 *        the self-attention affinity of one resolution
 *     ── dm_toy_evaluate(method): dm_mask_make on every sample, one confusion matrix over all
 *        images (background + 5 shapes) ──► per-class IoU, mIoU; on the tuning half, the held-out
 *        half, all; and on the samples kept after pruning the worst by dm_mask_score.
 *
 * Each image is generated once; every method is evaluated on the stored samples. */
#ifndef DM_DATASET_TOY_ORACLE_H
#define DM_DATASET_TOY_ORACLE_H

#include <stdint.h>

#include "dataset/judge/eval.h"
#include "mask/mask.h"
#include "pipeline/engine.h"

#define DM_TOY_N_COLORS  6 /* red green blue yellow purple orange */
#define DM_TOY_N_SHAPES  5 /* circle square triangle star heart = class ids 1..5 */
#define DM_TOY_N_BGS     4 /* plain noisy striped gradient */
#define DM_TOY_N_CLASSES (DM_TOY_N_SHAPES + 1) /* with background */
#define DM_TOY_MAX_OBJ   2

/* ---------------------------------------------------------------- the oracle */

const char *dm_toy_color_name(int c);
const char *dm_toy_shape_name(int s); /* s = 0..4; class id s + 1 */
const char *dm_toy_bg_name(int b);
/* Index of a name, or -1. */
int dm_toy_color_index(const char *name);
int dm_toy_shape_index(const char *name);
int dm_toy_bg_index(const char *name);

/* HSV of an RGB8 pixel: hue in degrees [0, 360), saturation and value in [0, 1]. */
void dm_rgb_to_hsv(uint8_t r, uint8_t g, uint8_t b, float *h, float *s, float *v);
/* The hue (degrees) of colour c's README RGB value. */
float dm_toy_color_hue(int c);
/* Angular distance of two hues, degrees in [0, 180]. */
float dm_hue_distance(float a, float b);
/* 1 when the pixel is colour c by the README oracle: saturation >= 0.45, value >= 0.25, hue
 * within 22 degrees of c's hue. */
int dm_toy_oracle_pixel(const uint8_t *rgb, int c);
/* Ground truth of an image with n_obj objects (colours[k] drawn as class class_ids[k]): 0 where
 * no object colour matches; where two match (overlapping hue windows, e.g. red and orange), the
 * colour whose hue is closer wins. rgb: n*3, gt: n. */
void dm_toy_oracle(const uint8_t *rgb, long n, const int *colors, const int *class_ids, int n_obj,
                   uint8_t *gt);

/* ---------------------------------------------------------------- prompts */

typedef struct {
    char prompt[160];
    int n_obj;
    int color[DM_TOY_MAX_OBJ], shape[DM_TOY_MAX_OBJ]; /* indices; class id = shape + 1 */
    int bg;
    uint64_t seed;
} dm_toy_item;

/* eval-prompts.json -> items (malloc'd; prompts built as "a photo of a {color} {shape} on a {bg}
 * background"); steps / guidance from the file (may be NULL). */
dm_status dm_toy_load_prompts(const char *path, dm_toy_item **items, int *n, int *steps,
                              float *guidance, dm_error *err);
/* n deterministic two-object prompts "a photo of a {c1} {s1} and a {c2} {s2} on a {bg}
 * background" (distinct colours, distinct shapes, every shape equally often as first and second
 * object), seeds fixed (drawn from our RNG with a constant seed). */
void dm_toy_two_object_items(dm_toy_item *items, int n);

/* ---------------------------------------------------------------- generation */

typedef struct {
    dm_toy_item item;
    int H, W;
    int K; /* class words (objects) */
    int class_ids[DM_TOY_MAX_OBJ];
    int n_res; /* cross-attention resolutions, finest first */
    int res_h[DM_MASK_MAX_RES], res_w[DM_MASK_MAX_RES];
    uint8_t *rgb;    /* H*W*3 */
    uint8_t *gt;     /* H*W oracle labels */
    float *maps;     /* class-major: class k, resolution r at maps + offset(k, r) */
    int sa_h, sa_w;  /* self-attention resolution (0: none) */
    float *selfattn; /* (sa_h*sa_w)^2, rows normalised to 1, or NULL */
} dm_toy_sample;

/* Views of a sample's maps in dm_mask_make's order (maps[k*n_res + r]); out: K*n_res entries. */
void dm_toy_sample_maps(const dm_toy_sample *s, dm_attn_map *out);
void dm_toy_sample_free(dm_toy_sample *s);

/* One image of the protocol: the engine's native size, DDIM, empty negative prompt, the item's
 * seed; captures the cross-attention of every class word and the self-attention of latent
 * height self_h (0: none). */
dm_status dm_toy_generate(dm_engine *e, const dm_toy_item *it, int steps, float guidance,
                          int self_h, dm_toy_sample *s, dm_error *err);
/* The same with any sampling recipe (few-step: e.g. lcm, 4 steps, guidance 1; LoRA and TAESD
 * come with the engine). */
typedef struct {
    int steps;
    float guidance;
    dm_sampler_kind sampler;
    const char *timestep_spacing; /* NULL: the model's */
} dm_toy_recipe;
dm_status dm_toy_generate_recipe(dm_engine *e, const dm_toy_item *it, const dm_toy_recipe *r,
                                 int self_h, dm_toy_sample *s, dm_error *err);

/* What a cache's samples were made with: the recipe as run, and each option as it was given
 * ("" where it was left to its default), so a later run can report and check them. */
typedef struct {
    int32_t steps;
    float guidance;
    int32_t reseed, two_object;
    char sampler[16], spacing[16], precision[16], model[1024], decoder[1024], loras[2048],
        prompts[1024];
} dm_toy_made_with;
/* The samples in a binary cache file (generation is the slow part; tuning is not), with what
 * they were made with. Loading checks the magic and the version and fails cleanly on a short or
 * inconsistent file. */
dm_status dm_toy_samples_save(const char *path, const dm_toy_made_with *m, const dm_toy_sample *s,
                              int n, dm_error *err);
dm_status dm_toy_samples_load(const char *path, dm_toy_made_with *m, dm_toy_sample **s, int *n,
                              dm_error *err);

/* ---------------------------------------------------------------- evaluation */

/* A mask method: "default" (dm_mask_params_default) or
 * NAME[@GAMMA|@best][:tau=N][:res=A/B][:margin=M] with NAME a dm_mask_method_parse name ("basic",
 * "selfattn+crf", "crf+agreement", ...) applied to the default parameters: "basic@0.5" is the
 * paper's reference rule. "@best" chooses the threshold (and with selfattn also tau in 1..6) that
 * maximises mIoU on the tuning samples; margin=M marks 255 where the two best classes are closer
 * than M (several classes). */
typedef struct {
    char name[96];
    dm_mask_params p;
    int sweep;
} dm_toy_method;

dm_status dm_toy_method_parse(const char *spec, dm_toy_method *m, dm_error *err);

typedef struct {
    dm_toy_method method; /* with the threshold / tau actually used */
    dm_eval_result all;   /* every sample */
    dm_eval_result tune;  /* samples [0, n_tune) */
    dm_eval_result held;  /* samples [n_tune, n) (n_classes 0 when empty) */
    dm_eval_result kept;  /* all samples but the prune_fraction with the lowest score */
    int n, n_tune, n_kept;
    double ignore_fraction; /* predicted 255 pixels / all pixels */
    float *scores;          /* n per-sample dm_mask_score.score (malloc'd) */
    float *fg_iou;          /* n per-sample mean IoU of the image's classes (malloc'd) */
} dm_toy_result;

/* Evaluates one method on samples s[0..n); the threshold sweep (if any) looks at s[0..n_tune)
 * only. prune_fraction in [0, 1): share of samples dropped (lowest score first) for r->kept. */
dm_status dm_toy_evaluate(const dm_toy_method *m, const dm_toy_sample *s, int n, int n_tune,
                          float prune_fraction, dm_toy_result *r, dm_error *err);
void dm_toy_result_free(dm_toy_result *r);

/* The mask of one sample by one method's parameters (H*W labels); score may be NULL. */
dm_status dm_toy_mask(const dm_mask_params *p, const dm_toy_sample *s, uint8_t *mask,
                      dm_mask_score *score, dm_error *err);

#endif
