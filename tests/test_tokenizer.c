/* The CLIP tokenizer against transformers' (golden/tokens.json: all 44 prompts), the toy-shapes
 * vocabulary, word positions, the SD 2.x pad rule, tokenizer discovery and hostile input. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "io/file.h"
#include "model/model_paths.h"
#include "model/tokenizer.h"

static void check_golden_prompts(const dm_tokenizer *tok) {
    char *data;
    size_t len;
    dm_error err = {0};
    if (dm_read_file(check_shared("golden/tokens.json"), &data, &len, &err) != DM_OK) {
        CHECKF(0, "%s", err.msg);
        return;
    }
    cJSON *root = cJSON_Parse(data);
    free(data);
    const cJSON *prompts = cJSON_GetObjectItem(root, "prompts");
    CHECK(cJSON_GetArraySize(prompts) == 44);
    int n_ok = 0;
    for (const cJSON *p = prompts ? prompts->child : NULL; p; p = p->next) {
        const char *text = cJSON_GetObjectItem(p, "prompt")->valuestring;
        const cJSON *want = cJSON_GetObjectItem(p, "ids"),
                    *want77 = cJSON_GetObjectItem(p, "ids_77");
        const cJSON *toks = cJSON_GetObjectItem(p, "tokens");
        int32_t *ids = NULL, ids77[DM_CONTEXT_LEN];
        int n = 0;
        dm_status st = dm_tokenize(tok, text, &ids, &n, ids77, &err);
        CHECKF(st == DM_OK, "'%s': %s", text, err.msg);
        if (st != DM_OK) continue;
        int same = n == cJSON_GetArraySize(want);
        for (int i = 0; same && i < n; i++) {
            same = ids[i] == cJSON_GetArrayItem(want, i)->valueint;
            same = same && !strcmp(dm_tokenizer_token(tok, ids[i]),
                                   cJSON_GetArrayItem(toks, i)->valuestring);
        }
        int same77 = cJSON_GetArraySize(want77) == DM_CONTEXT_LEN;
        for (int i = 0; same77 && i < DM_CONTEXT_LEN; i++)
            same77 = ids77[i] == cJSON_GetArrayItem(want77, i)->valueint;
        CHECKF(same, "ids of '%s' differ (got %d ids, want %d)", text, n, cJSON_GetArraySize(want));
        CHECKF(same77, "ids_77 of '%s' differ", text);
        if (!same) {
            for (int i = 0; i < n; i++)
                fprintf(stderr, " %d:%s", ids[i], dm_tokenizer_token(tok, ids[i]));
            fputc('\n', stderr);
        }
        n_ok += same && same77;
        free(ids);
    }
    printf("golden prompts: %d of %d match\n", n_ok, cJSON_GetArraySize(prompts));
    cJSON_Delete(root);
}

static void expect_positions(const dm_tokenizer *tok, const char *prompt, const char *phrase,
                             int first, int n) {
    int pos[16], np = -1;
    dm_error err = {0};
    dm_status st = dm_token_positions(tok, prompt, phrase, pos, 16, &np, &err);
    CHECKF(st == DM_OK, "'%s' in '%s': %s", phrase, prompt, err.msg);
    if (st != DM_OK) return;
    int ok = np == n;
    for (int i = 0; ok && i < n; i++) ok = pos[i] == first + i;
    CHECKF(ok, "'%s' in '%s': got %d positions from %d, want %d from %d", phrase, prompt, np,
           np > 0 ? pos[0] : -1, n, first);
}

static void expect_missing(const dm_tokenizer *tok, const char *prompt, const char *phrase) {
    int pos[16], np = -1;
    dm_error err = {0};
    char want[256];
    snprintf(want, sizeof want, "class word '%s' not found in prompt '", phrase);
    CHECKF(dm_token_positions(tok, prompt, phrase, pos, 16, &np, &err) == DM_ERR &&
               strstr(err.msg, want) && np == 0,
           "'%s' in '%.40s...' should be missing: %s", phrase, prompt, err.msg);
}

static void check_positions(const dm_tokenizer *tok) {
    const char *voc = "a photo of a potted plant next to a dining table and a tv monitor";
    expect_positions(tok, voc, "potted plant", 5, 2);
    expect_positions(tok, voc, "Potted  PLANT", 5, 2);
    expect_positions(tok, voc, "tv monitor", 14, 2);
    expect_positions(tok, voc, "dining table", 10, 2);
    expect_positions(tok, voc, "a", 1, 1);
    expect_positions(tok, "a photograph of a bird, a photograph of a bird", "bird", 5, 1);
    expect_positions(tok, "a cat.", "cat", 2, 1);
    expect_positions(tok, "the dog's bone", "dog", 2, 1);
    expect_positions(tok, "aeroplane bicycle bird", "aeroplane", 1, 2); /* aerop + lane</w> */
    expect_positions(tok, "a supercalifragilisticexpialidocious cat",
                     "supercalifragilisticexpialidocious", 2, 9);
    expect_positions(tok, "a photo of 狗 and 猫", "猫", 8, 3);
    expect_missing(tok, voc, "cat");
    expect_missing(tok, "a photo of cats", "cat");
    expect_missing(tok, "in 2024", "2");
    expect_missing(tok, voc, "plant potted");
    /* the phrase exists but past the 77-token limit: 80 x "a" then "cat" */
    char longp[400] = "";
    for (int i = 0; i < 80; i++) strcat(longp, "a ");
    strcat(longp, "cat");
    expect_missing(tok, longp, "cat");
    /* position 75 is the last one kept (76 becomes eos) */
    char edge[400] = "";
    for (int i = 0; i < 74; i++) strcat(edge, "a ");
    strcat(edge, "cat dog");
    expect_positions(tok, edge, "cat", 75, 1);
    expect_missing(tok, edge, "dog");
    int pos[4], np;
    dm_error err = {0};
    CHECK(dm_token_positions(tok, "a cat", "  ", pos, 4, &np, &err) == DM_EUSAGE);
    CHECK(dm_token_positions(tok, "a supercalifragilisticexpialidocious",
                             "supercalifragilisticexpialidocious", pos, 4, &np, &err) == DM_EUSAGE);

    dm_word_tokens *w;
    int nw;
    CHECK(dm_tokenize_words(tok, "A  Photo, of 1st!", &w, &nw, &err) == DM_OK);
    CHECK(nw == 4 && !strcmp(w[0].text, "a") && !strcmp(w[1].text, "photo,") && w[1].start == 2 &&
          w[1].end == 4);
    CHECK(nw == 4 && !strcmp(w[3].text, "1st!") && w[3].start == 5 &&
          w[3].end == 8); /* 1 st !</w> */
    dm_word_tokens_free(w, nw);
}

