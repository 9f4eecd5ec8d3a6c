/* diffumask bench: how fast the engine runs on this machine, and how far from the linked BLAS.
 *   1. sgemm GFLOP/s on the UNet's own GEMM shapes (im2col convs + linears at this size);
 *   2. one UNet forward of batch B (B = 2: one guided step), its FLOPs counted from the
 *      loaded config, GFLOP/s, ratio to (1), and where the time goes by kind of op;
 *   3. the same step with every cross-attention captured into a DiffuMask attention store;
 *   4. text encoder and VAE decode seconds, peak RSS;
 * in fp32 and, where the CPU has bf16 (AVX512-BF16 / AMX), again in bf16 through oneDNN, against
 * the machine's measured peaks (bench_peak.c). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/args.h"
#include "cli/bench_peak.h"
#include "cli/bench_recipe.h"
#include "cli/cli.h"
#include "core/cpu.h"
#include "core/rng.h"
#include "model/clip.h"
#include "model/unet.h"
#include "model/vae.h"
#include "ops/dnnl_ops.h"
#include "ops/ops.h"
#include "pipeline/attn_store.h"

enum { MAX_GEMMS = 512 };

static const char *const op_names[DM_OP_KINDS] = {"conv", "linear", "attention", "norm",
                                                  "elementwise"};

typedef struct {
    double sgemm_gflops, sgemm_seconds; /* on the conv + linear shapes, per forward */
    double unet_seconds, unet_gflop, capture_seconds;
    double op_seconds[DM_OP_KINDS], op_gflop[DM_OP_KINDS];
    double text_seconds, vae_seconds, peak_rss_mb, rss_mb;
    int gemm_shapes;
    dm_dnnl_stats dnnl; /* bf16 runs */
} results;

/* Seconds one sgemm of this shape takes (best of runs filling ~min_s seconds): the BLAS
 * threading the call itself, or (split) dm_sgemm splitting it over single-threaded calls. */
static double time_sgemm(int M, int N, int K, const float *A, const float *B, float *C, int split,
                         double min_s) {
    double best = INFINITY, spent = 0;
    for (int r = 0; r < 50 && (r < 2 || spent < min_s); r++) {
        double t0 = omp_get_wtime();
        if (split)
            dm_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f,
                        C, N);
        double t = omp_get_wtime() - t0;
        spent += t;
        best = t < best ? t : best;
    }
    return best;
}

/* sgemm GFLOP/s over the conv and linear GEMMs of one forward, weighted as the forward runs
 * them, on the same number of threads: per shape the faster of the linked BLAS threading the
 * call itself and the engine's split (a reference the engine cannot beat by choosing). */
static dm_status bench_sgemm(const dm_unet_gemm *g, int n, int B, int blas_threaded, results *r,
                             dm_error *err) {
    size_t a = 0, b = 0, c = 0;
    for (int i = 0; i < n; i++) {
        if (g[i].kind == DM_OP_ATTN) continue;
        size_t M = (size_t)g[i].M, N = (size_t)g[i].N, K = (size_t)g[i].K;
        a = M * K > a ? M * K : a, b = K * N > b ? K * N : b, c = M * N > c ? M * N : c;
    }
    float *A = malloc(sizeof(float) * a), *Bm = malloc(sizeof(float) * b),
          *C = malloc(sizeof(float) * c);
    if (!A || !Bm || !C) {
        free(A), free(Bm), free(C);
        return dm_fail(err, "bench: out of memory for the sgemm operands");
    }
    dm_rng rng;
    dm_rng_seed(&rng, 1);
    dm_rng_fill_normal(&rng, A, a);
    dm_rng_fill_normal(&rng, Bm, b);
    double flops = 0, secs = 0;
    for (int i = 0; i < n; i++) {
        if (g[i].kind == DM_OP_ATTN) continue;
        openblas_set_num_threads(omp_get_max_threads());
        double t = time_sgemm(g[i].M, g[i].N, g[i].K, A, Bm, C, 0, 0.05);
        dm_ops_set_threads(0);
        double t2 = time_sgemm(g[i].M, g[i].N, g[i].K, A, Bm, C, 1, 0.05);
        t = t2 < t ? t2 : t;
        flops += 2.0 * g[i].M * g[i].N * g[i].K * g[i].count * B;
        secs += t * g[i].count * B;
        r->gemm_shapes++;
    }
    if (blas_threaded) openblas_set_num_threads(omp_get_max_threads());
    r->sgemm_gflops = flops / secs * 1e-9;
    r->sgemm_seconds = secs;
    free(A), free(Bm), free(C);
    return DM_OK;
}

