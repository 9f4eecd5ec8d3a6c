/* src/dataset/judge/toy_oracle: the colour oracle on hand-made pixels, the prompt sets, the method
 * names, the self-attention resolution rule, and a smoke run of the protocol (2 prompts, 5 steps)
 * that checks the structure of the results (no quality thresholds). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dataset/judge/toy_oracle.h"
#include "io/file.h"

static void test_hsv_and_hues(void) {
    float h, s, v;
    dm_rgb_to_hsv(255, 0, 0, &h, &s, &v);
    CHECK(h == 0 && s == 1 && v == 1);
    dm_rgb_to_hsv(0, 0, 255, &h, &s, &v);
    CHECK(fabsf(h - 240) < 1e-3f);
    dm_rgb_to_hsv(128, 128, 128, &h, &s, &v);
    CHECK(s == 0);
    /* the README's colours: red 0, orange ~29, yellow ~54, green ~124, blue ~231, purple 280 */
    CHECKF(fabsf(dm_toy_color_hue(dm_toy_color_index("red")) - 0) < 0.5f, "red");
    CHECKF(fabsf(dm_toy_color_hue(dm_toy_color_index("orange")) - 29.3f) < 0.5f, "orange %g",
           dm_toy_color_hue(dm_toy_color_index("orange")));
    CHECKF(fabsf(dm_toy_color_hue(dm_toy_color_index("purple")) - 280) < 0.5f, "purple");
    CHECK(dm_hue_distance(350, 10) == 20 && dm_hue_distance(10, 350) == 20);
    CHECK(dm_hue_distance(0, 180) == 180);
}

static void test_oracle_pixels(void) {
    int red = dm_toy_color_index("red"), green = dm_toy_color_index("green");
    int blue = dm_toy_color_index("blue"), orange = dm_toy_color_index("orange");
    const uint8_t pure_red[3] = {255, 0, 0}, readme_red[3] = {220, 30, 30};
    CHECK(dm_toy_oracle_pixel(pure_red, red));
    CHECK(dm_toy_oracle_pixel(readme_red, red));
    CHECK(!dm_toy_oracle_pixel(pure_red, green));
    /* a muted background pixel (low saturation) is no colour */
    const uint8_t muted[3] = {150, 130, 125};
    for (int c = 0; c < DM_TOY_N_COLORS; c++) CHECK(!dm_toy_oracle_pixel(muted, c));
    /* too dark */
    const uint8_t dark[3] = {50, 5, 5};
    CHECK(!dm_toy_oracle_pixel(dark, red));
    /* hue wrap-around: 350 degrees is 10 from red's 0 */
    const uint8_t magenta_red[3] = {220, 30, 62}; /* hue ~350 */
    float h, s, v;
    dm_rgb_to_hsv(magenta_red[0], magenta_red[1], magenta_red[2], &h, &s, &v);
    CHECKF(h > 345 && h < 355, "hue %g", h);
    CHECK(dm_toy_oracle_pixel(magenta_red, red));
    /* 30 degrees off blue is not blue */
    const uint8_t cyanish[3] = {30, 200, 220};
    CHECK(!dm_toy_oracle_pixel(cyanish, blue));

    /* the image oracle: two objects with overlapping hue windows (red 0, orange 29): the closer
     * colour wins; background stays 0 */
    const uint8_t img[4 * 3] = {220, 30, 30, 245, 130, 20, 230, 80, 25, 150, 130, 125};
    int colors[2] = {red, orange}, ids[2] = {3, 5};
    uint8_t gt[4];
    dm_toy_oracle(img, 4, colors, ids, 2, gt);
    float hm;
    dm_rgb_to_hsv(230, 80, 25, &hm, &s, &v); /* ~16: closer to orange (29) than red (0) */
    CHECK(gt[0] == 3 && gt[1] == 5 && gt[3] == 0);
    CHECKF(gt[2] == (hm > 14.65f ? 5 : 3), "mixed hue %g -> %d", hm, gt[2]);
}

