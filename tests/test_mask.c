/* src/mask: resize, aggregation, thresholds, ignore band, several classes, self-attention
 * propagation, method names, quality score. Expectations are derived by hand in the comments. */
#include <math.h>
#include <string.h>

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

static void test_resize(void) {
    /* 2x2 -> 4x4, align_corners=False. Along an axis (in 2, out 4, scale 0.5) output o samples
     * c = (o + 0.5) * 0.5 - 0.5:  o=0: -0.25 -> clamped 0 -> x0;  o=1: 0.25 -> 0.75 x0 + 0.25 x1;
     * o=2: 0.75 -> 0.25 x0 + 0.75 x1;  o=3: 1.25 -> i0 = 1, i1 clamped to 1 -> x1.
     * Input [[0,4],[8,12]]: top row -> [0,1,3,4], bottom row -> [8,9,11,12]; rows mix the same way:
     *   row0 = top            =  0  1  3  4
     *   row1 = .75top+.25bot  =  2  3  5  6
     *   row2 = .25top+.75bot  =  6  7  9 10
     *   row3 = bot            =  8  9 11 12                                                      */
    const float src[4] = {0, 4, 8, 12};
    const float want[16] = {0, 1, 3, 4, 2, 3, 5, 6, 6, 7, 9, 10, 8, 9, 11, 12};
    float out[16];
    dm_resize_bilinear(src, 2, 2, out, 4, 4);
    for (int i = 0; i < 16; i++)
        CHECKF(out[i] == want[i], "resize[%d] = %g, want %g", i, out[i], want[i]);

    /* 1x3 -> 1x5 (scale 0.6): c = 0.6 o + 0.3 - 0.5 = -0.2, 0.4, 1.0, 1.6, 2.2 ->
     * x0, .6x0+.4x1, x1, .4x1+.6x2, x2 (upper index clamped). x = [0,10,20] -> [0,4,10,16,20]. */
    const float row[3] = {0, 10, 20}, want5[5] = {0, 4, 10, 16, 20};
    float out5[5];
    dm_resize_bilinear(row, 1, 3, out5, 1, 5);
    for (int i = 0; i < 5; i++)
        CHECKF(fabsf(out5[i] - want5[i]) < 1e-5f, "resize5[%d] = %g", i, out5[i]);

    /* 4x4 -> 2x2 (scale 2): c = 2o + 0.5, lambda 0.5 both ways: the mean of each 2x2 block. */
    const float big[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    float small[4];
    dm_resize_bilinear(big, 4, 4, small, 2, 2);
    CHECK(small[0] == 3.5f && small[1] == 5.5f && small[2] == 11.5f && small[3] == 13.5f);

    /* same size: identity */
    float same[16];
    dm_resize_bilinear(big, 4, 4, same, 4, 4);
    CHECK(memcmp(same, big, sizeof big) == 0);
}

enum { D = 32 };

/* squared distance of pixel (x, y) to the centre (15.5, 15.5) of a 32x32 grid: always k + 0.5 */
static float d2(int x, int y) {
    float dx = (float)x - 15.5f, dy = (float)y - 15.5f;
    return dx * dx + dy * dy;
}

static void test_aggregate_disc(void) {
    /* v = 100 - d^2: max 99.5 (centre), min 100 - 480.5 = -380.5 (corners). min–max then > 0.5
     * <=> v > (99.5 - 380.5)/2 = -140.5 <=> d^2 < 240.5; d^2 is k + 0.5 so there are no ties.
     * A second, constant 8x8 resolution only shifts the mean: min–max removes it. */
    static float fine[D * D], flat[64], out[D * D], scratch[D * D];
    for (int y = 0; y < D; y++)
        for (int x = 0; x < D; x++) fine[y * D + x] = 100 - d2(x, y);
    for (int i = 0; i < 64; i++) flat[i] = 7;
    dm_attn_map maps[2] = {{D, D, fine}, {8, 8, flat}};
    dm_error err = {0};
    CHECK(dm_mask_aggregate(maps, 2, NULL, 0, DM_NORM_MINMAX, 0, D, D, out, scratch, &err) ==
          DM_OK);
    int bad = 0, lo = 1, hi = 0;
    for (int y = 0; y < D; y++)
        for (int x = 0; x < D; x++) {
            float v = out[y * D + x];
            bad += dm_above(v, 0.5f) != (d2(x, y) < 240.5f);
            lo &= v >= 0;
            hi |= v == 1;
        }
    CHECKF(bad == 0, "%d pixels differ from the disc d^2 < 240.5", bad);
    CHECK(lo && hi && out[0] == 0);

    /* selecting only the 8x8 (constant) map: all zeros after min–max */
    int only8[1] = {8};
    CHECK(dm_mask_aggregate(maps, 2, only8, 1, DM_NORM_MINMAX, 0, D, D, out, scratch, &err) ==
          DM_OK);
    int nonzero = 0; /* counts a NaN too */
    for (int i = 0; i < D * D; i++) nonzero += out[i] != 0;
    CHECK(nonzero == 0);
    int none[1] = {16};
    CHECK(dm_mask_aggregate(maps, 2, none, 1, DM_NORM_MINMAX, 0, D, D, out, scratch, &err) ==
          DM_ERR);
    CHECK(strstr(err.msg, "none") != NULL);

    /* divide-by-max: positive map 1 + [d^2 < 100]: max 2 -> inside 1, outside 0.5 */
    for (int y = 0; y < D; y++)
        for (int x = 0; x < D; x++) fine[y * D + x] = 1 + (d2(x, y) < 100);
    dm_attn_map one = {D, D, fine};
    CHECK(dm_mask_aggregate(&one, 1, NULL, 0, DM_NORM_MAX, 0, D, D, out, scratch, &err) == DM_OK);
    CHECK(out[0] == 0.5f && out[15 * D + 15] == 1.0f);

    /* through dm_mask_make (basic): the same disc as label 5 */
    for (int y = 0; y < D; y++)
        for (int x = 0; x < D; x++) fine[y * D + x] = 100 - d2(x, y);
    dm_mask_params p;
    paper_params(&p);
    static uint8_t mask[D * D];
    int cls = 5;
    dm_mask_score sc;
    CHECK(dm_mask_make(&p, maps, 1, 2, &cls, NULL, D, D, NULL, 0, 0, mask, NULL, &sc, &err) ==
          DM_OK);
    bad = 0;
    for (int y = 0; y < D; y++)
        for (int x = 0; x < D; x++) bad += mask[y * D + x] != (d2(x, y) < 240.5f ? 5 : 0);
    CHECKF(bad == 0, "dm_mask_make basic: %d pixels wrong", bad);
}

static void test_otsu_agreement(void) {
    /* two values 0.2 and 0.8 -> bins 51 and 204 (floor(v*256)); every split t in 51..203 gives
     * the same variance; the middle is t = 127 -> cut (127+1)/256 = 0.5 exactly */
    float v[100];
    for (int i = 0; i < 100; i++) v[i] = i < 70 ? 0.2f : 0.8f;
    CHECK(dm_otsu_threshold(v, 100) == 0.5f);
    /* 0.1 and 0.3 -> bins 25 and 76; ties 25..75, middle 50 -> 51/256 */
    for (int i = 0; i < 100; i++) v[i] = i < 30 ? 0.1f : 0.3f;
    CHECK(dm_otsu_threshold(v, 100) == 51.0f / 256.0f);
    /* three clusters: 0.05 (x50), 0.15 (x50), 0.9 (x20): the big gap is the cut, between the
     * bins of 0.15 (38) and 0.9 (230) */
    float w[120];
    for (int i = 0; i < 120; i++) w[i] = i < 50 ? 0.05f : i < 100 ? 0.15f : 0.9f;
    float t = dm_otsu_threshold(w, 120);
    CHECKF(t > 0.15f && t <= 0.9f, "otsu 3 clusters %g", t);

    /* agreement: unrefined ramp i/100, refined = [i >= 60]. At gamma 0.6 the ramp keeps i >= 61
     * (or i >= 60 if gamma rounds below 0.6f): IoU 39/40 or 1; at 0.55, i >= 56: IoU 40/44;
     * at 0.65: 35/40. So 0.6. */
    float ramp[100], ref[100];
    for (int i = 0; i < 100; i++) {
        ramp[i] = (float)i / 100.0f;
        ref[i] = i >= 60;
    }
    float g = dm_agreement_threshold(ramp, ref, 100, 0.2f, 0.8f, 0.05f);
    CHECKF(fabsf(g - 0.6f) < 1e-5f, "agreement gamma %g", g);
    CHECK(fabsf(dm_iou_soft(ramp, 0.5f, ref, 0.5f, 100) - 40.0f / 49.0f) < 1e-6f);
}

static void test_assemble(void) {
    /* two classes, ids 3 and 7, gamma 0.5, margin 0.05; pixels (class A, class B):        */
    const float soft[2 * 8] = {
        0.9f, 0.1f, 0.2f, 0.60f, 0.6f, 0.45f, 0.35f, 0.9f, /* class A */
        0.1f, 0.8f, 0.3f, 0.58f, 0.5f, 0.30f, 0.65f, 0.2f, /* class B */
    };
    /* want: A; B; neither > 0.5 -> 0; 0.60 vs 0.58 within 0.05 -> 255; 0.6 vs 0.5 -> A;
     *       best 0.45 -> 0; B (0.65); A (0.9) */
    const float gamma[2] = {0.5f, 0.5f};
    const uint8_t ids[2] = {3, 7};
    uint8_t m[8];
    dm_mask_assemble(soft, 2, 8, gamma, NULL, ids, 0.05f, 0, 0, NULL, m);
    const uint8_t want[8] = {3, 7, 0, 255, 3, 0, 7, 3};
    CHECK(memcmp(m, want, 8) == 0);
    /* no margin: pixel 3 goes to A */
    dm_mask_assemble(soft, 2, 8, gamma, NULL, ids, 0, 0, 0, NULL, m);
    CHECK(m[3] == 3);
    /* ignore band [0.4, 0.7): best values 0.9 .8 .3 .6 .6 .45 .65 .9 -> 255 at 3,4,5,6 */
    dm_mask_assemble(soft, 2, 8, gamma, NULL, ids, 0, 0.4f, 0.7f, NULL, m);
    const uint8_t want_band[8] = {3, 7, 0, 255, 255, 255, 255, 3};
    CHECK(memcmp(m, want_band, 8) == 0);
    /* a second labeling that disagrees at pixels 0 and 2 */
    const uint8_t other[8] = {0, 7, 3, 3, 3, 0, 7, 3};
    dm_mask_assemble(soft, 2, 8, gamma, NULL, ids, 0, 0, 0, other, m);
    const uint8_t want_dis[8] = {255, 7, 255, 3, 3, 0, 7, 3};
    CHECK(memcmp(m, want_dis, 8) == 0);
    /* per-class gamma: class B at 0.7 loses pixel 6 (0.65) -> 0 */
    const float gamma2[2] = {0.5f, 0.7f};
    dm_mask_assemble(soft, 2, 8, gamma2, NULL, ids, 0, 0, 0, NULL, m);
    CHECK(m[6] == 0 && m[1] == 7);
    /* a background map (CRF marginal) decides instead of gamma */
    const float bg[8] = {0.95f, 0, 0, 0, 0, 0, 0, 0};
    dm_mask_assemble(soft, 2, 8, gamma, bg, ids, 0, 0, 0, NULL, m);
    CHECK(m[0] == 0 && m[2] == 7 && m[5] == 3); /* 0.3 (B) > bg 0 */
}

static void test_selfattn(void) {
    /* accumulate: two heads, weight 0.5 -> S += 0.25 (p0 + p1) */
    float S[4] = {0}, probs[8] = {1, 0, 0, 1, 0, 1, 1, 0};
    dm_selfattn_accumulate(S, probs, 2, 2, 0.5f);
    CHECK(S[0] == 0.25f && S[1] == 0.25f && S[2] == 0.25f && S[3] == 0.25f);
    dm_selfattn_normalize_rows(S, 2);
    CHECK(S[0] == 0.5f && S[1] == 0.5f);

    /* 4x4 affinity grid: left two columns one group, right two another; uniform within a group.
     * A seed at (1,1) only spreads over the left group: after S a every left pixel = 1/8 and every
     * right pixel 0 -> min–max: left 1, right 0. */
    enum { N = 16 };
    static float A[N * N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) A[i * N + j] = ((i % 4) < 2) == ((j % 4) < 2) ? 1.0f / 8 : 0;
    float seed[N] = {0};
    seed[1 * 4 + 1] = 1;
    float a[N], tmp[N];
    memcpy(a, seed, sizeof a);
    dm_selfattn_propagate(A, N, 1, a, tmp);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= a[i] == ((i % 4) < 2 ? 0.125f : 0.0f);
    CHECK(ok);
    dm_attn_map m = {4, 4, seed};
    dm_mask_params p;
    paper_params(&p);
    CHECK(dm_mask_method_parse("selfattn", &p, NULL) == DM_OK);
    p.selfattn_tau = 3;
    uint8_t mask[N];
    int cls = 2;
    dm_error err = {0};
    CHECK(dm_mask_make(&p, &m, 1, 1, &cls, NULL, 4, 4, A, 4, 4, mask, NULL, NULL, &err) == DM_OK);
    ok = 1;
    for (int i = 0; i < N; i++) ok &= mask[i] == ((i % 4) < 2 ? 2 : 0);
    CHECK(ok);
    /* without the affinity: only the seed (and its bilinear-free identity) */
    paper_params(&p);
    CHECK(dm_mask_make(&p, &m, 1, 1, &cls, NULL, 4, 4, NULL, 0, 0, mask, NULL, NULL, &err) ==
          DM_OK);
    int count = 0;
    for (int i = 0; i < N; i++) count += mask[i] == 2;
    CHECK(count == 1);
    /* selfattn asked for but not given */
    CHECK(dm_mask_method_parse("selfattn", &p, NULL) == DM_OK);
    CHECK(dm_mask_make(&p, &m, 1, 1, &cls, NULL, 4, 4, NULL, 0, 0, mask, NULL, NULL, &err) ==
          DM_EUSAGE);
}

static void test_names(void) {
    dm_mask_params p;
    paper_params(&p);
    dm_error err = {0};
    char buf[64];
    CHECK(dm_mask_method_parse("selfattn+crf", &p, &err) == DM_OK);
    CHECK(p.use_selfattn && p.use_crf && !p.otsu && !p.agreement);
    dm_mask_method_name(&p, buf, sizeof buf);
    CHECK(strcmp(buf, "selfattn+crf") == 0);
    CHECK(dm_mask_method_parse("basic", &p, &err) == DM_OK);
    CHECK(!p.use_selfattn && !p.use_crf);
    dm_mask_method_name(&p, buf, sizeof buf);
    CHECK(strcmp(buf, "basic") == 0);
    CHECK(dm_mask_method_parse("crf+otsu", &p, &err) == DM_OK && p.use_crf && p.otsu);
    CHECK(!p.use_border_prior); /* a name sets every part: the prior is off unless named */
    CHECK(dm_mask_method_parse("border+selfattn+crf", &p, &err) == DM_OK && p.use_border_prior);
    dm_mask_method_name(&p, buf, sizeof buf);
    CHECK(strcmp(buf, "selfattn+crf+border") == 0);
    CHECK(dm_mask_method_parse("crf+bogus", &p, &err) == DM_EUSAGE);
    CHECK(strstr(err.msg, "bogus") != NULL);
    float lo, hi;
    CHECK(dm_mask_parse_band("0.3:0.6", &lo, &hi, &err) == DM_OK && lo == 0.3f && hi == 0.6f);
    CHECK(dm_mask_parse_band("0.6:0.3", &lo, &hi, &err) == DM_EUSAGE);
    CHECK(dm_mask_parse_band("0.3", &lo, &hi, &err) == DM_EUSAGE);
    CHECK(dm_mask_parse_resolutions("64,32,16", &p, &err) == DM_OK && p.n_res_sizes == 3 &&
          p.res_sizes[2] == 16);
    CHECK(dm_mask_parse_resolutions("all", &p, &err) == DM_OK && p.n_res_sizes == 0);
    CHECK(dm_mask_parse_resolutions("8,x", &p, &err) == DM_EUSAGE);
    /* agreement without a refinement makes no sense */
    CHECK(dm_mask_method_parse("agreement", &p, &err) == DM_OK);
    float z[4] = {0, 1, 0, 0};
    dm_attn_map m = {2, 2, z};
    uint8_t mask[4];
    int cls = 1;
    CHECK(dm_mask_make(&p, &m, 1, 1, &cls, NULL, 2, 2, NULL, 0, 0, mask, NULL, NULL, &err) ==
          DM_EUSAGE);
}

static unsigned lcg(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static void test_score(void) {
    /* a clean disc map vs the same disc at 60 % plus 40 % uniform noise */
    static float clean[D * D], noisy[D * D];
    unsigned s = 12345;
    for (int y = 0; y < D; y++)
        for (int x = 0; x < D; x++) {
            float disc = d2(x, y) < 60 ? 1.0f : 0.0f;
            clean[y * D + x] = disc;
            noisy[y * D + x] = 0.6f * disc + 0.4f * (float)(lcg(&s) & 0xffff) / 65535.0f;
        }
    dm_mask_params p;
    paper_params(&p);
    dm_error err = {0};
    static uint8_t mask[D * D];
    int cls = 1;
    dm_mask_score a, b, c;
    dm_attn_map mc = {D, D, clean}, mn = {D, D, noisy};
    CHECK(dm_mask_make(&p, &mc, 1, 1, &cls, NULL, D, D, NULL, 0, 0, mask, NULL, &a, &err) == DM_OK);
    CHECK(dm_mask_make(&p, &mn, 1, 1, &cls, NULL, D, D, NULL, 0, 0, mask, NULL, &b, &err) == DM_OK);
    CHECKF(a.score > b.score && b.score > 0, "clean %g noisy %g", a.score, b.score);
    CHECK(a.score == 1.0f && a.mass_inside == 1.0f && a.contrast == 1.0f && a.agreement == 1.0f);
    CHECK(a.n_classes == 1 && a.class_score[0] == a.score);
    /* a flat map -> empty mask -> 0 */
    static float flat[D * D];
    dm_attn_map mf = {D, D, flat};
    CHECK(dm_mask_make(&p, &mf, 1, 1, &cls, NULL, D, D, NULL, 0, 0, mask, NULL, &c, &err) == DM_OK);
    CHECK(c.score == 0 && c.area_fraction == 0);
    /* whole image: area above area_max -> 0 */
    uint8_t full[4] = {1, 1, 1, 1};
    float sv[4] = {1, 1, 1, 1};
    CHECK(dm_mask_score_class(sv, full, 1, 2, 2, 1, 0.001f, 0.95f, &p.score_w, NULL) == 0);
}

static void test_defaults(void) {
    dm_mask_params p;
    dm_mask_params_default(&p);
    char buf[64];
    dm_mask_method_name(&p, buf, sizeof buf);
    CHECK(strcmp(buf, "selfattn+crf+border") == 0);
    CHECK(p.use_border_prior == 1 && p.border_ring == 0.95f);
    CHECK(p.threshold == 0.45f && p.selfattn_tau == 2 && p.n_res_sizes == 0);
    CHECK(p.crf.bilateral_sigma_rgb == 20 && p.crf.bilateral_weight == 10);
    CHECK(p.score_w.contrast == 1 && p.score_w.border == 1 && p.score_w.mass == 0);
    /* the border part: a mask covering the whole outer ring scores 0; an inner disc does not */
    enum { D = 16 };
    static float soft[D * D];
    static uint8_t ring[D * D], disc[D * D];
    for (int y = 0; y < D; y++)
        for (int x = 0; x < D; x++) {
            int edge = x < 2 || y < 2 || x >= D - 2 || y >= D - 2;
            int in = (x - 8) * (x - 8) + (y - 8) * (y - 8) < 16;
            ring[y * D + x] = (uint8_t)edge;
            disc[y * D + x] = (uint8_t)in;
            soft[y * D + x] = in ? 1.0f : 0.0f;
        }
    dm_mask_score parts;
    CHECK(dm_mask_score_class(soft, ring, 1, D, D, 1, 0.001f, 0.95f, &p.score_w, &parts) == 0);
    CHECK(parts.border == 1.0f);
    float s = dm_mask_score_class(soft, disc, 1, D, D, 1, 0.001f, 0.95f, &p.score_w, &parts);
    CHECK(s == 1.0f && parts.border == 0 && parts.contrast == 1.0f);
}

/* The border prior (polarity.c): a map high everywhere but on an enclosed hole is the word's
 * attention on the background; turned over, the hole becomes the class. A region that touches
 * the border on three sides, or covers the whole image, is left alone. */
static void test_border_prior(void) {
    enum { D = 16 };
    static float around[D * D], bottom[D * D], full[D * D];
    for (int y = 0; y < D; y++)
        for (int x = 0; x < D; x++) {
            int hole = (x - 8) * (x - 8) + (y - 8) * (y - 8) < 16;
            around[y * D + x] = hole ? 0.1f : 0.9f;
            bottom[y * D + x] = y >= 4 ? 0.9f : 0.1f; /* 38 of the 60 ring pixels */
            full[y * D + x] = 0.9f;
        }
    CHECK(dm_mask_surrounds(around, D, D, 0.5f, 0.95f) == 1);
    CHECK(dm_mask_surrounds(around, D, D, 0.5f, 0) == 0); /* prior off */
    CHECK(dm_mask_surrounds(bottom, D, D, 0.5f, 0.95f) == 0);
    CHECK(dm_mask_surrounds(bottom, D, D, 0.5f, 0.6f) == 1);
    CHECK(dm_mask_surrounds(full, D, D, 0.5f, 0.95f) == 0); /* no hole: fills the frame */
    static uint8_t labels[D * D];
    for (int i = 0; i < D * D; i++) labels[i] = around[i] > 0.5f ? 2 : 0;
    CHECK(dm_mask_label_surrounds(labels, 2, D, D, 0.95f) == 1);
    CHECK(dm_mask_label_surrounds(labels, 1, D, D, 0.95f) == 0);
    for (int i = 0; i < D * D; i++) labels[i] = bottom[i] > 0.5f ? 2 : 0;
    CHECK(dm_mask_label_surrounds(labels, 2, D, D, 0.95f) == 0);

    dm_mask_params p;
    paper_params(&p);
    dm_error err = {0};
    dm_attn_map m = {D, D, around};
    uint8_t mask[D * D];
    int cls = 3;
    dm_mask_score sc;
    CHECK(dm_mask_method_parse("basic+border", &p, &err) == DM_OK);
    CHECK(dm_mask_make(&p, &m, 1, 1, &cls, NULL, D, D, NULL, 0, 0, mask, NULL, &sc, &err) == DM_OK);
    int wrong = 0;
    for (int i = 0; i < D * D; i++) wrong += mask[i] != (around[i] < 0.5f ? 3 : 0);
    CHECKF(wrong == 0 && sc.turned_over == 1, "%d pixels wrong, %d turned", wrong, sc.turned_over);
    CHECK(dm_mask_method_parse("basic", &p, &err) == DM_OK);
    CHECK(dm_mask_make(&p, &m, 1, 1, &cls, NULL, D, D, NULL, 0, 0, mask, NULL, &sc, &err) == DM_OK);
    CHECK(sc.turned_over == 0 && mask[0] == 3 && mask[8 * D + 8] == 0);

    /* Two classes: word A's attention sits on the background, so its region's hole holds both
     * objects; turned over among the others, A keeps only the pixels word B does not claim. */
    static float two[2 * D * D];
    static uint8_t truth[D * D];
    for (int y = 0; y < D; y++)
        for (int x = 0; x < D; x++) {
            int a = (x - 4) * (x - 4) + (y - 8) * (y - 8) < 9;
            int b = (x - 11) * (x - 11) + (y - 8) * (y - 8) < 9;
            two[y * D + x] = a || b ? 0.1f : 0.9f;    /* word A: inverted */
            two[D * D + y * D + x] = b ? 0.9f : 0.1f; /* word B: on its object */
            truth[y * D + x] = a ? 3 : b ? 5 : 0;
        }
    dm_attn_map m2[2] = {{D, D, two}, {D, D, two + D * D}};
    int cls2[2] = {3, 5};
    CHECK(dm_mask_method_parse("basic+border", &p, &err) == DM_OK);
    CHECK(dm_mask_make(&p, m2, 2, 1, cls2, NULL, D, D, NULL, 0, 0, mask, NULL, &sc, &err) == DM_OK);
    wrong = 0;
    for (int i = 0; i < D * D; i++) wrong += mask[i] != truth[i];
    CHECKF(wrong == 0 && sc.turned_over == 1, "two classes: %d pixels wrong, %d turned", wrong,
           sc.turned_over);
}

int main(void) {
    test_defaults();
    test_resize();
    test_aggregate_disc();
    test_otsu_agreement();
    test_assemble();
    test_selfattn();
    test_names();
    test_score();
    test_border_prior();
    return check_finish();
}