static void check_toy(void) {
    dm_tokenizer *tok;
    dm_error err = {0};
    CHECKF(dm_tokenizer_load(check_shared("models/toy-shapes/tokenizer"), &tok, &err) == DM_OK,
           "%s", err.msg);
    if (!tok) return;
    CHECK(dm_tokenizer_bos(tok) == 611 && dm_tokenizer_eos(tok) == 612 &&
          dm_tokenizer_pad(tok) == 612);
    CHECK(dm_tokenizer_vocab_size(tok) == 613);
    int32_t *ids, ids77[DM_CONTEXT_LEN];
    int n;
    CHECK(dm_tokenize(tok, "a photo of a red circle", &ids, &n, ids77, &err) == DM_OK);
    CHECK(n == 8 && ids[0] == 611 && ids[7] == 612 && ids77[8] == 612 && ids77[76] == 612);
    CHECK(n == 8 && !strcmp(dm_tokenizer_token(tok, ids[6]), "circle</w>"));
    free(ids);
    dm_word_tokens *w;
    int nw;
    CHECK(dm_tokenize_words(tok, "a photo of a red circle and a blue star", &w, &nw, &err) ==
          DM_OK);
    int one_each = nw == 10;
    for (int i = 0; one_each && i < nw; i++)
        one_each = w[i].end - w[i].start == 1 && w[i].start == i + 1;
    CHECK(one_each);
    dm_word_tokens_free(w, nw);
    expect_positions(tok, "a photo of a red circle on a plain background", "circle", 6, 1);
    /* unknown words fall back to characters */
    CHECK(dm_tokenize(tok, "zebra", &ids, &n, ids77, &err) == DM_OK && n > 3);
    free(ids);
    dm_tokenizer_free(tok);
}

static int copy_file(const char *from, const char *to_dir, const char *name) {
    char *d;
    size_t len;
    char to[512];
    dm_error err;
    snprintf(to, sizeof to, "%s/%s", to_dir, name);
    if (dm_read_file(from, &d, &len, &err) != DM_OK) return 0;
    int ok = dm_write_file_atomic(to, d, len, &err) == DM_OK;
    free(d);
    return ok;
}

static int write_text(const char *dir, const char *name, const char *text) {
    char p[512];
    dm_error err;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return dm_write_file_atomic(p, text, strlen(text), &err) == DM_OK;
}

/* SD 2.x: special_tokens_map.json names "!" (id 0) as pad. transformers then also treats "!"
 * as an added token, so each "!" in a prompt is id 0 on its own (diffusers issue #4153). */
