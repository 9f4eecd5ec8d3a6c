/* `diffumask generate` end to end on tiny-sd1 (random weights: the masks are noise, so formats,
 * determinism and safety are what is checked): a 2-class x 3-image dataset; its COCO RLE decodes
 * to the PNG masks; kill -9 at random moments then resume gives the same files as an
 * uninterrupted run; shards 0/2 + 1/2 merged equal the unsharded run; bad input is refused. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/rng.h"
#include "dataset/format/dataset.h"
#include "io/file.h"
#include "io/image.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const char *cli, *model;
static char tmp[512];
#define ARGS                                                                                       \
    "--classes bird,cat --images-per-class 3 --steps 4 --guidance 7.5 --width 64 --height 64 "     \
    "--seed 11 --image-format png --save-heatmaps --quiet --prune-fraction 0"

#define run check_run_cli

/* manifest lines without their "timing" objects, sorted */
static char *manifest_canonical(const char *dir) {
    char p[1024], **lines;
    int n;
    snprintf(p, sizeof p, "%s/manifest.jsonl", dir);
    dm_error err;
    if (dm_read_lines(p, &lines, &n, &err)) return strdup("");
    char **canon = calloc((size_t)n + 1, sizeof *canon);
    size_t total = 1;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_Parse(lines[i]);
        cJSON_DeleteItemFromObjectCaseSensitive(o, "timing");
        canon[i] = o ? cJSON_PrintUnformatted(o) : strdup("<bad line>");
        total += strlen(canon[i]) + 1;
        cJSON_Delete(o);
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(canon[j], canon[j - 1]) < 0; j--) {
            char *t = canon[j];
            canon[j] = canon[j - 1];
            canon[j - 1] = t;
        }
    char *out = malloc(total), *o = out;
    for (int i = 0; i < n; i++) o += sprintf(o, "%s\n", canon[i]), free(canon[i]);
    *o = 0;
    free(canon);
    dm_free_lines(lines, n);
    return out;
}

/* Every file under a and b (recursively) is the same; the manifest compared canonically. */
static int same_tree(const char *a, const char *b, const char *rel) {
    char pa[1024], pb[1024];
    snprintf(pa, sizeof pa, "%s%s", a, rel);
    snprintf(pb, sizeof pb, "%s%s", b, rel);
    struct dirent **ea, **eb;
    int na = scandir(pa, &ea, NULL, alphasort), nb = scandir(pb, &eb, NULL, alphasort),
        ok = na == nb && na >= 0;
    for (int i = 0; ok && i < na; i++) {
        const char *n = ea[i]->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
        if (strcmp(n, eb[i]->d_name)) {
            fprintf(stderr, "  %s%s: %s vs %s\n", a, rel, n, eb[i]->d_name);
            ok = 0;
            break;
        }
        char r2[1024], fa[1100], fb[1100];
        snprintf(r2, sizeof r2, "%s/%s", rel, n);
        snprintf(fa, sizeof fa, "%s%s", a, r2);
        snprintf(fb, sizeof fb, "%s%s", b, r2);
        if (dm_dir_exists(fa)) {
            ok = same_tree(a, b, r2);
        } else if (!strcmp(n, "manifest.jsonl")) {
            char *ma = manifest_canonical(a), *mb = manifest_canonical(b);
            ok = !strcmp(ma, mb);
            if (!ok) fprintf(stderr, "  manifests differ: %s vs %s\n", a, b);
            free(ma), free(mb);
        } else {
            char *da = NULL, *db = NULL;
            size_t la = 0, lb = 0;
            dm_error err;
            ok = !dm_read_file(fa, &da, &la, &err) && !dm_read_file(fb, &db, &lb, &err) &&
                 la == lb && !memcmp(da, db, la);
            if (!ok) fprintf(stderr, "  %s differs from %s\n", fa, fb);
            free(da), free(db);
        }
    }
    if (na != nb) fprintf(stderr, "  %s%s: %d vs %d entries\n", a, rel, na, nb);
    for (int i = 0; i < na; i++) free(ea[i]);
    for (int i = 0; i < nb; i++) free(eb[i]);
    if (na >= 0) free(ea);
    if (nb >= 0) free(eb);
    return ok;
}

