#include "model/resnet.h"

#include "model/wget.h"
#include "ops/ops.h"

dm_status dm_resnet_load(dm_weights *w, const char *p, int in, int out, int tdim, dm_resnet *r,
                         dm_error *err) {
    *r = (dm_resnet){.in_ch = in, .out_ch = out};
    DM_TRY(dm_w_vec(w, &r->norm1_w, in, err, "%s.norm1.weight", p));
    DM_TRY(dm_w_vec(w, &r->norm1_b, in, err, "%s.norm1.bias", p));
    DM_TRY(dm_w_conv(w, &r->conv1_w, out, in, 3, err, "%s.conv1.weight", p));
    DM_TRY(dm_w_vec(w, &r->conv1_b, out, err, "%s.conv1.bias", p));
    if (tdim) {
        DM_TRY(dm_w_mat(w, &r->temb_w, out, tdim, err, "%s.time_emb_proj.weight", p));
        DM_TRY(dm_w_vec(w, &r->temb_b, out, err, "%s.time_emb_proj.bias", p));
    }
    DM_TRY(dm_w_vec(w, &r->norm2_w, out, err, "%s.norm2.weight", p));
    DM_TRY(dm_w_vec(w, &r->norm2_b, out, err, "%s.norm2.bias", p));
    DM_TRY(dm_w_conv(w, &r->conv2_w, out, out, 3, err, "%s.conv2.weight", p));
    DM_TRY(dm_w_vec(w, &r->conv2_b, out, err, "%s.conv2.bias", p));
    if (in != out) {
        DM_TRY(dm_w_mat(w, &r->skip_w, out, in, err, "%s.conv_shortcut.weight", p));
        DM_TRY(dm_w_vec(w, &r->skip_b, out, err, "%s.conv_shortcut.bias", p));
    }
    return DM_OK;
}

static size_t max_z(size_t a, size_t b) {
    return a > b ? a : b;
}

size_t dm_resnet_half_floats(const dm_resnet *r, int time_dim) {
    size_t in = (size_t)r->in_ch, oc = (size_t)r->out_ch;
    size_t n = max_z(dm_w_scratch(r->conv1_w, oc * in * 9), dm_w_scratch(r->conv2_w, oc * oc * 9));
    n = max_z(n, dm_w_scratch(r->skip_w, oc * in));
    return max_z(n, dm_w_scratch(r->temb_w, oc * (size_t)time_dim));
}

dm_status dm_resnet_forward(const dm_resnet *r, float *x, int H, int W, const float *temb,
                            int time_dim, int groups, float eps, float *out, float *h, dm_arena *a,
                            dm_error *err) {
    size_t mark = dm_arena_mark(a), HW = (size_t)H * W;
    int in = r->in_ch, oc = r->out_ch, wide = in > oc ? in : oc, inplace = out == x;
    if (inplace && oc > in) return dm_fail(err, "res block %d -> %d cannot run in place", in, oc);
    /* touched on every path first, then the fp32 path's buffers (see unet.c's resnet) */
    if (!h) h = dm_arena_floats(a, (size_t)oc * HW);
    int R = inplace && dm_w_ok(r->skip_w) ? dm_conv1x1_inplace_rows(in, oc, H, W) : 0;
    float *tp = dm_arena_floats(a, (size_t)oc), *coef = dm_arena_floats(a, 2 * (size_t)wide);
    float *band = R ? dm_arena_floats(a, dm_conv1x1_inplace_scratch(in, oc, R, W)) : NULL;
    float *t1 = dm_arena_floats(a, (size_t)wide * HW);
    float *sc = dm_arena_floats(a, dm_conv2d_scratch(wide, H, W, 3, 1, 1) + 1);
    size_t nw = dm_resnet_half_floats(r, time_dim);
    float *ws = nw ? dm_arena_floats(a, nw) : NULL;
    if (!t1 || !h || !sc || !tp || !coef || (nw && !ws) || (R && !band)) {
        dm_arena_release(a, mark);
        return dm_fail(err, "activation arena exhausted (res block)");
    }
    /* conv1(silu(norm1(x))) and conv2(silu(norm2(h))): each norm folded into the conv's input
     * (t1 is touched only on the fp32 path) */
    dm_conv_pre pre = {coef, coef + wide, 1, 1};
    dm_group_norm_coeffs(x, in, (int)HW, groups, eps, r->norm1_w, r->norm1_b, coef, coef + wide);
    dm_conv2d_pre_w(x, &pre, in, H, W, r->conv1_w, r->conv1_b, oc, 3, 1, h, sc, 0, ws, t1);
    if (temb && dm_w_ok(r->temb_w)) {
        dm_linear_w(temb, 1, time_dim, r->temb_w, r->temb_b, oc, tp, ws);
        dm_add_channel_bias(h, oc, (int)HW, tp);
    }
    dm_group_norm_coeffs(h, oc, (int)HW, groups, eps, r->norm2_w, r->norm2_b, coef, coef + wide);
    if (inplace) {
        /* x is read for the last time by the shortcut; then conv2 adds into it */
        if (dm_w_ok(r->skip_w))
            dm_conv1x1_inplace_w(x, in, H, W, r->skip_w, r->skip_b, oc, R, band, ws);
        dm_conv2d_pre_w(h, &pre, oc, H, W, r->conv2_w, r->conv2_b, oc, 3, 1, x, sc, 1, ws, t1);
    } else {
        dm_conv2d_pre_w(h, &pre, oc, H, W, r->conv2_w, r->conv2_b, oc, 3, 1, out, sc, 0, ws, t1);
        if (dm_w_ok(r->skip_w))
            dm_conv2d_w(x, in, H, W, r->skip_w, r->skip_b, oc, 1, 1, 0, out, NULL, 1, ws);
        else
            dm_add(out, x, (size_t)oc * HW);
    }
    dm_arena_release(a, mark);
    return DM_OK;
}
