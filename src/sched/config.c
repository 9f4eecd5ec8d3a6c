/* scheduler_config.json -> dm_sched_config, with diffusers' from_config semantics: keys the file
 * lacks keep a "class default" sentinel resolved when the sampler is created. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "sched/config.h"

static void set_str(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src);
}

/* Defaults shared by all five diffusers classes' __init__ signatures. */
static void class_neutral_defaults(dm_sched_config *c) {
    memset(c, 0, sizeof *c);
    c->num_train_timesteps = 1000;
    c->beta_start = 0.0001;
    c->beta_end = 0.02;
    set_str(c->beta_schedule, sizeof c->beta_schedule, "linear");
    c->steps_offset = 0;
    c->timestep_spacing[0] = '\0';
    c->prediction_v = 0;
    c->set_alpha_to_one = -1;
    c->clip_sample = -1;
    c->clip_sample_range = 1.0f;
    c->use_karras_sigmas = 0;
    set_str(c->interpolation_type, sizeof c->interpolation_type, "linear");
    c->original_inference_steps = 50;
    c->timestep_scaling = 10.0f;
}

void dm_sched_config_default(dm_sched_config *c) {
    class_neutral_defaults(c);
    c->beta_start = 0.00085;
    c->beta_end = 0.012;
    set_str(c->beta_schedule, sizeof c->beta_schedule, "scaled_linear");
    c->steps_offset = 1;
    set_str(c->timestep_spacing, sizeof c->timestep_spacing, "leading");
    c->set_alpha_to_one = 0;
    c->clip_sample = 0;
    set_str(c->source, sizeof c->source, "built-in SD 1.x scheduler defaults");
}

static bool known_spacing(const char *s) {
    return !strcmp(s, "leading") || !strcmp(s, "trailing") || !strcmp(s, "linspace");
}

dm_status dm_sched_config_check(const dm_sched_config *c, dm_error *err) {
    const char *src = c->source[0] ? c->source : "scheduler config";
    if (c->num_train_timesteps < 2 || c->num_train_timesteps > 100000)
        return dm_fail(err, "%s: num_train_timesteps %d is out of range 2..100000", src,
                       c->num_train_timesteps);
    if (!(c->beta_start > 0 && c->beta_start < 1) || !(c->beta_end > 0 && c->beta_end < 1))
        return dm_fail(err, "%s: beta_start %g / beta_end %g must lie in (0, 1)", src,
                       c->beta_start, c->beta_end);
    if (strcmp(c->beta_schedule, "linear") && strcmp(c->beta_schedule, "scaled_linear"))
        return dm_fail(err, "%s: beta_schedule \"%s\" is not supported (linear, scaled_linear)",
                       src, c->beta_schedule);
    if (c->steps_offset < 0 || c->steps_offset >= c->num_train_timesteps)
        return dm_fail(err, "%s: steps_offset %d is out of range 0..%d", src, c->steps_offset,
                       c->num_train_timesteps - 1);
    if (c->timestep_spacing[0] && !known_spacing(c->timestep_spacing))
        return dm_fail(err, "%s: timestep_spacing \"%s\" is not one of leading, trailing, linspace",
                       src, c->timestep_spacing);
    if (c->prediction_v != 0 && c->prediction_v != 1)
        return dm_fail(err, "%s: prediction_v must be 0 (epsilon) or 1 (v_prediction)", src);
    if (c->set_alpha_to_one < -1 || c->set_alpha_to_one > 1 || c->clip_sample < -1 ||
        c->clip_sample > 1)
        return dm_fail(err, "%s: set_alpha_to_one / clip_sample must be -1, 0 or 1", src);
    if (c->original_inference_steps < 1 || c->original_inference_steps > c->num_train_timesteps)
        return dm_fail(err, "%s: original_inference_steps %d is out of range 1..%d", src,
                       c->original_inference_steps, c->num_train_timesteps);
    if (!(c->timestep_scaling > 0) || !isfinite(c->timestep_scaling))
        return dm_fail(err, "%s: timestep_scaling %g must be > 0", src, c->timestep_scaling);
    if (!(c->clip_sample_range > 0 && isfinite(c->clip_sample_range)))
        return dm_fail(err, "%s: clip_sample_range %g must be > 0", src, c->clip_sample_range);
    return DM_OK;
}

/* Reads an optional key of the expected JSON type; absent or null keeps the default. */
static dm_status get_num(const cJSON *o, const char *key, const char *src, double *v, int *found,
                         dm_error *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    *found = 0;
    if (!it || cJSON_IsNull(it)) return DM_OK;
    if (!cJSON_IsNumber(it)) return dm_fail(err, "%s: \"%s\" is not a number", src, key);
    *v = it->valuedouble;
    *found = 1;
    return DM_OK;
}

static dm_status get_int(const cJSON *o, const char *key, const char *src, int *v, dm_error *err) {
    double d;
    int found;
    DM_TRY(get_num(o, key, src, &d, &found, err));
    if (!found) return DM_OK;
    if (d != floor(d) || fabs(d) > 1e9)
        return dm_fail(err, "%s: \"%s\" = %g is not an integer", src, key, d);
    *v = (int)d;
    return DM_OK;
}

static dm_status get_bool(const cJSON *o, const char *key, const char *src, int *v, dm_error *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it || cJSON_IsNull(it)) return DM_OK;
    if (!cJSON_IsBool(it)) return dm_fail(err, "%s: \"%s\" is not true/false", src, key);
    *v = cJSON_IsTrue(it) ? 1 : 0;
    return DM_OK;
}

