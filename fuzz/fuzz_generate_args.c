/* libFuzzer harness: the option parser and checks of `diffumask generate`, argv from the input
 * (split at NUL bytes), through dm_cmd_generate_ex with dry_run: options, numbers, templates,
 * shards, mask methods, the plan from --classes / --classes-file / --prompts; no model is opened
 * and nothing is generated. Each input runs in a scratch folder holding classes.txt and p.jsonl
 * (then back to libFuzzer's folder); inputs with '/' are skipped (no device files, nothing outside
 * the folder). Invariant: the exit status is 0 (parsed), 1 (a file error) or 2 (a usage error). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "fuzz_util.h"

static int home = -1; /* libFuzzer's own folder: corpus paths are relative to it */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if ((home = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) abort();
    fuzz_write_str("classes.txt", "bird: sparrow, parrot\ncat\n");
    fuzz_write_str("p.jsonl", "{\"prompt\": \"a red circle\", \"class\": \"circle\"}\n"
                              "{\"prompt\": \"a cat and a dog\", \"classes\": [\"cat\", \"dog\"], "
                              "\"seed\": 3}\n");
    /* --help and the usage errors print: keep the log to libFuzzer's own lines */
    if (!freopen("/dev/null", "w", stdout)) abort();
    unsetenv("SLURM_ARRAY_TASK_ID"), unsetenv("JOB_COMPLETION_INDEX");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096 || memchr(data, '/', size)) return 0;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;
    char *argv[130];
    int argc = 0;
    argv[argc++] = "generate";
    for (char *a = buf; a < buf + size + 1 && argc < 129; a += strlen(a) + 1) argv[argc++] = a;
    argv[argc] = NULL;
    if (chdir(fuzz_scratch_dir())) abort();
    int r = dm_cmd_generate_ex(argc, argv, 1);
    if (fchdir(home)) abort();
    free(buf);
    if (r != 0 && r != 1 && r != 2) abort();
    return 0;
}
