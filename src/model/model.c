#include "model/model.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/json.h"
#include "model/names.h"

static dm_status open_component(dm_model *m, const char *sub, const char *prefix, dm_error *err) {
    static const char *const files[] = {"model.safetensors", "diffusion_pytorch_model.safetensors",
                                        "diffusion_pytorch_model.fp16.safetensors",
                                        "model.fp16.safetensors", NULL};
    char p[8400];
    for (const char *const *f = files; *f; f++) {
        snprintf(p, sizeof p, "%s/%s/%s", m->path, sub, *f);
        if (!dm_file_exists(p)) continue;
        dm_safetensors *st;
        DM_TRY(dm_st_open(p, &st, err));
        dm_weights_own_file(m->w, st);
        return dm_weights_add_all(m->w, st, prefix, err);
    }
    return dm_fail(err,
                   "%s/%s: no model.safetensors or diffusion_pytorch_model.safetensors "
                   "(only .safetensors weights are read)",
                   m->path, sub);
}

/* model_index.json names the pipeline's parts; we read the parts from their folders, but a file
 * that is not a JSON object means a broken or foreign download. */
dm_status dm_model_index_check(const char *path, dm_error *err) {
    cJSON *o;
    DM_TRY(dm_json_load_object(path, &o, err));
    cJSON_Delete(o);
    return DM_OK;
}

/* force_zeros_for_empty_prompt of model_index.json; diffusers' SDXL pipelines default to true,
 * SD 1.x / 2.x pipelines have no such flag. */
static dm_status read_force_zeros(dm_model *m, const char *dir, dm_error *err) {
    m->force_zeros = m->sdxl;
    char p[8400];
    snprintf(p, sizeof p, "%s/model_index.json", dir);
    if (!dm_file_exists(p)) return DM_OK;
    cJSON *o;
    DM_TRY(dm_json_load_object(p, &o, err));
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "force_zeros_for_empty_prompt");
    if (cJSON_IsBool(v)) m->force_zeros = cJSON_IsTrue(v);
    cJSON_Delete(o);
    return DM_OK;
}

/* The hyper-parameters from a diffusers folder's config files (the model's own folder, or the
 * --config folder of a one-file checkpoint). */
static dm_status load_folder_configs(dm_model *m, const char *dir, dm_error *err) {
    char p[8400];
    snprintf(p, sizeof p, "%s/text_encoder/config.json", dir);
    DM_TRY(dm_clip_config_load(p, &m->clip, err));
    if (m->sdxl) {
        snprintf(p, sizeof p, "%s/text_encoder_2/config.json", dir);
        if (!dm_file_exists(p))
            return dm_fail(err,
                           "%s: no text_encoder_2/config.json, but %s has two text encoders "
                           "(SDXL)",
                           dir, m->path);
        DM_TRY(dm_clip_config_load(p, &m->clip2, err));
        /* the pooled embeds' width: the projection the weights carry */
        int nd = 0;
        const int64_t *sh = dm_weights_shape(m->w, "text2.text_projection.weight", &nd);
        if (!sh || nd != 2)
            return dm_fail(err, "%s: the second text encoder has no text_projection", m->path);
        m->clip2.proj_dim = (int)sh[0];
    }
    snprintf(p, sizeof p, "%s/unet/config.json", dir);
    DM_TRY(dm_unet_config_load(p, &m->unet, err));
    snprintf(p, sizeof p, "%s/vae/config.json", dir);
    DM_TRY(dm_vae_config_load(p, &m->vae, err));
    snprintf(m->scheduler_config, sizeof m->scheduler_config, "%s/scheduler/scheduler_config.json",
             dir);
    if (!dm_file_exists(m->scheduler_config)) m->scheduler_config[0] = 0;
    DM_TRY(read_force_zeros(m, dir, err));
    m->openclip = m->clip.act_gelu;
    return DM_OK;
}

static dm_status open_folder(dm_model *m, dm_error *err) {
    char p[8400];
    snprintf(p, sizeof p, "%s/model_index.json", m->path);
    if (!dm_file_exists(p))
        return dm_fail(err, "%s: not a diffusers folder (no model_index.json)", m->path);
    DM_TRY(dm_model_index_check(p, err));
    DM_TRY(open_component(m, "text_encoder", "text.", err));
    snprintf(p, sizeof p, "%s/text_encoder_2", m->path);
    if ((m->sdxl = dm_dir_exists(p))) DM_TRY(open_component(m, "text_encoder_2", "text2.", err));
    DM_TRY(open_component(m, "unet", "unet.", err));
    DM_TRY(open_component(m, "vae", "vae.", err));
    DM_TRY(dm_weights_seal(m->w, err));
    snprintf(m->config_dir, sizeof m->config_dir, "%s", m->path);
    return load_folder_configs(m, m->path, err);
}

