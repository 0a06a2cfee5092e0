/*
 * net/http_parser.c: request lines, versions, the headers that matter
 * (Connection, Content-Length, Transfer-Encoding), limits, pipelining (one
 * request consumed at a time) and malformed input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_parser.h"
#include "tests/unit/check.h"

static enum http_parse_status parse(const char *text, struct http_request *req, size_t *consumed)
{
    *consumed = 0;
    return http_parse_request(text, strlen(text), req, consumed);
}

TEST(http_simple_get)
{
    struct http_request r;
    size_t n;
    const char *text = "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ(parse(text, &r, &n), HTTP_PARSE_OK);
    CHECK_EQ(n, strlen(text));
    CHECK_EQ(r.method, HTTP_GET);
    CHECK_STR_EQ(r.path, "/stats");
    CHECK_EQ(r.version_minor, 1);
    CHECK(r.keep_alive);
    CHECK(!r.has_body);
}

TEST(http_methods)
{
    struct http_request r;
    size_t n;
    CHECK_EQ(parse("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK_EQ(r.method, HTTP_HEAD);
    CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK_EQ(r.method, HTTP_OTHER);
    CHECK_STR_EQ(r.method_text, "POST");
    CHECK_EQ(parse("get / HTTP/1.1\r\nHost: h\r\n\r\n", &r, &n), HTTP_PARSE_OK); /* methods are case-sensitive */
    CHECK_EQ(r.method, HTTP_OTHER);
}

TEST(http_connection_defaults_and_overrides)
{
    struct http_request r;
    size_t n;
    CHECK_EQ(parse("GET / HTTP/1.0\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK(!r.keep_alive);
    CHECK_EQ(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK(r.keep_alive);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nconnection: close\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK(!r.keep_alive);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, CLOSE \r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK(!r.keep_alive);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK(r.keep_alive); /* "closed" is not "close" */
}

TEST(http_bodies_are_noticed)
{
    struct http_request r;
    size_t n;
    CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK(r.has_body);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK(!r.has_body);
    CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK(r.has_body);
    CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1x\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 6\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", &r, &n),
             HTTP_PARSE_BAD_REQUEST);
    /* Two lengths that differ frame the message two ways, the stuff of request
     * smuggling: an unrecoverable error (RFC 9112, 6.3). The same one twice is not. */
    CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &r, &n),
             HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\ncontent-length: 5\r\n\r\n", &r, &n),
             HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 005\r\n\r\n", &r, &n),
             HTTP_PARSE_OK);
    CHECK(r.has_body);
}

/* RFC 9112, 3.2.2: a server MUST accept the absolute-form, as a proxy's
 * client sends it. What is kept of any target is its path. */
TEST(http_target_paths)
{
    struct http_request r;
    size_t n;
    const struct {
        const char *line, *path, *query; /* query NULL: none */
    } cases[] = {
        { "GET /a.txt?v=2&x=%20 HTTP/1.1", "/a.txt", "v=2&x=%20" },
        { "GET /?#x HTTP/1.1", "/", "#x" },
        { "GET /a? HTTP/1.1", "/a", "" },
        { "GET http://10.0.2.15/a.txt HTTP/1.1", "/a.txt", NULL },
        { "GET HTTP://host:8080/dir/?q=1 HTTP/1.1", "/dir/", "q=1" },
        { "GET https://h HTTP/1.1", "/", NULL },
        { "GET http://h?x=1 HTTP/1.1", "/", "x=1" },
        { "GET http://user@[fe80::1]:80/p HTTP/1.1", "/p", NULL },
        { "GET /http://x/y HTTP/1.1", "/http://x/y", NULL },  /* origin-form that merely contains a URI */
        { "GET ftp://h/a HTTP/1.1", "ftp://h/a", NULL },      /* not ours: left as it is (404) */
        { "OPTIONS * HTTP/1.1", "*", NULL },
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "%s\r\nHost: x\r\n\r\n", cases[i].line);
        CHECK_EQ(parse(text, &r, &n), HTTP_PARSE_OK);
        CHECK_STR_EQ(r.path, cases[i].path);
        CHECK_EQ(r.query.present, cases[i].query != NULL);
        if (cases[i].query) {
            CHECK_EQ(r.query.len, strlen(cases[i].query));
            CHECK(memcmp(r.query.value, cases[i].query, r.query.len) == 0);
        }
    }
}