/* Decodes COCO's column-major uncompressed RLE into a 0/1 image. */
static void rle_decode(const cJSON *counts, int h, int w, uint8_t *out) {
    long pos = 0;
    int val = 0;
    for (const cJSON *c = counts->child; c; c = c->next, val ^= 1)
        for (long k = 0; k < (long)c->valuedouble && pos < (long)h * w; k++, pos++) {
            long x = pos / h, y = pos % h;
            if (val) out[y * w + x] = 1;
        }
}

static void check_coco(const char *dir) {
    char p[2048], *text;
    dm_error err;
    snprintf(p, sizeof p, "%s/annotations.json", dir);
    CHECK(dm_read_file(p, &text, NULL, &err) == DM_OK);
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *images = cJSON_GetObjectItem(root, "images"),
                *anns = cJSON_GetObjectItem(root, "annotations");
    CHECK(cJSON_GetArraySize(images) == 6);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(root, "categories")) == 2);
    int checked = 0;
    for (const cJSON *im = images->child; im; im = im->next) {
        int id = cJSON_GetObjectItem(im, "id")->valueint;
        const char *file = cJSON_GetObjectItem(im, "file_name")->valuestring;
        char name[256];
        snprintf(name, sizeof name, "%s", strrchr(file, '/') ? strrchr(file, '/') + 1 : file);
        *strrchr(name, '.') = 0;
        snprintf(p, sizeof p, "%.1024s/SegmentationClass/%.255s.png", dir, name);
        uint8_t *mask;
        int w, h;
        CHECK(dm_image_read(p, 1, &mask, &w, &h, &err) == DM_OK);
        for (int cat = 1; cat <= 2; cat++) {
            uint8_t *dec = calloc((size_t)w * h, 1);
            for (const cJSON *a = anns->child; a; a = a->next) {
                if (cJSON_GetObjectItem(a, "image_id")->valueint != id ||
                    cJSON_GetObjectItem(a, "category_id")->valueint != cat)
                    continue;
                CHECK(cJSON_GetObjectItem(a, "iscrowd")->valueint == 0);
                rle_decode(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "segmentation"), "counts"), h,
                           w, dec);
            }
            int same = 1;
            for (int i = 0; i < w * h; i++) same &= dec[i] == (mask[i] == cat);
            CHECKF(same, "%s: COCO RLE of class %d differs from the PNG mask", name, cat);
            checked++;
            free(dec);
        }
        free(mask);
    }
    CHECK(checked == 12);
    cJSON_Delete(root);
}

/* Complete samples in DIR/manifest.jsonl (one line each, appended as each is written); 0 when
 * it does not exist yet. */
static int manifest_lines(const char *dir) {
    char p[1100];
    snprintf(p, sizeof p, "%s/manifest.jsonl", dir);
    FILE *f = fopen(p, "r");
    if (!f) return 0;
    int n = 0;
    for (int c; (c = fgetc(f)) != EOF;) n += c == '\n';
    fclose(f);
    return n;
}

/* One `generate` of cmd killed (-9) once k samples are in its manifest plus a random fraction of
 * a sample's time (so the kill lands inside a sample, at a random point of it). Returns 1 when
 * the kill hit a run in progress: the child died of SIGKILL and 0 < samples left < total. */