static void test_prompts_and_methods(void) {
    dm_toy_item two[40];
    dm_toy_two_object_items(two, 40);
    int first[DM_TOY_N_SHAPES] = {0};
    for (int i = 0; i < 40; i++) {
        CHECK(two[i].n_obj == 2);
        CHECK(two[i].color[0] != two[i].color[1]);
        CHECK(two[i].shape[0] != two[i].shape[1]);
        first[two[i].shape[0]]++;
        CHECK(strstr(two[i].prompt, " and a ") != NULL);
    }
    for (int s = 0; s < DM_TOY_N_SHAPES; s++) CHECK(first[s] == 8);
    dm_toy_item again[40];
    dm_toy_two_object_items(again, 40);
    CHECK(memcmp(two, again, sizeof two) == 0); /* deterministic */

    dm_toy_method m;
    dm_error err;
    CHECK(dm_toy_method_parse("basic@0.5", &m, &err) == DM_OK);
    CHECK(!m.p.use_crf && !m.p.use_selfattn && !m.p.otsu && m.p.threshold == 0.5f && !m.sweep);
    CHECK(dm_toy_method_parse("selfattn+crf@best:tau=3:res=8/4", &m, &err) == DM_OK);
    CHECK(m.p.use_crf && m.p.use_selfattn && m.sweep && m.p.selfattn_tau == 3);
    CHECK(m.p.n_res_sizes == 2 && m.p.res_sizes[0] == 8 && m.p.res_sizes[1] == 4);
    CHECK(dm_toy_method_parse("default", &m, &err) == DM_OK);
    CHECK(dm_toy_method_parse("blur", &m, &err) == DM_EUSAGE);
    CHECK(dm_toy_method_parse("basic@1.5", &m, &err) == DM_EUSAGE);
    CHECK(dm_toy_method_parse("basic:sigma=3", &m, &err) == DM_EUSAGE);

    /* the self-attention resolution rule */
    int hs[4] = {64, 32, 16, 8}, ws[4] = {64, 32, 16, 8}, h = 0, w = 0;
    CHECK(dm_mask_pick_selfattn_res(hs, ws, 4, 0, &h, &w, &err) == DM_OK && h == 32 && w == 32);
    int th[2] = {8, 4};
    CHECK(dm_mask_pick_selfattn_res(th, th, 2, 0, &h, NULL, &err) == DM_OK && h == 8);
    int big[1] = {64};
    CHECK(dm_mask_pick_selfattn_res(big, big, 1, 0, &h, NULL, &err) == DM_ERR);
}

