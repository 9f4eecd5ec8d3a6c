/* diffumask — Stable Diffusion in C that writes semantic-segmentation datasets
 * (DiffuMask, Wu et al., ICCV 2023). The one public header: dm_ prefix, opaque handles,
 * every fallible call returns dm_status and fills a dm_error. */
#ifndef DIFFUMASK_H
#define DIFFUMASK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DM_VERSION "0.1.0"

typedef enum {
    DM_OK = 0,
    DM_ERR = 1,     /* any failure: bad file, bad value, I/O */
    DM_EUSAGE = 2,  /* the caller asked for something that makes no sense */
    DM_ESTOPPED = 3 /* a stop callback asked the call to end early; nothing was written */
} dm_status;

/* One line naming the file / tensor / argument and what is wrong with it. */
typedef struct {
    char msg[1024];
} dm_error;

/* ------------------------------------------------------------------ the engine
 * A loaded Stable Diffusion model (diffusers folder, or one .safetensors file in the original
 * layout, with the tokenizer/ folder beside it) plus its activation memory. One engine serves
 * one thread at a time; open several for concurrent use. */
typedef struct dm_engine dm_engine;

/* The number format the networks run in. AUTO (the default) = BF16 where the CPU has
 * amx_bf16 or avx512_bf16 (detected at run time), else FP32. BF16 rounds the inputs of every
 * matrix product to bfloat16 and accumulates in fp32 (~1e-2 relative error per network against
 * fp32); asking for it on a CPU without bf16 support is an error. */
typedef enum { DM_PRECISION_AUTO = 0, DM_PRECISION_FP32 = 1, DM_PRECISION_BF16 = 2 } dm_precision;

/* threads: 0 = all cores. model_path NULL = the built-in demo model (dm_default_model). */
dm_status dm_open(const char *model_path, int threads, dm_engine **out, dm_error *err);
/* The folder of the built-in demo model (toy-shapes, 64x64 drawings of shapes) into path: the
 * installed copy (PREFIX/share/diffumask/models/toy-shapes, found next to the installed library or
 * binary), else the source tree's models/toy-shapes. Fails when neither exists. */
dm_status dm_default_model(char *path, size_t cap, dm_error *err);
/* dm_open with a precision (dm_open runs AUTO). */
dm_status dm_open_precision(const char *model_path, int threads, dm_precision precision,
                            dm_engine **out, dm_error *err);
/* The precision the engine runs in (never AUTO). */
dm_precision dm_engine_precision(const dm_engine *e);

/* A LoRA file merged into the weights at open (kohya / A1111, diffusers or PEFT naming; UNet and
 * text encoder): W + scale * (alpha / rank) * up @ down. */
typedef struct {
    const char *path;
    float scale; /* 1 = as trained */
} dm_lora;

typedef struct {
    const char *model_path; /* NULL = the built-in demo model */
    int threads;            /* 0 = all cores */
    const dm_lora *loras;   /* merged in order; may be NULL */
    int n_loras;
    const char *vae_decoder; /* a diffusers AutoencoderTiny (TAESD) folder replacing the VAE, or
                                NULL */
    dm_precision precision;  /* 0 = DM_PRECISION_AUTO */
} dm_open_options;

/* dm_open with LoRAs and a replacement VAE. A LoRA key that matches no weight, a LoRA for
 * another model, or an unreadable file is an error naming the file and key. */
dm_status dm_open_ex(const dm_open_options *o, dm_engine **out, dm_error *err);
void dm_close(dm_engine *e);
/* The model's native image size (e.g. 512 for SD 1.x, 64 for the demo model). */
int dm_native_size(const dm_engine *e);

typedef struct {
    const char *prompt;
    const char *negative_prompt; /* NULL = "" */
    int steps;                   /* 0 = 25 */
    float guidance;              /* 0 = 7.5; <= 1 disables classifier-free guidance */
    const char *sampler;         /* NULL = "ddim"; euler, euler_a, dpmpp_2m, pndm, lcm */
    int width, height;           /* 0 = native size */
    uint64_t seed;
    const char *timestep_spacing; /* NULL = the model's; "leading", "trailing", "linspace" */
} dm_image_request;

/* rgb: width*height*3 bytes. */
dm_status dm_generate_image(dm_engine *e, const dm_image_request *r, uint8_t *rgb, dm_error *err);

