/* src/mask/crf.c: the permutohedral lattice against a brute-force O(n^2) Gaussian filter, the
 * separable smoothness blur against brute force, and the dense CRF snapping a blurred, shifted
 * attention map onto the edge of a red disc on a grey background. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "mask/mask.h"

/* The parameters these tests were written for: the paper's rule (basic, gamma 0.5) and the
 * generic dense-CRF kernels. dm_mask_params_default is the tuned method (test_defaults). */
static void paper_params(dm_mask_params *p) {
    dm_mask_params_default(p);
    dm_mask_method_parse("basic", p, NULL);
    p->threshold = 0.5f;
    dm_crf_params_default(&p->crf);
}

static unsigned lcg(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}
static float urand(unsigned *s) {
    return (float)(lcg(s) & 0xffff) / 65535.0f;
}

/* Normalised Gaussian filtering: lattice(v)/lattice(1) vs sum_j k_ij v_j / sum_j k_ij with
 * k_ij = exp(-|f_i - f_j|^2 / 2), on features that mix smooth position and two colour regions. */
static void test_lattice_vs_brute(int d) {
    enum { S = 20, N = S * S };
    static float feat[N * 5], v[N * 2], ones[N], fv[N * 2], fo[N];
    unsigned s = 7;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int i = y * S + x;
            int inside = (x - 9) * (x - 9) + (y - 11) * (y - 11) < 30;
            float base[5] = {x / 4.0f, y / 4.0f, inside ? 3.0f : 1.0f, inside ? 0.5f : 1.5f,
                             1.0f + 0.3f * urand(&s)};
            memcpy(feat + i * d, base, (size_t)d * sizeof(float));
            v[i * 2] = inside ? 1.0f : 0.0f;
            v[i * 2 + 1] = urand(&s);
            ones[i] = 1;
        }
    dm_lattice *L;
    dm_error err = {0};
    CHECK(dm_lattice_build(&L, feat, N, d, 2, &err) == DM_OK);
    dm_lattice_filter(L, v, 2, fv);
    dm_lattice_filter(L, ones, 1, fo);
    double max_err = 0, sum_err = 0, sum_dev = 0;
    for (int i = 0; i < N; i++) {
        double acc[2] = {0, 0}, norm = 0;
        for (int j = 0; j < N; j++) {
            double q = 0;
            for (int c = 0; c < d; c++) {
                double t = feat[i * d + c] - feat[j * d + c];
                q += t * t;
            }
            double k = exp(-0.5 * q);
            norm += k;
            acc[0] += k * v[j * 2];
            acc[1] += k * v[j * 2 + 1];
        }
        for (int c = 0; c < 2; c++) {
            double want = acc[c] / norm, got = fv[i * 2 + c] / fo[i];
            double e = fabs(want - got);
            if (e > max_err) max_err = e;
            sum_err += e;
            sum_dev += fabs(want - v[i * 2 + c]); /* how much the filter changes the input */
        }
    }
    double mean_err = sum_err / (2.0 * N);
    printf("lattice d=%d: %d points, mean |err| %.4f, max %.4f, mean filter effect %.4f\n", d,
           dm_lattice_points(L), mean_err, max_err, sum_dev / (2.0 * N));
    /* the permutohedral approximation is known to be a few % off; the filter itself moves the
     * values by ~10x more than that */
    CHECKF(mean_err < 0.03 && max_err < 0.15, "d=%d mean %g max %g", d, mean_err, max_err);
    dm_lattice_free(L);
}

static void test_gauss_blur(void) {
    enum { H = 9, W = 7 };
    float in[2 * H * W], out[2 * H * W], tmp[H * W];
    unsigned s = 3;
    for (int i = 0; i < 2 * H * W; i++) in[i] = urand(&s);
    const float sigma = 1.3f;
    dm_gauss_blur_normalized(in, 2, H, W, sigma, out, tmp);
    int R = (int)ceilf(3 * sigma);
    double max_err = 0;
    for (int l = 0; l < 2; l++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double acc = 0, norm = 0;
                for (int yy = 0; yy < H; yy++)
                    for (int xx = 0; xx < W; xx++) {
                        if (abs(yy - y) > R || abs(xx - x) > R) continue;
                        double k = exp(-((yy - y) * (yy - y) + (xx - x) * (xx - x)) /
                                       (2.0 * sigma * sigma));
                        acc += k * in[l * H * W + yy * W + xx];
                        norm += k;
                    }
                double e = fabs(acc / norm - out[l * H * W + y * W + x]);
                if (e > max_err) max_err = e;
            }
    CHECKF(max_err < 1e-5, "gauss blur max err %g", max_err);
}

