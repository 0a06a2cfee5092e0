#include "net/http_parser.h"

#include <stdint.h>

#include "lib/string.h"

static bool is_token_char(char c)
{
    /* tchar (RFC 9110, 5.6.2) */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The characters of uri-host [ ":" port ] (RFC 3986, 3.2.2: a reg-name, an
 * IPv4 address or a bracketed IP literal). */
static bool is_host_char(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c && strchr("-._~%!$&'()*+,;=:[]", c) != NULL;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

bool http_equals_ci(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n && lit[i]; i++)
        if (lower(s[i]) != lit[i])
            return false;
    return i == n && lit[i] == '\0';
}

/* True if the comma-separated list s[0..n) holds `token` (case-insensitive). */
static bool list_contains(const char *s, size_t n, const char *token)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t start = i;
        while (i < n && s[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        if (end > start && http_equals_ci(s + start, end - start, token))
            return true;
    }
    return false;
}

/* The field of req that keeps the value of the header named name[0..n), or NULL. */
static struct http_field *kept_field(struct http_request *req, const char *name, size_t n)
{
    static const struct {
        const char *name;
        size_t offset;
    } kept[] = {
        { "accept-encoding", offsetof(struct http_request, accept_encoding) },
        { "if-match", offsetof(struct http_request, if_match) },
        { "if-none-match", offsetof(struct http_request, if_none_match) },
        { "if-modified-since", offsetof(struct http_request, if_modified_since) },
        { "if-unmodified-since", offsetof(struct http_request, if_unmodified_since) },
        { "range", offsetof(struct http_request, range) },
        { "if-range", offsetof(struct http_request, if_range) },
    };
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if (http_equals_ci(name, n, kept[i].name))
            return (struct http_field *)((char *)req + kept[i].offset);
    return NULL;
}

/* Line ends (RFC 9112, 2.2): a line ends at LF, and a CR just before it is
 * not part of the line. A recipient MAY take a lone LF as the end, as nginx
 * does: a request typed into `nc` or written with printf ends its lines so.
 * Any other CR stays in the line, where the parsers below refuse it (a bare
 * CR is invalid). Returns the length of the line at s[0..n) and sets *next
 * to what follows its LF; without an LF returns n and sets *next to NULL. */
static size_t line_length(const char *s, size_t n, const char **next)
{
    size_t len = 0;
    while (len < n && s[len] != '\n')
        len++;
    if (len == n) {
        *next = NULL;
        return n;
    }
    *next = s + len + 1;
    return len && s[len - 1] == '\r' ? len - 1 : len;
}

/* The length of the header lines at buf[0..len), after a request line: up
 * to and including the empty line that ends them, or 0 when there is none
 * yet. */
static size_t header_block_length(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len, *next;
    while (p < end) {
        size_t n = line_length(p, (size_t)(end - p), &next);
        if (!next)
            return 0;
        if (n == 0)
            return (size_t)(next - buf);
        p = next;
    }
    return 0;
}

/* The path of target[0..n) (maybe not all of it yet): where it starts and
 * how long it is. The absolute-form's scheme and authority are not part of
 * it (RFC 9112, 3.2.2: a server MUST accept that form), nor is the query. */
static size_t path_span(const char *target, size_t n, size_t *start)
{
    size_t s = 0;
    if (n >= 7 && http_equals_ci(target, 7, "http://"))
        s = 7;
    else if (n >= 8 && http_equals_ci(target, 8, "https://"))
        s = 8;
    if (s)
        while (s < n && target[s] != '/' && target[s] != '?')
            s++;
    size_t e = s;
    while (e < n && target[e] != '?')
        e++;
    *start = s;
    return e - s;
}

/* 414 for a target, or its path, at its limit (RFC 9112, 3: a server MUST
 * answer 414 then); target[0..n) may be only its start. */
static bool target_too_long(const char *target, size_t n)
{
    size_t start;
    return n >= HTTP_MAX_TARGET || path_span(target, n, &start) >= HTTP_MAX_PATH;
}

/* The limits of a request line, line[0..n), whole or only its start: 414
 * once its target is certainly too long, 400 once the line is over its
 * limit, else HTTP_PARSE_INCOMPLETE (nothing over a limit yet). */
static enum http_parse_status line_limits_status(const char *line, size_t n)
{
    size_t i = 0;
    while (i < n && is_token_char(line[i]))
        i++;
    if (i > 0 && i < n && line[i] == ' ') {
        size_t t = ++i;
        while (i < n && line[i] != ' ' && line[i] != '\r')
            i++;
        if (target_too_long(line + t, i - t))
            return HTTP_PARSE_URI_TOO_LONG;
    }
    return n > HTTP_MAX_REQUEST_LINE ? HTTP_PARSE_BAD_REQUEST : HTTP_PARSE_INCOMPLETE;
}

static enum http_parse_status parse_request_line(const char *line, size_t n, struct http_request *req)
{
    size_t i = 0;
    while (i < n && is_token_char(line[i]))
        i++;
    if (i == 0 || i >= HTTP_MAX_METHOD || i >= n || line[i] != ' ')
        return HTTP_PARSE_BAD_REQUEST;
    memcpy(req->method_text, line, i);
    req->method_text[i] = '\0';
    req->method = strcmp(req->method_text, "GET") == 0 ? HTTP_GET
                  : strcmp(req->method_text, "HEAD") == 0 ? HTTP_HEAD : HTTP_OTHER;
    size_t t = ++i;
    while (i < n && line[i] != ' ') {
        if ((unsigned char)line[i] <= 0x20 || (unsigned char)line[i] >= 0x7F)
            return HTTP_PARSE_BAD_REQUEST; /* no controls, spaces or non-ASCII in the target */
        i++;
    }
    if (target_too_long(line + t, i - t))
        return HTTP_PARSE_URI_TOO_LONG;
    if (i == t || i >= n)
        return HTTP_PARSE_BAD_REQUEST;
    size_t start, plen = path_span(line + t, i - t, &start);
    if (!start && plen == 0)
        return HTTP_PARSE_BAD_REQUEST; /* "?q": no form of target (RFC 9112, 3.2) */
    size_t q = t + start + plen;
    if (q < i) { /* path_span stopped at the '?' */
        req->query.value = line + q + 1;
        req->query.len = i - q - 1;
        req->query.present = true;
    }
    if (plen == 0) {
        req->path[0] = '/'; /* "http://host" and "http://host?q": the root */
        plen = 1;
    } else {
        memcpy(req->path, line + t + start, plen);
    }
    req->path[plen] = '\0';
    const char *version = line + i + 1;
    size_t vlen = n - i - 1;
    if (vlen != 8 || memcmp(version, "HTTP/", 5) != 0 || version[5] < '0' || version[5] > '9' || version[6] != '.' ||
        version[7] < '0' || version[7] > '9')
        return HTTP_PARSE_BAD_REQUEST;
    if (version[5] != '1')
        return HTTP_PARSE_BAD_VERSION;
    /* A later 1.x is taken as 1.1, the highest this server implements
     * (RFC 9110, 2.5); the response says HTTP/1.1. */
    req->version_minor = version[7] == '0' ? 0 : 1;
    return HTTP_PARSE_OK;
}

enum http_parse_status http_parse_request(const char *buf, size_t len, struct http_request *req, size_t *consumed)
{
    memset(req, 0, sizeof(*req));
    /* Empty lines before the request line are skipped (RFC 9112, 2.2: a
     * client may send one after a body). They count against the limit. */
    size_t skip = 0;
    const char *next;
    while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n') && line_length(buf + skip, len - skip, &next) == 0 &&
           next)
        skip = (size_t)(next - buf);
    /* The request line, then the header lines up to the empty one, all
     * within the limit. */
    size_t limit = len < HTTP_MAX_HEADER_BYTES ? len : HTTP_MAX_HEADER_BYTES;
    size_t line_len = line_length(buf + skip, len - skip, &next);
    size_t block = 0;
    if (next && next < buf + limit) {
        size_t rest = header_block_length(next, (size_t)(buf + limit - next));
        block = rest ? (size_t)(next - (buf + skip)) + rest : 0;
    }
    if (block == 0) {
        /* Still incomplete: fail as soon as a limit is certainly exceeded. */
        enum http_parse_status s = line_limits_status(buf + skip, line_len);
        if (s != HTTP_PARSE_INCOMPLETE)
            return s;
        /* A whole request line is judged now: HTTP/0.9's `GET /` is one, and
         * its client sends no empty line to end a header block. */
        if (next && (s = parse_request_line(buf + skip, line_len, req)) != HTTP_PARSE_OK)
            return s;
        if (len >= HTTP_MAX_HEADER_BYTES)
            return next ? HTTP_PARSE_HEADERS_TOO_LARGE : HTTP_PARSE_BAD_REQUEST;
        return HTTP_PARSE_INCOMPLETE;
    }
    buf += skip;
    if (line_len > HTTP_MAX_REQUEST_LINE)
        return line_limits_status(buf, line_len);
    enum http_parse_status s = parse_request_line(buf, line_len, req);
    if (s != HTTP_PARSE_OK)
        return s;

    bool conn_close = false, conn_keep_alive = false;
    uint64_t content_length = 0;
    int content_lengths = 0;
    int headers = 0, hosts = 0;
    for (const char *line = next;; line = next) {
        size_t n = line_length(line, block - (size_t)(line - buf), &next);
        if (n == 0)
            break; /* the empty line that ends the block */
        if (++headers > HTTP_MAX_HEADERS)
            return HTTP_PARSE_HEADERS_TOO_LARGE;
        if (line[0] == ' ' || line[0] == '\t')
            return HTTP_PARSE_BAD_REQUEST; /* obsolete line folding (RFC 9112, 5.2) */
        size_t colon = 0;
        while (colon < n && is_token_char(line[colon]))
            colon++;
        if (colon == 0 || colon >= n || line[colon] != ':')
            return HTTP_PARSE_BAD_REQUEST;
        size_t v = colon + 1;
        while (v < n && (line[v] == ' ' || line[v] == '\t'))
            v++;
        for (size_t k = v; k < n; k++)
            if (line[k] == '\0' || line[k] == '\r' || line[k] == '\n')
                return HTTP_PARSE_BAD_REQUEST;
        const char *value = line + v;
        size_t vlen = n - v;
        while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
            vlen--;
        struct http_field *field = kept_field(req, line, colon);
        if (field) {
            field->repeated = field->present;
            field->present = true;
            field->value = value;
            field->len = vlen;
        }
        if (http_equals_ci(line, colon, "connection")) {
            conn_close |= list_contains(value, vlen, "close");
            conn_keep_alive |= list_contains(value, vlen, "keep-alive");
        } else if (http_equals_ci(line, colon, "content-length")) {
            uint64_t length = 0;
            if (vlen == 0)
                return HTTP_PARSE_BAD_REQUEST;
            for (size_t k = 0; k < vlen; k++) {
                if (value[k] < '0' || value[k] > '9' || length > (UINT64_MAX - 9) / 10)
                    return HTTP_PARSE_BAD_REQUEST;
                length = length * 10 + (uint64_t)(value[k] - '0');
            }
            /* Two lengths that differ frame the message two ways (RFC 9112, 6.3). */
            if (content_lengths++ && length != content_length)
                return HTTP_PARSE_BAD_REQUEST;
            content_length = length;
            req->has_body |= length > 0;
        } else if (http_equals_ci(line, colon, "transfer-encoding")) {
            req->has_body = true;
        } else if (http_equals_ci(line, colon, "host")) {
            hosts++;
            for (size_t k = 0; k < vlen; k++)
                if (!is_host_char(value[k]))
                    return HTTP_PARSE_BAD_REQUEST;
        }
    }
    /* RFC 9112, 3.2: an HTTP/1.1 request without Host, or any with two, or
     * with one that is not a host, is a 400 (as nginx answers). */
    if (hosts > 1 || (req->version_minor == 1 && !hosts))
        return HTTP_PARSE_BAD_REQUEST;
    req->keep_alive = req->version_minor == 1 ? !conn_close : (conn_keep_alive && !conn_close);
    *consumed = skip + block;
    return HTTP_PARSE_OK;
}
