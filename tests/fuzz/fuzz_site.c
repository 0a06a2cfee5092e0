/*
 * libFuzzer harness: a site archive from the input -- lib/cpio.c's walk,
 * net/site.c's table over it, and net/http_static.c's answers for every path
 * it serves. The archive sits in an exact-size heap copy, so ASan sees any
 * read past it; every entry, file and answer body must lie inside it. The
 * input's first byte picks a request header set (ranges, validators, gzip).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cpio.h"
#include "lib/kheap.h"
#include "lib/log.h"
#include "net/http_parser.h"
#include "net/http_static.h"
#include "net/site.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* The kernel services net/site.c uses, from the host. */
void *kmalloc(size_t size) { return size ? malloc(size) : NULL; }
void kfree(void *ptr) { free(ptr); }
void klog(enum log_level level, const char *fmt, ...) { (void)level; (void)fmt; }

static const char *const header_sets[] = {
    "",
    "Range: bytes=0-0\r\n",
    "Range: bytes=-7\r\nAccept-Encoding: gzip\r\n",
    "Range: bytes=3-\r\nIf-Range: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
    "If-None-Match: *\r\n",
    "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\nAccept-Encoding: *\r\n",
    "If-Match: \"0000000000000000\"\r\n",
    "Accept-Encoding: gzip;q=0.001, *;q=0\r\nRange: bytes=99999999999-\r\n",
};

static bool inside(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
    return p >= base && n <= size && (size_t)(p - base) <= size - n;
}

static void touch(const uint8_t *p, size_t n)
{
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    (void)sum;
}

/* Percent-encodes path into "GET /..." and asks http_static. */
static void request_path(const char *path, size_t len, const char *headers, const uint8_t *base, size_t size)
{
    static char text[3 * HTTP_MAX_PATH + 256];
    size_t n = (size_t)snprintf(text, sizeof(text), "GET /");
    for (size_t i = 0; i < len && n + 4 < HTTP_MAX_PATH; i++)
        n += (size_t)snprintf(text + n, 4, "%%%02X", (unsigned char)path[i]);
    n += (size_t)snprintf(text + n, sizeof(text) - n, " HTTP/1.1\r\nHost: fuzz\r\n%s\r\n", headers);
    struct http_request req;
    size_t consumed;
    if (http_parse_request(text, n, &req, &consumed) != HTTP_PARSE_OK)
        return;
    static struct http_static_reply reply;
    /* A clock in 2023: files of every age, dates before and after it. */
    if (!http_static_answer(&req, 1700000000u, &reply))
        return;
    CHECK(reply.headers_len < sizeof(reply.headers));
    CHECK(reply.status == 200 || reply.status == 206 || reply.status == 301 || reply.status == 304 ||
          reply.status == 412 || reply.status == 414 || reply.status == 416);
    if (reply.status == 200 || reply.status == 206) {
        CHECK(inside(reply.body, reply.body_len, base, size));
        touch(reply.body, reply.body_len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *headers = header_sets[data[0] % (sizeof(header_sets) / sizeof(header_sets[0]))];
    size--;
    uint8_t *archive = malloc(size ? size : 1);
    CHECK(archive);
    memcpy(archive, data + 1, size);

    struct cpio_reader r;
    struct cpio_entry e;
    enum cpio_status s;
    cpio_reader_init(&r, archive, size);
    while ((s = cpio_next(&r, &e)) == CPIO_ENTRY) {
        CHECK(inside((const uint8_t *)e.name, e.name_len + 1, archive, size) && e.name[e.name_len] == '\0');
        CHECK(inside(e.data, e.size, archive, size));
    }
    CHECK(s == CPIO_END || r.error_offset <= size);
    CHECK(cpio_next(&r, &e) == s); /* the verdict stays */

    if (site_load(archive, size) == 0) {
        CHECK(site_stats()->served);
        /* Every entry's path is looked up and asked for: all answers stay inside the archive. */
        cpio_reader_init(&r, archive, size);
        const char *prev = "";
        size_t prev_len = 0;
        while (cpio_next(&r, &e) == CPIO_ENTRY) {
            const char *name = e.name;
            size_t len = e.name_len;
            while (len && (name[0] == '/' || (name[0] == '.' && (len == 1 || name[1] == '/'))))
                name++, len--;
            const struct site_file *f = site_find(name, len);
            if (f && !f->is_dir) {
                CHECK(inside(f->data, f->size, archive, size));
                site_file_etag(f);
            }
            site_is_dir(name, len);
            request_path(name, len, headers, archive, size);
            /* And a path below it made of the previous entry's name, so that
             * links to directories are gone through. */
            char below[2 * 300];
            if (len < 300 && prev_len < 300) {
                memcpy(below, name, len);
                below[len] = '/';
                memcpy(below + len + 1, prev, prev_len);
                f = site_find(below, len + 1 + prev_len);
                if (f && !f->is_dir)
                    CHECK(inside(f->data, f->size, archive, size));
                site_is_dir(below, len + 1 + prev_len);
                request_path(below, len + 1 + prev_len, headers, archive, size);
            }
            prev = name;
            prev_len = len;
        }
        request_path("", 0, headers, archive, size);
    } else {
        CHECK(!site_stats()->served);
    }
    /* The table points into this archive: drop it before the archive goes. */
    site_load("", 0);
    free(archive);
    return 0;
}
