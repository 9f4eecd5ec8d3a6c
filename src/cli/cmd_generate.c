/* diffumask generate: a list of classes in, a segmentation dataset out. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "dataset/make/generate.h"

typedef struct {
    dm_cli_model_opts m;
    dm_cli_size_opts sz;
    const char *classes, *classes_file, *preset, *prompts, *out, *negative, *sampler, *threshold,
        *spacing;
    const char *shard, *image_format, *mask_method, *ignore_band, *resolutions;
    dm_arg_list templates;
    long per_class, steps, width, height, seed, num_shards;
    double guidance, prune, min_score, val;
    int quiet, heatmaps, strict_classes;
} gen_opts;

typedef struct {
    int tty, quiet;
} progress_ctx;

/* SIGINT / SIGTERM: the signal number, set by the handler; the run stops after the step in
 * progress (dm_generate_options.should_stop). A second signal kills at once (SA_RESETHAND). */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) {
    stop_signal = sig;
}

static int should_stop(void *user) {
    (void)user;
    return stop_signal != 0;
}

/* Installs the handlers for the run; restores the previous ones at the end. */
static void catch_stop_signals(struct sigaction old[2], int install) {
    static const int sigs[2] = {SIGINT, SIGTERM};
    for (int i = 0; i < 2; i++) {
        if (install) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_stop_signal;
            sigemptyset(&sa.sa_mask);
            sa.sa_flags = SA_RESETHAND | SA_RESTART; /* writes in progress are not interrupted */
            sigaction(sigs[i], &sa, &old[i]);
        } else {
            sigaction(sigs[i], &old[i], NULL);
        }
    }
}

static void fmt_time(double s, char *buf, size_t n) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, n, "%lds", t);
}

/* A bar on a terminal, one plain line per finished sample otherwise. */
static void show(void *user, const dm_generate_progress *p, int sample_done) {
    progress_ctx *c = user;
    if (c->quiet) return;
    char eta[32] = "?", rate[32] = "?";
    long left = p->total - p->done;
    if (p->seconds_per_image > 0) {
        fmt_time(p->seconds_per_image * (double)left, eta, sizeof eta);
        snprintf(rate, sizeof rate, "%.0f", 3600.0 / p->seconds_per_image);
    }
    if (c->tty) {
        int width = 24, fill = p->total ? (int)(width * p->done / p->total) : width;
        fprintf(stderr, "\r[%.*s%*s] %ld/%ld  %s step %d/%d  ETA %s  %s img/h\033[K", fill,
                "########################", width - fill, "", p->done, p->total,
                p->current ? p->current : "", p->step, p->n_steps, eta, rate);
        if (sample_done && p->done == p->total) fputc('\n', stderr);
    } else if (sample_done) {
        fprintf(stderr, "generate: %ld/%ld %s (%.1f s/image, ETA %s)\n", p->done, p->total,
                p->current, p->seconds_per_image, eta);
    }
}

/* Each distinct class word once: one that the vocabulary splits into pieces ("circel" for
 * "circle") is most likely a typo; it is warned about, or refused with --strict-classes. */
static int check_class_words(const dm_cmd_spec *spec, const dm_engine *e, const dm_plan *plan,
                             int strict) {
    const char **seen = NULL;
    long n_seen = 0, cap = 0;
    int rc = 0;
    for (long i = -plan->n_classes; i < plan->n_items && !rc; i++) {
        /* first every class's words, then the words the samples use */
        int n = i < 0 ? plan->classes[-i - 1].n_words : plan->items[i].n_obj;
        for (int k = 0; k < n && !rc; k++) {
            const char *w = i < 0 ? plan->classes[-i - 1].words[k] : plan->items[i].word[k];
            bool dup = false;
            for (long s = 0; s < n_seen && !dup; s++) dup = !strcmp(seen[s], w);
            if (dup) continue;
            if (n_seen == cap) {
                cap = cap ? 2 * cap : 64;
                const char **grown = realloc(seen, sizeof *seen * (size_t)cap);
                if (!grown) break; /* out of memory: the check is advice, the run goes on */
                seen = grown;
            }
            seen[n_seen++] = w;
            char desc[1024];
            dm_error err = {0};
            int split = dm_phrase_split_words(e->tok, w, desc, sizeof desc, &err);
            if (split < 0) {
                fprintf(stderr, "%s: %s\n", spec->command, err.msg);
                rc = 1;
            } else if (split > 0 && strict) {
                fprintf(stderr,
                        "%s: class word '%s' is not one token of the model's vocabulary (%s); "
                        "check the spelling (--strict-classes)\n",
                        spec->command, w, desc);
                rc = 1;
            } else if (split > 0) {
                fprintf(stderr,
                        "%s: warning: class word '%s' is not one token of the model's vocabulary "
                        "(%s); a misspelling? Its mask joins the pieces' attention "
                        "(--strict-classes refuses it)\n",
                        spec->command, w, desc);
            }
        }
    }
    free(seen);
    return rc;
}

