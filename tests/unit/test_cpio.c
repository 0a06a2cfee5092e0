/*
 * lib/cpio.c: newc archives as `cpio -o -H newc` writes them, concatenated
 * archives, and every malformation the walk must refuse with its offset.
 */
#include <stdio.h>
#include <string.h>

#include "lib/cpio.h"
#include "tests/unit/check.h"
#include "tests/unit/cpio_build.h"

#define MTIME 1700000000

static size_t add(struct cpio_build *a, const char *magic, const char *name, unsigned namesize, unsigned mode,
                  unsigned mtime, const void *data, unsigned size, unsigned check)
{
    return cpio_build_add(a, &(struct cpio_build_entry){ .magic = magic, .name = name, .namesize = namesize,
                                                             .mode = mode, .mtime = mtime, .data = data,
                                                             .size = size, .check = check, .ino = 7 });
}

static size_t add_file(struct cpio_build *a, const char *name, const char *text)
{
    return add(a, CPIO_MAGIC, name, 0, CPIO_MODE_FILE | 0644, MTIME, text, (unsigned)strlen(text), 0);
}

static void add_trailer(struct cpio_build *a)
{
    cpio_build_trailer(a);
}

/* Walks to the first non-entry status; returns it and the number of entries seen. */
static enum cpio_status walk(const struct cpio_build *a, int *entries, size_t *error_offset)
{
    struct cpio_reader r;
    struct cpio_entry e;
    enum cpio_status s;
    cpio_reader_init(&r, a->bytes, a->len);
    *entries = 0;
    while ((s = cpio_next(&r, &e)) == CPIO_ENTRY)
        (*entries)++;
    *error_offset = r.error_offset;
    return s;
}

TEST(cpio_empty_and_zeros)
{
    struct cpio_build a = { .len = 0 };
    int n;
    size_t off;
    CHECK_EQ(walk(&a, &n, &off), CPIO_END);
    CHECK_EQ(n, 0);
    a.len = 512; /* all zeros: padding only */
    CHECK_EQ(walk(&a, &n, &off), CPIO_END);
}

TEST(cpio_entries_as_written)
{
    struct cpio_build a = { .len = 0 };
    add(&a, CPIO_MAGIC, ".", 0, CPIO_MODE_DIR | 0755, 5, "", 0, 0);
    add_file(&a, "./index.html", "<p>hi</p>\n");
    add_file(&a, "./a b/\xc3\xa9t\xc3\xa9.txt", "x");
    add_trailer(&a);
    a.len = (a.len + 511) / 512 * 512; /* cpio's block padding */

    struct cpio_reader r;
    struct cpio_entry e;
    cpio_reader_init(&r, a.bytes, a.len);
    CHECK_EQ(cpio_next(&r, &e), CPIO_ENTRY);
    CHECK_STR_EQ(e.name, ".");
    CHECK_EQ(e.mode & CPIO_MODE_TYPE, CPIO_MODE_DIR);
    CHECK_EQ(e.offset, 0);
    CHECK_EQ(cpio_next(&r, &e), CPIO_ENTRY);
    CHECK_STR_EQ(e.name, "./index.html");
    CHECK_EQ(e.name_len, 12);
    CHECK_EQ(e.size, 10);
    CHECK(memcmp(e.data, "<p>hi</p>\n", 10) == 0);
    CHECK_EQ(e.mode, CPIO_MODE_FILE | 0644);
    CHECK_EQ(e.mtime, 1700000000);
    CHECK_EQ(e.ino, 7);
    CHECK_EQ(((uintptr_t)e.data - (uintptr_t)a.bytes) % 4, 0);
    CHECK_EQ(cpio_next(&r, &e), CPIO_ENTRY);
    CHECK_STR_EQ(e.name, "./a b/\xc3\xa9t\xc3\xa9.txt");
    CHECK_EQ(cpio_next(&r, &e), CPIO_END);
    CHECK_EQ(cpio_next(&r, &e), CPIO_END); /* and stays there */
}

TEST(cpio_concatenated_archives)
{
    struct cpio_build a = { .len = 0 };
    add_file(&a, "one", "1");
    add_trailer(&a);
    a.len += 512 - a.len % 512;
    add_file(&a, "two", "22");
    add_file(&a, "one", "override");
    add_trailer(&a);
    int n;
    size_t off;
    CHECK_EQ(walk(&a, &n, &off), CPIO_END);
    CHECK_EQ(n, 3);

    /* An archive after the padding must start on a multiple of 4. */
    struct cpio_build b = { .len = 0 };
    add_file(&b, "one", "1");
    add_trailer(&b);
    size_t second = b.len + 2;
    b.len = second;
    add_file(&b, "two", "2");
    CHECK_EQ(walk(&b, &n, &off), CPIO_MISALIGNED);
    CHECK_EQ(off, second);
}

TEST(cpio_checksummed_entries)
{
    struct cpio_build a = { .len = 0 };
    add(&a, CPIO_MAGIC_CRC, "ok", 0, CPIO_MODE_FILE, 0, "\x01\x02\xff", 3, 0x102);
    add_trailer(&a);
    int n;
    size_t off;
    CHECK_EQ(walk(&a, &n, &off), CPIO_END);
    CHECK_EQ(n, 1);
    struct cpio_build b = { .len = 0 };
    add(&b, CPIO_MAGIC_CRC, "bad", 0, CPIO_MODE_FILE, 0, "\x01\x02\xff", 3, 0x103);
    add_trailer(&b);
    CHECK_EQ(walk(&b, &n, &off), CPIO_BAD_CHECKSUM);
    CHECK_EQ(off, 116); /* the data: after 110 + "bad\0", padded to a multiple of 4 */
}