static dm_status get_str(const cJSON *o, const char *key, const char *src, char *dst, size_t cap,
                         dm_error *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it || cJSON_IsNull(it)) return DM_OK;
    if (!cJSON_IsString(it)) return dm_fail(err, "%s: \"%s\" is not a string", src, key);
    if (strlen(it->valuestring) >= cap)
        return dm_fail(err, "%s: \"%s\" value \"%.40s...\" is too long", src, key, it->valuestring);
    set_str(dst, cap, it->valuestring);
    return DM_OK;
}

static dm_status parse_object(const cJSON *o, dm_sched_config *c, dm_error *err) {
    const char *src = c->source;
    int found, flag = 0;
    double d;
    char pred[32] = "epsilon";
    DM_TRY(get_int(o, "num_train_timesteps", src, &c->num_train_timesteps, err));
    DM_TRY(get_num(o, "beta_start", src, &d, &found, err));
    if (found) c->beta_start = d;
    DM_TRY(get_num(o, "beta_end", src, &d, &found, err));
    if (found) c->beta_end = d;
    DM_TRY(get_str(o, "beta_schedule", src, c->beta_schedule, sizeof c->beta_schedule, err));
    DM_TRY(get_int(o, "steps_offset", src, &c->steps_offset, err));
    DM_TRY(
        get_str(o, "timestep_spacing", src, c->timestep_spacing, sizeof c->timestep_spacing, err));
    DM_TRY(get_str(o, "prediction_type", src, pred, sizeof pred, err));
    if (!strcmp(pred, "epsilon"))
        c->prediction_v = 0;
    else if (!strcmp(pred, "v_prediction"))
        c->prediction_v = 1;
    else
        return dm_fail(err, "%s: prediction_type \"%s\" is not supported (epsilon, v_prediction)",
                       src, pred);
    DM_TRY(get_bool(o, "set_alpha_to_one", src, &c->set_alpha_to_one, err));
    DM_TRY(get_bool(o, "clip_sample", src, &c->clip_sample, err));
    DM_TRY(get_num(o, "clip_sample_range", src, &d, &found, err));
    if (found) c->clip_sample_range = (float)d;
    DM_TRY(get_bool(o, "use_karras_sigmas", src, &c->use_karras_sigmas, err));
    DM_TRY(get_str(o, "interpolation_type", src, c->interpolation_type,
                   sizeof c->interpolation_type, err));
    DM_TRY(get_int(o, "original_inference_steps", src, &c->original_inference_steps, err));
    DM_TRY(get_num(o, "timestep_scaling", src, &d, &found, err));
    if (found) c->timestep_scaling = (float)d;
    /* Options that change the numbers and that we do not implement: refuse, never ignore. */
    const cJSON *tb = cJSON_GetObjectItemCaseSensitive(o, "trained_betas");
    if (tb && !cJSON_IsNull(tb))
        return dm_fail(err, "%s: trained_betas is not supported (use beta_schedule)", src);
    DM_TRY(get_bool(o, "rescale_betas_zero_snr", src, &flag, err));
    if (flag) return dm_fail(err, "%s: rescale_betas_zero_snr true is not supported", src);
    DM_TRY(get_bool(o, "thresholding", src, &flag, err));
    if (flag) return dm_fail(err, "%s: thresholding true is not supported", src);
    return dm_sched_config_check(c, err);
}

dm_status dm_sched_config_parse(const char *json_text, const char *label, dm_sched_config *c,
                                dm_error *err) {
    class_neutral_defaults(c);
    set_str(c->source, sizeof c->source, label ? label : "scheduler config");
    cJSON *root = cJSON_Parse(json_text);
    if (!root) return dm_fail(err, "%s: not valid JSON", c->source);
    dm_status st;
    if (!cJSON_IsObject(root))
        st = dm_fail(err, "%s: top level is not a JSON object", c->source);
    else
        st = parse_object(root, c, err);
    cJSON_Delete(root);
    return st;
}

dm_status dm_sched_config_load(const char *path, dm_sched_config *c, dm_error *err) {
    char *text;
    size_t len;
    DM_TRY(dm_read_file(path, &text, &len, err));
    dm_status st = dm_sched_config_parse(text, path, c, err);
    free(text);
    return st;
}

static const char *const kind_names[] = {"ddim", "euler", "euler_a", "dpmpp_2m", "pndm", "lcm"};
#define N_KINDS ((int)(sizeof kind_names / sizeof *kind_names))

dm_status dm_sched_spacing_check(const char *spacing, dm_error *err) {
    if (!spacing || !known_spacing(spacing))
        return dm_fail_code(err, DM_EUSAGE,
                            "timestep spacing \"%s\" is unknown (leading, trailing, linspace)",
                            spacing ? spacing : "(null)");
    return DM_OK;
}

dm_status dm_sched_config_set_spacing(dm_sched_config *c, const char *spacing, dm_error *err) {
    DM_TRY(dm_sched_spacing_check(spacing, err));
    set_str(c->timestep_spacing, sizeof c->timestep_spacing, spacing);
    return DM_OK;
}

dm_status dm_sampler_kind_parse(const char *name, dm_sampler_kind *k, dm_error *err) {
    for (int i = 0; i < N_KINDS; i++)
        if (name && !strcmp(name, kind_names[i])) {
            *k = (dm_sampler_kind)i;
            return DM_OK;
        }
    return dm_fail_code(err, DM_EUSAGE,
                        "sampler \"%s\" is unknown (ddim, euler, euler_a, dpmpp_2m, pndm, lcm)",
                        name ? name : "(null)");
}

const char *dm_sampler_kind_name(dm_sampler_kind k) {
    return (unsigned)k < N_KINDS ? kind_names[k] : "?";
}
