/*
 * HTTP/1.x request parsing (RFC 9112): the request line and the header
 * fields this server needs, with hard limits on sizes and counts. Pure logic
 * over a byte buffer, unit-tested (and fuzzed) on the host.
 */
#ifndef NET_HTTP_PARSER_H
#define NET_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>

/* A request-target this long or longer is answered 414 (RFC 9112, 3), as
 * nginx answers a request line over its 8 KiB buffer: queries of several KiB
 * (tokens, tracking, GET forms) are served. Its path alone is kept, and 414
 * past HTTP_MAX_PATH: no file of a site is named that long. */
#define HTTP_MAX_TARGET 8192
#define HTTP_MAX_PATH 1024
#define HTTP_MAX_METHOD 16
#define HTTP_MAX_REQUEST_LINE (HTTP_MAX_METHOD + HTTP_MAX_TARGET + 16) /* method SP target SP HTTP/1.1 */
/* The request line and all header lines together: nginx allows 4 x 8 KiB
 * (large_client_header_buffers), Node.js 16 KiB; Apache 100 fields. */
#define HTTP_MAX_HEADER_BYTES 32768
#define HTTP_MAX_HEADERS 100

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

/* A header field's value (RFC 9110, 5.5), without surrounding whitespace, as
 * it stands in the parsed buffer: valid while those bytes are. */
struct http_field {
    const char *value;
    size_t len;
    bool present;
    bool repeated;           /* sent more than once: callers that need one value ignore it */
};

struct http_request {
    enum http_method method;
    char method_text[HTTP_MAX_METHOD];
    /* The request-target's path (RFC 9112, 3.2.1; the absolute-form's path,
     * "/" when it has none, 3.2.2), without the query: every page and
     * file is found by its path alone, as nginx matches locations. */
    char path[HTTP_MAX_PATH];
    struct http_field query; /* what follows the path's '?', as sent: for redirects, which keep it */
    int version_minor;       /* 0, or 1 for HTTP/1.1 and any later 1.x */
    bool keep_alive;         /* after the Connection header and the version's default */
    bool has_body;           /* Content-Length > 0 or chunked: this server reads no bodies */
    /* What static files need (RFC 9110, 12.5.3 and 13.1; 14.2 and 13.1.5). */
    struct http_field accept_encoding, if_match, if_none_match, if_modified_since, if_unmodified_since, range,
        if_range;
};

/* What http_parse_request found. */
enum http_parse_status {
    HTTP_PARSE_OK,           /* *consumed bytes form one complete request */
    HTTP_PARSE_INCOMPLETE,   /* need more bytes (within the limits) */
    HTTP_PARSE_BAD_REQUEST,  /* malformed, or a request line over its limit: answer 400 and close */
    HTTP_PARSE_BAD_VERSION,  /* a well-formed line with an HTTP major version other than 1: 505 and close */
    HTTP_PARSE_URI_TOO_LONG, /* a target of HTTP_MAX_TARGET bytes or more, or its path of HTTP_MAX_PATH: 414, close */
    HTTP_PARSE_HEADERS_TOO_LARGE, /* header fields over the byte or line limit: 431 and close (RFC 6585, 5) */
};

/* Parses one request from the start of buf. */
enum http_parse_status http_parse_request(const char *buf, size_t len, struct http_request *req, size_t *consumed);

/* True when s[0..n) equals the lower-case `token`, ignoring ASCII case (field
 * names, codings and units are case-insensitive: RFC 9110, 5.1, 8.4.1, 14.1). */
bool http_equals_ci(const char *s, size_t n, const char *token);

#endif