/* A red disc (radius r at cx, cy) on grey; attention map = the disc shifted by (sx, sy), blurred,
 * at 1/4 resolution (as the model's finest attention is a fraction of the image). */
static void make_scene(int S, float cx, float cy, float r, float sx, float sy, uint8_t *rgb,
                       uint8_t *truth, float *att, int as) {
    unsigned seed = 11;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int in = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
            long i = (long)y * S + x;
            truth[i] = in;
            int noise = (int)(lcg(&seed) % 11) - 5;
            rgb[i * 3 + 0] = (uint8_t)((in ? 220 : 128) + noise);
            rgb[i * 3 + 1] = (uint8_t)((in ? 30 : 128) + noise);
            rgb[i * 3 + 2] = (uint8_t)((in ? 30 : 128) + noise);
        }
    float f = (float)S / (float)as, sig = 1.0f * (float)as / 16.0f;
    for (int y = 0; y < as; y++)
        for (int x = 0; x < as; x++) {
            /* smooth bump: a logistic edge at radius r around the shifted centre, plus a blur */
            float px = ((float)x + 0.5f) * f - 0.5f, py = ((float)y + 0.5f) * f - 0.5f;
            float dd = sqrtf((px - cx - sx) * (px - cx - sx) + (py - cy - sy) * (py - cy - sy));
            att[y * as + x] = 1.0f / (1.0f + expf((dd - r * 1.1f) / (sig * f)));
        }
}

static float iou_label(const uint8_t *mask, uint8_t label, const uint8_t *truth, long n) {
    long inter = 0, uni = 0;
    for (long i = 0; i < n; i++) {
        int a = mask[i] == label, b = truth[i];
        inter += a & b;
        uni += a | b;
    }
    return uni ? (float)inter / (float)uni : 0;
}

/* determinism, crf+agreement, and the missing-image error, on one scene */
static void crf_extra_checks(dm_mask_params *p, const dm_attn_map *m, const uint8_t *rgb,
                             const uint8_t *truth, const uint8_t *mask, int S) {
    long n = (long)S * S;
    dm_error err = {0};
    int cls = 4;
    /* determinism */
    uint8_t *again = malloc((size_t)n);
    CHECK(dm_mask_make(p, m, 1, 1, &cls, rgb, S, S, NULL, 0, 0, again, NULL, NULL, &err) == DM_OK);
    CHECK(memcmp(mask, again, (size_t)n) == 0);
    /* crf + agreement runs and keeps a good mask */
    CHECK(dm_mask_method_parse("crf+agreement", p, &err) == DM_OK);
    CHECK(dm_mask_make(p, m, 1, 1, &cls, rgb, S, S, NULL, 0, 0, again, NULL, NULL, &err) == DM_OK);
    CHECKF(iou_label(again, 4, truth, n) > 0.9f, "crf+agreement IoU %g",
           iou_label(again, 4, truth, n));
    /* no image -> usage error */
    CHECK(dm_mask_make(p, m, 1, 1, &cls, NULL, S, S, NULL, 0, 0, again, NULL, NULL, &err) ==
          DM_EUSAGE);
    free(again);
}

