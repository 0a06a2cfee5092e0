/*
 * HTTP/1.1 on TCP port 80 (IPv4 and IPv6), on lwIP's raw TCP API. Built-in
 * pages only: / (what this is), /stats (Prometheus text), /hello (a tiny
 * body for benchmarks). Persistent connections and pipelining; idle and
 * half-open connections time out. docs/services.md says why it is not
 * lwIP's httpd app.
 */
#ifndef NET_HTTP_SERVER_H
#define NET_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "net/http_date.h"

#define HTTP_PORT 80

struct http_server_stats {
    uint64_t connections;       /* accepted */
    uint64_t active;
    uint64_t requests;
    uint64_t responses_by_class[6]; /* index = status / 100 */
    uint64_t timeouts;          /* idle connections closed, and requests whose header was not whole in time (408) */
    uint64_t aborted;           /* closed by error or memory shortage */
    uint64_t reused;            /* idle connections aborted to make room for a new one (PCB pool empty) */
    uint64_t body_bytes_referenced; /* queued to lwIP by reference (built-in and site bodies: no copy) */
    uint64_t body_bytes_copied;     /* queued as copies (bodies made per request: /stats) */
    uint64_t input_bytes_discarded; /* read and dropped: request bodies, the rest of refused requests */
    uint64_t large_buffers;     /* headers over 8 KiB given a larger buffer */
    uint64_t held_input, held_input_max; /* bytes held past the connections' buffers, and the most allowed */
    uint64_t input_deferred;    /* segments left with lwIP (offered again later): held input at its most */
};

/* A page made per request (e.g. /stats): render returns a kmalloc'ed body
 * that the server kfree()s once sent, or NULL (answered 500). */
struct http_dynamic_page {
    const char *path;
    const char *content_type;
    char *(*render)(size_t *len);
};

/* Listens on HTTP_PORT; `pages` must outlive the server. With a wall clock
 * (unix_seconds not 0) every response carries Date. `held_input_max`: the
 * bytes of received, not yet parsed input all connections may hold together
 * (pipelined requests past a connection's buffer). Returns 0 or -1. */
int http_server_start(const struct http_dynamic_page *pages, int count, const struct wall_clock *clock,
                      size_t held_input_max);
const struct http_server_stats *http_server_stats(void);

#endif