/* resident memory now (VmRSS), MB */
static double rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) sscanf(line + 6, "%lf", &kb);
    if (f) fclose(f);
    return kb / 1024.0;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

static dm_status run(const char *path, int width, int height, int B, int repeat, int blas_threaded,
                     int f16_weights, int bf16, results *r, dm_error *err) {
    dm_model *m = NULL;
    dm_clip clip = {0}, clip2 = {0}; /* clip2: SDXL's second text encoder */
    dm_unet unet = {0};
    float *pooled = NULL, *time_ids = NULL;
    dm_vae vae = {0}; /* borrows the weight store: nothing to free */
    dm_arena arena = {0};
    dm_attn_store store;
    dm_attn_store_init(&store, B - 1, 0);
    float *ctx = NULL, *x = NULL, *y = NULL, *img = NULL;
    dm_unet_gemm *g = NULL;
    dm_dnnl *dnnl = NULL;
    dm_status s;
    if ((s = dm_model_open(path, &m, err))) goto done;
    dm_weights_set_keep_half(m->w, f16_weights);
    /* as the engine: the text encoders in fp32 from the file at every precision */
    if ((s = dm_clip_load(m, &clip, err)) ||
        (m->sdxl && (s = dm_clip_load_tower(m, "text2.", &m->clip2, &clip2, err))))
        goto done;
    if (bf16) {
        if ((s = dm_dnnl_create(&dnnl, err))) goto done;
        dm_weights_set_dnnl(m->w, dnnl);
    }
    if ((s = dm_unet_load(m, &unet, err)) || (s = dm_vae_load(m, &vae, err))) goto done;
    int f = dm_vae_factor(&vae), h = height / f, w = width / f,
        D = m->clip.hidden + (m->sdxl ? m->clip2.hidden : 0), P = m->sdxl ? m->clip2.proj_dim : 0;
    if (h < 1 || w < 1 || height % f || width % f) {
        s = dm_fail_code(err, DM_EUSAGE, "--width/--height %dx%d: must be positive multiples of %d",
                         width, height, f);
        goto done;
    }
    if (m->unet.cross_dim != D) {
        s = dm_fail(err, "%s: text width %d does not match the UNet context width %d", path, D,
                    m->unet.cross_dim);
        goto done;
    }
    size_t need = dm_clip_arena_bytes(m->sdxl && m->clip2.hidden > m->clip.hidden ? &clip2 : &clip,
                                      77),
           nu = dm_unet_arena_bytes(&unet, h, w, 77), nv = dm_vae_arena_bytes(&vae, h, w);
    need = nu > need ? nu : need, need = nv > need ? nv : need;
    if ((s = dm_arena_init(&arena, need, err))) goto done;
    ctx = malloc(sizeof(float) * B * 77 * D);
    x = malloc(sizeof(float) * B * m->unet.in_ch * h * w);
    y = malloc(sizeof(float) * B * m->unet.out_ch * h * w);
    img = malloc(sizeof(float) * 3 * (size_t)height * width);
    g = malloc(sizeof *g * MAX_GEMMS);
    if (m->sdxl) {
        pooled = malloc(sizeof(float) * B * P + 4), time_ids = malloc(sizeof(float) * B * 6);
    }
    if (!ctx || !x || !y || !img || !g || (m->sdxl && (!pooled || !time_ids))) {
        s = dm_fail(err, "bench: out of memory");
        goto done;
    }

    /* text encoder: B prompts of 77 tokens (BOS, a few words, EOS, padding) */
    double t0 = omp_get_wtime();
    for (int b = 0; b < B; b++) {
        int32_t ids[77];
        for (int i = 0; i < 77; i++) ids[i] = i == 0 ? 49406 : i < 9 ? 320 + 17 * i + b : 49407;
        if (!m->sdxl) {
            if ((s = dm_clip_forward(&clip, ids, 77, ctx + (size_t)b * 77 * D, NULL, &arena, err)))
                goto done;
            continue;
        }
        /* SDXL: both towers' hidden_states[-2], concatenated; the second one pooled */
        if ((s = dm_clip_run_pair(&clip, &clip2, ids, ids, 77, ctx + (size_t)b * 77 * D,
                                  pooled + (size_t)b * P, &arena, err)))
            goto done;
        float *ti = time_ids + (size_t)b * 6;
        ti[0] = ti[4] = (float)height, ti[1] = ti[5] = (float)width, ti[2] = ti[3] = 0;
    }
    r->text_seconds = omp_get_wtime() - t0;

    int ng = dm_unet_gemms(&unet, h, w, 77, g, MAX_GEMMS);
    if (ng > MAX_GEMMS) {
        s = dm_fail(err, "bench: the UNet has more than %d GEMM shapes", MAX_GEMMS);
        goto done;
    }
    for (int i = 0; i < ng; i++)
        r->op_gflop[g[i].kind] += 2e-9 * g[i].M * g[i].N * g[i].K * g[i].count * B;
    r->unet_gflop = dm_unet_flops(&unet, h, w, 77) * B * 1e-9;
    if (!bf16 && (s = bench_sgemm(g, ng, B, blas_threaded, r, err))) goto done;

    dm_rng rng;
    dm_rng_seed(&rng, 42);
    dm_rng_fill_normal(&rng, x, (size_t)B * m->unet.in_ch * h * w);
    float t[16];
    for (int b = 0; b < B && b < 16; b++) t[b] = 500.0f;
    if (B > 16) {
        s = dm_fail_code(err, DM_EUSAGE, "--batch %d: at most 16", B);
        goto done;
    }
    /* a warm-up step (it also faults the arena's pages in), then `repeat` plain and `repeat`
     * captured steps, interleaved; the best of each is reported. Captured = the DiffuMask path:
     * every cross-attention of the conditional branch (the last batch item) into the store. */
    r->unet_seconds = r->capture_seconds = INFINITY;
    for (int k = 0; k < 1 + 2 * repeat; k++) {
        int capture = k > 0 && k % 2 == 0;
        dm_op_profile prof = {{0}};
        dm_unet_capture cap = {.profile = &prof};
        if (capture)
            cap = (dm_unet_capture){.hook = dm_attn_store_hook,
                                    .user = &store,
                                    .capture_cross = 1,
                                    .batch_mask = 1u << (B - 1)};
        t0 = omp_get_wtime();
        dm_unet_added add = {pooled, time_ids};
        if ((s = dm_unet_forward_cond(&unet, x, B, h, w, t, ctx, 77, m->sdxl ? &add : NULL, y, &cap,
                                      &arena, err)))
            goto done;
        double sec = omp_get_wtime() - t0;
        if (capture) {
            dm_attn_store_step(&store);
            if (sec < r->capture_seconds) r->capture_seconds = sec;
        } else if (k > 0 && sec < r->unet_seconds) {
            r->unet_seconds = sec;
            memcpy(r->op_seconds, prof.seconds, sizeof r->op_seconds);
        }
    }
    for (size_t i = 0; i < (size_t)B * m->unet.out_ch * h * w; i++)
        if (!isfinite(y[i])) {
            s = dm_fail(err, "%s: the UNet output is not finite (broken weights?)", path);
            goto done;
        }

    /* VAE decode of one latent (the pipeline decodes each image of a batch in turn) */
    t0 = omp_get_wtime();
    if ((s = dm_vae_decode(&vae, y, h, w, img, &arena, err))) goto done;
    r->vae_seconds = omp_get_wtime() - t0;
    r->peak_rss_mb = peak_rss_mb();
    r->rss_mb = rss_mb();
    if (dnnl) dm_dnnl_get_stats(dnnl, &r->dnnl);
done:
    free(ctx), free(x), free(y), free(img), free(g);
    free(pooled), free(time_ids);
    dm_clip_free(&clip2);
    dm_attn_store_free(&store);
    dm_arena_free(&arena);
    dm_unet_free(&unet);
    dm_clip_free(&clip);
    dm_model_free(m);
    dm_dnnl_free(dnnl);
    return s;
}

