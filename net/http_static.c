#include "net/http_static.h"

#include <stdarg.h>

#include "lib/printf.h"
#include "lib/string.h"
#include "net/http_date.h"
#include "net/site.h"

#define INDEX_FILE "index.html"
#define ETAG_TEXT_LEN 18              /* '"' + 16 hex digits + '"' */
#define GZIP_CODING "gzip"

static const char text_plain[] = "text/plain";
static const char moved_text[] = "301 Moved Permanently\n";
static const char precondition_text[] = "412 Precondition Failed\n";
static const char too_long_text[] = "414 URI Too Long\n";
static const char range_text[] = "416 Range Not Satisfiable\n";

static struct http_static_stats stats;

const struct http_static_stats *http_static_stats(void)
{
    return &stats;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- the path ---- */

enum decoded { DECODED, NOT_ORIGIN_FORM, REFUSED };

/* The request's path (the parser dropped the query), percent-decoded
 * (RFC 3986, 2.1) and made canonical in out: segments joined by '/',
 * no leading '/', empty and "." segments dropped, a ".." segment taking the
 * one before it away (5.2.4, as nginx and Apache do, also when encoded);
 * *dir when it ends in '/', "." or "..". A bad escape, a decoded NUL or a
 * ".." with nothing left to take away refuses it: whatever the decoding, a
 * path never leaves the site's root. */
static enum decoded decode_path(const char *raw, char *out, size_t *out_len, bool *dir)
{
    if (raw[0] != '/')
        return NOT_ORIGIN_FORM; /* "*", another scheme's absolute-form: nothing of the site */
    char path[HTTP_MAX_PATH];
    size_t n = 0;
    for (size_t i = 0; raw[i]; i++) {
        char c = raw[i];
        if (c == '%') {
            int hi = hex_digit(raw[i + 1]), lo = hi < 0 ? -1 : hex_digit(raw[i + 2]);
            if (lo < 0)
                return REFUSED;
            c = (char)(hi << 4 | lo);
            if (c == '\0')
                return REFUSED;
            i += 2;
        }
        path[n++] = c; /* never more than the raw path's own bytes */
    }
    *dir = path[n - 1] == '/';
    size_t len = 0;
    for (size_t start = 0; start < n;) {
        size_t end = start;
        while (end < n && path[end] != '/')
            end++;
        size_t seg = end - start;
        bool dot = seg == 1 && path[start] == '.';
        bool dotdot = seg == 2 && path[start] == '.' && path[start + 1] == '.';
        if (dotdot) {
            if (len == 0)
                return REFUSED; /* above the root */
            while (len && out[len - 1] != '/')
                len--;
            if (len)
                len--; /* the '/' before the segment taken away */
        } else if (seg && !dot) {
            if (len)
                out[len++] = '/';
            memcpy(out + len, path + start, seg);
            len += seg;
        }
        if (end == n && (dot || dotdot))
            *dir = true; /* "/docs/." and "/docs/x/.." name the directory */
        start = end + 1;
    }
    *out_len = len;
    return DECODED;
}

/* ---- header values ---- */

/* The next element of a comma-separated list (RFC 9110, 5.6.1) in s[*pos..n),
 * without surrounding whitespace; false at the end. */
static bool next_element(const char *s, size_t n, size_t *pos, const char **elem, size_t *len)
{
    size_t i = *pos;
    while (i < n && (is_space(s[i]) || s[i] == ','))
        i++;
    if (i >= n)
        return false;
    size_t start = i;
    bool quoted = false;
    while (i < n && (quoted || s[i] != ',')) {
        if (s[i] == '"')
            quoted = !quoted;
        i++;
    }
    size_t end = i;
    while (end > start && is_space(s[end - 1]))
        end--;
    *elem = s + start;
    *len = end - start;
    *pos = i;
    return true;
}

/* An entity-tag (RFC 9110, 8.8.3): [W/] DQUOTE etagc* DQUOTE. */
static bool parse_etag(const char *s, size_t n, bool *weak, const char **opaque, size_t *opaque_len)
{
    *weak = n >= 2 && s[0] == 'W' && s[1] == '/';
    if (*weak) {
        s += 2;
        n -= 2;
    }
    if (n < 2 || s[0] != '"' || s[n - 1] != '"')
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (s[i] == '"' || (unsigned char)s[i] < 0x21 || s[i] == 0x7f)
            return false;
    *opaque = s + 1;
    *opaque_len = n - 2;
    return true;
}

/* If-Match (strong comparison) or If-None-Match (weak) against our strong tag
 * (RFC 9110, 8.8.3.2); "*" matches any current representation. A malformed
 * list matches nothing. */
static bool etag_list_matches(const struct http_field *f, const char *etag, bool strong)
{
    if (f->len == 1 && f->value[0] == '*')
        return true;
    size_t pos = 0, len;
    const char *elem;
    while (next_element(f->value, f->len, &pos, &elem, &len)) {
        bool weak;
        const char *opaque;
        size_t opaque_len;
        if (!parse_etag(elem, len, &weak, &opaque, &opaque_len))
            return false;
        if ((!strong || !weak) && opaque_len == ETAG_TEXT_LEN - 2 && memcmp(opaque, etag + 1, opaque_len) == 0)
            return true;
    }
    return false;
}

/* A qvalue (RFC 9110, 12.4.2) in thousandths; -1 if malformed. */
static int parse_qvalue(const char *s, size_t n)
{
    if (n == 0 || (s[0] != '0' && s[0] != '1') || n > 5 || (n > 1 && s[1] != '.'))
        return -1;
    int q = (s[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

/* Accept-Encoding (RFC 9110, 12.5.3): is gzip acceptable? Its own entry
 * decides, else "*"; "gzip;q=0" refuses it. A repeated or malformed field: no. */
static bool accepts_gzip(const struct http_field *f)
{
    if (!f->present || f->repeated)
        return false;
    int gzip_q = -1, any_q = -1;
    size_t pos = 0, len;
    const char *elem;
    while (next_element(f->value, f->len, &pos, &elem, &len)) {
        size_t name = 0;
        while (name < len && elem[name] != ';' && !is_space(elem[name]))
            name++;
        int q = 1000;
        size_t i = name;
        while (i < len && is_space(elem[i]))
            i++;
        if (i < len) {
            if (elem[i++] != ';')
                return false;
            while (i < len && is_space(elem[i]))
                i++;
            if (i + 2 > len || !http_equals_ci(elem + i, 1, "q") || elem[i + 1] != '=')
                return false;
            q = parse_qvalue(elem + i + 2, len - i - 2);
            if (q < 0)
                return false;
        }
        if (http_equals_ci(elem, name, GZIP_CODING) || http_equals_ci(elem, name, "x-gzip"))
            gzip_q = q;
        else if (name == 1 && elem[0] == '*')
            any_q = q;
    }
    return gzip_q >= 0 ? gzip_q > 0 : any_q > 0;
}

static bool date_field(const struct http_field *f, uint64_t *t)
{
    return f->present && !f->repeated && http_date_parse(f->value, f->len, t);
}

/* ---- Range (RFC 9110, 14.2) ---- */

enum range_kind { RANGE_NONE, RANGE_ONE, RANGE_UNSATISFIABLE };

/* Digits to a number, saturating far above any file size; false if none or not digits. */
static bool parse_position(const char *s, size_t n, uint64_t *v)
{
    if (n == 0)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x > (UINT64_MAX - 9) / 10 ? UINT64_MAX : x * 10 + (uint64_t)(s[i] - '0');
    }
    *v = x;
    return true;
}

/* One "bytes=" range of a `size`-byte representation: first..last inclusive.
 * Anything else -- another unit, a list, bad syntax, an empty file -- is
 * RANGE_NONE: the whole representation is sent (14.2 lets a server ignore Range). */
static enum range_kind parse_range(const struct http_field *f, size_t size, size_t *first, size_t *last)
{
    if (!f->present || f->repeated || size == 0)
        return RANGE_NONE;
    const char *s = f->value;
    size_t n = f->len;
    size_t eq = 0;
    while (eq < n && s[eq] != '=')
        eq++;
    size_t unit_end = eq;
    while (unit_end > 0 && is_space(s[unit_end - 1]))
        unit_end--;
    if (eq == n || !http_equals_ci(s, unit_end, "bytes"))
        return RANGE_NONE;
    s += eq + 1;
    n -= eq + 1;
    while (n && is_space(*s))
        s++, n--;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',')
            return RANGE_NONE; /* several ranges: the whole file (200) */
    size_t dash = 0;
    while (dash < n && s[dash] != '-')
        dash++;
    if (dash == n)
        return RANGE_NONE;
    uint64_t a, b;
    if (dash == 0) { /* suffix-range: the last b bytes */
        if (!parse_position(s + 1, n - 1, &b))
            return RANGE_NONE;
        if (b == 0)
            return RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - (size_t)b;
        *last = size - 1;
        return RANGE_ONE;
    }
    if (!parse_position(s, dash, &a))
        return RANGE_NONE;
    if (dash + 1 == n) {
        b = UINT64_MAX; /* "a-": to the end */
    } else if (!parse_position(s + dash + 1, n - dash - 1, &b) || b < a) {
        return RANGE_NONE; /* invalid: ignored (14.1.1) */
    }
    if (a >= size)
        return RANGE_UNSATISFIABLE;
    *first = (size_t)a;
    *last = b >= size ? size - 1 : (size_t)b;
    return RANGE_ONE;
}

/* If-Range (13.1.5): true when the Range may be honoured -- a strong tag
 * equal to ours, or exactly our Last-Modified date. */
static bool if_range_holds(const struct http_field *f, const char *etag, uint64_t mtime)
{
    if (!f->present)
        return true;
    if (f->repeated)
        return false;
    bool weak;
    const char *opaque;
    size_t opaque_len;
    if (f->len && (f->value[0] == '"' || f->value[0] == 'W'))
        return parse_etag(f->value, f->len, &weak, &opaque, &opaque_len) && !weak &&
               opaque_len == ETAG_TEXT_LEN - 2 && memcmp(opaque, etag + 1, opaque_len) == 0;
    uint64_t t;
    return date_field(f, &t) && t == mtime;
}

/* ---- the reply ---- */

__attribute__((format(printf, 2, 3))) static bool add_header(struct http_static_reply *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof(r->headers) - r->headers_len;
    int n = vsnprintf(r->headers + r->headers_len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        return false;
    r->headers_len += (size_t)n;
    return true;
}

static void fixed(struct http_static_reply *r, int status, const char *text, size_t len)
{
    r->status = status;
    r->content_type = text_plain;
    r->has_length = true;
    r->body = (const uint8_t *)text;
    r->body_len = len;
}

/* What a path segment may hold as it is (RFC 3986, 3.3: pchar, unreserved
 * and sub-delims), and the separator; everything else is escaped, so the
 * Location is never longer than the path that asked for it, plus the '/'. */
static bool needs_no_escape(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~!$&'()*+,;=:@/", c) != NULL);
}

/* 301 to "/path/": the canonical path, percent-encoded again, and the
 * query as it came, if any (nginx keeps it too: a page's script may read it). */
static void redirect_to_dir(struct http_static_reply *r, const char *path, size_t len, const struct http_field *query)
{
    static const char hex[] = "0123456789ABCDEF";
    char location[HTTP_STATIC_LOCATION_MAX];
    size_t n = 0;
    location[n++] = '/';
    size_t i = 0;
    for (; i < len && n + 4 < sizeof(location); i++) {
        unsigned char c = (unsigned char)path[i];
        if (needs_no_escape(c)) {
            location[n++] = (char)c;
        } else {
            location[n++] = '%';
            location[n++] = hex[c >> 4];
            location[n++] = hex[c & 15];
        }
    }
    if (i < len || n + 2 + query->len >= sizeof(location) ||
        !add_header(r, "Location: %.*s/%s%.*s\r\n", (int)n, location, query->len ? "?" : "", (int)query->len,
                    query->value)) {
        r->headers_len = 0;
        fixed(r, 414, too_long_text, sizeof(too_long_text) - 1);
        return;
    }
    fixed(r, 301, moved_text, sizeof(moved_text) - 1);
    stats.redirects++;
}

static void serve_file(const struct http_request *req, const struct site_file *f, uint64_t now,
                       struct http_static_reply *r)
{
    const struct site_file *rep = f->gzip && accepts_gzip(&req->accept_encoding) ? f->gzip : f;
    /* With a clock, a modification time in the future is sent as now (RFC 9110, 8.8.2.1). */
    uint64_t mtime = now && rep->mtime > now ? now : rep->mtime;
    char etag[ETAG_TEXT_LEN + 1], last_modified[HTTP_DATE_LEN + 1];
    snprintf(etag, sizeof(etag), "\"%016llx\"", (unsigned long long)site_file_etag(rep));
    http_date_format(mtime, last_modified);
    /* Validators in every answer about the file; Vary wherever the choice exists (RFC 9110, 12.5.5). */
    add_header(r, "ETag: %s\r\nLast-Modified: %s\r\n%s", etag, last_modified,
               f->gzip ? "Vary: Accept-Encoding\r\n" : "");

    uint64_t t;
    /* RFC 9110, 13.2.2: If-Match, else If-Unmodified-Since; then If-None-Match, else If-Modified-Since. */
    bool failed = req->if_match.present ? !etag_list_matches(&req->if_match, etag, true)
                                        : date_field(&req->if_unmodified_since, &t) && mtime > t;
    if (failed) {
        fixed(r, 412, precondition_text, sizeof(precondition_text) - 1);
        stats.precondition_failed++;
        return;
    }
    /* An If-Modified-Since later than the clock's now is invalid (13.1.3). */
    bool not_modified = req->if_none_match.present
                            ? etag_list_matches(&req->if_none_match, etag, false)
                            : date_field(&req->if_modified_since, &t) && (!now || t <= now) && mtime <= t;
    if (not_modified) {
        r->status = 304; /* no content, so neither Content-Type nor Content-Length (15.4.5) */
        stats.not_modified++;
        return;
    }

    if (rep != f) {
        add_header(r, "Content-Encoding: gzip\r\n");
        stats.gzip++;
    }
    add_header(r, "Accept-Ranges: bytes\r\n");
    size_t first = 0, last = 0;
    /* Range is defined for GET only (14.2). */
    enum range_kind range = req->method == HTTP_GET && if_range_holds(&req->if_range, etag, mtime)
                                ? parse_range(&req->range, rep->size, &first, &last) : RANGE_NONE;
    if (range == RANGE_UNSATISFIABLE) {
        add_header(r, "Content-Range: bytes */%zu\r\n", rep->size);
        fixed(r, 416, range_text, sizeof(range_text) - 1);
        stats.range_not_satisfiable++;
        return;
    }
    r->content_type = f->content_type;
    r->has_length = true;
    if (range == RANGE_ONE) {
        add_header(r, "Content-Range: bytes %zu-%zu/%zu\r\n", first, last, rep->size);
        r->status = 206;
        r->body = rep->data + first;
        r->body_len = last - first + 1;
        stats.partial++;
    } else {
        r->status = 200;
        r->body = rep->data;
        r->body_len = rep->size;
        stats.ok++;
    }
}

bool http_static_answer(const struct http_request *req, uint64_t now, struct http_static_reply *r)
{
    if (!site_stats()->served)
        return false;
    char path[HTTP_MAX_PATH + sizeof("/" INDEX_FILE)];
    size_t len;
    bool dir;
    enum decoded d = decode_path(req->path, path, &len, &dir);
    if (d == REFUSED)
        stats.bad_targets++;
    if (d != DECODED)
        return false;
    *r = (struct http_static_reply){ .status = 0 };
    const struct site_file *f = NULL;
    if (len == 0 || dir) {
        if (!site_is_dir(path, len))
            return false;
        if (len)
            path[len++] = '/';
        memcpy(path + len, INDEX_FILE, sizeof(INDEX_FILE) - 1);
        f = site_find(path, len + sizeof(INDEX_FILE) - 1);
    } else if ((f = site_find(path, len)) == NULL || f->is_dir) {
        if (!site_is_dir(path, len))
            return false;
        redirect_to_dir(r, path, len, &req->query);
        return true;
    }
    if (!f || f->is_dir)
        return false;
    serve_file(req, f, now, r);
    return true;
}
