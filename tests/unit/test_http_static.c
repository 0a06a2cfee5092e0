/*
 * net/http_static.c over a small site: targets (percent-decoding, dot
 * segments, directories, redirects), validators and preconditions, byte
 * ranges, gzip negotiation -- each answer as the server would send it.
 */
#include <stdio.h>
#include <string.h>

#include "net/http_parser.h"
#include "net/http_static.h"
#include "net/site.h"
#include "tests/unit/check.h"
#include "tests/unit/cpio_build.h"

#define MTIME 1700000000u                        /* Tue, 14 Nov 2023 22:13:20 GMT */
#define MTIME_TEXT "Tue, 14 Nov 2023 22:13:20 GMT"
#define DIGITS "0123456789"

extern unsigned long vnenv_error_lines; /* the console's error lines (tests/unit/virtio_net_env.c) */

static struct cpio_build archive;
static char request_text[4096];
static struct http_request request;
static struct http_static_reply reply;

static void load_site(void)
{
    archive.len = 0;
    cpio_build_file(&archive, "./index.html", "<h1>home</h1>", MTIME);
    cpio_build_file(&archive, "./digits.txt", DIGITS, MTIME);
    cpio_build_file(&archive, "./app.js", "console.log('plain')", MTIME);
    cpio_build_file(&archive, "./app.js.gz", "GZIPPED", MTIME + 1);
    cpio_build_dir(&archive, "./docs");
    cpio_build_file(&archive, "./docs/index.html", "<p>docs</p>", MTIME);
    cpio_build_file(&archive, "./docs/a b/\xc3\xa9.txt", "utf8", MTIME);
    cpio_build_file(&archive, "./empty", "", MTIME);
    cpio_build_file(&archive, "./noindex/file.bin", "\x01\x02", MTIME);
    cpio_build_trailer(&archive);
    CHECK_EQ(site_load(archive.bytes, archive.len), 0);
}

/* The wall clock's now for ask(); 0: the server has none. */
static uint64_t now;

/* Parses "METHOD target" plus header lines, then asks http_static; true if it answered. */
static bool ask(const char *method_target, const char *headers)
{
    snprintf(request_text, sizeof(request_text), "%s HTTP/1.1\r\nHost: x\r\n%s\r\n", method_target, headers);
    size_t consumed;
    if (http_parse_request(request_text, strlen(request_text), &request, &consumed) != HTTP_PARSE_OK)
        return false;
    memset(&reply, 0x5a, sizeof(reply));
    return http_static_answer(&request, now, &reply);
}

static bool has_header(const char *line)
{
    char *h = reply.headers;
    h[reply.headers_len < sizeof(reply.headers) ? reply.headers_len : 0] = '\0';
    return strstr(h, line) != NULL;
}

static bool body_is(const char *text)
{
    return reply.body_len == strlen(text) && memcmp(reply.body, text, reply.body_len) == 0;
}

/* The ETag header's value of the last answer ("\"...\""). */
static const char *etag(void)
{
    static char tag[32];
    const char *h = strstr(reply.headers, "ETag: ");
    if (!h || sscanf(h, "ETag: %31[^\r]", tag) != 1)
        return "";
    return tag;
}

TEST(static_serves_files_with_their_metadata)
{
    load_site();
    CHECK(ask("GET /digits.txt", ""));
    CHECK_EQ(reply.status, 200);
    CHECK(body_is(DIGITS));
    CHECK(reply.has_length);
    CHECK_STR_EQ(reply.content_type, "text/plain; charset=utf-8");
    CHECK(has_header("Last-Modified: " MTIME_TEXT "\r\n"));
    CHECK(has_header("Accept-Ranges: bytes\r\n"));
    CHECK(strlen(etag()) == 18 && etag()[0] == '"');
    CHECK(!has_header("Vary:"));
    CHECK(!has_header("Content-Encoding"));

    CHECK(ask("HEAD /digits.txt", "")); /* the same answer: the server leaves out the body */
    CHECK_EQ(reply.status, 200);
    CHECK_EQ(reply.body_len, 10);

    CHECK(ask("GET /empty", ""));
    CHECK_EQ(reply.status, 200);
    CHECK_EQ(reply.body_len, 0);
    CHECK_STR_EQ(reply.content_type, "application/octet-stream");
}

