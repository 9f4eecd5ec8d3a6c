/* Random checkpoints in the original one-file layout (CompVis/LDM names: model.diffusion_model.*,
 * first_stage_model.*, cond_stage_model.*), with the names and shapes of the real SD 1.5 / SD 2.1
 * releases and deterministic random weights. SDXL comes in Stability's SGM layout
 * (conditioner.embedders.*, label_emb). They let the engine be timed and exercised at
 * full size without downloading 2-5 GB of real weights. */
#ifndef DM_MODEL_RANDOM_CKPT_H
#define DM_MODEL_RANDOM_CKPT_H

#include <stdint.h>

#include "core/status.h"
#include "io/safetensors.h"

typedef enum {
    DM_RCK_SD15, /* SD 1.5: CLIP ViT-L/14 text, UNet 320 x (1,2,4,4), 8 heads, context 768 */
    DM_RCK_SD21, /* SD 2.1: OpenCLIP ViT-H text, linear proj_in/out, 64-wide heads, context 1024 */
    DM_RCK_TINY, /* tests: the SD 1.x layout at widths of 32/64 (seconds to write) */
    DM_RCK_TINY21, /* tests: the SD 2.x layout at small widths */
    DM_RCK_SDXL,   /* SDXL base 1.0 (SGM layout): CLIP-L + OpenCLIP bigG, UNet 320 x (1,2,4) with
                      transformer depth 0/2/10, context 2048, label_emb 2816 */
    DM_RCK_TINYXL  /* tests: the SDXL layout at golden/sdxl's tiny widths */
} dm_rck_arch;

/* How a tensor's values are drawn. */
typedef enum {
    DM_RCK_WEIGHT, /* N(0, 1/sqrt(fan_in)): matrices and convs */
    DM_RCK_EMBED,  /* N(0, 0.02): token / position embeddings */
    DM_RCK_NORM,   /* 1 + N(0, 0.02): norm gains */
    DM_RCK_BIAS,   /* N(0, 0.02) */
    DM_RCK_SCHED,  /* the DDPM schedule buffer named by sched (scaled_linear 0.00085 -> 0.012) */
    DM_RCK_CONST,  /* every element = value */
    DM_RCK_ARANGE  /* 0, 1, 2, ... (position_ids, int64) */
} dm_rck_kind;

typedef struct {
    char name[160];
    int ndim;
    int64_t shape[4];
    int64_t numel;
    dm_rck_kind kind;
    int64_t fan_in; /* DM_RCK_WEIGHT */
    int sched;      /* DM_RCK_SCHED: index into the schedule buffers */
    float value;    /* DM_RCK_CONST */
    int is_int;     /* stored as an integer type (position_ids i64, model_ema.num_updates i32) */
} dm_rck_tensor;

/* Length of the DM_RCK_SCHED buffers: one value per training timestep. */
enum { DM_RCK_T_TRAIN = 1000 };

/* "sd15", "sd21", "tiny", "tiny21", "sdxl", "tinyxl" -> arch. */
dm_status dm_rck_arch_parse(const char *s, dm_rck_arch *out, dm_error *err);
/* Every tensor of the checkpoint, in file order (malloc'd; free() it). */
dm_status dm_rck_plan(dm_rck_arch arch, dm_rck_tensor **out, int *n, dm_error *err);
/* Writes the checkpoint atomically (temporary name + rename), one tensor at a time in
 * chunks, so memory stays small whatever the file size. dtype: DM_F32 or DM_F16 (float
 * tensors; integer buffers keep their integer type). Same seed => same bytes. */
dm_status dm_rck_write(const char *path, dm_rck_arch arch, dm_dtype dtype, uint64_t seed,
                       dm_error *err);

#endif
