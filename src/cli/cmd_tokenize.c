#include <stdio.h>

#include "cli/cli.h"

int dm_cmd_tokenize(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "diffumask tokenize: not implemented yet\n");
    return 1;
}
