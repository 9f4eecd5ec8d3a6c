#include "model/model_paths.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "io/file.h"

static bool is_tokenizer_dir(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    if (!dm_file_exists(p)) return false;
    snprintf(p, sizeof p, "%s/merges.txt", dir);
    return dm_file_exists(p);
}

static dm_status put(char *out, size_t out_len, const char *path, dm_error *err) {
    if (strlen(path) >= out_len) return dm_fail(err, "%s: path too long", path);
    memcpy(out, path, strlen(path) + 1);
    return DM_OK;
}

dm_status dm_find_tokenizer_dir(const char *model_path, const char *override_dir, char *out,
                                size_t out_len, dm_error *err) {
    if (override_dir) {
        if (!dm_dir_exists(override_dir))
            return dm_fail(err, "%s: tokenizer directory not found", override_dir);
        if (!is_tokenizer_dir(override_dir))
            return dm_fail(err, "%s: not a tokenizer directory (needs vocab.json and merges.txt)",
                           override_dir);
        return put(out, out_len, override_dir, err);
    }
    if (!model_path || !*model_path) return dm_fail_code(err, DM_EUSAGE, "no model path given");
    char cand[4200];
    if (dm_dir_exists(model_path)) {
        snprintf(cand, sizeof cand, "%s/tokenizer", model_path);
    } else if (dm_file_exists(model_path)) {
        /* beside the file: strip the last path component ("x.safetensors" -> ".") */
        const char *slash = strrchr(model_path, '/');
        if (!slash)
            snprintf(cand, sizeof cand, "tokenizer");
        else if (slash == model_path)
            snprintf(cand, sizeof cand, "/tokenizer");
        else
            snprintf(cand, sizeof cand, "%.*s/tokenizer", (int)(slash - model_path), model_path);
    } else {
        return dm_fail(err, "%s: model path not found", model_path);
    }
    if (is_tokenizer_dir(cand)) return put(out, out_len, cand, err);
    return dm_fail(
        err,
        "no tokenizer found for %s (looked in %s): pass --tokenizer DIR with vocab.json and "
        "merges.txt (the tokenizer/ folder of the model's diffusers release)",
        model_path, cand);
}
