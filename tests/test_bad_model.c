/* Models that are wrong must be refused when they are opened, with one line that names the file,
 * the key and the value (issue 12 items 1 and 5): out-of-range config values (a zero
 * norm_num_groups or attention_head_dim used to kill the process with SIGFPE), a model_index.json
 * that is not an object, a NaN weight; and a latent that overflows during sampling stops with
 * the step. Runs the CLI on a copy of the built-in toy-shapes model: no ../shared needed. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "io/file.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "sched/sampler.h"

static char tmp[512], model[600], src[600];

/* Runs a CLI command line, stderr into out (stdout dropped); returns the exit status. */
static int run(char *out, size_t cap, const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "OMP_WAIT_POLICY=PASSIVE %s %s 2>&1 >/dev/null", getenv("DM_CLI"),
             args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    if (n && out[n - 1] == '\n') out[n - 1] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECKF(f != NULL, "%s", path);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path) {
    char *t = NULL;
    dm_error err = {{0}};
    CHECKF(dm_read_file(path, &t, NULL, &err) == DM_OK, "%s", err.msg);
    return t;
}

/* txt2img on the copy must fail with exit 1 and exactly "diffumask txt2img: want". */
static void expect_open_error(const char *what, const char *want) {
    char args[2048], out[4096], line[2048];
    snprintf(args, sizeof args,
             "txt2img --model %s --prompt 'a red circle' --steps 1 --out %s/o.png", model, tmp);
    int rc = run(out, sizeof out, args);
    snprintf(line, sizeof line, "diffumask txt2img: %s", want);
    CHECKF(rc == 1 && !strcmp(out, line), "%s: rc=%d\n  got:  %s\n  want: %s", what, rc, out, line);
}

/* Sets key (in component/config.json) to the JSON text value, runs, restores. */
static void config_case(const char *component, const char *key, const char *value,
                        const char *problem) {
    char path[700], want[2048], what[256];
    snprintf(path, sizeof path, "%s/%s/config.json", model, component);
    char *orig = read_text(path);
    if (!orig) return;
    cJSON *o = cJSON_Parse(orig), *v = cJSON_Parse(value);
    CHECK(o && v);
    if (!o || !v) return;
    cJSON_DeleteItemFromObjectCaseSensitive(o, key);
    cJSON_AddItemToObject(o, key, v);
    char *text = cJSON_Print(o);
    write_text(path, text);
    snprintf(want, sizeof want, "%s: %s", path, problem);
    snprintf(what, sizeof what, "%s %s = %s", component, key, value);
    expect_open_error(what, want);
    write_text(path, orig);
    free(text), free(orig);
    cJSON_Delete(o);
}

static void copy_file(const char *from, const char *to) {
    char *t = read_text(from);
    if (t) write_text(to, t);
    free(t);
}

/* The toy model with the UNet's conv_in.weight[0] replaced by v (the rest as stored). */
static void unet_with_conv_in(float v, int all) {
    char from[700], to[700];
    snprintf(from, sizeof from, "%s/unet/diffusion_pytorch_model.safetensors", src);
    snprintf(to, sizeof to, "%s/unet/diffusion_pytorch_model.safetensors", model);
    unlink(to);
    dm_safetensors *st;
    dm_error err = {{0}};
    CHECKF(dm_st_open(from, &st, &err) == DM_OK, "%s", err.msg);
    dm_st_writer *w = dm_st_writer_new();
    float *patched = NULL;
    for (int i = 0; i < dm_st_count(st); i++) {
        const dm_st_tensor *t = dm_st_at(st, i);
        const void *data = t->data;
        if (!strcmp(t->name, "conv_in.weight")) {
            CHECK(t->dtype == DM_F32);
            patched = malloc(sizeof(float) * (size_t)t->numel);
            dm_st_read_f32(t, patched, &err);
            for (int64_t k = 0; k < (all ? t->numel : 1); k++) patched[k] = v;
            data = patched;
        }
        CHECK(dm_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, data, &err) == DM_OK);
    }
    CHECKF(dm_st_write(w, to, &err) == DM_OK, "%s", err.msg);
    dm_st_writer_free(w);
    dm_st_close(st);
    free(patched);
}

