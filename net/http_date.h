/*
 * HTTP-date (RFC 9110, 5.6.7): Last-Modified is written as IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT"); If-Modified-Since and friends are read
 * in all three formats a recipient must accept (IMF-fixdate, RFC 850,
 * asctime). Seconds since 1970-01-01 UTC, no leap seconds. Pure logic,
 * unit-tested on the host.
 */
#ifndef NET_HTTP_DATE_H
#define NET_HTTP_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_DATE_LEN 29 /* IMF-fixdate, without a NUL */

/* The wall clock: unix_seconds (since 1970-01-01 UTC) when the kernel clock
 * (clock_now_ns) read at_ns. unix_seconds 0: there is none, and an origin
 * server without a clock sends no Date (RFC 9110, 6.6.1). */
struct wall_clock {
    uint64_t unix_seconds;
    uint64_t at_ns;
    const char *source; /* for the console: "the RTC", "kvmclock" */
};

/* The wall clock's time at kernel clock now_ns; 0 without one. */
uint64_t wall_clock_at(const struct wall_clock *c, uint64_t now_ns);

/* Writes the IMF-fixdate of t and a NUL into out[HTTP_DATE_LEN + 1]. */
void http_date_format(uint64_t t, char *out);

/* Parses s[0..n) (surrounding spaces allowed); false if it is no valid HTTP-date. */
bool http_date_parse(const char *s, size_t n, uint64_t *t);

#endif