TEST(static_targets)
{
    load_site();
    CHECK(ask("GET /", "") && body_is("<h1>home</h1>"));
    CHECK(ask("GET /index.html", "") && body_is("<h1>home</h1>"));
    CHECK(ask("GET /digits.txt?v=3", "") && body_is(DIGITS));          /* the query is not the path */
    CHECK(ask("GET /%64igits.txt", "") && body_is(DIGITS));
    CHECK(ask("GET //digits.txt", "") && body_is(DIGITS));             /* empty segments */
    CHECK(ask("GET /./docs/./index.html", "") && body_is("<p>docs</p>"));
    /* ".." takes the segment before it away (RFC 3986, 5.2.4), encoded or not. */
    CHECK(ask("GET /docs/../digits.txt", "") && body_is(DIGITS));
    CHECK(ask("GET /docs/%2e%2e/index.html", "") && body_is("<h1>home</h1>"));
    CHECK(ask("GET /docs/x/y/../../index.html", "") && body_is("<p>docs</p>"));
    CHECK(ask("GET /docs/a%20b/..", "") && body_is("<p>docs</p>"));   /* ends in "..": a directory */
    CHECK(ask("GET /docs/.", "") && body_is("<p>docs</p>"));
    CHECK(ask("GET /docs/a%20b/%C3%A9.txt", "") && body_is("utf8"));
    CHECK(ask("GET /docs/", "") && body_is("<p>docs</p>"));
    CHECK(ask("GET /docs/index.html", "") && body_is("<p>docs</p>"));

    CHECK(ask("GET /docs", ""));
    CHECK_EQ(reply.status, 301);
    CHECK(has_header("Location: /docs/\r\n"));
    CHECK(ask("GET /docs/a%20b", ""));
    CHECK_EQ(reply.status, 301);
    CHECK(has_header("Location: /docs/a%20b/\r\n"));
    /* The query goes along, as it came (nginx keeps it: the page's script may read it). */
    CHECK(ask("GET /noindex?x=1&y=%20", ""));
    CHECK_EQ(reply.status, 301);
    CHECK(has_header("Location: /noindex/?x=1&y=%20\r\n"));
    CHECK(ask("GET /noindex?", ""));
    CHECK_EQ(reply.status, 301);
    CHECK(has_header("Location: /noindex/\r\n"));
    CHECK(ask("GET http://x/docs?lang=en", ""));
    CHECK_EQ(reply.status, 301);
    CHECK(has_header("Location: /docs/?lang=en\r\n"));

    CHECK(!ask("GET /noindex/", ""));      /* a directory without index.html: 404, no listing */
    CHECK(!ask("GET /digits.txt/", ""));   /* a file is no directory */
    CHECK(!ask("GET /missing", ""));
    CHECK(!ask("GET /DIGITS.TXT", ""));    /* names are case-sensitive */
    CHECK(ask("GET http://x/digits.txt", "") && body_is(DIGITS)); /* the absolute-form (RFC 9112, 3.2.2) */
    CHECK(!ask("GET *", ""));
}

