/* libFuzzer harness: arbitrary bytes as a prompt (and, split at the first NUL, a phrase) through
 * the CLIP tokenizer. Invariants: ids77 starts with bos, holds eos, every id is in the
 * vocabulary; token positions, when found, lie inside the 77 and after bos. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer.h"

static dm_tokenizer *tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *shared = getenv("DM_SHARED_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/golden/tokenizer", shared ? shared : "../shared");
    dm_error err;
    if (dm_tokenizer_load(dir, &tok, &err)) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    const char *phrase = text + strlen(text) + (strlen(text) < size ? 1 : 0);
    dm_error err;
    int32_t ids77[DM_CONTEXT_LEN], *ids = NULL;
    int n = 0;
    if (dm_tokenize(tok, text, &ids, &n, ids77, &err) == DM_OK) {
        int V = dm_tokenizer_vocab_size(tok), eos = 0;
        if (ids77[0] != dm_tokenizer_bos(tok) || n < 2) abort();
        for (int i = 0; i < DM_CONTEXT_LEN; i++) {
            if (ids77[i] < 0 || ids77[i] >= V) abort();
            eos |= ids77[i] == dm_tokenizer_eos(tok);
        }
        if (!eos) abort();
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= V) abort();
        free(ids);
        int pos[16], np = 0;
        if (*phrase && dm_token_positions(tok, text, phrase, pos, 16, &np, &err) == DM_OK)
            for (int i = 0; i < np; i++)
                if (pos[i] < 1 || pos[i] >= DM_CONTEXT_LEN - 1) abort();
    }
    free(text);
    return 0;
}