TEST(cpio_bad_magic_names_the_offset)
{
    struct cpio_build a = { .len = 0 };
    add_file(&a, "first", "abc");
    size_t second = add_file(&a, "second", "x");
    add_trailer(&a);
    a.bytes[second + 5] = '9'; /* 070709 */
    int n;
    size_t off;
    CHECK_EQ(walk(&a, &n, &off), CPIO_BAD_MAGIC);
    CHECK_EQ(n, 1);
    CHECK_EQ(off, second);
    memcpy(a.bytes, "PK\3\4", 4); /* not cpio at all */
    CHECK_EQ(walk(&a, &n, &off), CPIO_BAD_MAGIC);
    CHECK_EQ(off, 0);
}

TEST(cpio_truncated)
{
    struct cpio_build a = { .len = 0 };
    add_file(&a, "file", "0123456789abcdef");
    size_t trailer = a.len;
    add_trailer(&a);
    int n;
    size_t off;
    struct cpio_build cut = a;
    cut.len = trailer + 50; /* inside the trailer's header */
    CHECK_EQ(walk(&cut, &n, &off), CPIO_TRUNCATED_HEADER);
    CHECK_EQ(off, trailer);
    cut.len = trailer; /* between entries: the trailer is missing */
    CHECK_EQ(walk(&cut, &n, &off), CPIO_NO_TRAILER);
    CHECK_EQ(n, 1);
    CHECK_EQ(off, trailer);
    cut.len = CPIO_HEADER_SIZE + 8 + 10; /* inside the data */
    CHECK_EQ(walk(&cut, &n, &off), CPIO_DATA_PAST_END);
    CHECK_EQ(off, 0);
    cut.len = CPIO_HEADER_SIZE + 2; /* inside the name */
    CHECK_EQ(walk(&cut, &n, &off), CPIO_NAME_PAST_END);
    CHECK_EQ(off, CPIO_HEADER_SIZE);
}

TEST(cpio_bad_fields)
{
    struct cpio_build a = { .len = 0 };
    add_file(&a, "file", "data");
    add_trailer(&a);
    int n;
    size_t off;
    struct cpio_build b = a;
    b.bytes[6 + 8 * 6 + 3] = 'g'; /* c_filesize */
    CHECK_EQ(walk(&b, &n, &off), CPIO_BAD_FIELD);
    CHECK_EQ(off, 6 + 8 * 6);
    b = a;
    b.bytes[6 + 8 * 1] = ' '; /* c_mode */
    CHECK_EQ(walk(&b, &n, &off), CPIO_BAD_FIELD);
    CHECK_EQ(off, 6 + 8);

    /* c_filesize far past the end: no overflow, refused. */
    b = a;
    memcpy(b.bytes + 6 + 8 * 6, "FFFFFFFF", 8);
    CHECK_EQ(walk(&b, &n, &off), CPIO_DATA_PAST_END);
    b = a;
    memcpy(b.bytes + 6 + 8 * 11, "FFFFFFFF", 8); /* c_namesize */
    CHECK_EQ(walk(&b, &n, &off), CPIO_NAME_PAST_END);
}

TEST(cpio_bad_names)
{
    int n;
    size_t off;
    struct cpio_build a = { .len = 0 };
    add(&a, CPIO_MAGIC, "abc", 3, CPIO_MODE_FILE, 0, "", 0, 0); /* namesize leaves out the NUL */
    add_trailer(&a);
    CHECK_EQ(walk(&a, &n, &off), CPIO_BAD_NAME);
    CHECK_EQ(off, CPIO_HEADER_SIZE + 2);

    struct cpio_build b = { .len = 0 };
    add(&b, CPIO_MAGIC, "a\0c", 4, CPIO_MODE_FILE, 0, "", 0, 0); /* a NUL inside */
    add_trailer(&b);
    CHECK_EQ(walk(&b, &n, &off), CPIO_BAD_NAME);
    CHECK_EQ(off, CPIO_HEADER_SIZE + 1);

    struct cpio_build c = { .len = 0 };
    add_file(&c, "x", "");
    add_trailer(&c);
    memcpy(c.bytes + 6 + 8 * 11, "00000000", 8); /* namesize 0 */
    CHECK_EQ(walk(&c, &n, &off), CPIO_BAD_NAME);
}

TEST(cpio_errors_stay)
{
    struct cpio_build a = { .len = 0 };
    add_file(&a, "file", "data");
    a.bytes[0] = 'x';
    struct cpio_reader r;
    struct cpio_entry e;
    cpio_reader_init(&r, a.bytes, a.len);
    CHECK_EQ(cpio_next(&r, &e), CPIO_BAD_MAGIC);
    CHECK_EQ(cpio_next(&r, &e), CPIO_BAD_MAGIC);
    CHECK_STR_EQ(cpio_status_text(CPIO_BAD_NAME), "name without NUL (or empty, or with a NUL inside)");
}

/* The last entry's data padding may be missing when nothing follows. */
TEST(cpio_last_padding_optional)
{
    struct cpio_build a = { .len = 0 };
    add_file(&a, "f", "1");
    add(&a, CPIO_MAGIC, CPIO_TRAILER, 0, 0, 0, "z", 1, 0);
    a.len -= 3;
    int n;
    size_t off;
    CHECK_EQ(walk(&a, &n, &off), CPIO_END);
    CHECK_EQ(n, 1);
}