int dm_cmd_generate(int argc, char **argv) {
    return dm_cmd_generate_ex(argc, argv, 0);
}

int dm_cmd_generate_ex(int argc, char **argv, int dry_run) {
    gen_opts o = {.per_class = 0,
                  .prune = 0.3,
                  .steps = 25,
                  .guidance = 7.5,
                  .sampler = "ddim",
                  .seed = 0,
                  .threshold = NULL,
                  .image_format = "jpg",
                  .negative = NULL};
    dm_opt opts[] = {
        DM_CLI_MODEL_OPTS(o.m),
        {"--classes", DM_ARG_STR, &o.classes, "A,B,...", "class names (ids 1.. in this order)"},
        {"--classes-file", DM_ARG_STR, &o.classes_file, "FILE",
         "one class a line, optional synonyms: 'bird: sparrow, parrot'"},
        {"--preset", DM_ARG_STR, &o.preset, "voc",
         "a built-in class list (voc: the 20 PASCAL VOC classes with their ids)"},
        {"--prompts", DM_ARG_STR, &o.prompts, "F.jsonl",
         "explicit samples: {\"prompt\",\"class\",\"word\"?,\"seed\"?} a line (or "
         "\"classes\"/\"words\" lists)"},
        {"--images-per-class", DM_ARG_INT, &o.per_class, "N",
         "samples per class (with a class list)", 1, DM_PLAN_MAX_SAMPLES},
        {"--template", DM_ARG_MULTI, &o.templates, "T",
         "prompt template with exactly one {} for the class word, repeatable (default: "
         "\"" DM_DEFAULT_TEMPLATE "\")"},
        {"--out", DM_ARG_STR, &o.out, "DIR", "dataset folder (created; re-running resumes)"},
        {"--negative-prompt", DM_ARG_STR, &o.negative, "TEXT",
         "negative prompt (default \"\"; SDXL without it: zeroed unconditional embeddings, as "
         "force_zeros_for_empty_prompt says)"},
        DM_CLI_SIZE_OPTS(o.sz),
        {"--steps", DM_ARG_INT, &o.steps, "N", "denoising steps (default 25)", 1, 1000},
        {"--guidance", DM_ARG_FLOAT, &o.guidance, "G", "guidance scale (default 7.5)", 0, 100},
        {"--sampler", DM_ARG_STR, &o.sampler, "S",
         "ddim | euler | euler_a | dpmpp_2m | pndm | lcm (default ddim)"},
        {"--timestep-spacing", DM_ARG_STR, &o.spacing, "leading|trailing|linspace",
         "timestep spacing (default: the model's scheduler config, else leading)"},
        {"--width", DM_ARG_INT, &o.width, "W", "image width (default: the model's native size)", 1,
         16384},
        {"--height", DM_ARG_INT, &o.height, "H", "image height (default: the model's native size)",
         1, 16384},
        {"--seed", DM_ARG_INT, &o.seed, "S",
         "run seed; sample i's seed derives from it and i only (default 0)", 0, DM_ARG_SEED_MAX},
        {"--threshold", DM_ARG_STR, &o.threshold, "X|otsu",
         "mask threshold in [0,1], or otsu (default: the method's)"},
        {"--mask-method", DM_ARG_STR, &o.mask_method, "M",
         "basic | otsu | selfattn | crf | border | '+'-joined (default: selfattn+crf+border)"},
        {"--ignore-band", DM_ARG_STR, &o.ignore_band, "LO:HI",
         "soft values in [LO,HI) become 255 (ignore)"},
        {"--resolutions", DM_ARG_STR, &o.resolutions, "LIST",
         "attention map heights to use, e.g. 32,16 (default: all)"},
        {"--image-format", DM_ARG_STR, &o.image_format, "png|jpg",
         "image file format (default jpg)"},
        {"--save-heatmaps", DM_ARG_FLAG, &o.heatmaps, NULL,
         "also keep the soft maps as 8-bit PNGs (Heatmaps/)"},
        {"--prune-fraction", DM_ARG_FLOAT, &o.prune, "P",
         "move the worst fraction P of samples by quality score into pruned/ at the end (default "
         "0.3: what trained the best segmenter, BENCHMARKS.md; 0 keeps every sample)",
         0, 1},
        {"--min-score", DM_ARG_FLOAT, &o.min_score, "S",
         "also drop every sample whose quality score is below S at the end (a rule of the sample "
         "alone: shards and resumed runs keep the same samples; default 0, none)",
         0, 1},
        {"--val-fraction", DM_ARG_FLOAT, &o.val, "F",
         "put the fraction F of samples (picked by a hash of their name) in "
         "ImageSets/Segmentation/val.txt instead of train.txt",
         0, 1},
        {"--shard", DM_ARG_STR, &o.shard, "K/N",
         "generate only shard K of N (see docs/cluster.md)"},
        {"--num-shards", DM_ARG_INT, &o.num_shards, "N",
         "shard count, with SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX", 1, 1000000},
        {"--strict-classes", DM_ARG_FLAG, &o.strict_classes, NULL,
         "refuse class words that are not one whole token of the vocabulary (by default a "
         "warning names their pieces)"},
        {"--quiet", DM_ARG_FLAG, &o.quiet, NULL, "no progress output"},
    };
    dm_cmd_spec spec = {
        "diffumask generate",
        "[--model PATH] (--classes A,B | --classes-file F | --preset voc | --prompts F.jsonl) "
        "--images-per-class N --out DIR [options]",
        "Generates images with Stable Diffusion and their segmentation masks from the\n"
        "cross-attention of the class words (DiffuMask), written as a VOC-layout dataset\n"
        "with COCO annotations and a manifest. Killed runs resume where they stopped.\n"
        "Without --model the built-in demo model (toy-shapes) is used.",
        opts,
        (int)(sizeof opts / sizeof *opts),
        0,
        0};
    const char *pos[1];
    int npos, r = dm_parse_args(&spec, argc, argv, pos, &npos);
    if (r) return r < 0 ? 0 : r;
    int sources = !!o.classes + !!o.classes_file + !!o.preset;
    if (sources > 1)
        return dm_usage_error(&spec, "give only one of --classes, --classes-file, --preset");
    if (!sources && !o.prompts)
        return dm_usage_error(&spec, "give --classes, --classes-file, --preset or --prompts");
    if (!o.out) return dm_usage_error(&spec, "--out is required");
    if (o.prompts && o.per_class)
        return dm_usage_error(
            &spec, "--images-per-class does not go with --prompts (one sample per line)");
    if (!o.prompts && o.per_class < 1)
        return dm_usage_error(&spec, "--images-per-class N (N >= 1) is required");
    if (o.prompts && o.templates.n)
        return dm_usage_error(&spec, "--template does not go with --prompts");
    if (strcmp(o.image_format, "png") && strcmp(o.image_format, "jpg"))
        return dm_usage_error(&spec, "--image-format must be png or jpg");
    if (o.prune >= 1) return dm_usage_error(&spec, "--prune-fraction must be in [0, 1), not 1");
    if (o.val >= 1) return dm_usage_error(&spec, "--val-fraction must be in [0, 1), not 1");

    dm_error err = {0};
    dm_generate_options g = {.out_dir = o.out,
                             .negative_prompt = o.negative,
                             .steps = (int)o.steps,
                             .guidance = (float)o.guidance,
                             .seed = (uint64_t)o.seed,
                             .image_ext = o.image_format,
                             .save_heatmaps = o.heatmaps,
                             .prune_fraction = (float)o.prune,
                             .min_score = (float)o.min_score,
                             .val_fraction = (float)o.val,
                             .shard = {0, 1}};
    if (dm_sampler_kind_parse(o.sampler, &g.sampler, &err))
        return dm_usage_error(&spec, "%s", err.msg);
    if (o.spacing && dm_sched_spacing_check(o.spacing, &err))
        return dm_usage_error(&spec, "%s", err.msg);
    g.timestep_spacing = o.spacing;
    dm_mask_params_default(&g.mask);
    if (o.mask_method && dm_mask_method_parse(o.mask_method, &g.mask, &err))
        return dm_usage_error(&spec, "%s", err.msg);
    g.threshold_label = "default";
    if (o.threshold) {
        double t = 0;
        if (!strcmp(o.threshold, "otsu"))
            g.mask.otsu = 1, g.mask.agreement = 0;
        else if (dm_arg_parse_double(o.threshold, &t) || t < 0 || t > 1)
            return dm_usage_error(&spec, "--threshold must be a number in [0, 1] or otsu, not '%s'",
                                  o.threshold);
        else
            g.mask.threshold = (float)t, g.mask.otsu = 0, g.mask.agreement = 0;
        g.threshold_label = o.threshold;
    }
    if (o.ignore_band &&
        dm_mask_parse_band(o.ignore_band, &g.mask.ignore_lo, &g.mask.ignore_hi, &err))
        return dm_usage_error(&spec, "%s", err.msg);
    if (o.resolutions && dm_mask_parse_resolutions(o.resolutions, &g.mask, &err))
        return dm_usage_error(&spec, "%s", err.msg);
    bool found = false;
    if (o.shard) {
        if (dm_shard_parse(o.shard, &g.shard, &err)) return dm_usage_error(&spec, "%s", err.msg);
        g.sharded = 1;
    } else if (dm_shard_from_env((int)o.num_shards, &g.shard, &found, &err)) {
        return dm_usage_error(&spec, "%s", err.msg);
    } else if (found) {
        g.sharded = 1;
    } else if (o.num_shards > 1) {
        return dm_usage_error(
            &spec,
            "--num-shards needs SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX (or use --shard K/N)");
    }

    /* the plan: classes and one item per sample */
    dm_plan plan = {0};
    dm_status s = DM_OK;
    char source[1024];
    if (o.classes)
        s = dm_plan_classes_csv(&plan, o.classes, &err),
        snprintf(source, sizeof source, "classes:%s", o.classes);
    else if (o.classes_file)
        s = dm_plan_classes_file(&plan, o.classes_file, &err),
        snprintf(source, sizeof source, "classes-file:%s", o.classes_file);
    else if (o.preset)
        s = dm_plan_classes_preset(&plan, o.preset, &err),
        snprintf(source, sizeof source, "preset:%s", o.preset);
    if (o.prompts) {
        size_t k = sources ? strlen(source) : 0;
        snprintf(source + k, sizeof source - k, "%sprompts:%s", sources ? " " : "", o.prompts);
        if (!s) s = dm_plan_from_jsonl(&plan, o.prompts, (uint64_t)o.seed, &err);
    } else if (!s) {
        s = dm_plan_from_templates(&plan, o.templates.v, o.templates.n, o.per_class,
                                   (uint64_t)o.seed, &err);
        for (int t = 0; t < o.templates.n; t++) {
            size_t k = strlen(source);
            snprintf(source + k, sizeof source - k, " template:%s", o.templates.v[t]);
        }
    }
    if (s) {
        dm_plan_free(&plan);
        return dm_cli_fail(&spec, s, &err);
    }
    g.source_label = source;
    if ((r = dm_cli_parse_sizes(&spec, &o.sz, g.original_size, g.crop, g.target_size))) {
        dm_plan_free(&plan);
        return r;
    }
    if (dry_run) { /* fuzz/fuzz_generate_args.c: everything but the model and the run */
        dm_plan_free(&plan);
        return 0;
    }
    dm_engine *e;
    if ((r = dm_cli_open_engine(&spec, &o.m, 1, &e))) {
        dm_plan_free(&plan);
        return r;
    }
    if ((r = check_class_words(&spec, e, &plan, o.strict_classes))) {
        dm_engine_free(e);
        dm_plan_free(&plan);
        return r;
    }
    int f = dm_vae_factor(&e->vae);
    g.width = o.width ? (int)o.width : e->unet.cfg.sample_size * f;
    g.height = o.height ? (int)o.height : e->unet.cfg.sample_size * f;
    g.model_label = e->model->path;
    /* no --negative-prompt: "" — or zeroed embeddings where the model says
     * force_zeros_for_empty_prompt (SDXL), recorded as null */
    if (!g.negative_prompt && !e->model->force_zeros) g.negative_prompt = "";
    progress_ctx pc = {isatty(2), o.quiet};
    dm_generate_progress result = {0};
    g.should_stop = should_stop;
    g.result = &result;
    struct sigaction old[2];
    catch_stop_signals(old, 1);
    s = dm_generate_run(e, &plan, &g, show, &pc, &err);
    catch_stop_signals(old, 0);
    dm_engine_free(e);
    dm_plan_free(&plan);
    if (!s && result.stopped) {
        if (pc.tty && !o.quiet) fputc('\n', stderr); /* end the progress bar's line */
        fprintf(stderr,
                "diffumask generate: stopped after %ld of %ld samples; run the same command to "
                "resume\n",
                result.done, result.total);
        return 128 + (int)stop_signal; /* 130 for SIGINT, 143 for SIGTERM, as a shell reports */
    }
    if (!s && !o.quiet) fprintf(stderr, "generate: dataset ready in %s\n", o.out);
    return s ? dm_cli_fail(&spec, s, &err) : 0;
}