static void check_sd2_and_errors(void) {
    const char *dir = check_tmpdir();
    CHECK(copy_file(check_shared("golden/tokenizer/vocab.json"), dir, "vocab.json"));
    CHECK(copy_file(check_shared("golden/tokenizer/merges.txt"), dir, "merges.txt"));
    CHECK(write_text(dir, "special_tokens_map.json",
                     "{\"pad_token\": \"!\", \"eos_token\": {\"content\": \"<|endoftext|>\"}}"));
    CHECK(write_text(dir, "tokenizer_config.json",
                     "{\"pad_token\": \"<|endoftext|>\", \"model_max_length\": 77}"));
    dm_tokenizer *tok;
    dm_error err = {0};
    CHECKF(dm_tokenizer_load(dir, &tok, &err) == DM_OK, "%s", err.msg);
    if (tok) {
        int32_t ids77[DM_CONTEXT_LEN];
        CHECK(dm_tokenizer_pad(tok) == 0);
        CHECK(dm_tokenize(tok, "a cat", NULL, NULL, ids77, &err) == DM_OK);
        CHECK(ids77[0] == 49406 && ids77[1] == 320 && ids77[2] == 2368 && ids77[3] == 49407 &&
              ids77[4] == 0 && ids77[76] == 0);
        CHECK(dm_tokenize(tok, "! !! !!!", NULL, NULL, ids77, &err) == DM_OK);
        int ok = ids77[0] == 49406 && ids77[7] == 49407;
        for (int i = 1; i < 7; i++) ok = ok && ids77[i] == 0;
        CHECK(ok);
        dm_tokenizer_free(tok);
    }
    /* pad from tokenizer_config.json alone; object form */
    CHECK(write_text(dir, "special_tokens_map.json", "{}"));
    CHECK(write_text(dir, "tokenizer_config.json",
                     "{\"pad_token\": {\"content\": \"!\", \"lstrip\": false}}"));
    CHECK(dm_tokenizer_load(dir, &tok, &err) == DM_OK && dm_tokenizer_pad(tok) == 0);
    dm_tokenizer_free(tok);

    /* hostile files: one-line errors naming the file */
    CHECK(write_text(dir, "special_tokens_map.json", "{\"pad_token\": \"<nope>\"}"));
    CHECK(dm_tokenizer_load(dir, &tok, &err) == DM_ERR && !tok &&
          strstr(err.msg, "special_tokens_map.json") && strstr(err.msg, "<nope>"));
    CHECK(write_text(dir, "special_tokens_map.json", "{\"pad_token\": "));
    CHECK(dm_tokenizer_load(dir, &tok, &err) == DM_ERR &&
          strstr(err.msg, "special_tokens_map.json"));
    CHECK(write_text(dir, "special_tokens_map.json", "{}"));
    CHECK(write_text(dir, "merges.txt", "#version: 0.2\na b c\n"));
    CHECK(dm_tokenizer_load(dir, &tok, &err) == DM_ERR && strstr(err.msg, "merges.txt") &&
          strstr(err.msg, "line 2"));
    CHECK(write_text(dir, "merges.txt", "#version: 0.2\n"));
    CHECK(dm_tokenizer_load(dir, &tok, &err) == DM_OK); /* no merges: every byte its own token */
    if (tok) {
        int32_t *ids, ids77[DM_CONTEXT_LEN];
        int n;
        CHECK(dm_tokenize(tok, "cat", &ids, &n, ids77, &err) == DM_OK && n == 5 &&
              ids[3] == 339); /* t</w> */
        free(ids);
        dm_tokenizer_free(tok);
    }
    CHECK(write_text(dir, "vocab.json", "{\"a\": 0, "));
    CHECK(dm_tokenizer_load(dir, &tok, &err) == DM_ERR && strstr(err.msg, "vocab.json"));
    CHECK(write_text(dir, "vocab.json", "[1, 2]"));
    CHECK(dm_tokenizer_load(dir, &tok, &err) == DM_ERR && strstr(err.msg, "vocab.json"));
    CHECK(write_text(dir, "vocab.json", "{\"a\": -3}"));
    CHECK(dm_tokenizer_load(dir, &tok, &err) == DM_ERR && strstr(err.msg, "vocab.json"));
    CHECK(write_text(dir, "vocab.json", "{\"a\": 0, \"<|endoftext|>\": 1}"));
    CHECK(dm_tokenizer_load(dir, &tok, &err) == DM_ERR && strstr(err.msg, "vocab.json") &&
          strstr(err.msg, "<|startoftext|>"));
    char p[512];
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    remove(p);
    CHECK(dm_tokenizer_load(dir, &tok, &err) == DM_ERR && strstr(err.msg, "vocab.json"));
    CHECK(dm_tokenizer_load("/nonexistent/tok", &tok, &err) == DM_ERR &&
          strstr(err.msg, "/nonexistent/tok"));
}

