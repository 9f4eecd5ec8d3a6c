/* Hostile safetensors inputs: every malformed file must be refused with DM_ERR and a message
 * naming the file (and the tensor, where there is one) and the rule broken. Then the valid
 * corner cases: zero-size and scalar tensors, metadata, dtype conversions, writer round trip.
 * Needs no ../shared: every file is built here. */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/safetensors.h"

/* ------------------------------------------------------------------ building inputs */

typedef struct {
    uint8_t *p;
    size_t len;
} buf;

/* 8-byte little-endian header length `hlen`, then `json`, then `data_len` bytes of data
 * (byte i of the data area is (uint8_t)i, so offsets are visible in a dump). */
static buf make_raw(uint64_t hlen, const char *json, size_t data_len) {
    size_t jl = strlen(json);
    buf b = {malloc(8 + jl + data_len + 1), 8 + jl + data_len};
    for (int i = 0; i < 8; i++) b.p[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(b.p + 8, json, jl);
    for (size_t i = 0; i < data_len; i++) b.p[8 + jl + i] = (uint8_t)i;
    return b;
}

/* A well-formed frame around `json` with `data_len` bytes of data. */
static buf make_st(const char *json, size_t data_len) {
    return make_raw(strlen(json), json, data_len);
}

static void write_file(const char *path, const void *p, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(p, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* ------------------------------------------------------------------ expectations */

/* The buffer must be refused; the message must name `label` and contain every non-NULL needle. */
static void expect_refused_at(const char *file, int line, buf b, const char *label, const char *n1,
                              const char *n2, const char *n3) {
    dm_error err = {{0}};
    dm_safetensors *st = (dm_safetensors *)&err; /* must be reset to NULL */
    dm_status s = dm_st_open_buffer(b.p, b.len, label, &st, &err);
    CHECKF(s == DM_ERR, "%s:%d: %s: status %d, want DM_ERR", file, line, label, (int)s);
    CHECKF(st == NULL, "%s:%d: %s: handle not NULL on failure", file, line, label);
    if (s == DM_OK && st) dm_st_close(st);
    CHECKF(strstr(err.msg, label) != NULL, "%s:%d: message lacks the file label '%s': %s", file,
           line, label, err.msg);
    const char *needles[3] = {n1, n2, n3};
    for (int i = 0; i < 3; i++)
        if (needles[i])
            CHECKF(strstr(err.msg, needles[i]) != NULL, "%s:%d: %s: message lacks '%s': %s", file,
                   line, label, needles[i], err.msg);
    free(b.p);
}
#define REFUSED(b, label, ...) expect_refused_at(__FILE__, __LINE__, b, label, __VA_ARGS__)

/* Same rules through dm_st_open on a real file. */
static void expect_file_refused_at(const char *file, int line, const char *path, const char *n1) {
    dm_error err = {{0}};
    dm_safetensors *st = (dm_safetensors *)&err;
    dm_status s = dm_st_open(path, &st, &err);
    CHECKF(s == DM_ERR, "%s:%d: %s: status %d, want DM_ERR", file, line, path, (int)s);
    CHECKF(st == NULL, "%s:%d: %s: handle not NULL on failure", file, line, path);
    if (s == DM_OK && st) dm_st_close(st);
    CHECKF(strstr(err.msg, path) != NULL, "%s:%d: message lacks the path: %s", file, line, err.msg);
    CHECKF(strstr(err.msg, n1) != NULL, "%s:%d: %s: message lacks '%s': %s", file, line, path, n1,
           err.msg);
}
#define FILE_REFUSED(path, n1) expect_file_refused_at(__FILE__, __LINE__, path, n1)

static dm_safetensors *open_ok_at(const char *file, int line, buf b, const char *label) {
    dm_error err = {{0}};
    dm_safetensors *st = NULL;
    dm_status s = dm_st_open_buffer(b.p, b.len, label, &st, &err);
    CHECKF(s == DM_OK && st, "%s:%d: %s refused: %s", file, line, label, err.msg);
    return s == DM_OK ? st : NULL;
}
#define OPEN_OK(b, label) open_ok_at(__FILE__, __LINE__, b, label)

/* ------------------------------------------------------------------ framing */

static void test_framing(const char *dir) {
    /* fewer than 8 bytes: not even a header length */
    buf b = make_raw(0, "", 0);
    b.len = 5;
    REFUSED(b, "short5.safetensors", "truncated", NULL, NULL);
    b = make_raw(0, "", 0);
    b.len = 0;
    REFUSED(b, "empty.safetensors", "truncated", NULL, NULL);

    /* header length promises more bytes than follow: header cut short */
    const char *json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    b = make_st(json, 4);
    b.len = 8 + strlen(json) / 2;
    REFUSED(b, "cut.safetensors", "header length", "exceeds the file", NULL);

    /* giant header lengths: 2^63, 2^64-1, and one byte more than the file */
    REFUSED(make_raw(UINT64_C(1) << 63, "{}", 0), "h63.safetensors", "header length",
            "9223372036854775808", "exceeds");
    REFUSED(make_raw(UINT64_MAX, "{}", 0), "hmax.safetensors", "exceeds", NULL, NULL);
    REFUSED(make_raw(3, "{}", 0), "hplus1.safetensors", "exceeds", NULL, NULL);

    /* header too short to be an object */
    REFUSED(make_raw(0, "", 0), "h0.safetensors", "not a JSON object", NULL, NULL);
    REFUSED(make_st("1", 0), "h1.safetensors", "not a JSON object", NULL, NULL);

    /* the same through files on disk */
    char path[512];
    snprintf(path, sizeof path, "%s/tiny.safetensors", dir);
    write_file(path, "abc", 3);
    FILE_REFUSED(path, "truncated");
    snprintf(path, sizeof path, "%s/zero.safetensors", dir);
    write_file(path, "", 0);
    FILE_REFUSED(path, "truncated");
    snprintf(path, sizeof path, "%s/cut.safetensors", dir);
    b = make_st(json, 4);
    write_file(path, b.p, 8 + strlen(json) - 3);
    free(b.p);
    FILE_REFUSED(path, "exceeds the file");
    snprintf(path, sizeof path, "%s/datacut.safetensors", dir);
    b = make_st(json, 4);
    write_file(path, b.p, b.len - 1); /* last data byte missing */
    free(b.p);
    FILE_REFUSED(path, "past the end");
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    FILE_REFUSED(path, "cannot open");
    FILE_REFUSED(dir, "not a regular file");

    /* a header length above the 256 MiB limit that the (sparse) file does hold */
    snprintf(path, sizeof path, "%s/bighdr.safetensors", dir);
    uint64_t big = (UINT64_C(256) << 20) + 16;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)(big >> (8 * i));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, len8, 8) == 8 && ftruncate(fd, (off_t)(8 + big + 64)) == 0);
    close(fd);
    FILE_REFUSED(path, "limit");
    unlink(path);
}

