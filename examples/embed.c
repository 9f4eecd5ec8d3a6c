/* Embedding diffumask: one image and its circle mask from the built-in demo model, through the
 * installed library only.
 *
 *   cc embed.c $(pkg-config --cflags --libs diffumask) -o embed            (libdiffumask.so)
 *   cc embed.c $(pkg-config --static --cflags --libs diffumask) ...        (see
 * tests/cli_install.sh)
 *   ./embed OUT.raw     writes the RGB bytes then the mask bytes (64*64*3 + 64*64)
 *
 * It prints the demo model's folder and the mask's foreground pixel count. */
#include <diffumask.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.raw\n", argv[0]);
        return 2;
    }
    dm_error err = {0};
    char model[4096];
    if (dm_default_model(model, sizeof model, &err) != DM_OK) {
        fprintf(stderr, "embed: %s\n", err.msg);
        return 1;
    }
    printf("model %s\n", model);
    dm_engine *e;
    if (dm_open(NULL, 1, &e, &err) != DM_OK) { /* NULL: the demo model */
        fprintf(stderr, "embed: %s\n", err.msg);
        return 1;
    }
    int S = dm_native_size(e);
    dm_image_request r = {.prompt = "a photo of a red circle on a plain background",
                          .steps = 8,
                          .guidance = 5,
                          .seed = 3};
    const char *words[1] = {"circle"};
    unsigned char *rgb = malloc((size_t)S * S * 3), *mask = malloc((size_t)S * S);
    float score = 0;
    int rc = 1;
    if (!rgb || !mask)
        fprintf(stderr, "embed: out of memory\n");
    else if (dm_generate_masked(e, &r, words, 1, NULL, rgb, mask, &score, &err) != DM_OK)
        fprintf(stderr, "embed: %s\n", err.msg);
    else {
        long fg = 0;
        for (int i = 0; i < S * S; i++) fg += mask[i] == 1;
        printf("size %d foreground %ld score %.3f\n", S, fg, score);
        FILE *f = fopen(argv[1], "wb");
        if (f && fwrite(rgb, 1, (size_t)S * S * 3, f) == (size_t)S * S * 3 &&
            fwrite(mask, 1, (size_t)S * S, f) == (size_t)S * S && fclose(f) == 0)
            rc = 0;
        else
            fprintf(stderr, "embed: cannot write %s\n", argv[1]);
    }
    free(rgb);
    free(mask);
    dm_close(e);
    return rc;
}
