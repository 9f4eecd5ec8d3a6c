/* diffumask tokenize: the 77 token ids the text encoder sees for a prompt. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "model/model_paths.h"
#include "model/tokenizer.h"

int dm_cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *tokdir = NULL;
    const dm_opt opts[] = {
        {"--model", DM_ARG_STR, &model, "PATH",
         "the model: a diffusers folder (its tokenizer/ is used) or a single .safetensors file "
         "(the tokenizer/ folder beside it is used)"},
        {"--tokenizer", DM_ARG_STR, &tokdir, "DIR",
         "use this tokenizer folder (vocab.json + merges.txt, optional special_tokens_map.json / "
         "tokenizer_config.json for the pad token) instead of the model's"},
    };
    const dm_cmd_spec spec = {"diffumask tokenize",
                              "--model PATH [--tokenizer DIR] TEXT",
                              "Prints the 77 token ids of TEXT on one line, separated by spaces: "
                              "<|startoftext|>, the CLIP BPE "
                              "tokens (lower-cased, NFC-normalised, as transformers' "
                              "CLIPTokenizer), <|endoftext|>, truncated to 77 "
                              "with <|endoftext|> kept last and padded with the pad token (SD 1.x: "
                              "<|endoftext|>, SD 2.x: \"!\" = 0).",
                              opts,
                              (int)(sizeof opts / sizeof *opts),
                              1,
                              1};
    const char *pos[1];
    int n_pos;
    int r = dm_parse_args(&spec, argc, argv, pos, &n_pos);
    if (r == -1) return 0;
    if (r) return r;
    if (!model && !tokdir) return dm_usage_error(&spec, "--model PATH is required");

    dm_error err = {0};
    char dir[4096];
    dm_status st = dm_find_tokenizer_dir(model, tokdir, dir, sizeof dir, &err);
    dm_tokenizer *tok = NULL;
    int32_t ids[DM_CONTEXT_LEN];
    if (st == DM_OK) st = dm_tokenizer_load(dir, &tok, &err);
    if (st == DM_OK) st = dm_tokenize(tok, pos[0], NULL, NULL, ids, &err);
    dm_tokenizer_free(tok);
    if (st != DM_OK) {
        fprintf(stderr, "%s: %s\n", spec.command, err.msg);
        return st == DM_EUSAGE ? 2 : 1;
    }
    for (int i = 0; i < DM_CONTEXT_LEN; i++) printf(i ? " %d" : "%d", (int)ids[i]);
    printf("\n");
    return 0;
}
