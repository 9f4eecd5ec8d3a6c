/* Reads a golden file and checks its shapes and metadata. */
#include <string.h>

#include "check.h"
#include "io/safetensors.h"

int main(void) {
    dm_error err = {0};
    dm_safetensors *st;
    CHECK(dm_st_open(check_shared("golden/sd1/unet.safetensors"), &st, &err) == DM_OK);
    const dm_st_tensor *t = dm_st_find(st, "sample");
    CHECK(t && t->dtype == DM_F32 && t->ndim == 4 && t->shape[0] == 2 && t->shape[1] == 4);
    const dm_st_tensor *ts = dm_st_find(st, "timesteps");
    int64_t steps[2];
    CHECK(ts && dm_st_read_i64(ts, steps, &err) == DM_OK && steps[0] == 981 && steps[1] == 125);
    dm_st_close(st);
    CHECK(dm_f16_to_f32(dm_f32_to_f16(0.333251953125f)) == 0.333251953125f);
    CHECK(dm_f16_to_f32(0x3c00) == 1.0f && dm_f16_to_f32(0xc000) == -2.0f);
    return check_finish();
}
