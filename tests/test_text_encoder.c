/* CLIP text encoder against the reference (transformers 4.36) on tiny-sd1, loaded as the
 * diffusers folder, as the one-file checkpoint and as its f16 copy. */
#include <stdlib.h>

#include "check.h"
#include "model/clip.h"

static void run(const char *model_path, double tol) {
    dm_error err = {0};
    dm_model *m;
    dm_status s = dm_model_open_with_config(model_path, check_tiny_yaml(model_path), &m, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    if (s) return;
    dm_clip clip;
    s = dm_clip_load(m, &clip, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    dm_safetensors *g;
    CHECK(dm_st_open(check_shared("golden/sd1/text_encoder.safetensors"), &g, &err) == DM_OK);
    const dm_st_tensor *ids_t = dm_st_find(g, "input_ids");
    int B = (int)ids_t->shape[0], T = (int)ids_t->shape[1], D = clip.cfg.hidden,
        NL = clip.cfg.layers;
    int64_t *ids64 = malloc(sizeof(int64_t) * B * T);
    dm_st_read_i64(ids_t, ids64, &err);
    float *out = malloc(sizeof(float) * T * D), *hid = malloc(sizeof(float) * (NL + 1) * T * D);
    float *ref = malloc(sizeof(float) * B * T * D * (NL + 2));
    dm_arena a;
    dm_arena_init(&a, dm_clip_arena_bytes(&clip, T), &err);
    double worst = 0;
    for (int b = 0; b < B; b++) {
        int32_t ids[77];
        for (int t = 0; t < T; t++) ids[t] = (int32_t)ids64[b * T + t];
        s = dm_clip_forward(&clip, ids, T, out, hid, &a, &err);
        CHECKF(s == DM_OK, "%s", err.msg);
        dm_st_read_f32(dm_st_find(g, "last_hidden_state"), ref, &err);
        double e = check_max_abs_diff(out, ref + (size_t)b * T * D, (long)T * D);
        CHECKF(e <= tol, "%s: last_hidden_state[%d] max err %g", model_path, b, e);
        worst = check_worst(worst, e);
        for (int l = 0; l <= NL; l++) {
            char name[64];
            snprintf(name, sizeof name, "hidden_states.%d", l);
            const dm_st_tensor *t = dm_st_find(g, name);
            CHECKF(t != NULL, "golden lacks %s", name);
            if (!t) continue;
            dm_st_read_f32(t, ref, &err);
            double e2 =
                check_max_abs_diff(hid + (size_t)l * T * D, ref + (size_t)b * T * D, (long)T * D);
            CHECKF(e2 <= tol, "%s: %s[%d] max err %g", model_path, name, b, e2);
            worst = check_worst(worst, e2);
        }
    }
    printf("%s: max abs error %.3g\n", model_path, worst);
    dm_arena_free(&a);
    free(ids64), free(out), free(hid), free(ref);
    dm_st_close(g);
    dm_clip_free(&clip);
    dm_model_free(m);
}

int main(void) {
    run(check_shared("golden/tiny-sd1"), 1e-4);
    run(check_shared("golden/tiny-sd1-original.safetensors"), 1e-4);
    /* f16 weights: the reference ran in f32 weights, so allow the rounding of the weights */
    run(check_shared("golden/tiny-sd1-original-f16.safetensors"), 2e-2);
    return check_finish();
}