static void test_protocol_smoke(void) {
    const char *src = getenv("DM_SOURCE_DIR");
    char model[4096], prompts[4200];
    snprintf(model, sizeof model, "%s/models/toy-shapes", src ? src : ".");
    snprintf(prompts, sizeof prompts, "%s/eval-prompts.json", model);
    if (!dm_file_exists(prompts)) {
        fprintf(stderr, "test_toy_oracle: no toy model at %s, protocol smoke run skipped\n", model);
        return;
    }
    dm_error err = {0};
    dm_toy_item *items = NULL;
    int n = 0, steps = 0;
    float guidance = 0;
    CHECKF(dm_toy_load_prompts(prompts, &items, &n, &steps, &guidance, &err) == DM_OK, "%s",
           err.msg);
    CHECK(n == 100 && steps == 25 && guidance == 5.0f);
    if (n < 2) {
        free(items);
        return;
    }
    CHECK(strcmp(items[0].prompt, "a photo of a purple circle on a noisy background") == 0);
    dm_engine_options eo = {.model_path = model, .threads = 1, .prediction = -1};
    dm_engine *e = NULL;
    CHECKF(dm_engine_open(&eo, &e, &err) == DM_OK, "%s", err.msg);
    if (!e) {
        free(items);
        return;
    }
    int hs[8], ws[8];
    int nr = dm_engine_attn_resolutions(e, 64, 64, hs, ws, 8);
    CHECK(nr == 2 && hs[0] == 8 && hs[1] == 4);
    dm_toy_sample s[3];
    memset(s, 0, sizeof s);
    for (int i = 0; i < 2; i++)
        CHECKF(dm_toy_generate(e, &items[i], 5, 5.0f, 8, &s[i], &err) == DM_OK, "%s", err.msg);
    dm_toy_item two;
    dm_toy_two_object_items(&two, 1);
    CHECKF(dm_toy_generate(e, &two, 5, 5.0f, 8, &s[2], &err) == DM_OK, "%s", err.msg);
    dm_engine_free(e);
    for (int i = 0; i < 3; i++) {
        CHECK(s[i].H == 64 && s[i].W == 64 && s[i].n_res == 2 && s[i].sa_h == 8 && s[i].selfattn);
        CHECK(s[i].K == (i < 2 ? 1 : 2));
        int bad = 0;
        for (long j = 0; j < 64L * 64; j++)
            bad += s[i].gt[j] != 0 && s[i].gt[j] != s[i].class_ids[0] &&
                   (s[i].K < 2 || s[i].gt[j] != s[i].class_ids[1]);
        CHECK(bad == 0);
        double row = 0;
        for (int j = 0; j < 64; j++) row += s[i].selfattn[j];
        CHECK(fabs(row - 1) < 1e-4);
    }

    /* cache round trip */
    char cache[4200];
    snprintf(cache, sizeof cache, "%s/samples.bin", check_tmpdir());
    dm_toy_made_with made = {.steps = 7, .guidance = 2.5f, .sampler = "lcm", .loras = "a.st:0.5"},
                     back_made;
    CHECKF(dm_toy_samples_save(cache, &made, s, 3, &err) == DM_OK, "%s", err.msg);
    dm_toy_sample *back = NULL;
    int nb = 0;
    CHECKF(dm_toy_samples_load(cache, &back_made, &back, &nb, &err) == DM_OK, "%s", err.msg);
    CHECK(nb == 3);
    CHECK(!memcmp(&made, &back_made, sizeof made));
    for (int i = 0; back && i < nb; i++) {
        CHECK(memcmp(back[i].gt, s[i].gt, 64 * 64) == 0);
        CHECK(memcmp(back[i].maps, s[i].maps, sizeof(float) * (64 + 16) * s[i].K) == 0);
        CHECK(strcmp(back[i].item.prompt, s[i].item.prompt) == 0);
        dm_toy_sample_free(&back[i]);
    }
    free(back);

    /* every method on the two single-object samples: structure only */
    const char *names[] = {"basic@0.5",     "basic@best", "otsu",
                           "selfattn@best", "crf",        "selfattn+crf+agreement",
                           "default"};
    for (int m = 0; m < (int)(sizeof names / sizeof *names); m++) {
        dm_toy_method meth;
        dm_toy_result r;
        CHECK(dm_toy_method_parse(names[m], &meth, &err) == DM_OK);
        CHECKF(dm_toy_evaluate(&meth, s, 2, 1, 0.5f, &r, &err) == DM_OK, "%s: %s", names[m],
               err.msg);
        CHECK(r.all.n_classes == DM_TOY_N_CLASSES && r.all.images == 2);
        CHECK(r.tune.images == 1 && r.held.images == 1 && r.n_kept == 1 && r.kept.images == 1);
        CHECK(r.all.pixels == 2 * 64 * 64);
        CHECK(isnan(r.all.miou) || (r.all.miou >= 0 && r.all.miou <= 1));
        CHECK(r.ignore_fraction >= 0 && r.ignore_fraction <= 1);
        for (int i = 0; i < 2; i++) CHECK(r.scores[i] >= 0 && r.scores[i] <= 1);
        dm_toy_result_free(&r);
    }
    /* the two-object sample through the multi-class assembly */
    dm_toy_method meth;
    dm_toy_result r;
    CHECK(dm_toy_method_parse("default", &meth, &err) == DM_OK);
    CHECKF(dm_toy_evaluate(&meth, s + 2, 1, 0, 0, &r, &err) == DM_OK, "%s", err.msg);
    CHECK(r.all.images == 1 && r.held.images == 1 && r.tune.n_classes == 0);
    dm_toy_result_free(&r);
    for (int i = 0; i < 3; i++) dm_toy_sample_free(&s[i]);
    free(items);
}

int main(void) {
    test_hsv_and_hues();
    test_oracle_pixels();
    test_prompts_and_methods();
    test_protocol_smoke();
    return check_finish();
}
