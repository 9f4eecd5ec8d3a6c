/* bench --recipe: the cost of one whole image for a sampling recipe (steps, guidance, decoder,
 * sampler), the DiffuMask way (cross-attention captured every step), not only of one UNet call.
 * Each recipe runs the real txt2img loop; with --measure-calls K < the recipe's UNet calls the
 * loop stops after K calls and the UNet time is extrapolated from the mean per call (the first
 * call is left out of the mean when K >= 2). Before the timed runs, one untimed UNet call and
 * decode per recipe convert the weights and touch the activation memory, which a dataset pays
 * once, not per image. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench_recipe.h"

typedef struct {
    char text[512];
    int steps;
    float guidance;
    int taesd; /* decoder: 0 = the model's VAE, 1 = the --vae-decoder TAESD */
    dm_sampler_kind sampler;
} recipe;

/* "STEPS,GUIDANCE,DECODER[,SAMPLER]", DECODER = vae | taesd */
static dm_status parse_recipe(const char *s, recipe *r, dm_error *err) {
    char buf[512], *f[5] = {0};
    snprintf(buf, sizeof buf, "%s", s);
    snprintf(r->text, sizeof r->text, "%s", s);
    int n = 0;
    for (char *p = strtok(buf, ","); p && n < 5; p = strtok(NULL, ",")) f[n++] = p;
    if (n < 3 || n > 4)
        return dm_fail_code(err, DM_EUSAGE,
                            "--recipe '%s': expected STEPS,GUIDANCE,DECODER[,SAMPLER]", s);
    long st;
    double g;
    if (dm_arg_parse_long(f[0], &st) || st < 1 || st > 1000)
        return dm_fail_code(err, DM_EUSAGE, "--recipe '%s': STEPS must be an integer in 1..1000",
                            s);
    if (dm_arg_parse_double(f[1], &g) || !(g >= 0 && g <= 100))
        return dm_fail_code(err, DM_EUSAGE, "--recipe '%s': GUIDANCE must be a number in 0..100",
                            s);
    if (strcmp(f[2], "vae") && strcmp(f[2], "taesd"))
        return dm_fail_code(err, DM_EUSAGE, "--recipe '%s': DECODER must be vae or taesd", s);
    r->steps = (int)st, r->guidance = (float)g, r->taesd = !strcmp(f[2], "taesd");
    r->sampler = DM_SAMPLER_DDIM;
    if (n == 4) DM_TRY(dm_sampler_kind_parse(f[3], &r->sampler, err));
    return DM_OK;
}

typedef struct {
    int calls, measured, batch;
    double t_last, first_call, rest, text, unet, decode, total;
    int stop_after;
} timing;

static void on_step(void *user, int step, int n) {
    timing *t = user;
    (void)n;
    double x = omp_get_wtime(), d = x - t->t_last;
    t->t_last = x;
    if (step == 1)
        t->first_call = d;
    else
        t->rest += d;
    t->measured = step;
}

static int should_stop(void *user) {
    timing *t = user;
    return t->measured >= t->stop_after;
}

static dm_status measure(dm_engine *e, const recipe *rc, const char *prompt, int width, int height,
                         int max_calls, timing *t, dm_error *err) {
    memset(t, 0, sizeof *t);
    dm_sampler *smp;
    DM_TRY(dm_sampler_create(&e->sched, rc->sampler, rc->steps, 0.0f, &smp, err));
    t->calls = dm_sampler_num_calls(smp);
    dm_sampler_free(smp);
    t->batch = rc->guidance > 1 ? 2 : 1;
    t->stop_after = max_calls > 0 && max_calls < t->calls ? max_calls : t->calls + 1;
    /* text: the prompt (and the negative one under CFG), timed on its own */
    int D = dm_engine_ctx_dim(e), P = dm_engine_pooled_dim(e);
    float *emb = malloc(sizeof(float) * DM_CONTEXT_LEN * (size_t)D * 2);
    float *pooled = malloc(sizeof(float) * (size_t)(P ? P : 1));
    if (!emb || !pooled) {
        free(emb), free(pooled);
        return dm_fail(err, "out of memory");
    }
    double t0 = omp_get_wtime();
    dm_status s = dm_engine_encode(e, prompt, emb, pooled, NULL, err);
    if (!s && t->batch == 2)
        s = dm_engine_encode(e, "", emb + (size_t)DM_CONTEXT_LEN * D, pooled, NULL, err);
    t->text = omp_get_wtime() - t0;
    free(emb), free(pooled);
    if (s) return s;
    dm_attn_store store;
    dm_attn_store_init(&store, 1, 0);
    dm_txt2img_params p = {.prompt = prompt,
                           .negative_prompt = "",
                           .steps = rc->steps,
                           .guidance = rc->guidance,
                           .sampler = rc->sampler,
                           .width = width,
                           .height = height,
                           .seed = 1,
                           .store = &store,
                           .on_step = on_step,
                           .user = t,
                           .should_stop = should_stop,
                           .stop_user = t};
    dm_txt2img_result r = {0};
    /* the decoder is timed below on its own: run the loop without one when cut short */
    dm_taesd *keep = e->taesd;
    t->t_last = omp_get_wtime();
    s = dm_txt2img(e, &p, &r, err);
    int cut = t->measured < t->calls;
    if (s && cut) s = DM_OK; /* stopped after --measure-calls, as asked */
    dm_attn_store_free(&store);
    dm_txt2img_result_free(&r);
    if (s) return s;
    /* UNet time per image: mean per call (without the first when there are others) x calls */
    double per = t->measured >= 2 ? t->rest / (t->measured - 1) : t->first_call;
    t->unet = cut ? per * t->calls : t->first_call + t->rest;
    /* one decode with the recipe's decoder */
    int f = dm_vae_factor(&e->vae), h = height / f, w = width / f, L = e->unet.cfg.in_ch;
    float *z = malloc(sizeof(float) * (size_t)L * h * w),
          *img = malloc(sizeof(float) * 3 * (size_t)width * height);
    if (!z || !img) {
        free(z), free(img);
        return dm_fail(err, "out of memory");
    }
    dm_rng rng;
    dm_rng_seed(&rng, 3);
    dm_rng_fill_normal(&rng, z, (size_t)L * h * w);
    e->taesd = rc->taesd ? keep : NULL;
    t0 = omp_get_wtime();
    s = dm_engine_decode(e, z, h, w, img, err);
    t->decode = omp_get_wtime() - t0;
    e->taesd = keep;
    free(z), free(img);
    t->total = t->text + t->unet + t->decode;
    return s;
}