TEST(http_incomplete_until_blank_line)
{
    struct http_request r;
    size_t n;
    CHECK_EQ(parse("", &r, &n), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ(parse("GET / HT", &r, &n), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\n", &r, &n), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\n\r", &r, &n), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ(n, 0);
}

/* RFC 9112, 2.2: a line may end in a lone LF (what printf into nc sends),
 * and empty lines before a request line are skipped. */
TEST(http_lone_lf_line_ends_and_leading_empty_lines)
{
    struct http_request r;
    size_t n;
    const char *text = "GET /stats HTTP/1.0\nConnection: keep-alive\nRange: bytes=1-2\n\nrest";
    CHECK_EQ(parse(text, &r, &n), HTTP_PARSE_OK);
    CHECK_STR_EQ(r.path, "/stats");
    CHECK(r.keep_alive);
    CHECK(r.range.present && r.range.len == 9 && memcmp(r.range.value, "bytes=1-2", 9) == 0);
    CHECK_EQ(n, strlen(text) - 4);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nA: b\nC: d\r\n\n", &r, &n), HTTP_PARSE_OK);
    CHECK_EQ(parse("GET / HTTP/1.1\nHost: x\n", &r, &n), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ(parse("GET / HTTP/1.1\nHost: x\n\r", &r, &n), HTTP_PARSE_INCOMPLETE);

    CHECK_EQ(parse("\r\n\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK_STR_EQ(r.path, "/a");
    CHECK_EQ(n, 31);
    CHECK_EQ(parse("\r\n\r\n", &r, &n), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ(parse("\r\n\r\nGET", &r, &n), HTTP_PARSE_INCOMPLETE);
}

TEST(http_pipelined_requests_one_at_a_time)
{
    const char *text = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                       "HEAD /b HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\n"
                       "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";
    size_t off = 0, len = strlen(text);
    const char *targets[] = { "/a", "/b", "/c" };
    for (int i = 0; i < 3; i++) {
        struct http_request r;
        size_t n = 0;
        CHECK_EQ(http_parse_request(text + off, len - off, &r, &n), HTTP_PARSE_OK);
        CHECK_STR_EQ(r.path, targets[i]);
        off += n;
    }
    CHECK_EQ(off, len);
}

TEST(http_versions)
{
    struct http_request r;
    size_t n;
    CHECK_EQ(parse("GET / HTTP/2.0\r\n\r\n", &r, &n), HTTP_PARSE_BAD_VERSION);
    /* A later 1.x is served as 1.1 (RFC 9110, 2.5). */
    CHECK_EQ(parse("GET / HTTP/1.2\r\nHost: h\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK_EQ(r.version_minor, 1);
    CHECK(r.keep_alive);
    CHECK_EQ(parse("GET / HTTP/1.9\r\nHost: h\r\nConnection: close\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK_EQ(r.version_minor, 1);
    CHECK(!r.keep_alive);
    CHECK_EQ(parse("GET / HTTP/0.9\r\n\r\n", &r, &n), HTTP_PARSE_BAD_VERSION);
    CHECK_EQ(parse("GET / HTTP/1\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("GET / http/1.1\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("GET / HTTP/1.10\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
}

TEST(http_malformed_request_lines)
{
    struct http_request r;
    size_t n;
    const char *bad[] = {
        "GET\r\n\r\n", "GET /\r\n\r\n", " GET / HTTP/1.1\r\nHost: h\r\n\r\n", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /\x80 HTTP/1.1\r\nHost: h\r\n\r\n", "GET / HTTP/1.1\r\r\n\r\n", "GET / HTTP/1.1\rHost: x\r\n\r\n",
        "GET ?q=1 HTTP/1.1\r\nHost: h\r\n\r\n",
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ(parse(bad[i], &r, &n), HTTP_PARSE_BAD_REQUEST);
}

/* A whole request line is judged before the header block ends: HTTP/0.9's
 * `GET /` (what `echo "GET /" | nc` sends) never gets its empty line. */
TEST(http_whole_request_line_judged_at_once)
{
    struct http_request r;
    size_t n;
    CHECK_EQ(parse("GET /\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("\r\nGET /\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("GET / HTTP/2.0\r\n", &r, &n), HTTP_PARSE_BAD_VERSION);
    CHECK_EQ(parse("GET / HTTP/1.1\rHost: x\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    /* A good line still waits for its header lines; a part of one for the rest. */
    CHECK_EQ(parse("GET / HTTP/1.1\r\n", &r, &n), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nX: y", &r, &n), HTTP_PARSE_INCOMPLETE);
    CHECK_EQ(parse("GET /", &r, &n), HTTP_PARSE_INCOMPLETE);
}

TEST(http_malformed_headers)
{
    struct http_request r;
    size_t n;
    const char *bad[] = {
        "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", "GET / HTTP/1.1\r\nHost: h\r\n: empty-name\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nA: b\rC: d\r\n\r\n", "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\n\r\r\n\r\n",
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ(parse(bad[i], &r, &n), HTTP_PARSE_BAD_REQUEST);
}

TEST(http_limits)
{
    struct http_request r;
    size_t n;
    char *buf = malloc(HTTP_MAX_HEADER_BYTES * 2);
    /* A path of HTTP_MAX_PATH - 1 characters is fine; one more is 414 (RFC 9112, 3). */
    int len = sprintf(buf, "GET /");
    memset(buf + len, 'a', HTTP_MAX_PATH - 2);
    len += HTTP_MAX_PATH - 2;
    strcpy(buf + len, " HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_OK);
    CHECK_EQ(strlen(r.path), HTTP_MAX_PATH - 1);
    memmove(buf + 5, buf + 4, strlen(buf + 4) + 1);
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_URI_TOO_LONG);
    /* ... and known as such before the line ends. */
    buf[4 + HTTP_MAX_PATH] = '\0';
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_URI_TOO_LONG);
    buf[3 + HTTP_MAX_PATH] = '\0';
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_INCOMPLETE);

    /* A whole target (path and query) of HTTP_MAX_TARGET - 1 is served, one more is 414. */
    len = sprintf(buf, "GET /hello?q=");
    memset(buf + len, 'a', HTTP_MAX_TARGET - 1 - (len - 4));
    len += HTTP_MAX_TARGET - 1 - (len - 4);
    strcpy(buf + len, " HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_OK);
    CHECK_STR_EQ(r.path, "/hello");
    memmove(buf + 5, buf + 4, strlen(buf + 4) + 1);
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_URI_TOO_LONG);
    /* ... known before the line ends. */
    len = sprintf(buf, "GET /?");
    memset(buf + len, 'a', HTTP_MAX_TARGET);
    buf[len + HTTP_MAX_TARGET] = '\0';
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_URI_TOO_LONG);

    /* A request line over the limit that is not a long target fails even before its end arrives. */
    memset(buf, 'A', HTTP_MAX_REQUEST_LINE + 10);
    buf[HTTP_MAX_REQUEST_LINE + 10] = '\0';
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_BAD_REQUEST);
    len = sprintf(buf, "GET / HTTP/1.1");
    memset(buf + len, ' ', HTTP_MAX_REQUEST_LINE);
    buf[len + HTTP_MAX_REQUEST_LINE] = '\0';
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_BAD_REQUEST);

    /* 64 header lines pass, 65 fail. */
    len = sprintf(buf, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 1; i < HTTP_MAX_HEADERS; i++)
        len += sprintf(buf + len, "X-%d: v\r\n", i);
    strcpy(buf + len, "\r\n");
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_OK);
    len += sprintf(buf + len, "X-last: v\r\n\r\n");
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_HEADERS_TOO_LARGE);

    /* 8 KiB of headers without an end: fail, do not wait for more. */
    len = sprintf(buf, "GET / HTTP/1.1\r\nHost: h\r\nX: ");
    memset(buf + len, 'v', HTTP_MAX_HEADER_BYTES);
    buf[len + HTTP_MAX_HEADER_BYTES] = '\0';
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_HEADERS_TOO_LARGE);
    /* ... and 8 KiB of empty lines, which are skipped before a request line, too. */
    for (int i = 0; i < HTTP_MAX_HEADER_BYTES; i += 2)
        memcpy(buf + i, "\r\n", 2);
    buf[HTTP_MAX_HEADER_BYTES] = '\0';
    CHECK_EQ(parse(buf, &r, &n), HTTP_PARSE_BAD_REQUEST);
    free(buf);
}

TEST(http_host_rules)
{
    /* RFC 9112, 3.2: HTTP/1.1 needs exactly one Host, whose value is a host;
     * HTTP/1.0 may go without. */
    struct http_request r;
    size_t n;
    CHECK_EQ(parse("GET / HTTP/1.1\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("GET / HTTP/1.2\r\nX: y\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("GET / HTTP/1.0\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nhOST: a\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost:\r\n\r\n", &r, &n), HTTP_PARSE_OK); /* empty: allowed (3.2) */
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: [fe80::1]:8080\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: 10.0.2.15:80\r\n\r\n", &r, &n), HTTP_PARSE_OK);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", &r, &n), HTTP_PARSE_BAD_REQUEST);
}

static bool field_is(const struct http_field *f, const char *value)
{
    return f->present && f->len == strlen(value) && memcmp(f->value, value, f->len) == 0;
}

/* The fields static files need, trimmed, pointing into the buffer. */
TEST(http_kept_fields)
{
    struct http_request r;
    size_t n;
    const char *text = "GET /a HTTP/1.1\r\nHost: h\r\nAccept-Encoding:  gzip, br  \r\nif-none-match: \"x\", W/\"y\"\r\n"
                       "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nRANGE: bytes=0-9\r\nIf-Range: \"x\"\r\n"
                       "If-Match: *\r\nIf-Unmodified-Since: x\r\n\r\n";
    CHECK_EQ(parse(text, &r, &n), HTTP_PARSE_OK);
    CHECK(field_is(&r.accept_encoding, "gzip, br"));
    CHECK(field_is(&r.if_none_match, "\"x\", W/\"y\""));
    CHECK(field_is(&r.if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT"));
    CHECK(field_is(&r.range, "bytes=0-9"));
    CHECK(field_is(&r.if_range, "\"x\""));
    CHECK(field_is(&r.if_match, "*"));
    CHECK(field_is(&r.if_unmodified_since, "x"));
    CHECK(r.range.value > text && r.range.value < text + strlen(text));
    CHECK(!r.range.repeated);

    CHECK_EQ(parse("GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\nAccept-Encoding:\r\n\r\n",
                   &r, &n),
             HTTP_PARSE_OK);
    CHECK(r.range.repeated);
    CHECK(field_is(&r.range, "bytes=2-3"));
    CHECK(r.accept_encoding.present && r.accept_encoding.len == 0);
    CHECK(!r.if_none_match.present);
}

/* Random bytes and mutations of a valid request: the parser never reads past
 * the buffer (ASan), never claims more than it was given, and a request it
 * accepts has a sane target. */
TEST(http_random_input_is_handled)
{
    static const char seed[] = "GET /stats HTTP/1.1\r\nHost: 10.0.2.15\r\nConnection: keep-alive\r\n\r\n";
    char buf[128];
    srand(3);
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = (size_t)(rand() % (int)sizeof(buf));
        if (iter % 2) {
            memcpy(buf, seed, sizeof(seed) - 1);
            len = sizeof(seed) - 1;
            for (int m = rand() % 4; m >= 0; m--)
                buf[rand() % len] = (char)(rand() % 256);
        } else {
            for (size_t i = 0; i < len; i++)
                buf[i] = (char)(rand() % 256);
        }
        char *exact = malloc(len ? len : 1); /* exact-size copy: any over-read trips ASan */
        memcpy(exact, buf, len);
        struct http_request r;
        size_t n = 0;
        enum http_parse_status s = http_parse_request(exact, len, &r, &n);
        if (s == HTTP_PARSE_OK) {
            accepted++;
            if (n > len || r.path[0] == '\0' || strlen(r.path) >= HTTP_MAX_PATH) {
                CHECK(n <= len);
                CHECK(r.path[0] != '\0');
                free(exact);
                break;
            }
        } else if (s != HTTP_PARSE_INCOMPLETE) {
            rejected++;
        }
        free(exact);
    }
    CHECK(accepted > 1000); /* mutations that keep a valid request */
    CHECK(rejected > 1000);
}
