#include "cli/args.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_help(const dm_cmd_spec *s) {
    printf("usage: %s %s\n\n%s\n\noptions:\n", s->command, s->usage, s->about ? s->about : "");
    for (int i = 0; i < s->n_opts; i++) {
        const dm_opt *o = &s->opts[i];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        printf("  %-26s %s\n", left, o->help);
    }
    printf("  %-26s %s\n", "--help", "show this help");
}

int dm_usage_error(const dm_cmd_spec *spec, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", spec->command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see %s --help)\n", spec->command);
    va_end(ap);
    return 2;
}

static int set_value(const dm_cmd_spec *s, const dm_opt *o, const char *v) {
    char *end;
    switch (o->kind) {
    case DM_ARG_STR:
        *(const char **)o->dst = v;
        return 0;
    case DM_ARG_INT: {
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end)
            return dm_usage_error(s, "%s expects an integer, got '%s'", o->name, v);
        *(long *)o->dst = x;
        return 0;
    }
    case DM_ARG_FLOAT: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end)
            return dm_usage_error(s, "%s expects a number, got '%s'", o->name, v);
        *(double *)o->dst = x;
        return 0;
    }
    case DM_ARG_MULTI: {
        dm_arg_list *l = o->dst;
        if (l->n >= DM_ARG_LIST_MAX) return dm_usage_error(s, "too many %s options", o->name);
        l->v[l->n++] = v;
        return 0;
    }
    case DM_ARG_FLAG:
        *(int *)o->dst = 1;
        return 0;
    }
    return 2;
}

int dm_parse_args(const dm_cmd_spec *s, int argc, char **argv, const char **pos, int *n_pos) {
    *n_pos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
            print_help(s);
            return -1;
        }
        if (!only_pos && a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            const dm_opt *o = NULL;
            for (int k = 0; k < s->n_opts; k++)
                if (strlen(s->opts[k].name) == len && !strncmp(s->opts[k].name, a, len))
                    o = &s->opts[k];
            if (!o) return dm_usage_error(s, "unknown option '%.*s'", (int)len, a);
            if (o->kind == DM_ARG_FLAG) {
                if (eq) return dm_usage_error(s, "%s takes no value", o->name);
                set_value(s, o, NULL);
                continue;
            }
            const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!v) return dm_usage_error(s, "%s needs a value", o->name);
            int r = set_value(s, o, v);
            if (r) return r;
            continue;
        }
        if (*n_pos >= s->max_pos) return dm_usage_error(s, "unexpected argument '%s'", a);
        pos[(*n_pos)++] = a;
    }
    if (*n_pos < s->min_pos)
        return dm_usage_error(s, "missing argument (usage: %s %s)", s->command, s->usage);
    return 0;
}