static void ldm_yaml_cases(void) {
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"num_heads: 0\n", "num_heads = 0 is out of range (must be -1 or 1..65536)"},
        {"num_head_channels: abc\n",
         "num_head_channels = abc is out of range (must be -1 or 1..65536)"},
        {"num_heads: 99999999999999999999\n",
         "num_heads = 99999999999999999999 is out of range (must be -1 or 1..65536)"},
        {"scale_factor: nan\n", "scale_factor = nan is out of range (must be a number > 0)"},
        {"scale_factor: 0\n", "scale_factor = 0 is out of range (must be a number > 0)"},
    };
    char path[700], want[1024];
    snprintf(path, sizeof path, "%s/bad.yaml", tmp);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_text(path, cases[i].text);
        dm_ldm_hints h;
        dm_error err = {{0}};
        snprintf(want, sizeof want, "%s: %s", path, cases[i].want);
        CHECKF(dm_ldm_hints_load(path, &h, &err) != DM_OK && !strcmp(err.msg, want), "%s: got '%s'",
               cases[i].text, err.msg);
    }
    /* SD 2.x: num_heads -1 means "use num_head_channels" */
    write_text(path, "    num_heads: -1\n    num_head_channels: 64\n    scale_factor: 0.18215\n");
    dm_ldm_hints h;
    dm_error err = {{0}};
    CHECKF(dm_ldm_hints_load(path, &h, &err) == DM_OK, "%s", err.msg);
    CHECK(h.unet_heads == 0 && h.unet_head_channels == 64 && h.scale_factor == 0.18215f);
}

/* scheduler_config.json: an infinite value (JSON 1e999) is out of range like any other */
static void sched_cases(void) {
    dm_sched_config c;
    dm_error err = {{0}};
    CHECKF(dm_sched_config_parse("{\"clip_sample_range\": 1e999}", "s.json", &c, &err) != DM_OK &&
               !strcmp(err.msg, "s.json: clip_sample_range inf must be > 0"),
           "%s", err.msg);
    CHECKF(dm_sched_config_parse("{\"beta_end\": 1e999}", "s.json", &c, &err) != DM_OK, "beta_end");
}

