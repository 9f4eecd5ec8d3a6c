/* dm_generate_ex through the public header: diffusers' initial noise in (the tiny SD 1 golden's
 * image from its latents=), the stop callback ending the call at the asked step with
 * DM_ESTOPPED and untouched outputs, progress seeing every step, heat maps out in [0, 1] and
 * higher inside the mask, the mask equal to dm_generate_masked's, the options' size checked;
 * dm_open_config (dm_open_ex's options behind a size field). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diffumask.h"
#include "io/safetensors.h"

typedef struct {
    int seen[64], n_seen, last_n, stop_after, asked;
} cb_state;

static void on_progress(void *u, int step, int n) {
    cb_state *c = u;
    if (c->n_seen < 64) c->seen[c->n_seen++] = step;
    c->last_n = n;
}

static int on_stop(void *u) {
    cb_state *c = u;
    c->asked++;
    return c->stop_after > 0 && c->n_seen >= c->stop_after;
}

/* The golden pipe_ddim (128 x 128, 10 DDIM steps, latents= initial_noise) from the public API:
 * the uint8 image within the CLI's 1e-3 of the golden float image (plus half a level of
 * rounding). */
static void golden_latents(void) {
    dm_error err = {0};
    dm_engine *e = NULL;
    const char *model = check_shared("golden/tiny-sd1");
    if (dm_open_precision(model, 0, DM_PRECISION_FP32, &e, &err)) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    int L, h, w;
    dm_latent_shape(e, 128, 128, &L, &h, &w);
    CHECK(L == 4 && h == 16 && w == 16);
    dm_safetensors *g = NULL;
    CHECKF(dm_st_open(check_shared("golden/sd1/pipe_ddim.safetensors"), &g, &err) == DM_OK, "%s",
           err.msg);
    long nn = 0, ni = 0;
    float *noise = g ? check_read_f32(g, "initial_noise", &nn) : NULL;
    float *img = g ? check_read_f32(g, "image", &ni) : NULL;
    CHECK(noise && nn == 4 * 16 * 16 && img && ni == 128 * 128 * 3);
    if (noise && img && nn == 4 * 16 * 16 && ni == 128 * 128 * 3) {
        dm_image_request r = {.prompt = "a photograph of a bird",
                              .negative_prompt = "",
                              .steps = 10,
                              .guidance = 7.5f,
                              .sampler = "ddim",
                              .width = 128,
                              .height = 128};
        dm_run_options o;
        dm_run_options_init(&o);
        o.latents = noise;
        uint8_t *rgb = malloc(128 * 128 * 3);
        CHECKF(dm_generate_ex(e, &r, &o, NULL, 0, rgb, NULL, NULL, &err) == DM_OK, "%s", err.msg);
        double worst = 0;
        for (long i = 0; i < ni; i++) worst = fmax(worst, fabs(rgb[i] / 255.0 - img[i]));
        printf("pipe_ddim through dm_generate_ex: max |rgb/255 - image| = %g\n", worst);
        CHECKF(worst <= 1e-3 + 0.5 / 255, "max err %g", worst);
        /* the seed is not used when latents are given: another seed, same bytes */
        uint8_t *rgb2 = malloc(128 * 128 * 3);
        r.seed = 99;
        CHECKF(dm_generate_ex(e, &r, &o, NULL, 0, rgb2, NULL, NULL, &err) == DM_OK, "%s", err.msg);
        CHECK(memcmp(rgb, rgb2, 128 * 128 * 3) == 0);
        free(rgb), free(rgb2);
    }
    free(noise), free(img);
    if (g) dm_st_close(g);
    dm_close(e);
}

