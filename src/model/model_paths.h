/* Finding the pieces of a model on disk. A model is either a diffusers folder (model_index.json,
 * tokenizer/, text_encoder/, unet/, vae/, scheduler/) or one original-layout .safetensors file;
 * a single file carries no tokenizer, so one is looked for in tokenizer/ beside it. */
#ifndef DM_MODEL_MODEL_PATHS_H
#define DM_MODEL_MODEL_PATHS_H

#include <stddef.h>

#include "core/status.h"

/* The tokenizer folder (holding vocab.json and merges.txt) for a model, into out:
 * override_dir when given (--tokenizer DIR; model_path may then be NULL), else
 * MODEL/tokenizer for a folder, else DIR/tokenizer beside a single file MODEL = DIR/x.safetensors.
 * Fails naming the path when the model is missing or no tokenizer is found. */
dm_status dm_find_tokenizer_dir(const char *model_path, const char *override_dir, char *out,
                                size_t out_len, dm_error *err);

#endif
