/* diffumask eval-toy: mask quality of every mask method on the toy-shapes protocol
 * (models/toy-shapes/README.md; src/dataset/judge/toy_oracle.h). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "core/rng.h"
#include "dataset/judge/toy_oracle.h"
#include "io/file.h"
#include "io/image.h"

#define DEFAULT_METHODS                                                                            \
    "basic@0.5,basic@best,otsu,selfattn@best,selfattn+otsu,crf,crf+otsu,crf+agreement,"            \
    "selfattn+crf,selfattn+crf+otsu,selfattn+crf+agreement,selfattn+crf+border,default"
#define MAX_METHODS 32

typedef struct {
    dm_cli_model_opts m;
    const char *prompts, *methods, *out, *cache, *sampler, *spacing;
    long n, steps, tune, self_h, reseed;
    double prune, guidance;
    int json, two_object;
} toy_opts;

/* The generation options of this run as given ("" / 0 where left to their defaults; the
 * sampler by its canonical name; --precision auto counts as not given). */
static void made_with_asked(const toy_opts *o, dm_sampler_kind sampler, dm_toy_made_with *m) {
    memset(m, 0, sizeof *m);
    m->steps = (int32_t)o->steps, m->guidance = (float)o->guidance;
    m->reseed = (int32_t)o->reseed, m->two_object = o->two_object;
    snprintf(m->sampler, sizeof m->sampler, "%s", o->sampler ? dm_sampler_kind_name(sampler) : "");
    snprintf(m->prompts, sizeof m->prompts, "%s", o->prompts ? o->prompts : "");
    snprintf(m->spacing, sizeof m->spacing, "%s", o->spacing ? o->spacing : "");
    snprintf(m->precision, sizeof m->precision, "%s",
             o->m.precision && strcmp(o->m.precision, "auto") ? o->m.precision : "");
    snprintf(m->model, sizeof m->model, "%s", o->m.model ? o->m.model : "");
    snprintf(m->decoder, sizeof m->decoder, "%s", o->m.vae_decoder ? o->m.vae_decoder : "");
    size_t k = 0;
    for (int i = 0; i < o->m.loras.n && k < sizeof m->loras; i++)
        k += (size_t)snprintf(m->loras + k, sizeof m->loras - k, "%s%s", i ? "," : "",
                              o->m.loras.v[i]);
}

/* The first option this run gives that differs from what the cache was made with, as
 * "--opt X; this run asks for --opt Y" in why; 0 when none does. */
static int made_with_conflict(const dm_toy_made_with *a, const toy_opts *o,
                              const dm_toy_made_with *m, char *why, size_t n) {
    const struct {
        const char *opt, *asked, *made;
    } strs[] = {
        {"--sampler", a->sampler, m->sampler},       {"--timestep-spacing", a->spacing, m->spacing},
        {"--precision", a->precision, m->precision}, {"--model", a->model, m->model},
        {"--vae-decoder", a->decoder, m->decoder},   {"--lora", a->loras, m->loras},
        {"--prompts", a->prompts, m->prompts}};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        if (strs[i].asked[0] && strcmp(strs[i].asked, strs[i].made)) {
            snprintf(why, n, "%s '%s'; this run asks for %s '%s'", strs[i].opt,
                     strs[i].made[0] ? strs[i].made : "(default)", strs[i].opt, strs[i].asked);
            return 1;
        }
    if (o->steps && a->steps != m->steps) {
        snprintf(why, n, "--steps %d; this run asks for --steps %d", (int)m->steps, (int)a->steps);
        return 1;
    }
    if (o->guidance >= 0 && a->guidance != m->guidance) {
        snprintf(why, n, "--guidance %g; this run asks for --guidance %g", m->guidance,
                 a->guidance);
        return 1;
    }
    if (a->reseed && a->reseed != m->reseed) {
        snprintf(why, n, "--reseed %d; this run asks for --reseed %d", (int)m->reseed,
                 (int)a->reseed);
        return 1;
    }
    if (a->two_object && !m->two_object) {
        snprintf(why, n, "the single-object prompts; this run asks for --two-object");
        return 1;
    }
    return 0;
}