static void print_block(const results *r, long batch, double peak) {
    double gflops = r->unet_gflop / r->unet_seconds, ratio = gflops / r->sgemm_gflops;
    double overhead = r->capture_seconds / r->unet_seconds - 1.0;
    printf("  sgemm on the UNet's %d conv/linear GEMM shapes   %8.1f GFLOP/s\n", r->gemm_shapes,
           r->sgemm_gflops);
    printf("  UNet step                                      %8.3f s   %8.1f GFLOP   %6.1f GFLOP/s "
           "  %5.1f%% of sgemm, %5.1f%% of peak\n",
           r->unet_seconds, r->unet_gflop, gflops, 100 * ratio, 100 * gflops / peak);
    printf("  UNet step, cross-attention captured            %8.3f s   overhead %+.1f%%\n",
           r->capture_seconds, 100 * overhead);
    printf("  text encoder (%ld x 77 tokens)                   %8.3f s\n", batch, r->text_seconds);
    printf("  VAE decode (1 image)                           %8.3f s\n", r->vae_seconds);
    printf("  RSS after the run (process peak so far)        %8.0f MB (%.0f MB)\n\n", r->rss_mb,
           r->peak_rss_mb);
    printf("  UNet time by op        seconds    share     GFLOP   GFLOP/s\n");
    double sum = 0;
    for (int k = 0; k < DM_OP_KINDS; k++) {
        sum += r->op_seconds[k];
        printf("  %-18s %10.3f   %5.1f%%  %8.1f  %8.1f\n", op_names[k], r->op_seconds[k],
               100 * r->op_seconds[k] / r->unet_seconds, r->op_gflop[k],
               r->op_seconds[k] > 0 ? r->op_gflop[k] / r->op_seconds[k] : 0.0);
    }
    printf("  %-18s %10.3f   %5.1f%%\n", "other", r->unet_seconds - sum,
           100 * (r->unet_seconds - sum) / r->unet_seconds);
}

