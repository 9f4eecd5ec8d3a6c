/* Parsing JSON text with errors that say where: "FILE: invalid JSON at line 3, column 14
 * (near '}')" instead of "not a JSON object". */
#ifndef DM_IO_JSON_H
#define DM_IO_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/status.h"

/* Parses text[0..len) as one JSON object into *out (free with cJSON_Delete). where names the
 * source (a file) in the error; a syntax error gives the line and column (1-based) where parsing
 * stopped, counting lines from first_line (the line of the file text starts on: N for line N of
 * a JSONL file, 0 for a whole file); a valid value that is no object says what it is (and the
 * line, for a JSONL line).
 * Fails with DM_ERR. */
dm_status dm_json_parse_object(const char *text, size_t len, const char *where, int first_line,
                               cJSON **out, dm_error *err);
/* The same for a whole file. */
dm_status dm_json_load_object(const char *path, cJSON **out, dm_error *err);

#endif
