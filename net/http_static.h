/*
 * The site's files over HTTP/1.1 (RFC 9110, RFC 9112): what to answer a GET
 * or HEAD whose target names something of the site (net/site.h). This only
 * decides -- the status, the header lines, which bytes of the archive are the
 * body -- and the server (net/http_server.c) writes it, the body by
 * reference. Pure logic over the site table, unit-tested on the host.
 *
 * The request's path (the parser drops the query) is percent-decoded (RFC
 * 3986, 2.1) and its dot segments resolved; a bad escape, a NUL, or a ".."
 * above the root is refused as not found, whatever the site holds. "/dir/"
 * serves dir/index.html, "/dir" redirects to "/dir/" (301), "/" serves the
 * site's index.html. A file comes with Content-Type
 * (net/media_types.h), Last-Modified (the archive's mtime), a strong ETag and
 * Accept-Ranges; preconditions are evaluated in RFC 9110 13.2.2's order
 * (If-Match, If-Unmodified-Since -> 412; If-None-Match, If-Modified-Since ->
 * 304); a GET with one byte range (If-Range permitting) gets 206 or 416; more
 * than one range gets the whole file (200). "name.gz" beside "name" is sent
 * for "name" with Content-Encoding: gzip when the request accepts gzip; both
 * carry Vary: Accept-Encoding.
 */
#ifndef NET_HTTP_STATIC_H
#define NET_HTTP_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/http_parser.h"

#define HTTP_STATIC_HEADERS_MAX 1400
#define HTTP_STATIC_LOCATION_MAX 1024   /* a longer redirect is answered 414 */

struct http_static_reply {
    int status;                  /* 200, 206, 301, 304, 412, 414 or 416 */
    const char *content_type;    /* NULL: none (304) */
    bool has_length;             /* false: no Content-Length (304) */
    const uint8_t *body;         /* inside the archive, or a fixed text */
    size_t body_len;             /* Content-Length: what a GET sends (a HEAD sends nothing) */
    char headers[HTTP_STATIC_HEADERS_MAX]; /* more header lines, each ending in CRLF */
    size_t headers_len;
};

struct http_static_stats {
    uint64_t ok, partial, not_modified, redirects, precondition_failed, range_not_satisfiable;
    uint64_t gzip;               /* answers from a .gz variant */
    uint64_t bad_targets;        /* refused before the lookup: bad escape, NUL, ".." */
};

/* True when *reply was filled; false when the site has nothing at req->path
 * (the server's built-in pages are next, then 404). now: the wall clock's
 * seconds since 1970 (net/http_date.h), 0 without one. */
bool http_static_answer(const struct http_request *req, uint64_t now, struct http_static_reply *reply);

const struct http_static_stats *http_static_stats(void);

#endif