static void demo_model(void) {
    dm_error err = {0};
    dm_engine *e = NULL;
    if (dm_open(NULL, 0, &e, &err)) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    enum { S = 64, N = S * S };
    dm_image_request r = {.prompt = "a photo of a red circle and a blue square",
                          .steps = 8,
                          .guidance = 5,
                          .seed = 11};
    const char *words[2] = {"circle", "square"};
    uint8_t *rgb = malloc(N * 3), *mask = malloc(N), *rgb2 = malloc(N * 3), *mask2 = malloc(N);
    float *heat = malloc(sizeof(float) * 2 * N), score = -1, score2 = -1;

    /* progress sees 1..n; heat maps in [0, 1], hotter inside their class's mask */
    cb_state cs = {0};
    dm_run_options o;
    dm_run_options_init(&o);
    o.progress = on_progress, o.should_stop = on_stop, o.user = &cs, o.heatmaps = heat;
    CHECKF(dm_generate_ex(e, &r, &o, words, 2, rgb, mask, &score, &err) == DM_OK, "%s", err.msg);
    CHECK(cs.n_seen == 8 && cs.last_n == 8 && cs.seen[0] == 1 && cs.seen[7] == 8);
    CHECK(cs.asked == 7); /* after every step but the last */
    float lo = 1, hi = 0;
    for (int i = 0; i < 2 * N; i++) lo = fminf(lo, heat[i]), hi = fmaxf(hi, heat[i]);
    CHECKF(lo >= 0 && hi <= 1 && hi > 0.5f, "heat range %g..%g", lo, hi);
    for (int k = 0; k < 2; k++) {
        double in = 0, out = 0;
        long nin = 0, nout = 0;
        for (int i = 0; i < N; i++)
            if (mask[i] == k + 1)
                in += heat[k * N + i], nin++;
            else
                out += heat[k * N + i], nout++;
        CHECKF(nin > 0 && nout > 0 && in / nin > out / nout + 0.2, "class %d: %ld px, %g vs %g",
               k + 1, nin, nin ? in / nin : 0, nout ? out / nout : 0);
    }
    /* the same sample as dm_generate_masked (default method) */
    CHECKF(dm_generate_masked(e, &r, words, 2, NULL, rgb2, mask2, &score2, &err) == DM_OK, "%s",
           err.msg);
    CHECK(memcmp(rgb, rgb2, N * 3) == 0 && memcmp(mask, mask2, N) == 0 && score == score2);

    /* stop after step 3 of 8: DM_ESTOPPED, the step named, nothing written */
    memset(&cs, 0, sizeof cs);
    cs.stop_after = 3;
    memset(rgb, 0xAB, N * 3), memset(mask, 0xCD, N), memset(heat, 0, sizeof(float) * 2 * N);
    score = -1;
    dm_status s = dm_generate_ex(e, &r, &o, words, 2, rgb, mask, &score, &err);
    CHECKF(s == DM_ESTOPPED && strstr(err.msg, "stopped at step 3 of 8"), "%d %s", s, err.msg);
    CHECK(cs.n_seen == 3 && cs.seen[2] == 3);
    int untouched = score == -1;
    for (int i = 0; i < N * 3; i++) untouched &= rgb[i] == 0xAB;
    for (int i = 0; i < N; i++) untouched &= mask[i] == 0xCD && heat[i] == 0;
    CHECK(untouched);
    /* an image-only run stops the same way */
    memset(&cs, 0, sizeof cs);
    cs.stop_after = 5;
    s = dm_generate_ex(e, &r, &o, NULL, 0, rgb, NULL, NULL, &err);
    CHECKF(s == DM_ESTOPPED && strstr(err.msg, "stopped at step 5 of 8"), "%d %s", s, err.msg);
    /* the engine is fine after a stop: the next run is the whole sample again */
    memset(&cs, 0, sizeof cs);
    CHECKF(dm_generate_ex(e, &r, &o, words, 2, rgb, mask, &score, &err) == DM_OK, "%s", err.msg);
    CHECK(memcmp(rgb, rgb2, N * 3) == 0 && memcmp(mask, mask2, N) == 0);

    /* options from an older header (only the size field) run with the defaults */
    union {
        dm_run_options o;
        unsigned char bytes[sizeof(dm_run_options)];
    } old;
    memset(old.bytes, 0xFF, sizeof old.bytes); /* what lies past an older caller's struct */
    old.o.size = sizeof(size_t);
    CHECKF(dm_generate_ex(e, &r, &old.o, words, 2, rgb, mask, NULL, &err) == DM_OK, "%s", err.msg);
    CHECK(memcmp(mask, mask2, N) == 0);
    /* bad options and arguments are errors, not crashes */
    dm_run_options bad = o;
    bad.size = 0;
    CHECK(dm_generate_ex(e, &r, &bad, words, 2, rgb, mask, NULL, &err) == DM_EUSAGE &&
          strstr(err.msg, "size"));
    bad.size = sizeof bad + 8;
    CHECK(dm_generate_ex(e, &r, &bad, words, 2, rgb, mask, NULL, &err) == DM_EUSAGE);
    CHECK(dm_generate_ex(e, &r, NULL, words, 2, rgb, NULL, NULL, &err) == DM_EUSAGE);
    CHECK(dm_generate_ex(e, &r, NULL, words, -1, rgb, mask, NULL, &err) == DM_EUSAGE);
    CHECK(dm_generate_ex(e, NULL, NULL, NULL, 0, rgb, NULL, NULL, &err) == DM_EUSAGE);
    const char *missing[1] = {"star"};
    CHECK(dm_generate_ex(e, &r, NULL, missing, 1, rgb, mask, NULL, &err) == DM_ERR &&
          strstr(err.msg, "star"));
    dm_run_options mm;
    dm_run_options_init(&mm);
    mm.mask_method = "frobnicate";
    CHECK(dm_generate_ex(e, &r, &mm, words, 2, rgb, mask, NULL, &err) == DM_EUSAGE);
    CHECK(strcmp(dm_version(), DM_VERSION) == 0);
    free(rgb), free(mask), free(rgb2), free(mask2), free(heat);
    dm_close(e);
}