int main(void) {
    if (!getenv("DM_CLI") || !getenv("DM_SOURCE_DIR")) check_skip("DM_CLI / DM_SOURCE_DIR not set");
    snprintf(tmp, sizeof tmp, "%s", check_tmpdir());
    snprintf(src, sizeof src, "%s/models/toy-shapes", getenv("DM_SOURCE_DIR"));
    snprintf(model, sizeof model, "%s/m", tmp);
    ldm_yaml_cases();
    sched_cases();

    /* the copy: configs copied (they get edited), weights and tokenizer linked */
    static const char *const dirs[] = {"unet", "vae", "text_encoder", "scheduler"};
    char a[800], b[2048];
    mkdir(model, 0755);
    for (int i = 0; i < 4; i++) {
        snprintf(a, sizeof a, "%s/%s", model, dirs[i]);
        mkdir(a, 0755);
    }
    static const char *const copies[] = {"model_index.json", "unet/config.json", "vae/config.json",
                                         "text_encoder/config.json",
                                         "scheduler/scheduler_config.json"};
    for (int i = 0; i < 5; i++) {
        snprintf(a, sizeof a, "%s/%s", src, copies[i]);
        snprintf(b, sizeof b, "%s/%s", model, copies[i]);
        copy_file(a, b);
    }
    static const char *const links[] = {"tokenizer", "unet/diffusion_pytorch_model.safetensors",
                                        "vae/diffusion_pytorch_model.safetensors",
                                        "text_encoder/model.safetensors"};
    for (int i = 0; i < 4; i++) {
        snprintf(a, sizeof a, "%s/%s", src, links[i]);
        snprintf(b, sizeof b, "%s/%s", model, links[i]);
        CHECKF(symlink(a, b) == 0, "symlink %s", b);
    }
    char out[4096], args[2048];
    snprintf(args, sizeof args,
             "txt2img --model %s --prompt 'a red circle' --steps 1 --out %s/o.png", model, tmp);
    CHECKF(run(out, sizeof out, args) == 0, "the untouched copy does not run: %s", out);

    /* item 1: these divided by zero (SIGFPE) */
    config_case("unet", "norm_num_groups", "0",
                "norm_num_groups = 0 is out of range (must be 1..65536)");
    config_case("unet", "attention_head_dim", "0",
                "attention_head_dim = 0 is out of range (must be >= 1)");
    config_case("vae", "norm_num_groups", "0",
                "norm_num_groups = 0 is out of range (must be 1..65536)");
    /* item 5: these loaded and ran to empty masks, or failed later for another reason */
    config_case("unet", "norm_num_groups", "3",
                "block_out_channels[0] = 32 does not divide into norm_num_groups = 3");
    config_case("unet", "norm_num_groups", "-1",
                "norm_num_groups = -1 is out of range (must be 1..65536)");
    config_case("vae", "norm_num_groups", "3",
                "block_out_channels[0] = 32 does not divide into norm_num_groups = 3");
    config_case("vae", "norm_num_groups", "-1",
                "norm_num_groups = -1 is out of range (must be 1..65536)");
    config_case("unet", "norm_eps", "-1", "norm_eps = -1 is out of range (must be > 0 and <= 1)");
    config_case("vae", "scaling_factor", "0",
                "scaling_factor = 0 is out of range (must be > 0 and <= 1e+06)");
    config_case("unet", "attention_head_dim", "-2",
                "attention_head_dim = -2 is out of range (must be >= 1)");
    config_case("unet", "attention_head_dim", "[8, 0, 8]",
                "attention_head_dim[1] = 0 is out of range (must be >= 1)");
    config_case("unet", "attention_head_dim", "3",
                "block_out_channels[1] = 64 does not divide into 3 attention heads "
                "(attention_head_dim)");
    config_case("unet", "transformer_layers_per_block", "0",
                "transformer_layers_per_block = 0 is out of range (must be >= 1)");
    config_case("unet", "sample_size", "0", "sample_size = 0 is out of range (must be 1..1024)");
    config_case("unet", "sample_size", "-8", "sample_size = -8 is out of range (must be 1..1024)");
    config_case("unet", "sample_size", "1e9",
                "sample_size = 1000000000 is out of range (must be 1..1024)");
    config_case("unet", "layers_per_block", "1e10", "'layers_per_block' must be an integer");
    config_case("vae", "sample_size", "-8", "sample_size = -8 is out of range (must be 1..16384)");
    config_case("text_encoder", "num_hidden_layers", "0",
                "num_hidden_layers = 0 is out of range (must be 1..1024)");
    config_case("text_encoder", "num_attention_heads", "0",
                "num_attention_heads = 0 is out of range (must be 1..64)");
    config_case("text_encoder", "hidden_size", "-64",
                "hidden_size = -64 is out of range (must be 1..65536)");
    config_case("text_encoder", "layer_norm_eps", "-1e-5",
                "layer_norm_eps = -1e-05 is out of range (must be > 0 and <= 1)");

    /* a value quoted in the message cannot break it into two lines (found by fuzz_model_config) */
    config_case("unet", "act_fn", "\"relu\\nReady.\"",
                "act_fn 'relu Ready.' is not supported (silu)");

    /* model_index.json = [] */
    snprintf(a, sizeof a, "%s/model_index.json", model);
    char *orig = read_text(a);
    write_text(a, "[]");
    snprintf(b, sizeof b, "%s: a JSON object {...} was expected, found an array", a);
    expect_open_error("model_index.json = []", b);
    if (orig) write_text(a, orig);
    free(orig);

    /* a NaN weight and an Inf weight: refused at load, naming the file and the tensor */
    snprintf(a, sizeof a, "%s/unet/diffusion_pytorch_model.safetensors", model);
    unet_with_conv_in(NAN, 0);
    snprintf(b, sizeof b, "%s: tensor 'conv_in.weight' has a NaN or Inf value (element 0 of 1152)",
             a);
    expect_open_error("NaN weight", b);
    unet_with_conv_in(-INFINITY, 0);
    expect_open_error("Inf weight", b);

    /* finite weights that overflow: the latent turns non-finite at step 1, the sample stops */
    unet_with_conv_in(3e38f, 1);
    expect_open_error("overflowing weights",
                      "the latent became NaN/Inf at step 1 of 1 (the model or the settings "
                      "overflow)");
    snprintf(args, sizeof args,
             "generate --model %s --classes circle --images-per-class 1 --steps 2 --width 32 "
             "--height 32 --out %s/ds --quiet",
             model, tmp);
    int rc = run(out, sizeof out, args);
    snprintf(b, sizeof b,
             "diffumask generate: %s/ds/000000_circle: the latent became NaN/Inf at step 1 of 2 "
             "(the model or the settings overflow)",
             tmp);
    CHECKF(rc == 1 && !strcmp(out, b),
           "generate with overflowing weights: rc=%d\n  got:  %s\n  want: %s", rc, out, b);
    return check_finish();
}