/* ------------------------------------------------------------------ header JSON */

static void test_json_shape(void) {
    REFUSED(make_st("[1,2,3]", 0), "array.safetensors", "not a JSON object", NULL, NULL);
    REFUSED(make_st("42", 0), "number.safetensors", "not a JSON object", NULL, NULL);
    REFUSED(make_st("\"str\"", 0), "string.safetensors", "not a JSON object", NULL, NULL);
    REFUSED(make_st("null", 0), "null.safetensors", "not a JSON object", NULL, NULL);
    REFUSED(make_st("{\"a\":{\"dtype\":\"F32\",", 0), "invalid.safetensors", "not valid JSON", NULL,
            NULL);
    REFUSED(make_st("{'a':1}", 0), "quotes.safetensors", "not valid JSON", NULL, NULL);
    /* NUL bytes inside the header (cJSON reads them as white space) */
    buf b = make_st("{\"a\"X:1}", 0);
    b.p[8 + 4] = 0;
    REFUSED(b, "nul.safetensors", "'a'", NULL, NULL);
    b = make_st("{\"aXb\":1}", 0);
    b.p[8 + 3] = 0;
    REFUSED(b, "nulname.safetensors", "not an object", NULL, NULL);

    /* entries that are not tensor descriptions */
    REFUSED(make_st("{\"w\":5}", 0), "entry.safetensors", "'w'", "not an object", NULL);
    REFUSED(make_st("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "nodtype.safetensors",
            "'w'", "missing dtype", NULL);
    REFUSED(make_st("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
            "numdtype.safetensors", "'w'", "missing dtype", NULL);
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "noshape.safetensors",
            "'w'", "missing shape", NULL);
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "nooffs.safetensors", "'w'",
            "data_offsets", NULL);
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8),
            "offs3.safetensors", "'w'", "data_offsets must be [begin, end]", NULL);
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"a\":0}}}", 4),
            "offsobj.safetensors", "'w'", "data_offsets", NULL);
}

