/* A small declarative option parser shared by every subcommand.
 * Options are "--name VALUE" or "--name=VALUE"; flags take no value; anything else is
 * positional. "--help" prints the usage and the option table.
 * Numbers are parsed strictly, once, here: the whole text must be a decimal number (no
 * leading space, no trailing junk, no overflow, no nan/inf) inside the option's range, else
 * "CMD: --width must be an integer in 1..16384, not '0'" and exit status 2. */
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
    /* DM_ARG_INT / DM_ARG_FLOAT: the allowed values, both ends included. Left out (both 0):
     * integers 0..INT_MAX (they end up in an int), numbers any finite value. A table entry
     * gives them positionally after the help: {"--steps", DM_ARG_INT, &steps, "N", "...", 1,
     * 1000}. */
    double min, max;
} dm_opt;

/* The largest seed an option takes: seeds are written to config.json / manifests as JSON
 * numbers (doubles), so larger ones would not survive a resume exactly. */
#define DM_ARG_SEED_MAX 9007199254740991.0 /* 2^53 - 1 */

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
/* The strict number parsers the table uses, for options whose value is text with numbers in
 * it ("--threshold X|otsu"): 0 when s is exactly one finite decimal number, -1 otherwise. */
int dm_arg_parse_long(const char *s, long *out);
int dm_arg_parse_double(const char *s, double *out);
/* Prints "COMMAND: message" on stderr and returns 2 (for usage errors found after parsing). */
int dm_usage_error(const dm_cmd_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