static cJSON *num(double v) {
    return isnan(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

static cJSON *result_json(const dm_eval_result *e) {
    cJSON *o = cJSON_CreateObject(), *per = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "miou", num(e->n_classes ? e->miou : NAN));
    cJSON_AddNumberToObject(o, "images", e->images);
    for (int c = 0; c < e->n_classes; c++)
        cJSON_AddItemToObject(per, c ? dm_toy_shape_name(c - 1) : "background", num(e->iou[c]));
    cJSON_AddItemToObject(o, "per_class", per);
    return o;
}

static void print_json(const toy_opts *o, int n, int steps, float guidance, int sa_h,
                       const dm_toy_result *res, int n_methods) {
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "set", o->two_object ? "two-object" : "single-object");
    cJSON_AddNumberToObject(root, "samples", n);
    cJSON_AddNumberToObject(root, "tune_samples", res[0].n_tune);
    cJSON_AddNumberToObject(root, "steps", steps);
    cJSON_AddNumberToObject(root, "guidance", guidance);
    cJSON_AddStringToObject(root, "sampler", o->sampler ? o->sampler : "ddim");
    if (o->spacing) cJSON_AddStringToObject(root, "timestep_spacing", o->spacing);
    cJSON_AddNumberToObject(root, "loras", o->m.loras.n);
    if (o->reseed) cJSON_AddNumberToObject(root, "reseed", (double)o->reseed);
    if (o->m.vae_decoder) cJSON_AddStringToObject(root, "vae_decoder", o->m.vae_decoder);
    cJSON_AddNumberToObject(root, "selfattn_res", sa_h);
    cJSON_AddNumberToObject(root, "prune_fraction", o->prune);
    for (int i = 0; i < n_methods; i++) {
        const dm_toy_result *r = &res[i];
        cJSON *m = cJSON_CreateObject();
        char canon[64];
        dm_mask_method_name(&r->method.p, canon, sizeof canon);
        cJSON_AddStringToObject(m, "method", r->method.name);
        cJSON_AddStringToObject(m, "parts", canon);
        cJSON_AddNumberToObject(m, "threshold", r->method.p.threshold);
        cJSON_AddNumberToObject(m, "tau", r->method.p.selfattn_tau);
        cJSON_AddItemToObject(m, "all", result_json(&r->all));
        cJSON_AddItemToObject(m, "tune", result_json(&r->tune));
        cJSON_AddItemToObject(m, "held_out", result_json(&r->held));
        cJSON_AddItemToObject(m, "kept", result_json(&r->kept));
        cJSON_AddNumberToObject(m, "ignore_fraction", r->ignore_fraction);
        cJSON_AddItemToArray(arr, m);
    }
    cJSON_AddItemToObject(root, "methods", arr);
    char *s = cJSON_PrintUnformatted(root);
    if (s) printf("%s\n", s);
    free(s);
    cJSON_Delete(root);
}

static void print_table(const toy_opts *o, int n, int steps, float guidance, int sa_h,
                        const dm_toy_result *res, int n_methods) {
    printf("eval-toy: %d %s prompts, %s %d steps, guidance %g%s%s%s%s, self-attention %dx%d; "
           "tune = first %d, held = the rest; kept = without the %.0f %% lowest-scoring "
           "samples\n",
           n, o->two_object ? "two-object" : "single-object", o->sampler ? o->sampler : "ddim",
           steps, guidance, o->spacing ? ", spacing " : "", o->spacing ? o->spacing : "",
           o->m.loras.n ? ", LoRA" : "", o->m.vae_decoder ? ", TAESD" : "", sa_h, sa_h,
           res[0].n_tune, 100 * o->prune);
    printf("%-26s %-14s %6s %6s %6s |", "method", "params", "mIoU", "tune", "held");
    for (int c = 0; c < DM_TOY_N_CLASSES; c++)
        printf(" %10s", c ? dm_toy_shape_name(c - 1) : "background");
    printf(" | %6s %6s\n", "kept", "ign%");
    for (int i = 0; i < n_methods; i++) {
        const dm_toy_result *r = &res[i];
        char params[32];
        const dm_mask_params *p = &r->method.p;
        if (p->otsu || p->agreement)
            snprintf(params, sizeof params, "%s", p->otsu ? "g=otsu" : "g=agree");
        else
            snprintf(params, sizeof params, "g=%.2f", p->threshold);
        if (p->use_selfattn) {
            size_t len = strlen(params);
            snprintf(params + len, sizeof params - len, " tau=%d", p->selfattn_tau);
        }
        printf("%-26s %-14s %6.3f %6.3f %6.3f |", r->method.name, params, r->all.miou, r->tune.miou,
               r->held.n_classes ? r->held.miou : NAN);
        for (int c = 0; c < DM_TOY_N_CLASSES; c++) printf(" %10.3f", r->all.iou[c]);
        printf(" | %6.3f %6.2f\n", r->kept.miou, 100 * r->ignore_fraction);
    }
}