static void json_run(const char *name, const results *r, double peak) {
    double g = r->unet_gflop / r->unet_seconds;
    printf(",\"%s\":{\"unet_seconds\":%.6g,\"unet_gflops\":%.6g,\"fraction_of_peak\":%.4f,"
           "\"capture_seconds\":%.6g,\"text_encoder_seconds\":%.6g,\"vae_decode_seconds\":%.6g,"
           "\"rss_mb\":%.1f,\"ops\":{",
           name, r->unet_seconds, g, g / peak, r->capture_seconds, r->text_seconds, r->vae_seconds,
           r->rss_mb);
    for (int o = 0; o < DM_OP_KINDS; o++)
        printf("%s\"%s\":%.6g", o ? "," : "", op_names[o], r->op_seconds[o]);
    printf("}}");
}

int dm_cmd_bench(int argc, char **argv) {
    const char *model = NULL, *precision = "auto";
    long width = 512, height = 512, batch = 2, threads = 0, repeat = 2;
    int json = 0, blas_threaded = 0, f16_weights = 1, f32_weights = 0, f16_flag = 0;
    dm_arg_list recipes = {0}, loras = {0};
    const char *vae_decoder = NULL, *tokenizer = NULL;
    long measure_calls = 0;
    const dm_opt opts[] = {
        {"--recipe", DM_ARG_MULTI, &recipes, "STEPS,GUIDANCE,DECODER[,SAMPLER]",
         "time whole images of this recipe (DECODER vae|taesd, SAMPLER default ddim; "
         "repeatable): UNet calls, UNet / decode seconds, seconds per image, images per hour. "
         "With --vae-decoder and no --recipe: 25,7.5,vae,ddim and 4,1,taesd,lcm side by side"},
        {"--lora", DM_ARG_MULTI, &loras, "FILE[:SCALE]", "recipes: LoRA merged at load"},
        {"--vae-decoder", DM_ARG_STR, &vae_decoder, "DIR", "recipes: the TAESD folder of 'taesd'"},
        {"--tokenizer", DM_ARG_STR, &tokenizer, "DIR", "recipes: tokenizer folder"},
        {"--measure-calls", DM_ARG_INT, &measure_calls, "K",
         "recipes: time K UNet calls and extrapolate to the recipe's count (default: all)", 0,
         1000},
        {"--model", DM_ARG_STR, &model, "PATH",
         "diffusers folder or one-file .safetensors checkpoint"},
        {"--width", DM_ARG_INT, &width, "W", "image width in pixels (default 512)", 8, 8192},
        {"--height", DM_ARG_INT, &height, "H", "image height in pixels (default 512)", 8, 8192},
        {"--batch", DM_ARG_INT, &batch, "B",
         "UNet batch (default 2 = one classifier-free-guided step)", 1, 16},
        {"--threads", DM_ARG_INT, &threads, "T",
         "OpenMP and OpenBLAS threads, 0 = all cores (default 0)", 0, 1024},
        {"--repeat", DM_ARG_INT, &repeat, "N",
         "plain UNet steps to time, best kept (default 2; "
         "after one warm-up step; as many captured steps run between them)",
         1, 100},
        {"--precision", DM_ARG_STR, &precision, "auto|fp32|bf16",
         "auto (default): fp32, then bf16 too where the CPU has avx512_bf16 / amx_bf16; fp32 or "
         "bf16: that one only"},
        {"--json", DM_ARG_FLAG, &json, NULL, "print one JSON object instead of the table"},
        {"--f16-weights", DM_ARG_FLAG, &f16_flag, NULL,
         "accepted for old scripts (f16/bf16 weights stay as stored by default)"},
        {"--f32-weights", DM_ARG_FLAG, &f32_weights, NULL,
         "for comparison: f32 copies of f16/bf16 weights at load (the mode before issue 10)"},
        {"--blas-threaded", DM_ARG_FLAG, &blas_threaded, NULL,
         "for comparison: let OpenBLAS thread each GEMM with its own pool beside OpenMP's "
         "(the engine's default is one OpenMP pool splitting single-threaded GEMMs)"},
    };
    const dm_cmd_spec spec = {
        "diffumask bench",
        "--model PATH [--width W --height H] [--batch B] [--threads T] [--precision P] [--json]",
        "Measures the machine's peaks (fp32 FMA; bf16 AVX512-BF16; AMX computed where present), "
        "times the text encoder, one UNet step and one VAE decode at the given size in fp32 and "
        "bf16, counts the UNet's FLOPs from its config (conv 2·O·C·k²·Ho·Wo, linear 2·M·N·K, "
        "attention 2·2·heads·Lq·Lk·d), times the linked BLAS's sgemm on the same GEMM shapes, and "
        "reports GFLOP/s, fraction of peak, the bf16 speed-up, the time by kind of op, the "
        "overhead of capturing every cross-attention map, and the RSS.",
        opts,
        (int)(sizeof opts / sizeof *opts),
        0,
        0};
    const char *pos[1];
    int n_pos;
    int rc = dm_parse_args(&spec, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? 0 : rc;
    if (!model) return dm_usage_error(&spec, "--model PATH is required");
    (void)f16_flag;
    f16_weights = !f32_weights;
    if (recipes.n || vae_decoder) {
        dm_cli_model_opts m = {.model = model,
                               .tokenizer = tokenizer,
                               .precision = precision,
                               .threads = threads,
                               .f32_weights = f32_weights,
                               .loras = loras,
                               .vae_decoder = vae_decoder};
        dm_bench_recipe_opts ro = {.spec = &spec,
                                   .m = &m,
                                   .recipes = &recipes,
                                   .width = (int)width,
                                   .height = (int)height,
                                   .measure_calls = (int)measure_calls,
                                   .json = json};
        return dm_bench_recipes(&ro);
    }
    if (threads > 0) omp_set_num_threads((int)threads);
    if (blas_threaded)
        openblas_set_num_threads(omp_get_max_threads());
    else
        dm_ops_set_threads(0);
    int T = omp_get_max_threads();
    dm_error err = {{0}};
    dm_cpu cpu;
    dm_cpu_detect(&cpu);
    int run_fp32 = 1, run_bf16 = cpu.avx512_bf16 || cpu.amx_bf16;
    if (strcmp(precision, "auto")) {
        dm_precision want, eff;
        if (dm_precision_parse(precision, &want, &err) || dm_precision_resolve(want, &eff, &err))
            return dm_usage_error(&spec, "%s", err.msg);
        run_bf16 = eff == DM_PRECISION_BF16, run_fp32 = !run_bf16;
    }
    dm_peaks pk;
    dm_measure_peaks(&pk);
    results rr[2] = {{0}}; /* fp32, bf16 */
    for (int k = 0; k < 2; k++) {
        if (!(k ? run_bf16 : run_fp32)) continue;
        dm_status s = run(model, (int)width, (int)height, (int)batch, (int)repeat, blas_threaded,
                          f16_weights, k, &rr[k], &err);
        if (s) {
            fprintf(stderr, "%s: %s\n", spec.command, err.msg);
            return s == DM_EUSAGE ? 2 : 1;
        }
    }
    /* the sgemm reference is an fp32 measurement, taken in the fp32 run */
    rr[1].sgemm_gflops = run_fp32 ? rr[0].sgemm_gflops : NAN;
    rr[1].gemm_shapes = rr[0].gemm_shapes;
    double peaks[2] = {pk.fp32_gflops, pk.amx_gflops > 0 ? pk.amx_gflops : pk.bf16_gflops};
    int mk = run_bf16 ? 1 : 0;
    const results *r = &rr[mk];
    double gflops = r->unet_gflop / r->unet_seconds, ratio = gflops / r->sgemm_gflops;
    double overhead = r->capture_seconds / r->unet_seconds - 1.0;
    double speedup = run_fp32 && run_bf16 ? rr[0].unet_seconds / rr[1].unet_seconds : NAN;
    char flags[256], kernels[128];
    dm_cpu_flags_string(&cpu, flags, sizeof flags);
    dm_cpu_kernels_string(&cpu, kernels, sizeof kernels);
    if (json) {
        /* the top-level numbers are those of `precision` (bf16 where it ran) */
        printf("{\"model\":\"%s\",\"width\":%ld,\"height\":%ld,\"batch\":%ld,\"threads\":%d,"
               "\"blas_threaded\":%d,\"f16_weights\":%d,\"unet_seconds\":%.6g,\"unet_gflop\":%.6g,"
               "\"unet_gflops\":%.6g,",
               model, width, height, batch, T, blas_threaded, f16_weights, r->unet_seconds,
               r->unet_gflop, gflops);
        if (isfinite(r->sgemm_gflops))
            printf("\"sgemm_gflops\":%.6g,\"ratio\":%.4f,", r->sgemm_gflops, ratio);
        else
            printf("\"sgemm_gflops\":null,\"ratio\":null,");
        printf("\"capture_seconds\":%.6g,\"capture_overhead\":%.4f,\"text_encoder_seconds\":%.6g,"
               "\"vae_decode_seconds\":%.6g,\"peak_rss_mb\":%.1f,\"ops\":{",
               r->capture_seconds, overhead, r->text_seconds, r->vae_seconds, r->peak_rss_mb);
        for (int k = 0; k < DM_OP_KINDS; k++)
            printf("%s\"%s\":{\"seconds\":%.6g,\"gflop\":%.6g}", k ? "," : "", op_names[k],
                   r->op_seconds[k], r->op_gflop[k]);
        printf("},\"precision\":\"%s\",\"peak_gflops\":%.6g,", mk ? "bf16" : "fp32", peaks[mk]);
        if (isfinite(speedup))
            printf("\"bf16_speedup\":%.4f,", speedup);
        else
            printf("\"bf16_speedup\":null,");
        printf("\"kernels\":\"%s\",\"build\":\"%s\",", kernels, dm_cpu_build_string());
        printf("\"cpu_flags\":\"%s\",\"ghz\":%.3f,\"peaks\":{\"fp32_gflops\":%.6g,"
               "\"bf16_gflops\":%.6g,\"amx_bf16_gflops\":%.6g}",
               flags, pk.ghz, pk.fp32_gflops, pk.bf16_gflops, pk.amx_gflops);
        if (run_fp32) json_run("fp32", &rr[0], peaks[0]);
        if (run_bf16) json_run("bf16", &rr[1], peaks[1]);
        printf("}\n");
        return 0;
    }
    printf("diffumask bench: %s, %ldx%ld (latent %ldx%ld), batch %ld, %d threads (%s)\n", model,
           width, height, width / 8, height / 8, batch, T,
           blas_threaded ? "OpenBLAS threads each GEMM"
                         : "one OpenMP pool, single-threaded GEMMs split");
    printf("  CPU flags: %s; %.2f GHz (/proc/cpuinfo)\n", flags, pk.ghz);
    printf("  kernels: %s; build: %s\n", kernels, dm_cpu_build_string());
    printf("  peak fp32 FMA (measured):      %d cores x %.2f GHz x %5.1f FLOP/cycle = %8.1f "
           "GFLOP/s\n",
           pk.threads, pk.ghz, pk.fp32_flop_per_cycle, pk.fp32_gflops);
    if (pk.bf16_gflops > 0)
        printf("  peak bf16 AVX512-BF16 (measured): %d x %.2f GHz x %5.1f FLOP/cycle = %8.1f "
               "GFLOP/s\n",
               pk.threads, pk.ghz, pk.bf16_flop_per_cycle, pk.bf16_gflops);
    else
        printf("  peak bf16 AVX512-BF16: not on this CPU\n");
    if (pk.amx_gflops > 0)
        printf("  peak bf16 AMX (computed, 1024 FLOP/cycle/core): %8.1f GFLOP/s (not measured)\n",
               pk.amx_gflops);
    else
        printf("  peak bf16 AMX: not on this CPU\n");
    if (isfinite(speedup)) printf("  bf16 speed-up of the UNet step: %.2fx\n", speedup);
    for (int k = 0; k < 2; k++) {
        if (!(k ? run_bf16 : run_fp32)) continue;
        if (k)
            printf("\n== bf16 (oneDNN conv %s, linear %s; %d primitives, %d weights = %.0f MB "
                   "bf16, %d re-prepared, %d fell back to fp32)\n",
                   rr[1].dnnl.conv_impl, rr[1].dnnl.linear_impl, rr[1].dnnl.primitives,
                   rr[1].dnnl.weights, rr[1].dnnl.weight_bytes / 1048576.0, rr[1].dnnl.reprepared,
                   rr[1].dnnl.failures);
        if (k)
            printf("   over the whole run (%d UNet steps, text encoder, VAE): oneDNN ops %.3f s, "
                   "our layout conversions around them %.3f s (%.1f%% of the ops), weight "
                   "preparation %.3f s\n",
                   1 + 2 * (int)repeat, rr[1].dnnl.op_seconds, rr[1].dnnl.convert_seconds,
                   100 * rr[1].dnnl.convert_seconds / rr[1].dnnl.op_seconds,
                   rr[1].dnnl.prepare_seconds);
        else
            printf("\n== fp32\n");
        print_block(&rr[k], batch, peaks[k]);
    }
    return 0;
}
