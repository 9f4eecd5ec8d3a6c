#include "io/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"

static const char *kind(const cJSON *v) {
    return cJSON_IsArray(v)    ? "an array"
           : cJSON_IsString(v) ? "a string"
           : cJSON_IsNumber(v) ? "a number"
           : cJSON_IsBool(v)   ? "a boolean"
           : cJSON_IsNull(v)   ? "null"
                               : "not an object";
}

/* first_line 0: a whole file (lines from 1, none named for a value that is no object) */
static dm_status parse_object(const char *text, size_t len, const char *where, int first_line,
                              cJSON **out, dm_error *err) {
    *out = NULL;
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!v) {
        /* cJSON reports where it stopped; count lines and columns up to there */
        size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
        int line = first_line ? first_line : 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (text[i] == '\n')
                line++, col = 1;
            else
                col++;
        }
        /* cJSON points at the byte after the last good one; show from there, one line */
        char near[24] = "";
        size_t k = 0;
        for (size_t i = off; i < len && text[i] != '\n' && text[i] != '\r' && k + 1 < sizeof near;
             i++)
            near[k++] = text[i];
        near[k] = 0;
        if (off >= len || !k)
            return dm_fail(err, "%s: invalid JSON: unexpected end at line %d, column %d", where,
                           line, col);
        return dm_fail(err, "%s: invalid JSON at line %d, column %d (near '%s')", where, line, col,
                       near);
    }
    if (!cJSON_IsObject(v)) {
        const char *k = kind(v);
        cJSON_Delete(v);
        if (!first_line)
            return dm_fail(err, "%s: a JSON object {...} was expected, found %s", where, k);
        return dm_fail(err, "%s: line %d: a JSON object {...} was expected, found %s", where,
                       first_line, k);
    }
    *out = v;
    return DM_OK;
}

dm_status dm_json_parse_object(const char *text, size_t len, const char *where, int first_line,
                               cJSON **out, dm_error *err) {
    return parse_object(text, len, where, first_line < 0 ? 0 : first_line, out, err);
}

dm_status dm_json_load_object(const char *path, cJSON **out, dm_error *err) {
    char *text;
    size_t len;
    *out = NULL;
    DM_TRY(dm_read_file(path, &text, &len, err));
    dm_status st = parse_object(text, len, path, 0, out, err);
    free(text);
    return st;
}