/* --out: image, ground truth and every method's mask of each sample, as palette PNGs. */
static dm_status write_outputs(const char *dir, const dm_toy_sample *s, int n,
                               const dm_toy_result *res, int n_methods, dm_error *err) {
    DM_TRY(dm_mkdirs(dir, err));
    uint8_t pal[256 * 3];
    dm_voc_palette(pal);
    for (int i = 0; i < n; i++) {
        char path[4096];
        int W = s[i].W, H = s[i].H;
        uint8_t *mask = malloc((size_t)W * H);
        if (!mask) return dm_fail(err, "out of memory");
        snprintf(path, sizeof path, "%s/%03d_image.png", dir, i);
        dm_status st = dm_png_write_rgb(path, s[i].rgb, W, H, err);
        snprintf(path, sizeof path, "%s/%03d_gt.png", dir, i);
        if (st == DM_OK) st = dm_png_write_palette(path, s[i].gt, W, H, pal, err);
        for (int m = 0; st == DM_OK && m < n_methods; m++) {
            st = dm_toy_mask(&res[m].method.p, &s[i], mask, NULL, err);
            snprintf(path, sizeof path, "%s/%03d_m%02d.png", dir, i, m);
            if (st == DM_OK) st = dm_png_write_palette(path, mask, W, H, pal, err);
        }
        free(mask);
        DM_TRY(st);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/methods.txt", dir);
    FILE *fp = fopen(path, "w");
    if (!fp) return dm_fail(err, "%s: cannot write", path);
    for (int m = 0; m < n_methods; m++) fprintf(fp, "m%02d %s\n", m, res[m].method.name);
    fprintf(fp, "prompts:\n");
    for (int i = 0; i < n; i++)
        fprintf(fp, "%03d %s (seed %llu)\n", i, s[i].item.prompt,
                (unsigned long long)s[i].item.seed);
    fclose(fp);
    return DM_OK;
}

int dm_cmd_eval_toy(int argc, char **argv) {
    toy_opts o = {.n = 0, .steps = 0, .tune = -1, .self_h = 0, .prune = 0.2, .guidance = -1};
    dm_opt opts[] = {
        DM_CLI_MODEL_OPTS(o.m),
        {"--prompts", DM_ARG_STR, &o.prompts, "FILE",
         "evaluation prompts (default: MODEL/eval-prompts.json)"},
        {"--two-object", DM_ARG_FLAG, &o.two_object, NULL,
         "use 40 fixed two-object prompts instead"},
        {"--methods", DM_ARG_STR, &o.methods, "LIST",
         "comma-separated mask methods: default | NAME[@GAMMA|@best][:tau=N][:res=A/B][:margin=M], "
         "NAME = basic "
         "or parts of selfattn+crf+otsu+agreement+border (default: " DEFAULT_METHODS ")"},
        {"--reseed", DM_ARG_INT, &o.reseed, "K",
         "replace every prompt's seed by a mix of it and K (K > 0): a separate set of images of "
         "the same "
         "prompts, for tuning without looking at the evaluation images",
         0, DM_ARG_SEED_MAX},
        {"--n", DM_ARG_INT, &o.n, "N", "use only the first N prompts (default: all)", 1, 1000000},
        {"--steps", DM_ARG_INT, &o.steps, "N", "denoising steps (default: the prompts file's, 25)",
         1, 1000},
        {"--guidance", DM_ARG_FLOAT, &o.guidance, "G",
         "guidance scale (default: the prompts file's, 5; <= 1: conditional branch only)", 0, 100},
        {"--sampler", DM_ARG_STR, &o.sampler, "NAME",
         "ddim (default) | euler | euler_a | dpmpp_2m | pndm | lcm"},
        {"--timestep-spacing", DM_ARG_STR, &o.spacing, "leading|trailing|linspace",
         "timestep spacing (default: the model's)"},
        {"--tune", DM_ARG_INT, &o.tune, "N",
         "samples the @best sweeps may look at: the first N (default: half)", 0, 1000000},
        {"--prune", DM_ARG_FLOAT, &o.prune, "F",
         "share of lowest-scoring samples dropped for 'kept' (default 0.2)", 0, 1},
        {"--self-res", DM_ARG_INT, &o.self_h, "H",
         "self-attention latent height to capture (default: dm_mask_pick_selfattn_res)", 1, 4096},
        {"--cache", DM_ARG_STR, &o.cache, "FILE",
         "load the generated samples from FILE if it exists, else save them there with what they "
         "were made with (the report then gives that recipe; a generation option given that "
         "differs from it is an error)"},
        {"--json", DM_ARG_FLAG, &o.json, NULL, "print one JSON object instead of the table"},
        {"--out", DM_ARG_STR, &o.out, "DIR",
         "also write every image, ground truth and mask (palette PNGs)"},
    };
    dm_cmd_spec spec = {
        "diffumask eval-toy",
        "[--model DIR] [--prompts FILE] [--methods LIST] [--json] [--out DIR] [--two-object]",
        "Generates the toy-shapes evaluation prompts (DDIM, guidance 5, empty negative prompt), "
        "takes the "
        "ground truth from the colour oracle and scores every mask method VOC-style (one confusion "
        "matrix "
        "over all images; background + circle square triangle star heart).",
        opts,
        (int)(sizeof opts / sizeof *opts),
        0,
        0};
    const char *pos[1];
    int npos, r = dm_parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r < 0 ? 0 : r;
    if (o.prune >= 1) return dm_usage_error(&spec, "--prune must be in [0, 1), not 1");

    dm_error err = {0};
    dm_toy_recipe recipe = {0, 0, DM_SAMPLER_DDIM, o.spacing};
    if (o.sampler && dm_sampler_kind_parse(o.sampler, &recipe.sampler, &err))
        return dm_usage_error(&spec, "%s", err.msg);
    if (o.spacing && dm_sched_spacing_check(o.spacing, &err))
        return dm_usage_error(&spec, "%s", err.msg);
    dm_toy_method methods[MAX_METHODS];
    int n_methods = 0;
    {
        char list[2048];
        snprintf(list, sizeof list, "%s", o.methods ? o.methods : DEFAULT_METHODS);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            if (n_methods == MAX_METHODS)
                return dm_usage_error(&spec, "at most %d methods", MAX_METHODS);
            if (dm_toy_method_parse(tok, &methods[n_methods], &err))
                return dm_usage_error(&spec, "%s", err.msg);
            n_methods++;
        }
        if (!n_methods) return dm_usage_error(&spec, "--methods is empty");
    }

    dm_toy_sample *samples = NULL;
    int n = 0, steps = 25, sa_h = 0;
    float guidance = 5.0f;
    dm_status s = DM_OK;
    dm_toy_made_with made, asked;
    made_with_asked(&o, recipe.sampler, &asked);
    if (o.cache && dm_file_exists(o.cache)) {
        s = dm_toy_samples_load(o.cache, &made, &samples, &n, &err);
        if (s) return dm_cli_fail(&spec, s, &err);
        char why[2200];
        int conflict = made_with_conflict(&asked, &o, &made, why, sizeof why);
        if (!conflict && o.self_h && o.self_h != samples[0].sa_h) {
            snprintf(why, sizeof why, "--self-res %d; this run asks for --self-res %d",
                     samples[0].sa_h, (int)o.self_h);
            conflict = 1;
        }
        if (conflict) {
            for (int i = 0; i < n; i++) dm_toy_sample_free(&samples[i]);
            free(samples);
            return dm_usage_error(&spec,
                                  "%s holds samples made with %s (remove it, or drop --cache to "
                                  "generate anew)",
                                  o.cache, why);
        }
        /* report what the samples were made with */
        steps = made.steps, guidance = made.guidance, o.reseed = made.reseed;
        if (made.sampler[0]) o.sampler = made.sampler;
        if (made.spacing[0]) o.spacing = made.spacing;
        if (made.decoder[0]) o.m.vae_decoder = made.decoder;
        o.m.loras.n = made.loras[0] ? 1 : 0;
        for (const char *c = made.loras; *c; c++) o.m.loras.n += *c == ',';
        if (o.n && o.n < n) {
            for (int i = (int)o.n; i < n; i++) dm_toy_sample_free(&samples[i]);
            n = (int)o.n;
        }
        sa_h = samples[0].sa_h;
        o.two_object = samples[0].item.n_obj > 1; /* the cache decides what was generated */
        fprintf(stderr, "eval-toy: %d samples from %s\n", n, o.cache);
    } else {
        dm_engine *e;
        if ((r = dm_cli_open_engine(&spec, &o.m, 1, &e))) return r;
        dm_toy_item *items = NULL;
        char path[4096 + 32];
        if (o.two_object) {
            n = 40;
            items = calloc((size_t)n, sizeof *items);
            if (!items)
                s = dm_fail(&err, "out of memory");
            else
                dm_toy_two_object_items(items, n);
        } else {
            /* the opened model's folder (--model, else the demo model found by the open) */
            snprintf(path, sizeof path, "%s/eval-prompts.json", e->model->path);
            s = dm_toy_load_prompts(o.prompts ? o.prompts : path, &items, &n, &steps, &guidance,
                                    &err);
        }
        if (o.steps) steps = (int)o.steps;
        if (o.guidance >= 0) guidance = (float)o.guidance;
        recipe.steps = steps, recipe.guidance = guidance;
        for (int i = 0; !s && o.reseed > 0 && i < n; i++)
            items[i].seed = dm_seed_mix(items[i].seed, (uint64_t)o.reseed) % 1000000;
        if (!s && o.n && o.n < n) n = (int)o.n;
        int f = dm_vae_factor(&e->vae), H = e->unet.cfg.sample_size * f;
        int hs[DM_MASK_MAX_RES], ws[DM_MASK_MAX_RES];
        int nr = dm_engine_attn_resolutions(e, H, H, hs, ws, DM_MASK_MAX_RES);
        sa_h = (int)o.self_h;
        if (!s && !sa_h) s = dm_mask_pick_selfattn_res(hs, ws, nr, 0, &sa_h, NULL, &err);
        if (!s && !(samples = calloc((size_t)n, sizeof *samples)))
            s = dm_fail(&err, "out of memory");
        for (int i = 0; !s && i < n; i++) {
            s = dm_toy_generate_recipe(e, &items[i], &recipe, sa_h, &samples[i], &err);
            if (!o.json && (i + 1) % 10 == 0)
                fprintf(stderr, "eval-toy: %d / %d images\n", i + 1, n);
        }
        /* recorded as run: the sampler's and the precision's resolved names */
        asked.steps = steps, asked.guidance = guidance;
        snprintf(asked.sampler, sizeof asked.sampler, "%s", dm_sampler_kind_name(recipe.sampler));
        snprintf(asked.precision, sizeof asked.precision, "%s", dm_precision_name(e->precision));
        free(items);
        dm_engine_free(e);
        if (!s && o.cache) s = dm_toy_samples_save(o.cache, &asked, samples, n, &err);
    }

    dm_toy_result res[MAX_METHODS];
    int done = 0;
    int n_tune = o.tune >= 0 ? (int)(o.tune < n ? o.tune : n) : n / 2;
    for (; !s && done < n_methods; done++) {
        s = dm_toy_evaluate(&methods[done], samples, n, n_tune, (float)o.prune, &res[done], &err);
        if (s) dm_fail_wrap(&err, "method %s", methods[done].name);
    }
    if (!s) {
        if (o.json)
            print_json(&o, n, steps, guidance, sa_h, res, n_methods);
        else
            print_table(&o, n, steps, guidance, sa_h, res, n_methods);
        if (o.out) s = write_outputs(o.out, samples, n, res, n_methods, &err);
    }
    for (int i = 0; i < done; i++) dm_toy_result_free(&res[i]);
    for (int i = 0; samples && i < n; i++) dm_toy_sample_free(&samples[i]);
    free(samples);
    return s ? dm_cli_fail(&spec, s, &err) : 0;
}
