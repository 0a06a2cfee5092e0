/* net/http_date.c: IMF-fixdate out; the three HTTP-date formats in (RFC 9110, 5.6.7). */
#include <string.h>

#include "net/http_date.h"
#include "tests/unit/check.h"

#define RFC_EXAMPLE 784111777ull /* Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example */

static bool parses_to(const char *s, uint64_t want)
{
    uint64_t t = 0;
    return http_date_parse(s, strlen(s), &t) && t == want;
}

static bool refused(const char *s)
{
    uint64_t t;
    return !http_date_parse(s, strlen(s), &t);
}

TEST(http_date_format_known_dates)
{
    char out[HTTP_DATE_LEN + 1];
    http_date_format(0, out);
    CHECK_STR_EQ(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    http_date_format(RFC_EXAMPLE, out);
    CHECK_STR_EQ(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    http_date_format(951782400, out); /* a leap day of a year divisible by 400 */
    CHECK_STR_EQ(out, "Tue, 29 Feb 2000 00:00:00 GMT");
    http_date_format(4294967295ull, out); /* the last cpio mtime */
    CHECK_STR_EQ(out, "Sun, 07 Feb 2106 06:28:15 GMT");
    CHECK_EQ(strlen(out), HTTP_DATE_LEN);
    http_date_format(UINT64_MAX, out); /* clamped to four year digits */
    CHECK_STR_EQ(out, "Fri, 31 Dec 9999 23:59:59 GMT");
}

TEST(http_date_parse_three_formats)
{
    CHECK(parses_to("Sun, 06 Nov 1994 08:49:37 GMT", RFC_EXAMPLE));
    CHECK(parses_to("Sunday, 06-Nov-94 08:49:37 GMT", RFC_EXAMPLE));
    CHECK(parses_to("Sun Nov  6 08:49:37 1994", RFC_EXAMPLE));
    CHECK(parses_to("  Sun, 06 Nov 1994 08:49:37 GMT \t", RFC_EXAMPLE));
    CHECK(parses_to("Thursday, 01-Jan-70 00:00:00 GMT", 0));
    CHECK(parses_to("Monday, 01-Jan-24 00:00:00 GMT", 1704067200)); /* two digits under 70: 20xx */
    CHECK(parses_to("Thu, 01 Jan 1970 00:00:60 GMT", 59));           /* a leap second */
}

TEST(http_date_round_trip)
{
    char out[HTTP_DATE_LEN + 1];
    for (uint64_t t = 0; t < 5000000000ull; t += 7777777) {
        http_date_format(t, out);
        uint64_t back = 0;
        CHECK(http_date_parse(out, strlen(out), &back) && back == t);
    }
}

TEST(http_date_refuses_malformed)
{
    CHECK(refused(""));
    CHECK(refused("yesterday"));
    CHECK(refused("Sun, 06 Nov 1994 08:49:37"));       /* no GMT */
    CHECK(refused("Sun, 06 Nov 1994 08:49:37 UTC"));
    CHECK(refused("Sun, 6 Nov 1994 08:49:37 GMT"));    /* one-digit day */
    CHECK(refused("Sun, 31 Nov 1994 08:49:37 GMT"));   /* no such day */
    CHECK(refused("Sun, 29 Feb 1900 08:49:37 GMT"));   /* 1900 was no leap year */
    CHECK(refused("Sun, 06 Nov 1994 24:00:00 GMT"));
    CHECK(refused("Sun, 06 Xyz 1994 08:49:37 GMT"));
    CHECK(refused("Sun, 06 Nov 1969 08:49:37 GMT"));   /* before 1970 */
    CHECK(refused("Sun, 06 Nov 1994 08:49:37 GMTx"));
    CHECK(refused("Sun, 06 Nov 1994 08:49:37 GMT, x"));
    CHECK(refused("Sun Nov  6 08:49:37 94"));
}
