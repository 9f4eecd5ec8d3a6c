/* diffumask report: one self-contained HTML page about a dataset (see report.h). */
#include "dataset/show/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/format/dataset.h"
#include "dataset/format/ds_internal.h"
#include "dataset/show/viz.h"
#include "io/file.h"
#include "io/image.h"

#define HIST_BINS 10

/* ------------------------------------------------------------ a growing text buffer */

typedef struct {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void sb_grow(sbuf *b, size_t more) {
    if (b->oom || b->n + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->n + more + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = true;
        return;
    }
    b->s = s;
    b->cap = cap;
}

static void sb_put(sbuf *b, const char *t, size_t n) {
    sb_grow(b, n);
    if (b->oom) return;
    memcpy(b->s + b->n, t, n);
    b->n += n;
    b->s[b->n] = 0;
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    sb_grow(b, (size_t)n);
    if (b->oom) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

/* A string literal, its length known at compile time. */
#define SB_LIT(b, lit) sb_put((b), lit, sizeof lit - 1)

/* Text into HTML (element content and quoted attribute values alike). */
static void sb_html(sbuf *b, const char *t) {
    for (; t && *t; t++) {
        switch (*t) {
        case '&':
            SB_LIT(b, "&amp;");
            break;
        case '<':
            SB_LIT(b, "&lt;");
            break;
        case '>':
            SB_LIT(b, "&gt;");
            break;
        case '"':
            SB_LIT(b, "&quot;");
            break;
        case '\'':
            SB_LIT(b, "&#39;");
            break;
        default:
            sb_put(b, t, 1);
        }
    }
}

static void sb_base64(sbuf *b, const uint8_t *p, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    sb_grow(b, (n + 2) / 3 * 4);
    for (size_t i = 0; i < n && !b->oom; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {A[v >> 18 & 63], A[v >> 12 & 63], i + 1 < n ? A[v >> 6 & 63] : '=',
                     i + 2 < n ? A[v & 63] : '='};
        sb_put(b, q, 4);
    }
}

/* ------------------------------------------------------------ pictures */

/* Box-filter downscale so the longer side is at most max_side (never enlarged). */
static uint8_t *shrink(const uint8_t *rgb, int w, int h, int max_side, int *tw, int *th) {
    int f = 1;
    while ((w + f - 1) / f > max_side || (h + f - 1) / f > max_side) f++;
    *tw = (w + f - 1) / f;
    *th = (h + f - 1) / f;
    uint8_t *out = malloc((size_t)*tw * *th * 3);
    if (!out) return NULL;
    for (int y = 0; y < *th; y++)
        for (int x = 0; x < *tw; x++)
            for (int k = 0; k < 3; k++) {
                int sum = 0, cnt = 0;
                for (int yy = y * f; yy < (y + 1) * f && yy < h; yy++)
                    for (int xx = x * f; xx < (x + 1) * f && xx < w; xx++, cnt++)
                        sum += rgb[((size_t)yy * w + xx) * 3 + k];
                out[((size_t)y * *tw + x) * 3 + k] = (uint8_t)((sum + cnt / 2) / cnt);
            }
    return out;
}

static dm_status img_tag(sbuf *b, const uint8_t *rgb, int w, int h, int thumb, const char *alt,
                         dm_error *err) {
    int tw, th;
    uint8_t *small = shrink(rgb, w, h, thumb, &tw, &th), *jpg = NULL;
    size_t len = 0;
    if (!small) return dm_fail(err, "report: out of memory");
    dm_status st = dm_jpeg_encode_rgb(small, tw, th, 90, &jpg, &len, err);
    free(small);
    DM_TRY(st);
    sb_printf(b, "<img width=\"%d\" height=\"%d\" alt=\"", tw, th);
    sb_html(b, alt);
    SB_LIT(b, "\" src=\"data:image/jpeg;base64,");
    sb_base64(b, jpg, len);
    SB_LIT(b, "\">");
    free(jpg);
    return DM_OK;
}

/* ------------------------------------------------------------ the page */

typedef struct {
    const char *dir;
    char **labels;
    int n_labels;
    uint8_t pal[256 * 3];
    long samples[256]; /* per class id: samples whose mask has it */
    long pixels[256];  /* per class id: pixels */
    long hist[HIST_BINS];
    int thumb, max_cards;
} report_ctx;

static const char *jstr(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* One sample: counts it (when count is set) and, when card is set, writes its card. */
static dm_status sample(report_ctx *r, sbuf *b, const char *dir, const cJSON *j, bool count,
                        bool card, dm_error *err) {
    char ip[4096], mp[4096];
    snprintf(ip, sizeof ip, "%s/%s", dir, jstr(j, "image"));
    snprintf(mp, sizeof mp, "%s/%s", dir, jstr(j, "mask"));
    uint8_t *mask = NULL, *rgb = NULL, *ovl = NULL;
    int w, h, iw, ih;
    DM_TRY(dm_png_read(mp, 1, &mask, &w, &h, err));
    long hist[256] = {0}; /* pixels per class id of this mask */
    for (size_t i = 0; i < (size_t)w * h; i++) hist[mask[i]]++;
    if (count) {
        for (int c = 0; c < 256; c++) r->pixels[c] += hist[c], r->samples[c] += hist[c] > 0;
        double s = dm_manifest_score(j, -1);
        if (s >= 0) r->hist[s >= 1 ? HIST_BINS - 1 : (int)(s * HIST_BINS)]++;
    }
    dm_status st = DM_OK;
    if (card) {
        st = dm_image_read(ip, 3, &rgb, &iw, &ih, err);
        if (st == DM_OK && (iw != w || ih != h))
            st = dm_fail(err, "%s: %dx%d, but the mask is %dx%d", ip, iw, ih, w, h);
        if (st == DM_OK && !(ovl = malloc((size_t)w * h * 3)))
            st = dm_fail(err, "report: out of memory");
        if (st == DM_OK) {
            dm_viz_overlay(rgb, mask, w, h, r->pal, ovl);
            const char *name = jstr(j, "name");
            double s = dm_manifest_score(j, -1);
            SB_LIT(b, "<figure class=\"card\" data-name=\"");
            sb_html(b, name);
            sb_printf(b, "\" data-score=\"%.4f\">", s);
            st = img_tag(b, rgb, w, h, r->thumb, "image", err);
            if (st == DM_OK) st = img_tag(b, ovl, w, h, r->thumb, "mask overlay", err);
            SB_LIT(b, "<figcaption><b>");
            sb_html(b, name);
            sb_printf(b, "</b> <span class=\"score\">score %.3f</span><br>", s);
            for (int c = 1; c < 255 && c < r->n_labels; c++)
                if (hist[c]) {
                    sb_printf(b, "<span class=\"sw\" style=\"background:#%02x%02x%02x\"></span>",
                              r->pal[3 * c], r->pal[3 * c + 1], r->pal[3 * c + 2]);
                    sb_html(b, r->labels[c]);
                    SB_LIT(b, " ");
                }
            SB_LIT(b, "<br><q>");
            sb_html(b, jstr(j, "prompt"));
            SB_LIT(b, "</q></figcaption></figure>\n");
        }
    }
    free(mask);
    free(rgb);
    free(ovl);
    return st;
}

static const char STYLE[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;background:#fafafa;color:#222}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}"
    "table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;"
    "text-align:right}td.name,th.name{text-align:left}"
    ".sw{display:inline-block;width:.9em;height:.9em;border:1px solid #555;margin-right:3px;"
    "vertical-align:-2px}"
    "#grid,#pruned-grid{display:flex;flex-wrap:wrap;gap:10px}"
    ".card{margin:0;background:#fff;border:1px solid #ccc;padding:6px;width:280px}"
    ".card img{width:134px;height:auto;image-rendering:pixelated;margin-right:4px}"
    ".card figcaption{font-size:12px;overflow-wrap:anywhere}.score{color:#666}"
    "svg text{font:11px sans-serif}";

/* Sorting the grid; errors of the page end up in body[data-errors] (the browser test reads
 * it besides the console). */
static const char ERRORS_JS[] =
    "window.addEventListener('error',function(e){var b=document.body||document.documentElement;"
    "b.setAttribute('data-errors',(b.getAttribute('data-errors')||'')+"
    "(e.message||('failed to load '+(e.target&&e.target.tagName)))+';');},true);";
static const char SORT_JS[] =
    "(function(){var grid=document.getElementById('grid'),sel=document.getElementById('sort');"
    "function key(c,k){return k==='name'?c.getAttribute('data-name'):"
    "parseFloat(c.getAttribute('data-score'));}"
    "function sortBy(k){var dir=k==='score-desc'?-1:1,f=k==='name'?'name':'score';"
    "var cards=Array.prototype.slice.call(grid.querySelectorAll('.card'));"
    "cards.sort(function(a,b){var x=key(a,f),y=key(b,f);"
    "return x<y?-dir:x>y?dir:0;});"
    "cards.forEach(function(c){grid.appendChild(c);});sel.value=k;"
    "grid.setAttribute('data-sorted',k);}"
    "sel.addEventListener('change',function(){sortBy(sel.value);});"
    "var m=/sort=(name|score-asc|score-desc)/.exec(location.hash);"
    "sortBy(m?m[1]:'name');})();";

static void histogram_svg(sbuf *b, const long *hist) {
    long top = 1;
    for (int i = 0; i < HIST_BINS; i++)
        if (hist[i] > top) top = hist[i];
    int W = 36, H = 120;
    sb_printf(b, "<svg id=\"histogram\" width=\"%d\" height=\"%d\" data-counts=\"",
              HIST_BINS * W + 20, H + 40);
    for (int i = 0; i < HIST_BINS; i++) sb_printf(b, "%s%ld", i ? "," : "", hist[i]);
    SB_LIT(b, "\">");
    for (int i = 0; i < HIST_BINS; i++) {
        int bh = (int)lround((double)hist[i] / top * H);
        sb_printf(b,
                  "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#4a7ab0\">"
                  "<title>%.1f-%.1f: %ld</title></rect>"
                  "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%ld</text>"
                  "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.1f</text>",
                  10 + i * W, 15 + H - bh, W - 4, bh, i / 10.0, (i + 1) / 10.0, hist[i],
                  10 + i * W + (W - 4) / 2, 12 + H - bh, hist[i], 10 + i * W, H + 30, i / 10.0);
    }
    sb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">1.0</text></svg>",
              10 + HIST_BINS * W, H + 30);
}

dm_status dm_report_html(const char *dir, const char *out_html, int thumb, int max_cards,
                         dm_error *err) {
    if (thumb < 16 || thumb > 1024)
        return dm_fail_code(err, DM_EUSAGE, "report: thumbnail size %d (16..1024)", thumb);
    report_ctx r = {.dir = dir, .thumb = thumb, .max_cards = max_cards};
    dm_voc_palette(r.pal);
    dm_manifest m = {0}, pm = {0};
    char pruned[4096];
    snprintf(pruned, sizeof pruned, "%s/pruned", dir);
    DM_TRY(dm_read_labels(dir, &r.labels, &r.n_labels, err));
    dm_status st = dm_manifest_load(dir, &m, err);
    if (st == DM_OK && m.n == 0)
        st = dm_fail(err, "%s: no finished samples (manifest.jsonl is empty or missing)", dir);
    if (st == DM_OK && dm_dir_exists(pruned)) st = dm_manifest_load(pruned, &pm, err);
    dm_manifest_sort(&m);
    dm_manifest_sort(&pm);

    sbuf body = {0}, page = {0};
    int cards = max_cards > 0 && max_cards < m.n ? max_cards : m.n;
    for (int i = 0; i < m.n && st == DM_OK; i++)
        st = sample(&r, &body, dir, m.v[i].json, true, i < cards, err);
    sbuf pruned_html = {0};
    for (int i = 0; i < pm.n && st == DM_OK; i++)
        st = sample(&r, &pruned_html, pruned, pm.v[i].json, false, true, err);

    if (st == DM_OK) {
        SB_LIT(&page, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        /* nothing may be fetched: inline styles and scripts, images as data: URIs */
        sb_printf(&page, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
                         "'none'; img-src data:; style-src 'unsafe-inline'; script-src "
                         "'unsafe-inline'\">");
        SB_LIT(&page, "<title>diffumask report: ");
        sb_html(&page, dir);
        sb_printf(&page, "</title><style>%s</style><script>%s</script></head><body>\n", STYLE,
                  ERRORS_JS);
        SB_LIT(&page, "<h1>diffumask dataset <code>");
        sb_html(&page, dir);
        sb_printf(&page,
                  "</code></h1>\n<p id=\"summary\"><b id=\"n-samples\">%d</b> samples, "
                  "<b id=\"n-classes\">%d</b> classes, <b id=\"n-pruned\">%d</b> pruned",
                  m.n, r.n_labels - 1, pm.n);
        if (cards < m.n) sb_printf(&page, "; the grid shows the first %d by name", cards);
        SB_LIT(&page, ".</p>\n");

        SB_LIT(&page, "<h2>Classes</h2>\n<table id=\"classes\"><tr><th>id</th>"
                      "<th class=\"name\">class</th><th>samples</th><th>pixels</th>"
                      "<th>share of pixels</th></tr>\n");
        long total = 0;
        for (int c = 0; c < 256; c++) total += r.pixels[c];
        for (int c = 0; c < r.n_labels && c < 255; c++) {
            sb_printf(&page, "<tr data-id=\"%d\" data-class=\"", c);
            sb_html(&page, r.labels[c]);
            sb_printf(&page,
                      "\" data-samples=\"%ld\" data-pixels=\"%ld\"><td>%d</td><td "
                      "class=\"name\"><span class=\"sw\" style=\"background:#%02x%02x%02x\">"
                      "</span>",
                      r.samples[c], r.pixels[c], c, r.pal[3 * c], r.pal[3 * c + 1],
                      r.pal[3 * c + 2]);
            sb_html(&page, r.labels[c]);
            sb_printf(&page, "</td><td>%ld</td><td>%ld</td><td>%.2f%%</td></tr>\n", r.samples[c],
                      r.pixels[c], total ? 100.0 * r.pixels[c] / total : 0.0);
        }
        sb_printf(&page,
                  "<tr data-id=\"255\" data-class=\"ignore\" data-samples=\"%ld\" "
                  "data-pixels=\"%ld\"><td>255</td><td class=\"name\"><span class=\"sw\" "
                  "style=\"background:#%02x%02x%02x\"></span>ignore</td><td>%ld</td><td>%ld</td>"
                  "<td>%.2f%%</td></tr>\n</table>\n",
                  r.samples[255], r.pixels[255], r.pal[765], r.pal[766], r.pal[767], r.samples[255],
                  r.pixels[255], total ? 100.0 * r.pixels[255] / total : 0.0);

        SB_LIT(&page, "<h2>Quality scores</h2>\n");
        histogram_svg(&page, r.hist);

        SB_LIT(&page, "\n<h2>Samples</h2>\n<p>image | mask overlay (class colours, white "
                      "boundaries). Sort by <select id=\"sort\"><option value=\"name\">name"
                      "</option><option value=\"score-asc\">score, worst first</option><option "
                      "value=\"score-desc\">score, best first</option></select></p>\n"
                      "<div id=\"grid\">\n");
        sb_put(&page, body.s ? body.s : "", body.n);
        sb_printf(&page, "</div>\n<h2>Pruned samples (%d)</h2>\n", pm.n);
        if (pm.n == 0) SB_LIT(&page, "<p id=\"pruned-none\">none</p>\n");
        SB_LIT(&page, "<div id=\"pruned-grid\">\n");
        sb_put(&page, pruned_html.s ? pruned_html.s : "", pruned_html.n);
        sb_printf(&page, "</div>\n<script>%s</script>\n</body></html>\n", SORT_JS);
        if (page.oom || body.oom || pruned_html.oom)
            st = dm_fail(err, "%s: out of memory building the page", out_html);
        else
            st = dm_write_file_atomic(out_html, page.s, page.n, err);
    }
    free(body.s);
    free(pruned_html.s);
    free(page.s);
    dm_manifest_free(&m);
    dm_manifest_free(&pm);
    dm_free_lines(r.labels, r.n_labels);
    return st;
}
