/* The engine: one loaded model (tokenizer, text encoder, UNet, VAE, scheduler config) and one
 * activation arena, reused for every image of a run; and txt2img with classifier-free guidance. */
#ifndef DM_PIPELINE_ENGINE_H
#define DM_PIPELINE_ENGINE_H

#include "core/cpu.h"
#include "model/clip.h"
#include "model/tokenizer.h"
#include "model/taesd.h"
#include "model/unet.h"
#include "model/vae.h"
#include "ops/dnnl_ops.h"
#include "pipeline/attn_store.h"
#include "sched/sampler.h"

typedef struct {
    const char *model_path;
    const char *tokenizer_dir; /* NULL: the model's own / beside the file */
    const char *ldm_config; /* LDM .yaml for a one-file checkpoint (NULL: FILE.yaml if present) */
    int threads;            /* 0: leave the libraries' defaults */
    int prediction;         /* -1: from the model, 0: epsilon, 1: v_prediction */
    int no_tokenizer;       /* debug commands that take token ids need none */
    int f32_weights; /* 1: f16/bf16 weights become f32 copies at load (the pre-issue-10 mode, for
                        measurements and tests); 0: they stay as stored, converted per layer */
    dm_precision precision; /* AUTO (0): bf16 where the CPU has it (dm_precision_resolve) */
    const dm_lora *loras;   /* merged into the f32 weights before the networks load them */
    int n_loras;
    const char *vae_decoder; /* AutoencoderTiny folder replacing the VAE (NULL: the model's) */
} dm_engine_options;

/* A prompt the text encoders ran on, kept by its token ids (both tokenizers' for SDXL): a
 * dataset's prompts repeat (one per class, word and template, and the empty negative), so
 * each distinct prompt is encoded once per run. */
#define DM_PROMPT_MEMO 32
typedef struct {
    int32_t ids[2][DM_CONTEXT_LEN];
    float *emb;    /* [77, ctx_dim] */
    float *pooled; /* [pooled_dim] (SDXL), or NULL */
} dm_prompt_memo;

/* (declared opaque in diffumask.h) */
struct dm_engine {
    dm_model *model;
    dm_tokenizer *tok; /* NULL with no_tokenizer */
    dm_clip clip;
    int sdxl;           /* two text encoders and the added (pooled + size) conditioning */
    dm_tokenizer *tok2; /* SDXL's tokenizer_2 (pads with "!"), NULL otherwise */
    dm_clip clip2;      /* SDXL's second text encoder */
    dm_unet unet;
    dm_vae vae;
    dm_taesd *taesd; /* --vae-decoder: replaces the VAE in decode / encode, or NULL */
    int n_loras;     /* LoRAs merged at open, in order (recorded by generate) */
    char (*lora_paths)[4096];
    float *lora_scales;
    dm_sched_config sched;
    dm_arena arena;
    dm_precision precision; /* effective: FP32 or BF16 */
    dm_dnnl *dnnl;          /* bf16: oneDNN engine, primitive cache, prepared weights */
    dm_prompt_memo memo[DM_PROMPT_MEMO];
    int n_memo, next_memo; /* filled entries; the one to replace next when full */
};

dm_status dm_engine_open(const dm_engine_options *o, dm_engine **out, dm_error *err);
void dm_engine_free(dm_engine *e);
/* Sets the thread count (0: all cores) of the process-wide OpenMP pool; OpenBLAS runs
 * single-threaded inside it. Called by dm_engine_open. */
void dm_set_threads(int threads);

/* The attention resolutions (latent heights/widths of the cross-attention layers) of the
 * engine's UNet for an image of H x W pixels, finest first; returns how many (<= max). Read from
 * the UNet configuration, so it is known before generating (to choose the self-attention
 * resolution to capture, dm_mask_pick_selfattn_res). */
int dm_engine_attn_resolutions(const dm_engine *e, int H, int W, int *hs, int *ws, int max);
/* SDXL's size conditioning (add_time_ids) for a width x height image: original size (H, W;
 * 0 = the image's), crop top-left, target size (0 = the image's). */
void dm_engine_size_cond(const int original[2], const int crop[2], const int target[2], int width,
                         int height, int out[6]);

/* Width D of the prompt embeddings the UNet attends to (SDXL: both encoders concatenated). */
int dm_engine_ctx_dim(const dm_engine *e);
/* Width of SDXL's pooled prompt embeddings (0 for SD 1.x / 2.x). */
int dm_engine_pooled_dim(const dm_engine *e);
/* image[3, H, W] (~[-1, 1], unclamped) of a UNet-scale latent z[L, h, w]: the TAESD decoder when
 * one is loaded, else the VAE's (each with its scaling). */
