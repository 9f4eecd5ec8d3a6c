#include "cli/args.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
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

/* No leading space or sign games strtol/strtod would allow: a digit, '.', or one sign. */
static int starts_like_number(const char *s) {
    const char *c = s + (*s == '-' || *s == '+');
    return (*c >= '0' && *c <= '9') || (*c == '.' && c[1] >= '0' && c[1] <= '9');
}

int dm_arg_parse_long(const char *s, long *out) {
    if (!s || !starts_like_number(s)) return -1;
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = x;
    return 0;
}

int dm_arg_parse_double(const char *s, double *out) {
    /* starts_like_number keeps out "nan", "inf", "infinity" and hex floats' "0x" is junk
     * for a user anyway; isfinite catches overflow to HUGE_VAL ("1e999") */
    if (!s || !starts_like_number(s) || strchr(s, 'x') || strchr(s, 'X')) return -1;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || !isfinite(x)) return -1;
    *out = x;
    return 0;
}

/* A range end as a user writes it: whole numbers in full, others shortest-ish. */
static const char *num_text(double v, char *buf, size_t n) {
    if (v == floor(v) && fabs(v) < 1e18)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%g", v);
    return buf;
}

/* The allowed range of o as text: "1..1000", "at least 0", "any finite number". */
static void range_text(const dm_opt *o, double lo, double hi, char *buf, size_t n) {
    const char *what = o->kind == DM_ARG_INT ? "an integer" : "a number";
    char a[32], b[32];
    if (lo <= -DBL_MAX && hi >= DBL_MAX)
        snprintf(buf, n, "a finite number");
    else if (hi >= DBL_MAX)
        snprintf(buf, n, "%s >= %s", what, num_text(lo, a, sizeof a));
    else if (lo <= -DBL_MAX)
        snprintf(buf, n, "%s <= %s", what, num_text(hi, b, sizeof b));
    else
        snprintf(buf, n, "%s in %s..%s", what, num_text(lo, a, sizeof a),
                 num_text(hi, b, sizeof b));
}

static int set_value(const dm_cmd_spec *s, const dm_opt *o, const char *v) {
    switch (o->kind) {
    case DM_ARG_STR:
        *(const char **)o->dst = v;
        return 0;
    case DM_ARG_INT:
    case DM_ARG_FLOAT: {
        double lo = o->min, hi = o->max;
        if (lo == 0 && hi == 0) {
            if (o->kind == DM_ARG_INT)
                hi = INT_MAX;
            else
                lo = -DBL_MAX, hi = DBL_MAX;
        }
        long xi = 0;
        double x = 0;
        int bad = o->kind == DM_ARG_INT ? dm_arg_parse_long(v, &xi) : dm_arg_parse_double(v, &x);
        if (o->kind == DM_ARG_INT) x = (double)xi;
        if (bad || x < lo || x > hi) {
            char range[96];
            range_text(o, lo, hi, range, sizeof range);
            return dm_usage_error(s, "%s must be %s, not '%s'", o->name, range, v);
        }
        if (o->kind == DM_ARG_INT)
            *(long *)o->dst = xi;
        else
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