int dm_bench_recipes(const dm_bench_recipe_opts *o) {
    const char *cmd = o->spec->command;
    dm_error err = {{0}};
    recipe rc[DM_ARG_LIST_MAX];
    int n = 0;
    const char *defaults[2] = {"25,7.5,vae,ddim", "4,1,taesd,lcm"};
    int nr = o->recipes->n ? o->recipes->n : (o->m->vae_decoder ? 2 : 1);
    for (int k = 0; k < nr; k++) {
        const char *txt = o->recipes->n ? o->recipes->v[k] : defaults[k];
        if (parse_recipe(txt, &rc[n], &err)) {
            fprintf(stderr, "%s: %s\n", cmd, err.msg);
            return 2;
        }
        if (rc[n].taesd && !o->m->vae_decoder) {
            fprintf(stderr, "%s: --recipe '%s' decodes with taesd: give --vae-decoder DIR\n", cmd,
                    txt);
            return 2;
        }
        n++;
    }
    double t0 = omp_get_wtime();
    dm_engine *e;
    int rc_open = dm_cli_open_engine(o->spec, o->m, 1, &e);
    if (rc_open) return rc_open;
    double load = omp_get_wtime() - t0;
    timing tm[DM_ARG_LIST_MAX];
    /* warm-up, untimed: one UNet call at each recipe's batch and one decode with its decoder.
     * Converting the weights (bf16), the decoder's too, and first touching the activation
     * memory happen once per process, not once per image of a dataset */
    for (int k = 0; k < n; k++) {
        recipe warm = rc[k];
        warm.steps = 1;
        /* another prompt: the engine's memo of encoded prompts must not hide the text time */
        if (measure(e, &warm, "a drawing of a cat", o->width, o->height, 1, &tm[k], &err)) {
            fprintf(stderr, "%s: --recipe '%s' (warm-up): %s\n", cmd, rc[k].text, err.msg);
            dm_engine_free(e);
            return 1;
        }
    }
    for (int k = 0; k < n; k++) {
        /* a prompt of its own per recipe, encoded in the time (the memo would hide it) */
        char prompt[64];
        snprintf(prompt, sizeof prompt, "a photograph of bird number %d", k + 1);
        if (measure(e, &rc[k], prompt, o->width, o->height, o->measure_calls, &tm[k], &err)) {
            fprintf(stderr, "%s: --recipe '%s': %s\n", cmd, rc[k].text, err.msg);
            dm_engine_free(e);
            return 1;
        }
    }
    if (o->json) {
        printf("{\"model\":\"%s\",\"width\":%d,\"height\":%d,\"precision\":\"%s\",\"loras\":%d,"
               "\"load_seconds\":%.3f,\"recipes\":[",
               o->m->model, o->width, o->height, dm_precision_name(e->precision), o->m->loras.n,
               load);
        for (int k = 0; k < n; k++)
            printf("%s{\"recipe\":\"%s\",\"sampler\":\"%s\",\"unet_calls\":%d,\"batch\":%d,"
                   "\"measured_calls\":%d,\"text_seconds\":%.4g,\"unet_seconds\":%.4g,"
                   "\"decode_seconds\":%.4g,\"seconds_per_image\":%.4g,\"images_per_hour\":%.4g,"
                   "\"cost_ratio_vs_first\":%.4g}",
                   k ? "," : "", rc[k].text, dm_sampler_kind_name(rc[k].sampler), tm[k].calls,
                   tm[k].batch, tm[k].measured, tm[k].text, tm[k].unet, tm[k].decode, tm[k].total,
                   3600.0 / tm[k].total, tm[0].total / tm[k].total);
        printf("]}\n");
    } else {
        printf("model %s, %dx%d, precision %s, %d LoRA(s) merged at load (%.1f s to open)\n",
               o->m->model, o->width, o->height, dm_precision_name(e->precision), o->m->loras.n,
               load);
        printf("%-22s %-8s %6s %5s %8s %9s %9s %9s %10s %9s %8s\n", "recipe", "sampler", "calls",
               "batch", "measured", "text s", "unet s", "decode s", "s/image", "img/hour",
               "vs first");
        for (int k = 0; k < n; k++)
            printf("%-22s %-8s %6d %5d %8d %9.2f %9.2f %9.2f %10.2f %9.1f %7.1fx\n", rc[k].text,
                   dm_sampler_kind_name(rc[k].sampler), tm[k].calls, tm[k].batch, tm[k].measured,
                   tm[k].text, tm[k].unet, tm[k].decode, tm[k].total, 3600.0 / tm[k].total,
                   tm[0].total / tm[k].total);
        printf("(after an untimed warm-up call and decode per recipe: weights are converted once "
               "per process)\n");
        if (o->measure_calls > 0)
            printf("(unet s = calls x mean seconds per measured call, first call excluded from "
                   "the mean; the DiffuMask cross-attention capture is on in every call)\n");
    }
    dm_engine_free(e);
    return 0;
}