/* dm_open_config: the options of dm_open_ex behind a size field */
static void open_config(void) {
    dm_error err = {0};
    dm_engine *e = NULL;
    dm_engine_config c;
    dm_engine_config_init(&c);
    c.threads = 1, c.precision = DM_PRECISION_FP32;
    CHECKF(dm_open_config(&c, &e, &err) == DM_OK && e, "%s", err.msg);
    if (e) CHECK(dm_engine_precision(e) == DM_PRECISION_FP32 && dm_native_size(e) == 64);
    dm_close(e);
    /* a LoRA for another model (the tiny golden's on the demo model): refused, file named */
    dm_lora l = {check_shared("golden/fast/lora-kohya.safetensors"), 1.0f};
    c.loras = &l, c.n_loras = 1;
    e = NULL;
    CHECK(dm_open_config(&c, &e, &err) == DM_ERR && !e && strstr(err.msg, "lora-kohya"));
    c.n_loras = -1;
    CHECK(dm_open_config(&c, &e, &err) == DM_EUSAGE);
    c.n_loras = 0;
    c.model_path = "/nonexistent/model";
    CHECK(dm_open_config(&c, &e, &err) == DM_ERR && strstr(err.msg, "/nonexistent/model"));
    /* sizes: a caller of an older header (the size field only) gets the defaults; a size this
     * library does not know is refused */
    union {
        dm_engine_config c;
        unsigned char bytes[sizeof(dm_engine_config)];
    } old;
    memset(old.bytes, 0xFF, sizeof old.bytes); /* what lies past an older caller's struct */
    old.c.size = sizeof(size_t);
    e = NULL;
    CHECKF(dm_open_config(&old.c, &e, &err) == DM_OK && e && dm_native_size(e) == 64, "%s",
           err.msg);
    dm_close(e);
    c.model_path = NULL, c.size = 0;
    CHECK(dm_open_config(&c, &e, &err) == DM_EUSAGE && strstr(err.msg, "size"));
    c.size = sizeof c + 8;
    CHECK(dm_open_config(&c, &e, &err) == DM_EUSAGE);
    CHECK(dm_open_config(NULL, &e, &err) == DM_EUSAGE);
}

int main(void) {
    check_shared_dir(); /* skips (77) without ../shared */
    open_config();
    demo_model();
    golden_latents();
    return check_finish();
}