/* DiffuMask: the image and the mask of the given class words of the prompt. mask: width*height
 * bytes, 0 = background, k+1 = class_words[k], 255 = ignore. mask_method NULL = the default
 * (best measured) method; else e.g. "basic", "crf", "selfattn+crf". score (may be NULL): the
 * sample's quality score in [0, 1]. */
dm_status dm_generate_masked(dm_engine *e, const dm_image_request *r,
                             const char *const *class_words, int n_words, const char *mask_method,
                             uint8_t *rgb, uint8_t *mask, float *score, dm_error *err);

/* ------------------------------------------------------------------ extended runs
 * What a binding (Python, notebooks) needs beyond dm_generate_masked: the class heat maps out,
 * diffusers' initial noise in, progress and stop callbacks. The struct is extensible: callers
 * set size = sizeof(dm_run_options) (dm_run_options_init does) and the library reads only the
 * fields that size covers, so a newer library serves older callers unchanged. */
typedef struct {
    size_t size; /* sizeof(dm_run_options) as the caller compiled it */
    /* float32 initial noise of dm_latent_shape's shape (4 x height/8 x width/8 for SD), as
     * diffusers' latents= (the library multiplies it by the scheduler's initial sigma).
     * NULL = drawn from the request's seed. */
    const float *latents;
    /* may be NULL: called after each denoising step with step = 1..n_steps */
    void (*progress)(void *user, int step, int n_steps);
    /* may be NULL: asked after each step but the last; non-zero ends the call with DM_ESTOPPED
     * ("stopped at step i of n") and leaves the outputs unwritten */
    int (*should_stop)(void *user);
    void *user; /* given to progress and should_stop */
    /* masked runs: n_words * height * width floats receiving each class word's aggregated
     * attention (before any refinement), normalised to [0, 1]; may be NULL */
    float *heatmaps;
    const char *mask_method; /* masked runs: as dm_generate_masked's; NULL = the default */
} dm_run_options;

/* o = all zero / NULL, o->size = sizeof *o. */
void dm_run_options_init(dm_run_options *o);

/* dm_open_options made extensible (that struct's layout is fixed by the ABI): the same fields
 * after a size field, read as far as the caller's size reaches (dm_engine_config_init sets
 * it). Later open-time options are added at its end. */
typedef struct {
    size_t size;            /* sizeof(dm_engine_config) as the caller compiled it */
    const char *model_path; /* NULL = the built-in demo model */
    int threads;            /* 0 = all cores */
    const dm_lora *loras;   /* merged in order; may be NULL */
    int n_loras;
    const char *vae_decoder; /* AutoencoderTiny (TAESD) folder replacing the VAE, or NULL */
    dm_precision precision;  /* 0 = DM_PRECISION_AUTO */
} dm_engine_config;

/* c = all zero / NULL (the demo model, all cores, AUTO), c->size = sizeof *c. */
void dm_engine_config_init(dm_engine_config *c);
/* dm_open_ex with a dm_engine_config; DM_EUSAGE when c->size is smaller than a size_t or larger
 * than this library's dm_engine_config. */
dm_status dm_open_config(const dm_engine_config *c, dm_engine **out, dm_error *err);
/* dm_generate_image / dm_generate_masked with options (o may be NULL = defaults). n_words = 0:
 * an image only (class_words, mask, score and o->heatmaps unused); else as dm_generate_masked.
 * Fails with DM_EUSAGE when o->size is smaller than a size_t or larger than this library's
 * dm_run_options (a program built against a newer header). */
dm_status dm_generate_ex(dm_engine *e, const dm_image_request *r, const dm_run_options *o,
                         const char *const *class_words, int n_words, uint8_t *rgb, uint8_t *mask,
                         float *score, dm_error *err);
/* The shape of dm_run_options.latents for a width x height image (0 = the native size):
 * channels x h x w (4 x height/8 x width/8 for SD; the demo model's VAE scales by 4). */
void dm_latent_shape(const dm_engine *e, int width, int height, int *channels, int *h, int *w);
/* The library's version, DM_VERSION of the header it was built with (a binding checks it). */
const char *dm_version(void);

#ifdef __cplusplus
}
#endif
#endif
