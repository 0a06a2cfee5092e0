/*
 * lib/ksyms.c: ksym_find over a small hand-made table of spans: adjacent
 * functions, one followed by padding (the padding counts as its own), a
 * one-byte and a zero-span function; and the empty table.
 */
#include <stdint.h>
#include <string.h>

#include "lib/ksyms.h"
#include "tests/unit/check.h"

/* One name a function, in order. */
static const char names[] = "alpha\0beta\0gamma\0delta\0empty\0last";
static const unsigned name_at[] = { 0, 6, 11, 17, 23, 29 };

#define FIRST 0x1000
static const uint16_t spans[] = {
    0x20,   /* alpha: 0x1000..0x101f */
    0x20,   /* beta: 0x1020..0x103f, its last 0x10 bytes padding */
    0xfc0,  /* gamma: 0x1040..0x1fff */
    0x1,    /* delta: 0x2000 alone */
    0x0,    /* empty: an alias of the next, never found */
    0xffff, /* last: 0x2001..0x11fff, the largest span */
};
#define COUNT (sizeof(spans) / sizeof(spans[0]))
static const struct ksym_table table = { FIRST, spans, COUNT, names };

/* Looks `offset` up; checks the name (NULL for none) and, when found, within and size. */
static void check_find(const char *file, int line, const struct ksym_table *t, uint64_t offset,
                       const char *name, uint64_t within, uint64_t size)
{
    uint64_t got_within = 0xdead, got_size = 0xbeef;
    const char *got = ksym_find(t, offset, &got_within, &got_size);
    bool ok = name ? got && strcmp(got, name) == 0 && got_within == within && got_size == size : got == NULL;
    if (ok)
        unit_pass();
    else
        unit_fail(file, line, "ksym_find(%#llx) = %s+%#llx/%#llx, want %s+%#llx/%#llx", (unsigned long long)offset,
                  got ? got : "NULL", (unsigned long long)got_within, (unsigned long long)got_size,
                  name ? name : "NULL", (unsigned long long)within, (unsigned long long)size);
}
#define CHECK_FIND(offset, name, within, size) check_find(__FILE__, __LINE__, &table, offset, name, within, size)
#define CHECK_MISS(offset) check_find(__FILE__, __LINE__, &table, offset, NULL, 0, 0)

TEST(ksyms_before_the_first_symbol)
{
    CHECK_MISS(0);
    CHECK_MISS(0x10);
    CHECK_MISS(0xfff);
}

TEST(ksyms_start_inside_and_last_byte)
{
    CHECK_FIND(0x1000, "alpha", 0, 0x20);
    CHECK_FIND(0x1001, "alpha", 1, 0x20);
    CHECK_FIND(0x1010, "alpha", 0x10, 0x20);
    CHECK_FIND(0x101f, "alpha", 0x1f, 0x20);
    /* One past alpha is the first byte of its neighbour. */
    CHECK_FIND(0x1020, "beta", 0, 0x20);
    CHECK_FIND(0x102f, "beta", 0xf, 0x20);
    CHECK_FIND(0x1040, "gamma", 0, 0xfc0);
    CHECK_FIND(0x1fff, "gamma", 0xfbf, 0xfc0);
    CHECK_FIND(0x2000, "delta", 0, 1);
    /* The zero-span alias holds nothing: its address is the next function's. */
    CHECK_FIND(0x2001, "last", 0, 0xffff);
    CHECK_FIND(0x11fff, "last", 0xfffe, 0xffff);
}

TEST(ksyms_padding_and_past_the_end)
{
    /* Padding after a function is found as that function. */
    CHECK_FIND(0x1030, "beta", 0x10, 0x20);
    CHECK_FIND(0x103f, "beta", 0x1f, 0x20);
    /* After the last function, including offsets beyond 32 bits. */
    CHECK_MISS(0x12000);
    CHECK_MISS(0x100000000ULL);
    CHECK_MISS(UINT64_MAX);
}

/* Every offset from 0 to past the end agrees with a plain reading of the
 * table: the function whose [start, start + span) holds it. */
TEST(ksyms_sweep_matches_linear_scan)
{
    unsigned long wrong = 0;
    for (uint64_t off = 0; off < 0x12100; off++) {
        const char *want_name = NULL;
        uint64_t start = FIRST, want_start = 0, want_span = 0;
        for (size_t i = 0; i < COUNT; start += spans[i], i++)
            if (off >= start && off < start + spans[i]) {
                want_name = names + name_at[i];
                want_start = start;
                want_span = spans[i];
            }
        uint64_t within = 0, size = 0;
        const char *got = ksym_find(&table, off, &within, &size);
        if (want_name)
            wrong += got != want_name || within != off - want_start || size != want_span;
        else
            wrong += got != NULL;
    }
    CHECK_EQ(wrong, 0);
}

TEST(ksyms_empty_and_single_tables)
{
    const struct ksym_table empty = { 0, NULL, 0, "" };
    uint64_t within = 7, size = 7;
    CHECK(ksym_find(&empty, 0, &within, &size) == NULL);
    CHECK(ksym_find(&empty, 0x1000, &within, &size) == NULL);
    CHECK(ksym_find(&empty, UINT64_MAX, &within, &size) == NULL);

    const uint16_t one_span[] = { 0x100 };
    const struct ksym_table one = { 0x400, one_span, 1, "only" };
    check_find(__FILE__, __LINE__, &one, 0x3ff, NULL, 0, 0);
    check_find(__FILE__, __LINE__, &one, 0x400, "only", 0, 0x100);
    check_find(__FILE__, __LINE__, &one, 0x4ff, "only", 0xff, 0x100);
    check_find(__FILE__, __LINE__, &one, 0x500, NULL, 0, 0);

    /* A function at offset 0 (the image base). */
    const uint16_t zero_spans[] = { 0x10, 0x10 };
    const struct ksym_table zero = { 0, zero_spans, 2, "head\0next" };
    check_find(__FILE__, __LINE__, &zero, 0, "head", 0, 0x10);
    check_find(__FILE__, __LINE__, &zero, 0x10, "next", 0, 0x10);
    check_find(__FILE__, __LINE__, &zero, 0x20, NULL, 0, 0);
}
