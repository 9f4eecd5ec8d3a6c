/* DiffuMask generation: for every planned sample this process owns, txt2img with the attention
 * store on, masks from the class words' attention, and one dataset sample written atomically.
 * Resumable (finished samples are skipped), shardable, deterministic per sample. */
#ifndef DM_DATASET_GENERATE_H
#define DM_DATASET_GENERATE_H

#include "dataset/make/prompts.h"
#include "dataset/format/shard.h"
#include "mask/mask.h"
#include "pipeline/engine.h"

typedef struct {
    const char *out_dir;
    const char *model_label;     /* the --model as given (recorded) */
    const char *negative_prompt; /* "" (NULL: zeroed embeddings on force_zeros models, SDXL) */
    int original_size[2], crop[2], target_size[2]; /* SDXL size conditioning (0: defaults) */
    int steps;
    float guidance;
    dm_sampler_kind sampler;
    const char *timestep_spacing; /* NULL = the model's scheduler config */
    int width, height;
    uint64_t seed;
    const char *image_ext; /* "jpg" | "png" */
    int save_heatmaps;
    dm_mask_params mask;
    const char *threshold_label; /* "0.5", "otsu", ... as given (recorded) */
    dm_shard shard;
    int sharded;              /* record the shard in config.json */
    float prune_fraction;     /* drop the worst fraction by quality score at the end */
    float min_score;          /* and every sample scoring below this (0 = none) */
    float val_fraction;       /* > 0: that fraction of samples goes to val.txt (dataset.h) */
    const char *source_label; /* "--classes bird,cat" etc. (recorded) */
    /* may be NULL: asked after every step and between samples (a CLI answers from the flag its
     * SIGINT/SIGTERM handler sets; the library installs no handler). Non-zero drops the sample
     * in progress before any of its files is written (a file being written is always
     * finished); the run returns DM_OK with result->stopped set, and the same command resumes. */
    int (*should_stop)(void *stop_user);
    void *stop_user;
    struct dm_generate_progress *result; /* may be NULL: receives the final counts */
} dm_generate_options;

typedef struct dm_generate_progress {
    long total;   /* samples this process owns */
    long done;    /* finished (including ones found finished) */
    long skipped; /* found finished at start */
    const char *current;
    int step, n_steps;
    double seconds_per_image; /* mean over the images generated in this run */
    int stopped;              /* the stop flag ended the run early */
} dm_generate_progress;

/* One DiffuMask sample: txt2img with the attention store, then the masks of the class words.
 * pos[k][0..npos[k]) are word k's token positions, class_ids[k] its label. Outputs (H*W*3,
 * H*W, K*H*W) are the caller's; soft (may be NULL) receives each word's aggregated attention
 * map before refinement. r receives the generation (caller frees). */
typedef struct {
    const dm_txt2img_params *gen; /* its store field is ignored (set here) */
    int n_obj;
    const int (*pos)[16];
    const int *npos;
    const int *class_ids;
    const dm_mask_params *mask;
} dm_sample_request;

dm_status dm_make_sample(dm_engine *e, const dm_sample_request *q, uint8_t *rgb, uint8_t *mask,
                         float *soft, dm_mask_score *score, dm_txt2img_result *r,
                         double *mask_seconds, dm_error *err);

typedef void (*dm_generate_progress_fn)(void *user, const dm_generate_progress *p, int sample_done);

dm_status dm_generate_run(dm_engine *e, const dm_plan *plan, const dm_generate_options *o,
                          dm_generate_progress_fn progress, void *user, dm_error *err);
/* sha256 of a model: of the file, or of a diffusers folder's config and weight files. */
dm_status dm_model_sha256(const char *path, char out[65], dm_error *err);

#endif
