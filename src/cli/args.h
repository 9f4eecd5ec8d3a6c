/* A small declarative option parser shared by every subcommand.
 * Options are "--name VALUE" or "--name=VALUE"; flags take no value; anything else is
 * positional. "--help" prints the usage and the option table. */
#ifndef DM_CLI_ARGS_H
#define DM_CLI_ARGS_H

typedef enum {
    DM_ARG_STR,   /* const char **dst */
    DM_ARG_INT,   /* long *dst */
    DM_ARG_FLOAT, /* double *dst */
    DM_ARG_FLAG,  /* int *dst, set to 1 */
    DM_ARG_MULTI  /* dm_arg_list *dst: repeatable string option */
} dm_arg_kind;

#define DM_ARG_LIST_MAX 64
typedef struct {
    int n;
    const char *v[DM_ARG_LIST_MAX];
} dm_arg_list;

typedef struct {
    const char *name; /* "--model" */
    dm_arg_kind kind;
    void *dst;
    const char *metavar; /* "PATH" (NULL for flags) */
    const char *help;
} dm_opt;

typedef struct {
    const char *command; /* "diffumask tokenize" */
    const char *usage;   /* "--model PATH [--tokenizer DIR] TEXT" */
    const char *about;   /* one paragraph shown by --help */
    const dm_opt *opts;
    int n_opts;
    int min_pos, max_pos; /* positional argument counts allowed */
} dm_cmd_spec;

/* Returns 0 when parsed, 2 on a usage error (message on stderr), -1 when --help was printed
 * (the command should exit 0). Positional arguments go to pos[0..*n_pos). */
int dm_parse_args(const dm_cmd_spec *spec, int argc, char **argv, const char **pos, int *n_pos);
/* Prints "COMMAND: message" on stderr and returns 2 (for usage errors found after parsing). */
int dm_usage_error(const dm_cmd_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