static void test_crf_disc(int S, int check_time) {
    long n = (long)S * S;
    int as = S / 4;
    uint8_t *rgb = malloc((size_t)n * 3), *truth = malloc((size_t)n), *mask = malloc((size_t)n);
    float *att = malloc((size_t)as * as * sizeof(float));
    float r = 0.22f * S;
    make_scene(S, 0.47f * S, 0.53f * S, r, 0.06f * S, -0.04f * S, rgb, truth, att, as);
    dm_attn_map m = {as, as, att};
    dm_mask_params p;
    paper_params(&p);
    dm_error err = {0};
    int cls = 4;
    CHECK(dm_mask_make(&p, &m, 1, 1, &cls, rgb, S, S, NULL, 0, 0, mask, NULL, NULL, &err) == DM_OK);
    float iou_basic = iou_label(mask, 4, truth, n);
    CHECK(dm_mask_method_parse("crf", &p, &err) == DM_OK);
    p.crf.bilateral_sigma_xy = S >= 256 ? 60.0f : S / 4.0f;
    dm_mask_score sc;
    clock_t t0 = clock();
    dm_status st = dm_mask_make(&p, &m, 1, 1, &cls, rgb, S, S, NULL, 0, 0, mask, NULL, &sc, &err);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECKF(st == DM_OK, "%s", err.msg);
    float iou_crf = iou_label(mask, 4, truth, n);
    printf("crf %dx%d: IoU basic %.3f -> crf %.3f, %.3f s, score %.3f (agreement %.3f)\n", S, S,
           iou_basic, iou_crf, secs, sc.score, sc.agreement);
    CHECKF(iou_crf > 0.95f && iou_crf > iou_basic + 0.05f, "IoU basic %g crf %g", iou_basic,
           iou_crf);
    /* speed is measured by bench/, not asserted here */
    (void)check_time;
    if (S == 64) crf_extra_checks(&p, &m, rgb, truth, mask, S); /* same code, less time */

    free(rgb);
    free(truth);
    free(mask);
    free(att);
}

/* Self-attention from colours: at the attention resolution, pixels of similar colour attend to
 * each other (what the UNet's self-attention does on this kind of scene). selfattn alone and
 * selfattn+crf both move the shifted map back onto the disc. */
static void test_selfattn_scene(void) {
    enum { S = 64, AS = 16, NA = AS * AS };
    static uint8_t rgb[S * S * 3], truth[S * S], mask[S * S];
    static float att[NA], aff[NA * NA], col[NA * 3];
    make_scene(S, 30, 34, 14, 4, -3, rgb, truth, att, AS);
    for (int i = 0; i < NA * 3; i++) col[i] = 0;
    for (int y = 0; y < S; y++) /* 4x4 block colour means */
        for (int x = 0; x < S; x++)
            for (int c = 0; c < 3; c++)
                col[((y / 4) * AS + x / 4) * 3 + c] += rgb[(y * S + x) * 3 + c] / 16.0f;
    for (int i = 0; i < NA; i++)
        for (int j = 0; j < NA; j++) {
            float dc = 0;
            for (int c = 0; c < 3; c++)
                dc += (col[i * 3 + c] - col[j * 3 + c]) * (col[i * 3 + c] - col[j * 3 + c]);
            float dx = (float)(i % AS - j % AS), dy = (float)(i / AS - j / AS);
            aff[i * NA + j] =
                expf(-dc / (2 * 30.0f * 30.0f) - (dx * dx + dy * dy) / (2 * 8.0f * 8.0f));
        }
    dm_selfattn_normalize_rows(aff, NA);
    dm_attn_map m = {AS, AS, att};
    dm_mask_params p;
    paper_params(&p);
    dm_error err = {0};
    int cls = 1;
    CHECK(dm_mask_make(&p, &m, 1, 1, &cls, rgb, S, S, aff, AS, AS, mask, NULL, NULL, &err) ==
          DM_OK);
    float base = iou_label(mask, 1, truth, S * S);
    CHECK(dm_mask_method_parse("selfattn", &p, &err) == DM_OK);
    CHECK(dm_mask_make(&p, &m, 1, 1, &cls, rgb, S, S, aff, AS, AS, mask, NULL, NULL, &err) ==
          DM_OK);
    float sa = iou_label(mask, 1, truth, S * S);
    CHECK(dm_mask_method_parse("selfattn+crf", &p, &err) == DM_OK);
    p.crf.bilateral_sigma_xy = 16;
    dm_mask_score sc;
    CHECK(dm_mask_make(&p, &m, 1, 1, &cls, rgb, S, S, aff, AS, AS, mask, NULL, &sc, &err) == DM_OK);
    float sacrf = iou_label(mask, 1, truth, S * S);
    printf("selfattn scene: IoU basic %.3f, selfattn %.3f, selfattn+crf %.3f\n", base, sa, sacrf);
    CHECKF(sa > base && sacrf > 0.95f, "basic %g selfattn %g selfattn+crf %g", base, sa, sacrf);
}

