#ifndef DM_CLI_CLI_H
#define DM_CLI_CLI_H

#include "diffumask.h"

typedef struct {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name; returns the exit status */
} dm_cli_command;

int dm_cmd_tokenize(int argc, char **argv);
int dm_cmd_eval(int argc, char **argv);
int dm_cmd_debug(int argc, char **argv);
int dm_cmd_generate(int argc, char **argv);
/* generate with dry_run set: parses and checks the options and builds the plan (reading
 * --classes-file / --prompts), then returns without opening a model (the fuzz harness). */
int dm_cmd_generate_ex(int argc, char **argv, int dry_run);
int dm_cmd_eval_toy(int argc, char **argv);
int dm_cmd_tools(int argc, char **argv);
int dm_cmd_bench(int argc, char **argv);
int dm_cmd_augment(int argc, char **argv);
int dm_cmd_filter(int argc, char **argv);
int dm_cmd_txt2img(int argc, char **argv);
int dm_cmd_merge(int argc, char **argv);
int dm_cmd_viz(int argc, char **argv);
int dm_cmd_report(int argc, char **argv);

#endif