static void test_dtype_and_shape(void) {
    REFUSED(make_st("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4),
            "dtype.safetensors", "'w'", "unknown dtype", "F8_E4M3");
    REFUSED(make_st("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
            "dtypecase.safetensors", "'w'", "unknown dtype", NULL);

    /* shape products that overflow 64 bits must not wrap around to a small size */
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
                    "\"data_offsets\":[0,0]}}",
                    0),
            "ovf2.safetensors", "'w'", "more than 2^64", NULL);
    /* 2^32 * 2^32 * 4 bytes wraps to exactly 0 */
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                    "\"data_offsets\":[0,0]}}",
                    0),
            "ovfzero.safetensors", "'w'", "more than 2^64", NULL);
    /* numel fits, numel * element size does not: 2^62 F32 = 2^64 bytes */
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648],"
                    "\"data_offsets\":[0,0]}}",
                    0),
            "ovfsize.safetensors", "'w'", "more than 2^64", NULL);
    /* shape vs span */
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
            "span.safetensors", "'w'", "shape needs", "span 8");
    REFUSED(make_st("{\"w\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16),
            "span16.safetensors", "'w'", "shape needs", NULL);

    /* shape entries must be non-negative integers */
    const char *bad[] = {"[-1]",    "[2.5]",  "[\"3\"]",
                         "[null]",  "[true]", "[[2]]",
                         "[1e300]", "[4,-4]", "[18014398509481984]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char json[256], label[64];
        snprintf(json, sizeof json,
                 "{\"w\":{\"dtype\":\"U8\",\"shape\":%s,\"data_offsets\":[0,0]}}", bad[i]);
        snprintf(label, sizeof label, "shape%zu.safetensors", i);
        REFUSED(make_st(json, 0), label, "'w'", "shape entry", "not a non-negative integer");
    }
    REFUSED(make_st("{\"w\":{\"dtype\":\"U8\",\"shape\":3,\"data_offsets\":[0,3]}}", 3),
            "shapenum.safetensors", "'w'", "missing shape", NULL);
    REFUSED(make_st("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                    "\"data_offsets\":[0,1]}}",
                    1),
            "rank9.safetensors", "'w'", "9 dimensions", NULL);
}

static void test_offsets(void) {
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8),
            "past.safetensors", "'w'", "past the end", NULL);
    REFUSED(
        make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1000000,1000004]}}", 8),
        "far.safetensors", "'w'", "past the end", NULL);
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],"
                    "\"data_offsets\":[9007199254740992,9007199254740992]}}",
                    0),
            "farzero.safetensors", "'w'", "past the end", NULL);
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8),
            "backwards.safetensors", "'w'", "begin <= end", NULL);
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8),
            "negoff.safetensors", "'w'", "begin <= end", NULL);
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.5,4.5]}}", 8),
            "fracoff.safetensors", "'w'", "begin <= end", NULL);
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", 8),
            "stroff.safetensors", "'w'", "begin <= end", NULL);

    /* overlapping tensors: both names in the message */
    REFUSED(make_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                    12),
            "overlap.safetensors", "overlap", "'a'", "'b'");
    REFUSED(make_st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                    8),
            "alias.safetensors", "overlap", NULL, NULL);
    /* one tensor inside another */
    REFUSED(make_st("{\"big\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},"
                    "\"in\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}}",
                    16),
            "inside.safetensors", "overlap", "'big'", "'in'");
    /* an empty tensor between two overlapping ones must not hide the overlap */
    REFUSED(make_st("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
                    "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]},"
                    "\"c\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[6,10]}}",
                    10),
            "hidden.safetensors", "overlap", "'a'", "'c'");

    /* the same name twice */
    REFUSED(make_st("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                    8),
            "dup.safetensors", "'w'", "appears twice", NULL);
}