static int kill_mid_run(const char *cmd, const char *dir, int k, int total, dm_rng *rng,
                        int no_delay) {
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int status = 0, exited = 0;
    double first = -1, ms = 0;
    for (;;) { /* poll the manifest every 0.5 ms until k samples are done (or the child ends) */
        if (waitpid(pid, &status, WNOHANG) == pid) {
            exited = 1;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        ms = (double)(now.tv_sec - t0.tv_sec) * 1e3 + (double)(now.tv_nsec - t0.tv_nsec) / 1e6;
        int n = manifest_lines(dir);
        if (n >= 1 && first < 0) first = ms;
        if (n >= k || ms > 600e3) break;
        nanosleep(&(struct timespec){0, 500000L}, NULL);
    }
    /* a sample takes about (ms - first) / (k - 1) ms once the model is loaded */
    double per = k > 1 ? (ms - first) / (k - 1) : 20,
           extra = no_delay ? 0 : dm_rng_uniform(rng) * 0.5 * per;
    if (!exited) {
        long ns = (long)(extra * 1e6);
        nanosleep(&(struct timespec){ns / 1000000000L, ns % 1000000000L}, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    int left = manifest_lines(dir);
    int mid = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && left > 0 && left < total;
    printf("killed after %d of %d samples + %.0f ms: %s (%d samples on disk)\n", k, total, extra,
           mid ? "mid-run" : "NOT mid-run", left);
    return mid;
}

/* trials times: `generate --model m ARGS --out tmp/TAGk` killed (-9) in the middle of the run
 * (checked: died of SIGKILL with some but not all samples written; a kill that came too late, as
 * the few-step recipe's sub-millisecond samples allow, is tried again, at most 3 times, right
 * after the first sample), then run again to the end: the folder must equal full_dir
 * (the uninterrupted run) byte for byte. */
static void kill_and_resume(const char *m, const char *args, const char *full_dir, const char *tag,
                            int trials) {
    dm_rng rng;
    dm_rng_seed(&rng, (uint64_t)time(NULL));
    int total = manifest_lines(full_dir);
    CHECKF(total >= 2, "%s: %d samples, cannot kill between two", full_dir, total);
    for (int trial = 0; total >= 2 && trial < trials; trial++) {
        char b[1024], cmd[4096], rm[1100];
        snprintf(b, sizeof b, "%s/%s%d", tmp, tag, trial);
        snprintf(cmd, sizeof cmd, "exec %s generate --model %s %s --out %s", cli, m, args, b);
        int k = 1 + (int)(dm_rng_uniform(&rng) * (total - 1)), mid = 0;
        for (int attempt = 0; !mid && attempt < 3; attempt++) {
            snprintf(rm, sizeof rm, "rm -rf %s", b);
            CHECK(system(rm) == 0);
            printf("%s trial %d attempt %d: ", tag, trial, attempt);
            mid = kill_mid_run(cmd, b, attempt ? 1 : k, total, &rng, attempt > 0);
        }
        CHECKF(mid, "%s trial %d: no kill landed in the middle of the run", tag, trial);
        CHECK(run("generate --model %s %s --out %s", m, args, b) == 0);
        CHECKF(same_tree(full_dir, b, ""), "%s trial %d (killed after %d samples) differs", tag,
               trial, k);
    }
}

/* The few-step recipe (issue 9): LCM, 2 steps, no guidance, a LoRA and TAESD. Its manifest and
 * config record spacing, LoRA (file, sha256, scale) and decoder; a kill -9 resumes
 * byte-identically; resuming with another LoRA, scale or decoder is refused. */
static void few_step_recipe(void) {
    char lora[1024], taesd[1024], args[4096], a[1024], p[1100];
    snprintf(lora, sizeof lora, "%s", check_shared("golden/fast/lora-kohya.safetensors"));
    snprintf(taesd, sizeof taesd, "%s", check_shared("golden/fast/tiny-taesd"));
    const char *base = "--classes bird,cat --images-per-class 2 --width 64 --height 64 --seed 5 "
                       "--image-format png --quiet --sampler lcm --steps 2 --guidance 1 "
                       "--prune-fraction 0";
    snprintf(args, sizeof args, "%s --timestep-spacing trailing --lora %s:0.5 --vae-decoder %s",
             base, lora, taesd);
    snprintf(a, sizeof a, "%s/few", tmp);
    CHECK(run("generate --model %s %s --out %s", model, args, a) == 0);
    snprintf(p, sizeof p, "%s/manifest.jsonl", a);
    char **lines;
    int n = 0;
    dm_error err;
    CHECK(dm_read_lines(p, &lines, &n, &err) == DM_OK && n == 4);
    if (n > 0) {
        cJSON *o = cJSON_Parse(lines[0]);
        const cJSON *l = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "loras"), 0);
        CHECK(!strcmp(cJSON_GetObjectItem(o, "sampler")->valuestring, "lcm"));
        CHECK(!strcmp(cJSON_GetObjectItem(o, "timestep_spacing")->valuestring, "trailing"));
        CHECK(l && !strcmp(cJSON_GetObjectItem(l, "file")->valuestring, "lora-kohya.safetensors") &&
              strlen(cJSON_GetObjectItem(l, "sha256")->valuestring) == 64 &&
              cJSON_GetObjectItem(l, "scale")->valuedouble == 0.5);
        CHECK(
            !strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "vae_decoder"), "dir")->valuestring,
                    "tiny-taesd"));
        cJSON_Delete(o);
        dm_free_lines(lines, n);
    }
    kill_and_resume(model, args, a, "fewkilled", 2);
    /* another scale, no LoRA, no decoder, another spacing: refused, folder untouched */
    char other[4096];
    snprintf(other, sizeof other, "%s --timestep-spacing trailing --lora %s:1 --vae-decoder %s",
             base, lora, taesd);
    CHECK(run("generate --model %s %s --out %s 2>/dev/null", model, other, a) == 1);
    snprintf(other, sizeof other, "%s --timestep-spacing trailing --vae-decoder %s", base, taesd);
    CHECK(run("generate --model %s %s --out %s 2>/dev/null", model, other, a) == 1);
    snprintf(other, sizeof other, "%s --timestep-spacing trailing --lora %s:0.5", base, lora);
    CHECK(run("generate --model %s %s --out %s 2>/dev/null", model, other, a) == 1);
    snprintf(other, sizeof other, "%s --lora %s:0.5 --vae-decoder %s", base, lora, taesd);
    CHECK(run("generate --model %s %s --out %s 2>/dev/null", model, other, a) == 1);
    char b[1024];
    snprintf(b, sizeof b, "%s/fewkilled0", tmp);
    CHECK(same_tree(a, b, ""));
}