dm_status dm_engine_decode(dm_engine *e, const float *z, int h, int w, float *image, dm_error *err);
/* z[L, H/f, W/f] (UNet scale) of an image in [-1, 1]: TAESD's encoder, else the VAE's mean. */
dm_status dm_engine_encode_image(dm_engine *e, const float *image, int H, int W, float *z,
                                 dm_error *err);

/* ids77 -> embeddings (77, D) (one text encoder; SD 1.x / 2.x) */
dm_status dm_engine_encode_ids(dm_engine *e, const int32_t *ids77, float *emb, dm_error *err);
/* prompt -> embeddings (77, D) and, for SDXL, pooled (P) (may be NULL otherwise): SDXL
 * concatenates both encoders' hidden_states[-2] and pools the second one. ids77 (may be NULL)
 * receives the first tokenizer's ids. */
dm_status dm_engine_encode(dm_engine *e, const char *prompt, float *emb, float *pooled,
                           int32_t *ids77, dm_error *err);

typedef struct {
    const char *prompt;
    const char *negative_prompt; /* NULL: "" — or, when the model says
                                    force_zeros_for_empty_prompt (SDXL), zeroed embeddings */
    int steps;
    float guidance; /* <= 1: no classifier-free guidance (one branch) */
    dm_sampler_kind sampler;
    const char *timestep_spacing; /* "leading" | "trailing" | "linspace"; NULL = the model's */
    float eta;                    /* DDIM only */
    int width, height;            /* image size, multiples of the VAE factor */
    uint64_t seed;
    const float
        *init_noise; /* (L, h, w) as diffusers' latents= (scaled by init_noise_sigma), or NULL */
    /* SDXL's size conditioning (pixels, height first); 0 = the image size / (0, 0) */
    int original_size[2], crop[2], target_size[2];
    const float *sched_noise; /* (n_sched_noise, L, h, w): the k-th noise the sampler draws is
                                 sched_noise[k] (LCM, Euler a, DDIM eta > 0), or NULL */
    int n_sched_noise;
    dm_attn_store *store; /* attention capture (conditional branch), or NULL */
    int record;           /* keep every step's tensors in the result */
    void (*on_step)(void *user, int step,
                    int n_steps); /* progress, after each UNet call (may be NULL) */
    void *user;
    /* may be NULL: asked after each step; non-zero stops the image with DM_ERR ("stopped at
     * step i of n"). A CLI answers from the flag its signal handler sets (the library installs
     * no handler). */
    int (*should_stop)(void *stop_user);
    void *stop_user;
} dm_txt2img_params;

typedef struct {
    int L, h, w, H, W, n_calls, batch;
    float *image_raw;     /* (3, H, W) decoder output, unclamped */
    float *final_latent;  /* (L, h, w) */
    int D, P;             /* prompt embedding width, pooled width (SDXL; else 0) */
    float *prompt_embeds; /* (batch, 77, D): [uncond, cond] */
    float *pooled;        /* SDXL: (batch, P) add_text_embeds, else NULL */
    float *time_ids;      /* SDXL: (batch, 6) add_time_ids, else NULL */
    int64_t *timesteps;   /* (n_calls) */
    float *timesteps_f;   /* (n_calls) */
    float *latents;       /* record: (n_calls, L, h, w) after each step */
    float *unet_input;    /* record: (n_calls, batch, L, h, w) */
    float *unet_output;   /* record: (n_calls, batch, L, h, w) */
    float *pred_x0;       /* record: (n_calls, L, h, w) the sampler's pred_original_sample */
    float *sched_noise;   /* record: (n_sched_noise, L, h, w) the noise the sampler drew */
    int n_sched_noise;
    double seconds_text, seconds_unet, seconds_vae;
} dm_txt2img_result;

dm_status dm_txt2img(dm_engine *e, const dm_txt2img_params *p, dm_txt2img_result *r, dm_error *err);
void dm_txt2img_result_free(dm_txt2img_result *r);
/* (3, H, W) in ~[-1, 1] -> RGB8 (H, W, 3), as diffusers: round(clamp(x/2+0.5, 0, 1) * 255) */
void dm_image_to_rgb8(const float *img, int H, int W, uint8_t *rgb);

#endif