static void test_metadata_rules(void) {
    REFUSED(make_st("{\"__metadata__\":{\"format\":\"pt\",\"steps\":50}}", 0), "meta.safetensors",
            "__metadata__", "'steps'", "not a string");
    REFUSED(make_st("{\"__metadata__\":{\"k\":null}}", 0), "metanull.safetensors", "'k'",
            "not a string", NULL);
    REFUSED(make_st("{\"__metadata__\":{\"k\":{\"nested\":\"x\"}}}", 0), "metaobj.safetensors",
            "'k'", "not a string", NULL);
    REFUSED(make_st("{\"__metadata__\":[\"a\",\"b\"]}", 0), "metaarr.safetensors", "__metadata__",
            "not an object", NULL);
    REFUSED(make_st("{\"__metadata__\":\"pt\"}", 0), "metastr.safetensors", "__metadata__",
            "not an object", NULL);
}

/* ------------------------------------------------------------------ valid corner cases */

static void test_valid_corners(void) {
    /* empty header object: zero tensors */
    buf b = make_st("{}", 0);
    dm_safetensors *st = OPEN_OK(b, "emptyobj.safetensors");
    if (st) {
        CHECK(dm_st_count(st) == 0);
        CHECK(dm_st_find(st, "x") == NULL);
        CHECK(dm_st_at(st, 0) == NULL);
        CHECK(dm_st_metadata(st, "format") == NULL);
        CHECK(strcmp(dm_st_path(st), "emptyobj.safetensors") == 0);
        dm_st_close(st);
    }
    free(b.p);

    /* zero-size tensors (also sharing offsets with others), a scalar, padding spaces */
    b = make_st("{\"__metadata__\":{\"format\":\"pt\",\"note\":\"\\u00e9t\\u00e9\"},"
                "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                "\"z3\":{\"dtype\":\"F16\",\"shape\":[2,0,3],\"data_offsets\":[8,8]},"
                "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                "\"v\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}        ",
                8);
    float one = 1.5f;
    memcpy(b.p + b.len - 8, &one, 4);
    st = OPEN_OK(b, "corners.safetensors");
    if (st) {
        CHECK(dm_st_count(st) == 4);
        const dm_st_tensor *z = dm_st_find(st, "z"), *z3 = dm_st_find(st, "z3");
        const dm_st_tensor *s = dm_st_find(st, "s"), *v = dm_st_find(st, "v");
        CHECK(z && z->ndim == 1 && z->shape[0] == 0 && z->numel == 0 && z->nbytes == 0);
        CHECK(z3 && z3->ndim == 3 && z3->numel == 0 && z3->nbytes == 0 && z3->dtype == DM_F16);
        CHECK(s && s->ndim == 0 && s->numel == 1 && s->nbytes == 4);
        float sv = 0;
        dm_error err = {{0}};
        CHECK(s && dm_st_read_f32(s, &sv, &err) == DM_OK && sv == 1.5f);
        float dummy = -7;
        CHECK(z && dm_st_read_f32(z, &dummy, &err) == DM_OK && dummy == -7);
        int64_t vv[4] = {0};
        CHECK(v && dm_st_read_i64(v, vv, &err) == DM_OK && vv[0] == 4 && vv[3] == 7);
        /* sorted by name */
        for (int i = 1; i < dm_st_count(st); i++)
            CHECK(strcmp(dm_st_at(st, i - 1)->name, dm_st_at(st, i)->name) < 0);
        CHECK(dm_st_metadata(st, "format") && strcmp(dm_st_metadata(st, "format"), "pt") == 0);
        CHECK(dm_st_metadata(st, "note") &&
              strcmp(dm_st_metadata(st, "note"), "\xc3\xa9t\xc3\xa9") == 0);
        CHECK(dm_st_metadata(st, "missing") == NULL);
        dm_st_close(st);
    }
    free(b.p);

    /* a tensor may end exactly at the end of the data; extra trailing data is allowed */
    b = make_st("{\"t\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 6);
    st = OPEN_OK(b, "tail.safetensors");
    if (st) {
        int64_t t[2];
        dm_error err = {{0}};
        CHECK(dm_st_read_i64(dm_st_find(st, "t"), t, &err) == DM_OK && t[0] == 2 && t[1] == 3);
        dm_st_close(st);
    }
    free(b.p);
}

/* F16 / BF16 / F64 -> F32 and I8..I64 / U8 / BOOL -> I64, through a real header. */
static void test_conversions(void) {
    static const uint16_t f16[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000,
                                   0x7c00, 0xfc00, 0x3555, 0x0400, 0x3e00};
    static const float f16_want[] = {1.0f,     -2.0f,     65504.0f,        0x1p-24f, -0.0f,
                                     INFINITY, -INFINITY, 0.333251953125f, 0x1p-14f, 1.5f};
    static const uint16_t bf16[] = {0x3f80, 0xc040, 0x7f80, 0x0000, 0x4049, 0x0001};
    static const float bf16_want[] = {1.0f, -3.0f, INFINITY, 0.0f, 3.140625f, 0x1p-133f};
    static const double f64[] = {0.25, -1e10, 1e-3};
    static const int64_t i64[] = {INT64_MIN, -1, 0, INT64_MAX};
    static const int32_t i32[] = {INT32_MIN, -7, 123456789};
    static const int16_t i16[] = {-32768, 32767};
    static const int8_t i8[] = {-128, 127, -1};
    static const uint8_t u8[] = {0, 200, 255};
    static const uint8_t bools[] = {1, 0};

    const char *json = "{\"f16\":{\"dtype\":\"F16\",\"shape\":[2,5],\"data_offsets\":[0,20]},"
                       "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[6],\"data_offsets\":[20,32]},"
                       "\"f64\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[32,56]},"
                       "\"i64\":{\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[56,88]},"
                       "\"i32\":{\"dtype\":\"I32\",\"shape\":[3,1],\"data_offsets\":[88,100]},"
                       "\"i16\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[100,104]},"
                       "\"i8\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[104,107]},"
                       "\"u8\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[107,110]},"
                       "\"b\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[110,112]}}";
    buf b = make_st(json, 112);
    uint8_t *d = b.p + 8 + strlen(json); /* little-endian host, like the format */
    memcpy(d + 0, f16, 20);
    memcpy(d + 20, bf16, 12);
    memcpy(d + 32, f64, 24);
    memcpy(d + 56, i64, 32);
    memcpy(d + 88, i32, 12);
    memcpy(d + 100, i16, 4);
    memcpy(d + 104, i8, 3);
    memcpy(d + 107, u8, 3);
    memcpy(d + 110, bools, 2);
    dm_safetensors *st = OPEN_OK(b, "dtypes.safetensors");
    if (!st) {
        free(b.p);
        return;
    }
    dm_error err = {{0}};
    float f[16];
    int64_t v[16];

    const dm_st_tensor *t = dm_st_find(st, "f16");
    CHECK(t && t->dtype == DM_F16 && t->numel == 10 && t->nbytes == 20);
    if (t && dm_st_read_f32(t, f, &err) == DM_OK)
        for (int i = 0; i < 10; i++)
            CHECKF(f[i] == f16_want[i] && signbit(f[i]) == signbit(f16_want[i]),
                   "f16 %#06x -> %g, want %g", f16[i], f[i], f16_want[i]);
    /* NaN stays NaN */
    CHECK(isnan(dm_f16_to_f32(0x7e00)) && isnan(dm_bf16_to_f32(0x7fc0)));

    t = dm_st_find(st, "bf16");
    CHECK(t && t->dtype == DM_BF16 && t->numel == 6);
    if (t && dm_st_read_f32(t, f, &err) == DM_OK)
        for (int i = 0; i < 6; i++)
            CHECKF(f[i] == bf16_want[i], "bf16 %#06x -> %g, want %g", bf16[i], f[i], bf16_want[i]);

    t = dm_st_find(st, "f64");
    CHECK(t && dm_st_read_f32(t, f, &err) == DM_OK && f[0] == 0.25f && f[1] == -1e10f &&
          f[2] == 1e-3f);

    t = dm_st_find(st, "i64");
    CHECK(t && dm_st_read_i64(t, v, &err) == DM_OK && v[0] == INT64_MIN && v[1] == -1 &&
          v[2] == 0 && v[3] == INT64_MAX);
    t = dm_st_find(st, "i32");
    CHECK(t && t->ndim == 2 && dm_st_read_i64(t, v, &err) == DM_OK && v[0] == INT32_MIN &&
          v[1] == -7 && v[2] == 123456789);
    t = dm_st_find(st, "i16");
    CHECK(t && dm_st_read_i64(t, v, &err) == DM_OK && v[0] == -32768 && v[1] == 32767);
    t = dm_st_find(st, "i8");
    CHECK(t && dm_st_read_i64(t, v, &err) == DM_OK && v[0] == -128 && v[1] == 127 && v[2] == -1);
    t = dm_st_find(st, "u8");
    CHECK(t && dm_st_read_i64(t, v, &err) == DM_OK && v[0] == 0 && v[1] == 200 && v[2] == 255);
    t = dm_st_find(st, "b");
    CHECK(t && t->dtype == DM_BOOL && dm_st_read_i64(t, v, &err) == DM_OK && v[0] == 1 &&
          v[1] == 0);

    /* reading with the wrong kind of type is refused and names the tensor */
    t = dm_st_find(st, "i32");
    err.msg[0] = 0;
    CHECK(t && dm_st_read_f32(t, f, &err) == DM_ERR && strstr(err.msg, "'i32'"));
    t = dm_st_find(st, "bf16");
    err.msg[0] = 0;
    CHECK(t && dm_st_read_i64(t, v, &err) == DM_ERR && strstr(err.msg, "'bf16'"));

    /* f32 -> f16 rounding: to nearest even, overflow to inf, underflow to zero */
    CHECK(dm_f32_to_f16(1.0f) == 0x3c00 && dm_f32_to_f16(-2.0f) == 0xc000);
    CHECK(dm_f32_to_f16(65504.0f) == 0x7bff && dm_f32_to_f16(1e6f) == 0x7c00);
    CHECK(dm_f32_to_f16(0x1p-24f) == 0x0001 && dm_f32_to_f16(0x1p-26f) == 0x0000);
    CHECK(dm_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00);     /* tie -> even */
    CHECK(dm_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02); /* tie -> even (up) */
    for (uint32_t h = 0; h < 0x7c00; h++) /* every finite positive half round-trips */
        if (dm_f32_to_f16(dm_f16_to_f32((uint16_t)h)) != h) {
            CHECKF(0, "f16 %#06x does not round-trip", h);
            break;
        }
    dm_st_close(st);
    free(b.p);
}

/* ------------------------------------------------------------------ writer */

static void test_writer(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/roundtrip.safetensors", dir);
    float a[6] = {0.5f, -1.0f, 3.25f, 1e-20f, -0.0f, 12345.678f};
    int64_t ids[3] = {49406, -5, INT64_MAX};
    int32_t small[2] = {-3, 70000};
    uint16_t half[3] = {0x3c00, 0x7bff, 0x8001};
    float scalar = 42.0f;
    int64_t sa[2] = {2, 3}, sids[1] = {3}, ssmall[2] = {1, 2}, shalf[1] = {3}, sz[2] = {0, 5};

    dm_error err = {{0}};
    dm_st_writer *w = dm_st_writer_new();
    CHECK(w != NULL);
    if (!w) return;
    CHECK(dm_st_writer_add_f32(w, "weight", 2, sa, a, &err) == DM_OK);
    CHECK(dm_st_writer_add(w, "ids", DM_I64, 1, sids, ids, &err) == DM_OK);
    CHECK(dm_st_writer_add(w, "small", DM_I32, 2, ssmall, small, &err) == DM_OK);
    CHECK(dm_st_writer_add(w, "half", DM_F16, 1, shalf, half, &err) == DM_OK);
    CHECK(dm_st_writer_add_f32(w, "scalar", 0, NULL, &scalar, &err) == DM_OK);
    CHECK(dm_st_writer_add_f32(w, "empty", 2, sz, NULL, &err) == DM_OK);
    CHECK(dm_st_writer_add_f32(w, "weight", 2, sa, a, &err) == DM_ERR &&
          strstr(err.msg, "'weight'"));
    dm_st_writer_meta(w, "format", "pt");
    dm_st_writer_meta(w, "prompt", "a \"quoted\" \\ prompt\n");
    dm_st_writer_meta(w, "format", "diffumask"); /* replaces */
    CHECK(dm_st_write(w, path, &err) == DM_OK);
    dm_st_writer_free(w);

    dm_safetensors *st = NULL;
    CHECKF(dm_st_open(path, &st, &err) == DM_OK, "%s", err.msg);
    if (!st) return;
    CHECK(dm_st_count(st) == 6);
    CHECK(strcmp(dm_st_path(st), path) == 0);
    const dm_st_tensor *t = dm_st_find(st, "weight");
    CHECK(t && t->dtype == DM_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
          t->nbytes == sizeof a && memcmp(t->data, a, sizeof a) == 0);
    float back[6];
    CHECK(t && dm_st_read_f32(t, back, &err) == DM_OK && memcmp(back, a, sizeof a) == 0);
    t = dm_st_find(st, "ids");
    int64_t iback[3];
    CHECK(t && t->dtype == DM_I64 && dm_st_read_i64(t, iback, &err) == DM_OK &&
          memcmp(iback, ids, sizeof ids) == 0);
    t = dm_st_find(st, "small");
    CHECK(t && t->dtype == DM_I32 && t->ndim == 2 && dm_st_read_i64(t, iback, &err) == DM_OK &&
          iback[0] == -3 && iback[1] == 70000);
    t = dm_st_find(st, "half");
    CHECK(t && t->dtype == DM_F16 && memcmp(t->data, half, sizeof half) == 0);
    t = dm_st_find(st, "scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1 && dm_st_read_f32(t, back, &err) == DM_OK &&
          back[0] == 42.0f);
    t = dm_st_find(st, "empty");
    CHECK(t && t->ndim == 2 && t->shape[1] == 5 && t->numel == 0 && t->nbytes == 0);
    CHECK(dm_st_metadata(st, "format") && strcmp(dm_st_metadata(st, "format"), "diffumask") == 0);
    CHECK(dm_st_metadata(st, "prompt") &&
          strcmp(dm_st_metadata(st, "prompt"), "a \"quoted\" \\ prompt\n") == 0);
    dm_st_close(st);

    /* no temporary file is left beside the result */
    char tmp_glob[600];
    snprintf(tmp_glob, sizeof tmp_glob, "ls -A '%s' | grep -v -x -e roundtrip.safetensors -q", dir);
    CHECK(system(tmp_glob) != 0);

    /* writing into a missing directory fails and names the path */
    snprintf(path, sizeof path, "%s/no/such/dir/x.safetensors", dir);
    w = dm_st_writer_new();
    err.msg[0] = 0;
    CHECK(dm_st_write(w, path, &err) == DM_ERR && strstr(err.msg, "x.safetensors"));
    dm_st_writer_free(w);
    snprintf(path, sizeof path, "%s/roundtrip.safetensors", dir);
    unlink(path);
}

int main(void) {
    const char *dir = check_tmpdir();
    char files[300], out[300];
    snprintf(files, sizeof files, "%s/files", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    mkdir(files, 0755);
    mkdir(out, 0755);
    test_framing(files);
    test_json_shape();
    test_dtype_and_shape();
    test_offsets();
    test_metadata_rules();
    test_valid_corners();
    test_conversions();
    test_writer(out);
    return check_finish();
}