static void check_hostile_prompts(const dm_tokenizer *tok) {
    int32_t ref[DM_CONTEXT_LEN], ids77[DM_CONTEXT_LEN];
    dm_error err = {0};
    CHECK(dm_tokenize(tok, "a cat", NULL, NULL, ref, &err) == DM_OK);
    /* invalid UTF-8 becomes U+FFFD, which the normaliser drops */
    CHECK(dm_tokenize(tok, "a \xff\xfe cat\xc3", NULL, NULL, ids77, &err) == DM_OK &&
          !memcmp(ref, ids77, sizeof ref));
    CHECK(dm_tokenize(tok,
                      "a c\xed\xa0\x80"
                      "at \xe2\x82",
                      NULL, NULL, ids77, &err) == DM_OK &&
          !memcmp(ref, ids77, sizeof ref));
    /* U+0345 matches no alternative of the case-insensitive regex, so it vanishes */
    CHECK(dm_tokenize(tok, "a\xcd\x85 cat\xcd\x85", NULL, NULL, ids77, &err) == DM_OK &&
          !memcmp(ref, ids77, sizeof ref));
    /* Python str.lower details: final sigma, dotted capital I */
    int32_t *a, *b;
    int na, nb;
    CHECK(dm_tokenize(tok, "ΟΔΟΣ", &a, &na, ids77, &err) == DM_OK);
    CHECK(dm_tokenize(tok, "οδος", &b, &nb, ids77, &err) == DM_OK);
    CHECK(na == nb && !memcmp(a, b, (size_t)na * sizeof *a));
    free(a);
    free(b);
    /* a long prompt: many tokens, no crash, eos kept last */
    size_t n = 100000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++) big[i] = "ab c\xe7\x8c\xab!'s"[i % 10];
    big[n] = 0;
    CHECK(dm_tokenize(tok, big, &a, &na, ids77, &err) == DM_OK && na > 1000 && ids77[76] == 49407);
    free(a);
    free(big);
}

static void check_discovery(void) {
    char dir[4096];
    dm_error err = {0};
    CHECK(dm_find_tokenizer_dir(check_shared("golden/tiny-sd1"), NULL, dir, sizeof dir, &err) ==
              DM_OK &&
          !strcmp(dir, check_shared("golden/tiny-sd1/tokenizer")));
    CHECK(dm_find_tokenizer_dir(check_shared("golden/tiny-sd1-original.safetensors"), NULL, dir,
                                sizeof dir, &err) == DM_OK &&
          !strcmp(dir, check_shared("golden/tokenizer")));
    CHECK(dm_find_tokenizer_dir(NULL, check_shared("models/toy-shapes/tokenizer"), dir, sizeof dir,
                                &err) == DM_OK);
    CHECK(dm_find_tokenizer_dir("/nonexistent/model", NULL, dir, sizeof dir, &err) == DM_ERR &&
          strstr(err.msg, "/nonexistent/model"));
    CHECK(dm_find_tokenizer_dir(check_shared("golden/sd1"), NULL, dir, sizeof dir, &err) ==
              DM_ERR &&
          strstr(err.msg, "--tokenizer DIR"));
    CHECK(dm_find_tokenizer_dir(check_shared("golden/tiny-sd1/unet/config.json"), NULL, dir,
                                sizeof dir, &err) == DM_ERR &&
          strstr(err.msg, "no tokenizer found"));
    CHECK(dm_find_tokenizer_dir(NULL, check_shared("golden/sd1"), dir, sizeof dir, &err) ==
              DM_ERR &&
          strstr(err.msg, "vocab.json"));
    CHECK(dm_find_tokenizer_dir(NULL, NULL, dir, sizeof dir, &err) == DM_EUSAGE);
}

int main(void) {
    dm_tokenizer *tok;
    dm_error err = {0};
    CHECKF(dm_tokenizer_load(check_shared("golden/tokenizer"), &tok, &err) == DM_OK, "%s", err.msg);
    if (!tok) return check_finish();
    CHECK(dm_tokenizer_bos(tok) == 49406 && dm_tokenizer_eos(tok) == 49407 &&
          dm_tokenizer_pad(tok) == 49407);
    CHECK(dm_tokenizer_vocab_size(tok) == 49408);
    check_golden_prompts(tok);
    check_positions(tok);
    check_hostile_prompts(tok);
    dm_tokenizer_free(tok);

    /* the diffusers folder's tokenizer: same files plus the configs */
    CHECKF(dm_tokenizer_load(check_shared("golden/tiny-sd1/tokenizer"), &tok, &err) == DM_OK, "%s",
           err.msg);
    if (tok) {
        CHECK(dm_tokenizer_pad(tok) == 49407 && dm_tokenizer_unk(tok) == 49407);
        dm_tokenizer_free(tok);
    }
    check_toy();
    check_sd2_and_errors();
    check_discovery();
    return check_finish();
}