/* Two objects, two class words: a red disc (label 1) and a blue square (label 2); each word's
 * attention is a blurred blob offset from its object. The CRF with 3 labels puts each on its own.
 */
static void test_crf_two_classes(void) {
    enum { S = 64, AS = 16 };
    static uint8_t rgb[S * S * 3], truth[S * S], mask[S * S];
    static float att[2][AS * AS];
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int disc = (x - 18) * (x - 18) + (y - 20) * (y - 20) < 100;
            int sq = x >= 38 && x < 56 && y >= 34 && y < 54;
            truth[y * S + x] = disc ? 1 : sq ? 2 : 0;
            uint8_t *c = rgb + (y * S + x) * 3;
            c[0] = disc ? 220 : sq ? 30 : 120;
            c[1] = disc ? 30 : sq ? 60 : 125;
            c[2] = disc ? 30 : sq ? 220 : 115;
        }
    for (int y = 0; y < AS; y++)
        for (int x = 0; x < AS; x++) {
            float px = x * 4 + 1.5f, py = y * 4 + 1.5f;
            float d1 = sqrtf((px - 21) * (px - 21) + (py - 18) * (py - 18));
            float d2 = sqrtf((px - 44) * (px - 44) + (py - 46) * (py - 46));
            att[0][y * AS + x] = 1 / (1 + expf((d1 - 11) / 3));
            att[1][y * AS + x] = 1 / (1 + expf((d2 - 11) / 3));
        }
    dm_attn_map maps[2] = {{AS, AS, att[0]}, {AS, AS, att[1]}};
    int ids[2] = {1, 2};
    dm_mask_params p;
    paper_params(&p);
    dm_error err = {0};
    CHECK(dm_mask_make(&p, maps, 2, 1, ids, rgb, S, S, NULL, 0, 0, mask, NULL, NULL, &err) ==
          DM_OK);
    float b1 = iou_label(mask, 1, truth, S * S), b2 = 0;
    uint8_t t2[S * S];
    for (int i = 0; i < S * S; i++) t2[i] = truth[i] == 2;
    for (int i = 0; i < S * S; i++) truth[i] = truth[i] == 1;
    b1 = iou_label(mask, 1, truth, S * S);
    b2 = iou_label(mask, 2, t2, S * S);
    CHECK(dm_mask_method_parse("crf", &p, &err) == DM_OK);
    p.crf.bilateral_sigma_xy = 16;
    static float soft[2 * S * S];
    CHECK(dm_mask_make(&p, maps, 2, 1, ids, rgb, S, S, NULL, 0, 0, mask, soft, NULL, &err) ==
          DM_OK);
    float c1 = iou_label(mask, 1, truth, S * S), c2 = iou_label(mask, 2, t2, S * S);
    printf("two classes: IoU basic %.3f %.3f -> crf %.3f %.3f\n", b1, b2, c1, c2);
    CHECKF(c1 > 0.95f && c2 > 0.95f && c1 > b1 && c2 > b2, "crf %g %g basic %g %g", c1, c2, b1, b2);
    CHECK(soft[20 * S + 18] > 0.9f && soft[S * S + 44 * S + 47] > 0.9f); /* marginals */
}

int main(void) {
    test_gauss_blur();
    test_lattice_vs_brute(2);
    test_lattice_vs_brute(3);
    test_lattice_vs_brute(5);
    test_crf_disc(64, 0);
    test_crf_disc(512, 1);
    test_selfattn_scene();
    test_crf_two_classes();
    return check_finish();
}
