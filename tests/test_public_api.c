/* The public API (include/diffumask.h only): open the demo model, make an image and a masked
 * sample; same request => same bytes; errors are reported, not crashed on. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diffumask.h"

int main(void) {
    const char *src = getenv("DM_SOURCE_DIR");
    if (!src) check_skip("DM_SOURCE_DIR not set");
    char model[4096];
    snprintf(model, sizeof model, "%s/models/toy-shapes", src);
    dm_error err = {0};
    dm_engine *e;
    CHECK(dm_open("/nonexistent/model", 1, &e, &err) == DM_ERR &&
          strstr(err.msg, "/nonexistent/model"));
    if (dm_open(model, 0, &e, &err)) {
        CHECKF(0, "%s", err.msg);
        return check_finish();
    }
    int S = dm_native_size(e);
    CHECK(S == 64);
    /* in the build tree the default model is the source tree's; dm_open(NULL) opens it */
    char demo[4096], small[8];
    CHECKF(dm_default_model(demo, sizeof demo, &err) == DM_OK && !strcmp(demo, model), "%s",
           err.msg);
    CHECK(dm_default_model(small, sizeof small, &err) == DM_EUSAGE);
    dm_engine *e2 = NULL;
    CHECKF(dm_open(NULL, 1, &e2, &err) == DM_OK && dm_native_size(e2) == 64, "%s", err.msg);
    dm_close(e2);
    dm_image_request r = {.prompt = "a photo of a red circle on a plain background",
                          .steps = 8,
                          .guidance = 5,
                          .seed = 3};
    uint8_t *a = malloc((size_t)S * S * 3), *b = malloc((size_t)S * S * 3),
            *m = malloc((size_t)S * S), *m2 = malloc((size_t)S * S);
    CHECKF(dm_generate_image(e, &r, a, &err) == DM_OK, "%s", err.msg);
    const char *words[1] = {"circle"};
    float score = -1;
    CHECKF(dm_generate_masked(e, &r, words, 1, "basic", b, m, &score, &err) == DM_OK, "%s",
           err.msg);
    CHECK(memcmp(a, b, (size_t)S * S * 3) == 0); /* the capture does not change the image */
    long fg = 0, other = 0;
    for (int i = 0; i < S * S; i++) fg += m[i] == 1, other += m[i] > 1;
    CHECK(fg > 0 && fg < S * S && other == 0);
    CHECK(score >= 0 && score <= 1);
    CHECKF(dm_generate_masked(e, &r, words, 1, "basic", b, m2, NULL, &err) == DM_OK, "%s", err.msg);
    CHECK(memcmp(m, m2, (size_t)S * S) == 0);
    const char *missing[1] = {"star"};
    CHECK(dm_generate_masked(e, &r, missing, 1, NULL, b, m, NULL, &err) != DM_OK &&
          strstr(err.msg, "star"));
    CHECK(dm_generate_masked(e, &r, words, 1, "frobnicate", b, m, NULL, &err) == DM_EUSAGE);
    dm_image_request bad = r;
    bad.width = 62; /* not a multiple of the VAE factor 4 */
    CHECK(dm_generate_image(e, &bad, a, &err) == DM_EUSAGE);
    free(a), free(b), free(m), free(m2);
    dm_close(e);
    /* dm_open_ex: a LoRA for another model (the tiny golden one on the demo model) is refused
     * with the file and key named; without options it opens like dm_open. A few-step request. */
    const char *shared = getenv("DM_SHARED_DIR");
    char lp[4096];
    snprintf(lp, sizeof lp, "%s/golden/fast/lora-kohya.safetensors", shared ? shared : "");
    FILE *lf = shared ? fopen(lp, "rb") : NULL;
    if (!lf)
        check_skip_part("test_public_api: dm_open_ex with a LoRA (../shared/golden/fast/"
                        "lora-kohya.safetensors not found)");
    else {
        fclose(lf);
        dm_lora l = {lp, 1.0f};
        dm_open_options oo = {.model_path = NULL, .threads = 1, .loras = &l, .n_loras = 1};
        dm_engine *e3 = NULL;
        /* refused for what it is (a LoRA for another model), not for a missing file */
        CHECKF(dm_open_ex(&oo, &e3, &err) == DM_ERR && !e3 && strstr(err.msg, "lora-kohya") &&
                   strstr(err.msg, "does not fit"),
               "%s", err.msg);
        printf("LoRA for another model: %s\n", err.msg);
        oo.n_loras = 0;
        CHECKF(dm_open_ex(&oo, &e3, &err) == DM_OK, "%s", err.msg);
        dm_image_request fr = {.prompt = "a red circle",
                               .steps = 2,
                               .guidance = 1.0f,
                               .sampler = "lcm",
                               .timestep_spacing = "trailing",
                               .seed = 1};
        uint8_t *c = malloc((size_t)64 * 64 * 3);
        CHECKF(e3 && dm_generate_image(e3, &fr, c, &err) == DM_OK, "%s", err.msg);
        free(c);
        dm_close(e3);
    }
    return check_finish();
}