static dm_status open_single(dm_model *m, const char *config_arg, dm_error *err) {
    dm_safetensors *st;
    DM_TRY(dm_st_open(m->path, &st, err));
    dm_weights_own_file(m->w, st);
    dm_ldm_info info;
    DM_TRY(dm_map_ldm_checkpoint(st, m->w, &info, err));
    DM_TRY(dm_weights_seal(m->w, err));
    if (info.text_layout == DM_TEXT_NONE)
        return dm_fail(err,
                       "%s: no text encoder (cond_stage_model.* / conditioner.embedders.*) "
                       "in this checkpoint",
                       m->path);
    m->openclip = info.text_layout == DM_TEXT_OPENCLIP;
    m->sdxl = info.sdxl;
    m->n_ignored = info.n_ignored;
    if (config_arg && dm_dir_exists(config_arg)) {
        /* --config DIR: a diffusers folder describes the model; the weights are this file's */
        snprintf(m->config_dir, sizeof m->config_dir, "%s", config_arg);
        DM_TRY(load_folder_configs(m, config_arg, err));
        m->openclip = info.text_layout == DM_TEXT_OPENCLIP;
        return DM_OK;
    }
    /* foo.safetensors -> foo.yaml, the LDM config people keep beside their checkpoints */
    dm_ldm_hints hints = {0}, *hp = NULL;
    char yaml[4200];
    snprintf(yaml, sizeof yaml, "%s", config_arg ? config_arg : m->path);
    char *dot = strrchr(yaml, '.');
    if (!config_arg && dot && !strchr(dot, '/')) strcpy(dot, ".yaml");
    if (config_arg && !dm_file_exists(config_arg))
        return dm_fail(err, "%s: config not found", config_arg);
    if (config_arg || dm_file_exists(yaml)) {
        DM_TRY(dm_ldm_hints_load(yaml, &hints, err));
        hp = &hints;
    }
    m->v_prediction_hint = hints.v_prediction;
    const char *where = m->path;
    /* SD 2.x runs OpenCLIP up to its penultimate layer; SDXL runs both towers whole (it takes
     * hidden_states[-2] itself, and the last layer feeds the pooled embeds) */
    if (dm_clip_config_infer(m->w, "text.", m->openclip, m->openclip && !m->sdxl, &m->clip, err) ||
        (m->sdxl && dm_clip_config_infer(m->w, "text2.", 1, 0, &m->clip2, err)) ||
        dm_unet_config_infer(m->w, m->openclip || m->sdxl, hp, &m->unet, err) ||
        dm_vae_config_infer(m->w, hp, &m->vae, err))
        return dm_fail_wrap(err, "%s", where);
    if (m->sdxl && !(hp && hp->scale_factor > 0)) m->vae.scaling = 0.13025f; /* sd_xl_base */
    m->force_zeros = m->sdxl;
    DM_TRY(dm_clip_config_check(&m->clip, where, err));
    if (m->sdxl) DM_TRY(dm_clip_config_check(&m->clip2, where, err));
    DM_TRY(dm_unet_config_check(&m->unet, where, err));
    DM_TRY(dm_vae_config_check(&m->vae, where, err));
    m->scheduler_config[0] = 0;
    return DM_OK;
}

dm_status dm_model_open(const char *path, dm_model **out, dm_error *err) {
    return dm_model_open_with_config(path, NULL, out, err);
}

dm_status dm_model_open_with_config(const char *path, const char *ldm_yaml, dm_model **out,
                                    dm_error *err) {
    *out = NULL;
    if (!dm_file_exists(path) && !dm_dir_exists(path))
        return dm_fail(err, "%s: model not found (give a diffusers folder or a .safetensors file)",
                       path);
    dm_model *m = calloc(1, sizeof *m);
    if (!m) return dm_fail(err, "out of memory");
    snprintf(m->path, sizeof m->path, "%s", path);
    size_t n = strlen(m->path);
    while (n > 1 && m->path[n - 1] == '/') m->path[--n] = 0;
    m->w = dm_weights_new();
    m->single_file = dm_file_exists(path);
    dm_status s = m->single_file ? open_single(m, ldm_yaml, err) : open_folder(m, err);
    if (s != DM_OK) {
        dm_model_free(m);
        return s;
    }
    *out = m;
    return DM_OK;
}

void dm_model_free(dm_model *m) {
    if (!m) return;
    dm_weights_free(m->w);
    free(m);
}
