/*
 * libFuzzer harness: net/http_parser.c's http_parse_request on the input,
 * whole and at every split point (what has arrived so far), and on what
 * follows a complete request (pipelining). Each buffer handed to the parser
 * is an exact-size heap copy, so ASan sees any read past its end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http_parser.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* Parses buf[0..len) from an exact-size copy; checks what an OK result claims. */
static enum http_parse_status parse_copy(const uint8_t *buf, size_t len, struct http_request *req, size_t *consumed)
{
    char *copy = malloc(len ? len : 1);
    CHECK(copy);
    if (len)
        memcpy(copy, buf, len);
    *consumed = 0;
    enum http_parse_status s = http_parse_request(copy, len, req, consumed);
    CHECK(s == HTTP_PARSE_OK || s == HTTP_PARSE_INCOMPLETE || s == HTTP_PARSE_BAD_REQUEST ||
          s == HTTP_PARSE_BAD_VERSION || s == HTTP_PARSE_URI_TOO_LONG || s == HTTP_PARSE_HEADERS_TOO_LARGE);
    if (s == HTTP_PARSE_OK) {
        /* The query and kept header values lie inside the request's header block. */
        const struct http_field *fields[] = { &req->query, &req->accept_encoding, &req->if_match,
                                              &req->if_none_match, &req->if_modified_since, &req->if_unmodified_since,
                                              &req->range, &req->if_range };
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            struct http_field *f = (struct http_field *)fields[i];
            CHECK(!f->present || (f->value >= copy && f->value + f->len <= copy + *consumed));
            /* As offsets, so that parses of different copies compare equal. */
            f->value = f->present ? (const char *)(uintptr_t)(f->value - copy) : NULL;
        }
    }
    free(copy);
    if (s == HTTP_PARSE_OK) {
        CHECK(*consumed >= 4 && *consumed <= len && *consumed <= HTTP_MAX_HEADER_BYTES);
        CHECK(memchr(req->method_text, '\0', sizeof(req->method_text)) != NULL);
        CHECK(memchr(req->path, '\0', sizeof(req->path)) != NULL);
        CHECK(req->method_text[0] != '\0' && req->path[0] != '\0');
        CHECK(req->version_minor == 0 || req->version_minor == 1);
        CHECK(req->method == HTTP_GET || req->method == HTTP_HEAD || req->method == HTTP_OTHER);
    }
    return s;
}

/* Parses requests one after the other, as a keep-alive connection would. */
static void parse_pipeline(const uint8_t *buf, size_t len)
{
    struct http_request req;
    size_t consumed;
    while (parse_copy(buf, len, &req, &consumed) == HTTP_PARSE_OK) {
        buf += consumed;
        len -= consumed;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_request whole_req, req;
    size_t whole_consumed, consumed;
    enum http_parse_status whole = parse_copy(data, size, &whole_req, &whole_consumed);
    parse_pipeline(data, size);

    /* Every prefix: what a connection has received so far. */
    for (size_t k = 0; k <= size; k++) {
        enum http_parse_status s = parse_copy(data, k, &req, &consumed);
        if (s == HTTP_PARSE_OK) {
            /* A complete request stays the same request whatever follows it. */
            CHECK(whole == HTTP_PARSE_OK && consumed == whole_consumed);
            CHECK(memcmp(&req, &whole_req, sizeof(req)) == 0);
            parse_pipeline(data + consumed, size - consumed);
        } else if (s != HTTP_PARSE_INCOMPLETE) {
            /* A verdict on a prefix holds for the whole. */
            CHECK(whole == s);
        }
    }
    return 0;
}