TEST(static_refuses_escapes_and_bad_encodings)
{
    load_site();
    uint64_t bad = http_static_stats()->bad_targets;
    static const char *const refused[] = {
        "GET /../digits.txt", "GET /%2e%2e/digits.txt", "GET /%2E%2E%2Fdigits.txt", "GET /..",
        "GET /docs/../../digits.txt", "GET /docs/..%2f..%2fdigits.txt", "GET /docs/x/../../../digits.txt",
        "GET /digits.txt%00", "GET /%00", "GET /%zz", "GET /%2", "GET /%", "GET /a%2",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        CHECK(!ask(refused[i], ""));
    CHECK_EQ(http_static_stats()->bad_targets, bad + sizeof(refused) / sizeof(refused[0]));
    /* An encoded '/' is a separator: it names no file of its own. */
    CHECK(ask("GET /docs%2findex.html", "") && body_is("<p>docs</p>"));
}

TEST(static_conditional_requests)
{
    load_site();
    CHECK(ask("GET /digits.txt", ""));
    char tag[32], headers[256];
    snprintf(tag, sizeof(tag), "%s", etag());

    snprintf(headers, sizeof(headers), "If-None-Match: %s\r\n", tag);
    CHECK(ask("GET /digits.txt", headers));
    CHECK_EQ(reply.status, 304);
    CHECK(reply.content_type == NULL && !reply.has_length);
    CHECK(has_header("ETag: ") && has_header("Last-Modified: "));
    snprintf(headers, sizeof(headers), "If-None-Match: \"other\", W/%s\r\n", tag); /* weak comparison */
    CHECK(ask("HEAD /digits.txt", headers) && reply.status == 304);
    CHECK(ask("GET /digits.txt", "If-None-Match: *\r\n") && reply.status == 304);
    CHECK(ask("GET /digits.txt", "If-None-Match: \"other\"\r\n") && reply.status == 200);
    CHECK(ask("GET /digits.txt", "If-None-Match: garbage\r\n") && reply.status == 200);

    CHECK(ask("GET /digits.txt", "If-Modified-Since: " MTIME_TEXT "\r\n") && reply.status == 304);
    CHECK(ask("GET /digits.txt", "If-Modified-Since: Tue, 14 Nov 2023 22:13:19 GMT\r\n") && reply.status == 200);
    CHECK(ask("GET /digits.txt", "If-Modified-Since: Tuesday, 14-Nov-23 22:13:20 GMT\r\n") && reply.status == 304);
    CHECK(ask("GET /digits.txt", "If-Modified-Since: not a date\r\n") && reply.status == 200);
    /* If-None-Match wins over If-Modified-Since (RFC 9110, 13.1.3). */
    CHECK(ask("GET /digits.txt", "If-None-Match: \"other\"\r\nIf-Modified-Since: " MTIME_TEXT "\r\n") &&
          reply.status == 200);

    snprintf(headers, sizeof(headers), "If-Match: %s\r\n", tag);
    CHECK(ask("GET /digits.txt", headers) && reply.status == 200);
    snprintf(headers, sizeof(headers), "If-Match: W/%s\r\n", tag); /* strong comparison */
    CHECK(ask("GET /digits.txt", headers) && reply.status == 412);
    CHECK(ask("GET /digits.txt", "If-Match: \"other\"\r\n") && reply.status == 412);
    CHECK(ask("GET /digits.txt", "If-Unmodified-Since: Tue, 14 Nov 2023 22:13:19 GMT\r\n") && reply.status == 412);
    CHECK(ask("GET /digits.txt", "If-Unmodified-Since: " MTIME_TEXT "\r\n") && reply.status == 200);
}

TEST(static_with_a_clock)
{
    load_site();
    /* A clock later than the file: what the file says, as without one. */
    now = MTIME + 100;
    CHECK(ask("GET /digits.txt", "") && reply.status == 200 && has_header("Last-Modified: " MTIME_TEXT "\r\n"));
    CHECK(ask("GET /digits.txt", "If-Modified-Since: " MTIME_TEXT "\r\n") && reply.status == 304);
    /* An If-Modified-Since later than now is invalid (RFC 9110, 13.1.3): the whole file. */
    CHECK(ask("GET /digits.txt", "If-Modified-Since: Tue, 14 Nov 2023 22:15:00 GMT\r\n") && reply.status == 304);
    CHECK(ask("GET /digits.txt", "If-Modified-Since: Tue, 14 Nov 2023 22:15:01 GMT\r\n") && reply.status == 200);
    now = 0;
    CHECK(ask("GET /digits.txt", "If-Modified-Since: Tue, 14 Nov 2023 22:15:01 GMT\r\n") && reply.status == 304);
    /* A file from the clock's future is sent as modified now (8.8.2.1), and compared so. */
    now = MTIME - 60;
    CHECK(ask("GET /digits.txt", "") && reply.status == 200 &&
          has_header("Last-Modified: Tue, 14 Nov 2023 22:12:20 GMT\r\n"));
    CHECK(ask("GET /digits.txt", "If-Modified-Since: Tue, 14 Nov 2023 22:12:20 GMT\r\n") && reply.status == 304);
    CHECK(ask("GET /digits.txt", "If-Unmodified-Since: Tue, 14 Nov 2023 22:12:20 GMT\r\n") && reply.status == 200);
    CHECK(ask("GET /digits.txt", "Range: bytes=0-0\r\nIf-Range: Tue, 14 Nov 2023 22:12:20 GMT\r\n") &&
          reply.status == 206);
    now = 0;
}

TEST(static_byte_ranges)
{
    load_site();
    CHECK(ask("GET /digits.txt", "Range: bytes=2-4\r\n"));
    CHECK_EQ(reply.status, 206);
    CHECK(body_is("234"));
    CHECK(has_header("Content-Range: bytes 2-4/10\r\n"));
    CHECK(ask("GET /digits.txt", "Range: bytes=7-\r\n") && reply.status == 206 && body_is("789"));
    CHECK(ask("GET /digits.txt", "Range: bytes=-3\r\n") && reply.status == 206 && body_is("789"));
    CHECK(ask("GET /digits.txt", "Range: bytes=-30\r\n") && reply.status == 206 && body_is(DIGITS));
    CHECK(ask("GET /digits.txt", "Range: bytes=8-99\r\n") && reply.status == 206 && body_is("89"));
    CHECK(has_header("Content-Range: bytes 8-9/10\r\n"));
    CHECK(ask("GET /digits.txt", "Range: BYTES = 0-0\r\n") && reply.status == 206 && body_is("0"));

    CHECK(ask("GET /digits.txt", "Range: bytes=10-\r\n"));
    CHECK_EQ(reply.status, 416);
    CHECK(has_header("Content-Range: bytes */10\r\n"));
    CHECK(ask("GET /digits.txt", "Range: bytes=-0\r\n") && reply.status == 416);

    /* Whole file: several ranges, bad syntax, other units, HEAD, an empty file. */
    CHECK(ask("GET /digits.txt", "Range: bytes=0-1,4-5\r\n") && reply.status == 200 && body_is(DIGITS));
    CHECK(ask("GET /digits.txt", "Range: bytes=5-2\r\n") && reply.status == 200);
    CHECK(ask("GET /digits.txt", "Range: bytes=x-2\r\n") && reply.status == 200);
    CHECK(ask("GET /digits.txt", "Range: bytes=99999999999999999999999-\r\n") && reply.status == 416);
    CHECK(ask("GET /digits.txt", "Range: lines=1-2\r\n") && reply.status == 200);
    CHECK(ask("GET /digits.txt", "Range: bytes=1-2\r\nRange: bytes=3-4\r\n") && reply.status == 200);
    CHECK(ask("HEAD /digits.txt", "Range: bytes=1-2\r\n") && reply.status == 200 && reply.body_len == 10);
    CHECK(ask("GET /empty", "Range: bytes=0-\r\n") && reply.status == 200);

    /* If-Range: the range only while the validator still holds. */
    CHECK(ask("GET /digits.txt", ""));
    char headers[256];
    snprintf(headers, sizeof(headers), "Range: bytes=1-1\r\nIf-Range: %s\r\n", etag());
    CHECK(ask("GET /digits.txt", headers) && reply.status == 206 && body_is("1"));
    CHECK(ask("GET /digits.txt", "Range: bytes=1-1\r\nIf-Range: \"stale\"\r\n") && reply.status == 200);
    CHECK(ask("GET /digits.txt", "Range: bytes=1-1\r\nIf-Range: " MTIME_TEXT "\r\n") && reply.status == 206);
    CHECK(ask("GET /digits.txt", "Range: bytes=1-1\r\nIf-Range: Tue, 14 Nov 2023 22:13:21 GMT\r\n") &&
          reply.status == 200);
}

TEST(static_gzip_variant)
{
    load_site();
    CHECK(ask("GET /app.js", ""));
    CHECK(body_is("console.log('plain')"));
    CHECK(has_header("Vary: Accept-Encoding\r\n"));
    CHECK(!has_header("Content-Encoding"));
    char plain_tag[32];
    snprintf(plain_tag, sizeof(plain_tag), "%s", etag());

    CHECK(ask("GET /app.js", "Accept-Encoding: gzip, deflate, br\r\n"));
    CHECK_EQ(reply.status, 200);
    CHECK(body_is("GZIPPED"));
    CHECK(has_header("Content-Encoding: gzip\r\n"));
    CHECK(has_header("Vary: Accept-Encoding\r\n"));
    CHECK_STR_EQ(reply.content_type, "text/javascript; charset=utf-8"); /* the type of what was asked for */
    CHECK(strcmp(etag(), plain_tag) != 0);                              /* another representation */
    CHECK(has_header("Last-Modified: Tue, 14 Nov 2023 22:13:21 GMT"));

    CHECK(ask("GET /app.js", "Accept-Encoding: *\r\n") && body_is("GZIPPED"));
    CHECK(ask("GET /app.js", "Accept-Encoding: GZIP;q=0.5\r\n") && body_is("GZIPPED"));
    CHECK(ask("GET /app.js", "Accept-Encoding: gzip;q=0\r\n") && body_is("console.log('plain')"));
    CHECK(ask("GET /app.js", "Accept-Encoding: *, gzip;q=0\r\n") && body_is("console.log('plain')"));
    CHECK(ask("GET /app.js", "Accept-Encoding: br\r\n") && body_is("console.log('plain')"));
    CHECK(ask("GET /app.js", "Accept-Encoding: gzip;q=2\r\n") && body_is("console.log('plain')"));
    CHECK(ask("GET /app.js", "Accept-Encoding: identity\r\n") && body_is("console.log('plain')"));
    CHECK(ask("GET /app.js", "Accept-Encoding: x-gzip\r\n") && body_is("GZIPPED"));
    CHECK(ask("GET /app.js", "Accept-Encoding: gzip\r\nRange: bytes=0-1\r\n") && reply.status == 206 &&
          body_is("GZ"));

    /* The .gz file itself is a file like any other. */
    CHECK(ask("GET /app.js.gz", "Accept-Encoding: gzip\r\n"));
    CHECK(body_is("GZIPPED"));
    CHECK_STR_EQ(reply.content_type, "application/gzip");
    CHECK(!has_header("Content-Encoding"));
}

/* A directory named by a path near its limit still gets its Location; characters a
 * segment may hold stay as they are, others are escaped again. */
TEST(static_redirect_locations)
{
    archive.len = 0;
    char name[HTTP_MAX_PATH + 8], target[HTTP_MAX_PATH + 8], location[HTTP_MAX_PATH + 32];
    size_t dir_len = HTTP_MAX_PATH - 2 - 4 - 1; /* "/" + name + "/" + "f", and the Location, within the limits */
    memset(name, '(', dir_len);
    strcpy(name + dir_len, "/f");
    cpio_build_file(&archive, name, "deep", MTIME);
    cpio_build_file(&archive, "sp ace/\xc3\xa9:@!/f", "odd", MTIME);
    cpio_build_trailer(&archive);
    CHECK_EQ(site_load(archive.bytes, archive.len), 0);
    snprintf(target, sizeof(target), "GET /%.*s", (int)dir_len, name);
    CHECK(ask(target, ""));
    CHECK_EQ(reply.status, 301);
    snprintf(location, sizeof(location), "Location: /%.*s/\r\n", (int)dir_len, name);
    CHECK(has_header(location));
    CHECK(ask("GET /sp%20ace/%C3%A9%3A%40%21", ""));
    CHECK_EQ(reply.status, 301);
    CHECK(has_header("Location: /sp%20ace/%C3%A9:@!/\r\n"));
    /* With a query the Location would pass its limit: 414, as for a long path. */
    snprintf(target, sizeof(target), "GET /%.*s?q=123456789", (int)dir_len, name);
    CHECK(ask(target, ""));
    CHECK_EQ(reply.status, 414);
    CHECK(!has_header("Location"));
}

TEST(static_nothing_without_a_site)
{
    archive.len = 0;
    cpio_build_file(&archive, "index.html", "x", MTIME);
    cpio_build_trailer(&archive);
    archive.bytes[0] = '9';
    unsigned long errors = vnenv_error_lines;
    CHECK_EQ(site_load(archive.bytes, archive.len), -1);
    vnenv_error_lines = errors; /* the refusal's console line was expected */
    CHECK(!ask("GET /", ""));
    CHECK(!ask("GET /index.html", ""));
}

/* A directory's path whose characters grow when escaped again ('|' is taken
 * raw in a request and becomes %7C): the 301's Location would not fit, and
 * the escaping stopped where it ran out, redirecting to a path cut inside a
 * name. It is a 414, as any Location too long is. */
TEST(http_static_a_location_that_does_not_fit_escaped_is_a_414)
{
    archive.len = 0;
    char name[1200] = "", target[1300], seg[201], file[1210];
    memset(seg, '|', 200);
    seg[200] = 0;
    for (int i = 0; i < 3; i++) { /* 200 + 10 + 200 names: 412 bytes raw, 1,236 escaped */
        if (i)
            strcat(name, "/");
        strcat(name, i == 1 ? seg + 190 : seg);
    }
    snprintf(file, sizeof(file), "%s/f", name);
    cpio_build_file(&archive, file, "deep", MTIME);
    cpio_build_trailer(&archive);
    CHECK_EQ(site_load(archive.bytes, archive.len), 0);
    snprintf(target, sizeof(target), "GET /%s", name);
    CHECK(ask(target, ""));
    CHECK_EQ(reply.status, 414);
}
