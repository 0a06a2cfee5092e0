/*
 * lib/ksyms.c: ksym_find over a small hand-made table with adjacent
 * functions, a gap, a one-byte and a zero-size symbol, one near the top of
 * the 32-bit offset range; and the empty table.
 */
#include <stdint.h>
#include <string.h>

#include "lib/ksyms.h"
#include "tests/unit/check.h"

/* One name an entry, in order. */
static const char names[] = "alpha\0beta\0gamma\0delta\0empty\0last";
static const unsigned name_at[] = { 0, 6, 11, 17, 23, 29 };

static const struct ksym syms[] = {
    { 0x1000, 0x20 },     /* alpha: 0x1000..0x101f */
    { 0x1020, 0x10 },     /* beta: 0x1020..0x102f, right after alpha */
    { 0x1040, 0x30 },     /* gamma: after a gap 0x1030..0x103f */
    { 0x2000, 0x1 },      /* delta: one byte */
    { 0x3000, 0x0 },      /* empty: no bytes, never found */
    { 0xfffffff0, 0x10 }, /* last: up to the last 32-bit offset */
};
static const struct ksym_table table = { syms, sizeof(syms) / sizeof(syms[0]), names };

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
    CHECK_FIND(0x1020, "beta", 0, 0x10);
    CHECK_FIND(0x102f, "beta", 0xf, 0x10);
    CHECK_FIND(0x1040, "gamma", 0, 0x30);
    CHECK_FIND(0x106f, "gamma", 0x2f, 0x30);
    CHECK_FIND(0x2000, "delta", 0, 1);
    CHECK_FIND(0xfffffff0, "last", 0, 0x10);
    CHECK_FIND(0xffffffff, "last", 0xf, 0x10);
}

TEST(ksyms_gaps_and_past_the_end)
{
    /* One past a symbol's size, in a gap. */
    CHECK_MISS(0x1030);
    CHECK_MISS(0x103f);
    CHECK_MISS(0x1070);
    CHECK_MISS(0x1fff);
    CHECK_MISS(0x2001);
    /* A zero-size symbol contains nothing, not even its own start. */
    CHECK_MISS(0x3000);
    CHECK_MISS(0x3001);
    /* After the last symbol, including offsets beyond 32 bits. */
    CHECK_MISS(0x100000000ULL);
    CHECK_MISS(0x100001000ULL);
    CHECK_MISS(UINT64_MAX);
}

/* Every offset from 0 to past 0x3000 agrees with a plain reading of the
 * table: the symbol whose [offset, offset + size) holds it. */
TEST(ksyms_sweep_matches_linear_scan)
{
    unsigned long wrong = 0;
    for (uint64_t off = 0; off < 0x3100; off++) {
        const struct ksym *want = NULL;
        const char *want_name = NULL;
        for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++)
            if (off >= syms[i].offset && off < (uint64_t)syms[i].offset + syms[i].size) {
                want = &syms[i];
                want_name = names + name_at[i];
            }
        uint64_t within = 0, size = 0;
        const char *got = ksym_find(&table, off, &within, &size);
        if (want)
            wrong += got != want_name || within != off - want->offset || size != want->size;
        else
            wrong += got != NULL;
    }
    CHECK_EQ(wrong, 0);
}

TEST(ksyms_empty_and_single_tables)
{
    const struct ksym_table empty = { NULL, 0, "" };
    uint64_t within = 7, size = 7;
    CHECK(ksym_find(&empty, 0, &within, &size) == NULL);
    CHECK(ksym_find(&empty, 0x1000, &within, &size) == NULL);
    CHECK(ksym_find(&empty, UINT64_MAX, &within, &size) == NULL);

    const struct ksym one_sym[] = { { 0x400, 0x100 } };
    const struct ksym_table one = { one_sym, 1, "only" };
    check_find(__FILE__, __LINE__, &one, 0x3ff, NULL, 0, 0);
    check_find(__FILE__, __LINE__, &one, 0x400, "only", 0, 0x100);
    check_find(__FILE__, __LINE__, &one, 0x4ff, "only", 0xff, 0x100);
    check_find(__FILE__, __LINE__, &one, 0x500, NULL, 0, 0);

    /* A symbol at offset 0 (the image base). */
    const struct ksym zero_sym[] = { { 0, 0x10 }, { 0x10, 0x10 } };
    const struct ksym_table zero = { zero_sym, 2, "head\0next" };
    check_find(__FILE__, __LINE__, &zero, 0, "head", 0, 0x10);
    check_find(__FILE__, __LINE__, &zero, 0x10, "next", 0, 0x10);
    check_find(__FILE__, __LINE__, &zero, 0x20, NULL, 0, 0);
}