int main(void) {
    cli = getenv("DM_CLI");
    if (!cli) check_skip("DM_CLI not set");
    model = check_shared("golden/tiny-sd1");
    snprintf(tmp, sizeof tmp, "%s", check_tmpdir());

    /* the uninterrupted run */
    CHECK(run("generate --model %s " ARGS " --out %s/full", model, tmp) == 0);
    char p[1024];
    snprintf(p, sizeof p, "%s/full", tmp);
    check_coco(p);
    char **lines;
    int n;
    dm_error err;
    snprintf(p, sizeof p, "%s/full/manifest.jsonl", tmp);
    CHECK(dm_read_lines(p, &lines, &n, &err) == DM_OK && n == 6);
    if (n == 6) {
        cJSON *o = cJSON_Parse(lines[0]);
        CHECK(!strcmp(cJSON_GetObjectItem(o, "name")->valuestring, "000000_bird"));
        CHECK(!strcmp(cJSON_GetObjectItem(o, "prompt")->valuestring, "a photograph of a bird"));
        CHECK(cJSON_GetObjectItem(o, "class_id")->valueint == 1);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(o, "token_positions")) == 1 &&
              cJSON_GetArrayItem(cJSON_GetObjectItem(o, "token_positions"), 0)->valueint == 5);
        CHECK(strlen(cJSON_GetObjectItem(o, "model_sha256")->valuestring) == 64);
        cJSON_Delete(o);
        dm_free_lines(lines, n);
    }
    snprintf(p, sizeof p, "%s/full/ImageSets/Segmentation/train.txt", tmp);
    CHECK(dm_read_lines(p, &lines, &n, &err) == DM_OK && n == 6);
    if (n == 6) dm_free_lines(lines, n);

    /* re-running the same command: nothing to do, same files */
    CHECK(run("generate --model %s " ARGS " --out %s/full", model, tmp) == 0);
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/full", tmp);

    /* kill -9 at random moments, then resume: byte-identical to the uninterrupted run */
    kill_and_resume(model, ARGS, a, "killed", 5);

    /* the same on tiny-sdxl (two text encoders, masks from SDXL's attention at 4x4 and 2x2;
     * no --negative-prompt: zeroed unconditional embeddings, recorded as null) */
    char xl[1024], xa[1024], xp[1100];
    snprintf(xl, sizeof xl, "%s", check_shared("golden/sdxl/tiny-sdxl"));
    snprintf(xa, sizeof xa, "%s/xlfull", tmp);
    CHECK(run("generate --model %s " ARGS " --out %s", xl, xa) == 0);
    check_coco(xa);
    snprintf(xp, sizeof xp, "%s/config.json", xa);
    char *text = NULL;
    CHECK(dm_read_file(xp, &text, NULL, &err) == DM_OK);
    cJSON *xc = cJSON_Parse(text ? text : "");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(xc, "negative_prompt")));
    CHECK(cJSON_GetArrayItem(cJSON_GetObjectItem(xc, "original_size"), 0)->valueint == 64);
    cJSON_Delete(xc);
    free(text);
    kill_and_resume(xl, ARGS, xa, "xlkilled", 1);

    /* shards 0/2 + 1/2, merged == unsharded */
    CHECK(run("generate --model %s " ARGS " --shard 0/2 --out %s/s0", model, tmp) == 0);
    CHECK(run("generate --model %s " ARGS " --shard 1/2 --out %s/s1", model, tmp) == 0);
    CHECK(run("merge %s/merged %s/s0 %s/s1 2>/dev/null", tmp, tmp, tmp) == 0);
    snprintf(b, sizeof b, "%s/merged", tmp);
    CHECK(same_tree(a, b, ""));
    /* the same through the cluster environment variables; without one, --num-shards is a
     * usage error (exit 2) that writes nothing */
    unsetenv("SLURM_ARRAY_TASK_ID");
    unsetenv("JOB_COMPLETION_INDEX");
    CHECK(run("generate --model %s " ARGS " --num-shards 2 --out %s/j1 </dev/null 2>/dev/null",
              model, tmp) == 2);
    snprintf(b, sizeof b, "%s/j1", tmp);
    CHECKF(!dm_dir_exists(b), "%s: written by a refused --num-shards run", b);
    setenv("JOB_COMPLETION_INDEX", "1", 1);
    CHECK(run("generate --model %s " ARGS " --num-shards 2 --out %s/j1", model, tmp) == 0);
    unsetenv("JOB_COMPLETION_INDEX");
    snprintf(a, sizeof a, "%s/s1", tmp);
    snprintf(b, sizeof b, "%s/j1", tmp);
    CHECK(same_tree(a, b, ""));

    /* --prune-fraction: the lowest-scoring samples move to pruned/; a re-run changes nothing */
    CHECK(run("generate --model %s " ARGS " --prune-fraction 0.34 --out %s/pruned", model, tmp) ==
          0);
    snprintf(p, sizeof p, "%s/pruned/manifest.jsonl", tmp);
    char **kept, **gone;
    int nk = 0, ng = 0;
    CHECK(dm_read_lines(p, &kept, &nk, &err) == DM_OK && nk == 4);
    snprintf(p, sizeof p, "%s/pruned/pruned/manifest.jsonl", tmp);
    CHECK(dm_read_lines(p, &gone, &ng, &err) == DM_OK && ng == 2);
    double worst_kept = 2, best_gone = -1, all_scores[6] = {0};
    for (int i = 0; i < nk + ng; i++) {
        cJSON *o = cJSON_Parse(i < nk ? kept[i] : gone[i - nk]);
        double sc = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "quality"), "score")->valuedouble;
        if (i < nk && sc < worst_kept) worst_kept = sc;
        if (i >= nk && sc > best_gone) best_gone = sc;
        if (i < 6) all_scores[i] = sc;
        cJSON_Delete(o);
    }
    CHECKF(best_gone <= worst_kept, "pruned score %g > kept score %g", best_gone, worst_kept);
    if (nk) dm_free_lines(kept, nk);
    if (ng) dm_free_lines(gone, ng);
    snprintf(a, sizeof a, "%s/pruned-copy", tmp);
    char cp[2200];
    snprintf(cp, sizeof cp, "cp -a %s/pruned %s", tmp, a);
    CHECK(system(cp) == 0);
    CHECK(run("generate --model %s " ARGS " --prune-fraction 0.34 --out %s/pruned", model, tmp) ==
          0);
    snprintf(b, sizeof b, "%s/pruned", tmp);
    CHECK(same_tree(a, b, ""));

    /* the default prunes 30 %: floor(0.3 * 6) = 1 sample, the lowest-scoring one */
    CHECK(run("generate --model %s " ARGS " --prune-fraction 0.3 --out %s/p30", model, tmp) == 0);
    {
        /* the same command without --prune-fraction (ARGS without its last option) */
        char args[512];
        snprintf(args, sizeof args, "%s", ARGS);
        char *cut = strstr(args, " --prune-fraction 0");
        if (cut) *cut = 0;
        CHECK(run("generate --model %s %s --out %s/pdefault", model, args, tmp) == 0);
        snprintf(a, sizeof a, "%s/p30", tmp);
        snprintf(b, sizeof b, "%s/pdefault", tmp);
        CHECK(same_tree(a, b, ""));
        snprintf(p, sizeof p, "%s/pdefault/pruned/manifest.jsonl", tmp);
        CHECK(dm_read_lines(p, &gone, &ng, &err) == DM_OK && ng == 1);
        if (ng) dm_free_lines(gone, ng);
    }

    /* --min-score S: every sample scoring below S goes to pruned/, whatever the others score */
    qsort(all_scores, 6, sizeof *all_scores, cmp_double);
    int below = 5; /* the floor goes between the highest score and the one under it */
    while (below > 1 && all_scores[below - 1] == all_scores[below]) below--;
    double floor_score = (all_scores[below - 1] + all_scores[below]) / 2;
    CHECKF(all_scores[below - 1] < all_scores[below], "scores %g .. %g all equal", all_scores[0],
           all_scores[5]);
    CHECK(run("generate --model %s " ARGS " --min-score %.9f --out %s/floor", model, floor_score,
              tmp) == 0);
    snprintf(p, sizeof p, "%s/floor/manifest.jsonl", tmp);
    nk = ng = 0;
    CHECK(dm_read_lines(p, &kept, &nk, &err) == DM_OK && nk == 6 - below);
    for (int i = 0; i < nk; i++) {
        cJSON *o = cJSON_Parse(kept[i]);
        double sc = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "quality"), "score")->valuedouble;
        CHECKF(sc >= floor_score, "kept a sample scoring %g < --min-score %g", sc, floor_score);
        cJSON_Delete(o);
    }
    if (nk) dm_free_lines(kept, nk);
    snprintf(p, sizeof p, "%s/floor/pruned/manifest.jsonl", tmp);
    CHECKF(dm_read_lines(p, &gone, &ng, &err) == DM_OK && ng == below, "%d pruned, want %d", ng,
           below);
    if (ng) dm_free_lines(gone, ng);

    /* bad input: clear errors, exit codes, nothing damaged */
    CHECK(run("generate --model %s " ARGS " --steps 5 --out %s/full 2>/dev/null", model, tmp) == 1);
    snprintf(a, sizeof a, "%s/full", tmp);
    snprintf(b, sizeof b, "%s/killed0", tmp);
    CHECK(same_tree(a, b, ""));
    CHECK(run("generate --model %s --preset coco --images-per-class 1 --out %s/x 2>/dev/null",
              model, tmp) == 2);
    CHECK(run("generate --model %s --classes ' , ' --images-per-class 1 --out %s/x 2>/dev/null",
              model, tmp) == 2);
    CHECK(run("generate --model %s/none --classes cat --images-per-class 1 --out %s/x 2>/dev/null",
              tmp, tmp) == 1);
    CHECK(run("generate --model %s --classes cat --images-per-class 1 --template 'a photo of a dog "
              "{}' --out %s/ok 2>/dev/null",
              model, tmp) == 0);
    snprintf(p, sizeof p, "%s/bad.jsonl", tmp);
    const char *jsonl = "{\"prompt\": \"a photo of a dog\", \"class\": \"cat\"}\n";
    dm_write_file_atomic(p, jsonl, strlen(jsonl), &err);
    CHECK(run("generate --model %s --prompts %s --out %s/y 2>/dev/null", model, p, tmp) == 1);
    snprintf(p, sizeof p, "%s/y", tmp);
    CHECK(!dm_dir_exists(p)); /* refused before anything was written */
    CHECK(run("generate --model %s --classes cat --images-per-class 1 --out /proc/nope 2>/dev/null",
              model) == 1);
    few_step_recipe();
    return check_finish();
}
