/*
 * lib/page_alloc.c over a fake memory map: what may ever be handed out,
 * contiguous and aligned runs, exhaustion, freeing (good and bad),
 * reservations, the counters, and a randomized alloc/free run checked
 * against a shadow array that models first-fit from the search hint.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/page_alloc.h"
#include "tests/unit/check.h"

#define MIB 0x100000ULL
#define TOP (64 * MIB) /* exclusive; 16384 pages */
#define PAGES (TOP / PAGE_SIZE)

struct region {
    uint64_t base, size;
    uint64_t expect_added; /* whole pages at or above 1 MiB and below TOP */
};

/* Conventional memory as firmware might report it, odd bounds included. */
static const struct region fake_map[] = {
    { 0x0, 0x9f000, 0 },                /* below 1 MiB: never handed out */
    { 0xf0000, 0x90000, 128 },          /* straddles 1 MiB: only 0x100000..0x17ffff */
    { 0x200123, 0x200ddd, 511 },        /* unaligned both ends: pages 0x201..0x3ff */
    { 0x1000000, 0x1000000, 4096 },     /* 16 MiB, 2 MiB aligned */
    { 0x2800010, 0xff0, 0 },            /* less than a whole page */
    { 0x3000000, 0x1000, 1 },           /* exactly one page */
    { 0x3ffe000, 0x10000, 2 },          /* runs past TOP: two pages kept */
};
#define FAKE_MAP_PAGES (128 + 511 + 4096 + 1 + 2)

/* The model: a page is usable when it lies wholly inside a region, at or
 * above PAGE_ALLOC_MIN_ADDR and below TOP. */
static bool page_usable(uint64_t page)
{
    uint64_t start = page * PAGE_SIZE, end = start + PAGE_SIZE;
    if (start < PAGE_ALLOC_MIN_ADDR || end > TOP)
        return false;
    for (size_t i = 0; i < sizeof(fake_map) / sizeof(fake_map[0]); i++)
        if (start >= fake_map[i].base && end <= fake_map[i].base + fake_map[i].size)
            return true;
    return false;
}

struct fixture {
    struct page_alloc pa;
    uint64_t *bitmap;
    size_t bitmap_bytes;
};

static void fixture_init(struct fixture *f)
{
    f->bitmap_bytes = page_alloc_bitmap_bytes(TOP);
    f->bitmap = calloc(1, f->bitmap_bytes);
    if (!f->bitmap)
        abort();
    page_alloc_init(&f->pa, f->bitmap, TOP);
    for (size_t i = 0; i < sizeof(fake_map) / sizeof(fake_map[0]); i++)
        page_alloc_add_range(&f->pa, fake_map[i].base, fake_map[i].size);
}

static void fixture_fini(struct fixture *f)
{
    free(f->bitmap);
}

/* A copy of everything the allocator owns, to prove a call changed nothing. */
struct snapshot {
    struct page_alloc pa;
    uint64_t *bitmap;
    size_t bytes;
};

static void snapshot_take(struct snapshot *s, const struct fixture *f)
{
    s->pa = f->pa;
    s->bytes = f->bitmap_bytes;
    s->bitmap = malloc(s->bytes);
    if (!s->bitmap)
        abort();
    memcpy(s->bitmap, f->bitmap, s->bytes);
}

static bool snapshot_same(struct snapshot *s, const struct fixture *f)
{
    bool same = memcmp(s->bitmap, f->bitmap, s->bytes) == 0 && s->pa.free_pages == f->pa.free_pages &&
                s->pa.managed_pages == f->pa.managed_pages && s->pa.page_count == f->pa.page_count;
    free(s->bitmap);
    s->bitmap = NULL;
    return same;
}

static uint64_t count_free_pages(const struct page_alloc *pa)
{
    uint64_t n = 0;
    for (uint64_t p = 0; p < PAGES; p++)
        n += page_alloc_is_free(pa, p * PAGE_SIZE);
    return n;
}

/* Two bitmaps (in use, managed) of one bit per page, each whole 64-bit words. */
TEST(page_alloc_bitmap_bytes)
{
    CHECK_EQ(page_alloc_bitmap_bytes(0), 0);
    CHECK_EQ(page_alloc_bitmap_bytes(1), 16);
    CHECK_EQ(page_alloc_bitmap_bytes(PAGE_SIZE), 16);
    CHECK_EQ(page_alloc_bitmap_bytes(64 * PAGE_SIZE), 16);
    CHECK_EQ(page_alloc_bitmap_bytes(64 * PAGE_SIZE + 1), 32);
    CHECK_EQ(page_alloc_bitmap_bytes(65 * PAGE_SIZE), 32);
    CHECK_EQ(page_alloc_bitmap_bytes(TOP), 2 * (PAGES / 8));
    CHECK_EQ(page_alloc_bitmap_bytes(4096 * MIB), 2 * 131072);
}

TEST(page_alloc_starts_all_in_use)
{
    uint64_t bitmap[8];
    memset(bitmap, 0, sizeof(bitmap));
    struct page_alloc pa;
    page_alloc_init(&pa, bitmap, 200 * PAGE_SIZE + 1); /* 201 pages, 4 words per bitmap */
    CHECK_EQ(pa.page_count, 201);
    CHECK_EQ(pa.free_pages, 0);
    CHECK_EQ(pa.managed_pages, 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(bitmap[i], ~0ULL);   /* all in use */
        CHECK_EQ(bitmap[4 + i], 0);   /* none managed */
    }
    CHECK_EQ(page_alloc_alloc(&pa, 1, 0), 0);
    CHECK_EQ(page_alloc_is_free(&pa, 0x100000), false);
}

TEST(page_alloc_add_range_only_whole_usable_pages)
{
    struct fixture f;
    f.bitmap_bytes = page_alloc_bitmap_bytes(TOP);
    f.bitmap = calloc(1, f.bitmap_bytes);
    page_alloc_init(&f.pa, f.bitmap, TOP);
    for (size_t i = 0; i < sizeof(fake_map) / sizeof(fake_map[0]); i++)
        CHECK_EQ(page_alloc_add_range(&f.pa, fake_map[i].base, fake_map[i].size), fake_map[i].expect_added);
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES);
    CHECK_EQ(f.pa.managed_pages, FAKE_MAP_PAGES);

    /* Exactly the model's pages are free, whichever address inside them is asked. */
    uint64_t mismatches = 0;
    for (uint64_t p = 0; p < PAGES; p++) {
        bool usable = page_usable(p);
        mismatches += page_alloc_is_free(&f.pa, p * PAGE_SIZE) != usable;
        mismatches += page_alloc_is_free(&f.pa, p * PAGE_SIZE + 0x123) != usable;
        mismatches += page_alloc_is_free(&f.pa, p * PAGE_SIZE + PAGE_SIZE - 1) != usable;
    }
    CHECK_EQ(mismatches, 0);
    CHECK_EQ(count_free_pages(&f.pa), FAKE_MAP_PAGES);
    CHECK_EQ(page_alloc_is_free(&f.pa, 0x200000), false); /* the page holding 0x200123 */
    CHECK_EQ(page_alloc_is_free(&f.pa, 0x201000), true);
    CHECK_EQ(page_alloc_is_free(&f.pa, 0x400000), false); /* the page holding 0x400f00 */
    CHECK_EQ(page_alloc_is_free(&f.pa, 0x3ff000), true);
    CHECK_EQ(page_alloc_is_free(&f.pa, TOP), false);
    CHECK_EQ(page_alloc_is_free(&f.pa, TOP + 0x10000), false);
    CHECK_EQ(page_alloc_is_free(&f.pa, UINT64_MAX), false);

    /* Adding again, a zero size, or a range that wraps adds nothing. */
    struct snapshot s;
    snapshot_take(&s, &f);
    CHECK_EQ(page_alloc_add_range(&f.pa, 0x1000000, 0x1000000), 0);
    CHECK_EQ(page_alloc_add_range(&f.pa, 0x500000, 0), 0);
    CHECK_EQ(page_alloc_add_range(&f.pa, UINT64_MAX - 0x1fff, 0x10000), 0);
    CHECK_EQ(page_alloc_add_range(&f.pa, 0x10000, 0xf0000), 0); /* wholly below 1 MiB */
    CHECK_EQ(page_alloc_add_range(&f.pa, TOP, 0x100000), 0);     /* wholly above TOP */
    CHECK(snapshot_same(&s, &f));

    /* An overlapping range counts only its new pages. */
    CHECK_EQ(page_alloc_add_range(&f.pa, 0x1fff000, 0x3000), 2);
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES + 2);
    CHECK_EQ(f.pa.managed_pages, FAKE_MAP_PAGES + 2);
    fixture_fini(&f);
}

TEST(page_alloc_single_pages_until_exhausted)
{
    struct fixture f;
    fixture_init(&f);
    unsigned char *taken = calloc(PAGES, 1);
    uint64_t got = 0, outside = 0, unaligned = 0, repeated = 0;
    for (;;) {
        uint64_t a = page_alloc_alloc(&f.pa, 1, 0);
        if (!a)
            break;
        uint64_t p = a / PAGE_SIZE;
        unaligned += a % PAGE_SIZE != 0;
        outside += a < PAGE_ALLOC_MIN_ADDR || p >= PAGES || !page_usable(p);
        if (p < PAGES) {
            repeated += taken[p];
            taken[p] = 1;
        }
        if (++got > FAKE_MAP_PAGES)
            break;
    }
    CHECK_EQ(got, FAKE_MAP_PAGES);
    CHECK_EQ(outside, 0);
    CHECK_EQ(unaligned, 0);
    CHECK_EQ(repeated, 0);
    CHECK_EQ(f.pa.free_pages, 0);
    CHECK_EQ(f.pa.managed_pages, FAKE_MAP_PAGES);
    CHECK_EQ(count_free_pages(&f.pa), 0);

    /* Exhausted: still 0, and nothing changes. */
    struct snapshot s;
    snapshot_take(&s, &f);
    CHECK_EQ(page_alloc_alloc(&f.pa, 1, 0), 0);
    CHECK_EQ(page_alloc_alloc(&f.pa, 1, 512), 0);
    CHECK(snapshot_same(&s, &f));

    /* Everything back. */
    uint64_t bad = 0;
    for (uint64_t p = 0; p < PAGES; p++)
        if (taken[p])
            bad += page_alloc_free(&f.pa, p * PAGE_SIZE, 1) != 0;
    CHECK_EQ(bad, 0);
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES);
    CHECK_EQ(count_free_pages(&f.pa), FAKE_MAP_PAGES);
    free(taken);
    fixture_fini(&f);
}

TEST(page_alloc_contiguous_and_aligned_runs)
{
    struct fixture f;
    fixture_init(&f);

    /* 600 pages fit only in the 16 MiB region. */
    uint64_t a = page_alloc_alloc(&f.pa, 600, 0);
    CHECK(a >= 0x1000000 && a + 600 * PAGE_SIZE <= 0x2000000);
    for (uint64_t i = 0; i < 600; i++)
        if (page_alloc_is_free(&f.pa, a + i * PAGE_SIZE))
            unit_fail(__FILE__, __LINE__, "page %llu of the run is still free", (unsigned long long)i);
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES - 600);

    /* 2 MiB alignment: 512-page runs on 512-page boundaries. */
    uint64_t b = page_alloc_alloc(&f.pa, 512, 512);
    CHECK(b != 0);
    CHECK_EQ(b % (2 * MIB), 0);
    CHECK(b >= a + 600 * PAGE_SIZE || b + 512 * PAGE_SIZE <= a);
    uint64_t c = page_alloc_alloc(&f.pa, 1, 512);
    CHECK(c != 0);
    CHECK_EQ(c % (2 * MIB), 0);
    CHECK(c != b);

    /* Small aligned runs in the unaligned region. */
    uint64_t d = page_alloc_alloc(&f.pa, 3, 8);
    CHECK(d != 0);
    CHECK_EQ((d / PAGE_SIZE) % 8, 0);
    CHECK(page_usable(d / PAGE_SIZE) && page_usable(d / PAGE_SIZE + 2));

    /* align 0 and 1 both mean none. */
    CHECK(page_alloc_alloc(&f.pa, 1, 0) != 0);
    CHECK(page_alloc_alloc(&f.pa, 1, 1) != 0);

    /* Requests that cannot be met change nothing. */
    struct snapshot s;
    snapshot_take(&s, &f);
    CHECK_EQ(page_alloc_alloc(&f.pa, 0, 0), 0);
    CHECK_EQ(page_alloc_alloc(&f.pa, FAKE_MAP_PAGES + 1, 0), 0); /* more than free */
    CHECK_EQ(page_alloc_alloc(&f.pa, 3500, 0), 0);              /* free, but not contiguous */
    CHECK_EQ(page_alloc_alloc(&f.pa, 1, 3), 0);                 /* not a power of two */
    CHECK_EQ(page_alloc_alloc(&f.pa, 2, 6), 0);
    CHECK_EQ(page_alloc_alloc(&f.pa, 1, 1ULL << 20), 0);        /* only page 0 is so aligned */
    CHECK_EQ(page_alloc_alloc(&f.pa, 1, 1ULL << 63), 0);
    CHECK_EQ(page_alloc_alloc(&f.pa, UINT64_MAX, 0), 0);
    CHECK(snapshot_same(&s, &f));
    fixture_fini(&f);
}

TEST(page_alloc_largest_region_exactly)
{
    struct fixture f;
    fixture_init(&f);
    /* The 16 MiB region is the only run of 4096; 4097 never fits. */
    struct snapshot s;
    snapshot_take(&s, &f);
    CHECK_EQ(page_alloc_alloc(&f.pa, 4097, 0), 0);
    CHECK(snapshot_same(&s, &f));
    CHECK_EQ(page_alloc_alloc(&f.pa, 4096, 512), 0x1000000);
    CHECK_EQ(page_alloc_alloc(&f.pa, 512, 0), 0);
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES - 4096);
    CHECK_EQ(page_alloc_free(&f.pa, 0x1000000, 4096), 0);
    CHECK_EQ(page_alloc_alloc(&f.pa, 4096, 0), 0x1000000);
    fixture_fini(&f);
}

TEST(page_alloc_free_then_realloc)
{
    struct fixture f;
    fixture_init(&f);
    uint64_t a = page_alloc_alloc(&f.pa, 10, 0);
    uint64_t b = page_alloc_alloc(&f.pa, 10, 0);
    CHECK(a != 0 && b != 0 && a != b);
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES - 20);
    CHECK_EQ(page_alloc_free(&f.pa, a, 10), 0);
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES - 10);
    for (uint64_t i = 0; i < 10; i++)
        CHECK(page_alloc_is_free(&f.pa, a + i * PAGE_SIZE));
    CHECK(!page_alloc_is_free(&f.pa, b));
    /* The freed run is below the hint again, so first fit finds it. */
    CHECK_EQ(page_alloc_alloc(&f.pa, 10, 0), a);
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES - 20);

    /* Freeing part of a run, then the rest. */
    CHECK_EQ(page_alloc_free(&f.pa, b + 4 * PAGE_SIZE, 6), 0);
    CHECK_EQ(page_alloc_free(&f.pa, b, 4), 0);
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES - 10);
    CHECK_EQ(f.pa.managed_pages, FAKE_MAP_PAGES);
    fixture_fini(&f);
}

TEST(page_alloc_bad_frees_change_nothing)
{
    struct fixture f;
    fixture_init(&f);
    uint64_t a = page_alloc_alloc(&f.pa, 4, 0);
    CHECK(a != 0);
    uint64_t free_run = page_alloc_alloc(&f.pa, 8, 0);
    CHECK_EQ(page_alloc_free(&f.pa, free_run, 8), 0); /* a run known to be free */
    uint64_t after_a = a + 4 * PAGE_SIZE;
    bool after_a_free = page_alloc_is_free(&f.pa, after_a);

    struct snapshot s;
    snapshot_take(&s, &f);
    CHECK_EQ(page_alloc_free(&f.pa, free_run, 8), -1);           /* double free */
    CHECK_EQ(page_alloc_free(&f.pa, free_run + PAGE_SIZE, 1), -1);
    CHECK_EQ(page_alloc_free(&f.pa, a + 1, 1), -1);              /* unaligned */
    CHECK_EQ(page_alloc_free(&f.pa, a + 0x800, 4), -1);
    CHECK_EQ(page_alloc_free(&f.pa, 0, 1), -1);                  /* page 0 */
    CHECK_EQ(page_alloc_free(&f.pa, TOP, 1), -1);                /* beyond the bitmap */
    CHECK_EQ(page_alloc_free(&f.pa, TOP - PAGE_SIZE, 2), -1);    /* runs past it */
    CHECK_EQ(page_alloc_free(&f.pa, UINT64_MAX & ~(PAGE_SIZE - 1), 1), -1);
    CHECK_EQ(page_alloc_free(&f.pa, a, UINT64_MAX), -1);         /* count wraps */
    CHECK_EQ(page_alloc_free(&f.pa, a, UINT64_MAX / PAGE_SIZE), -1);
    CHECK(snapshot_same(&s, &f));

    /* A run that is only partly allocated: refused as a whole, nothing freed. */
    if (!after_a_free) {
        unit_fail(__FILE__, __LINE__, "fixture: the page after the 4-page run should be free");
    } else {
        snapshot_take(&s, &f);
        CHECK_EQ(page_alloc_free(&f.pa, a, 5), -1);
        CHECK(snapshot_same(&s, &f));
        CHECK(!page_alloc_is_free(&f.pa, a));
    }
    CHECK_EQ(page_alloc_free(&f.pa, a, 4), 0);
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES);
    fixture_fini(&f);
}

/* page_alloc.h: page_alloc_free "returns -1 if any page in the run was not
 * allocated (nothing freed then)", and pages below PAGE_ALLOC_MIN_ADDR are
 * "never handed out". Pages that were never made available (below 1 MiB, in
 * a hole of the memory map, reserved) were never allocated either. */
TEST(page_alloc_free_refuses_pages_never_handed_out)
{
    struct fixture f;
    fixture_init(&f);
    page_alloc_reserve_range(&f.pa, 0x1100000, 2 * PAGE_SIZE);

    struct snapshot s;
    snapshot_take(&s, &f);
    CHECK_EQ(page_alloc_free(&f.pa, 0x1000, 1), -1);     /* below 1 MiB */
    CHECK_EQ(page_alloc_free(&f.pa, 0x9f000, 1), -1);    /* below 1 MiB */
    CHECK_EQ(page_alloc_free(&f.pa, 0x500000, 16), -1);  /* a hole in the map */
    CHECK_EQ(page_alloc_free(&f.pa, 0x1100000, 2), -1);  /* reserved */
    CHECK(snapshot_same(&s, &f));

    /* Whatever free said, nothing below 1 MiB or outside the map comes back. */
    uint64_t outside = 0, got = 0;
    for (uint64_t a; (a = page_alloc_alloc(&f.pa, 1, 0)) != 0 && got <= PAGES; got++)
        outside += a < PAGE_ALLOC_MIN_ADDR || !page_usable(a / PAGE_SIZE) ||
                   (a >= 0x1100000 && a < 0x1102000);
    CHECK_EQ(outside, 0);
    CHECK(f.pa.free_pages <= f.pa.managed_pages);
    fixture_fini(&f);
}

TEST(page_alloc_reserve_range)
{
    struct fixture f;
    fixture_init(&f);
    /* Every page touched: 0x1000800 .. 0x10017ff touches two pages. */
    page_alloc_reserve_range(&f.pa, 0x1000800, PAGE_SIZE);
    CHECK(!page_alloc_is_free(&f.pa, 0x1000000));
    CHECK(!page_alloc_is_free(&f.pa, 0x1001000));
    CHECK(page_alloc_is_free(&f.pa, 0x1002000));
    CHECK(!page_alloc_is_free(&f.pa, 0xfff000)); /* the hole just below stays as it was */
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES - 2);
    CHECK_EQ(f.pa.managed_pages, FAKE_MAP_PAGES - 2);

    /* One byte reserves its page. */
    page_alloc_reserve_range(&f.pa, 0x1005fff, 1);
    CHECK(!page_alloc_is_free(&f.pa, 0x1005000));
    CHECK(page_alloc_is_free(&f.pa, 0x1006000));
    CHECK(page_alloc_is_free(&f.pa, 0x1004000));
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES - 3);

    /* Reserving what is already in use, a hole, size 0, or beyond TOP changes nothing. */
    struct snapshot s;
    snapshot_take(&s, &f);
    page_alloc_reserve_range(&f.pa, 0x1000000, 2 * PAGE_SIZE);
    page_alloc_reserve_range(&f.pa, 0x500000, 0x100000);
    page_alloc_reserve_range(&f.pa, 0x0, 0x100000);
    page_alloc_reserve_range(&f.pa, 0x1010000, 0);
    page_alloc_reserve_range(&f.pa, TOP, 0x100000);
    CHECK(snapshot_same(&s, &f));

    /* A range running past TOP reserves up to TOP. */
    page_alloc_reserve_range(&f.pa, 0x3fff000, 0x100000);
    CHECK(page_alloc_is_free(&f.pa, 0x3ffe000));
    CHECK(!page_alloc_is_free(&f.pa, 0x3fff000));
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES - 4);

    /* Reserved pages are never allocated: take everything and look. */
    uint64_t hits = 0, got = 0;
    for (uint64_t a; (a = page_alloc_alloc(&f.pa, 1, 0)) != 0 && got <= PAGES; got++)
        hits += a == 0x1000000 || a == 0x1001000 || a == 0x1005000 || a == 0x3fff000;
    CHECK_EQ(hits, 0);
    CHECK_EQ(got, FAKE_MAP_PAGES - 4);

    /* Reserving an allocated page does not touch the counters. */
    uint64_t before = f.pa.managed_pages;
    page_alloc_reserve_range(&f.pa, 0x1002000, PAGE_SIZE);
    CHECK_EQ(f.pa.free_pages, 0);
    CHECK_EQ(f.pa.managed_pages, before);
    fixture_fini(&f);
}

/* The loader's release holds the firmware's page tables this way until its
 * second call adds their range again (boot/memory.c): a reserved page comes
 * back then, and only it; the pages around it were added already. */
TEST(page_alloc_reserved_page_comes_back_when_its_range_is_added_again)
{
    struct fixture f;
    fixture_init(&f);
    page_alloc_reserve_range(&f.pa, 0x1003000, PAGE_SIZE);
    CHECK(!page_alloc_is_free(&f.pa, 0x1003000));
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES - 1);
    CHECK_EQ(page_alloc_add_range(&f.pa, 0x1000000, 0x10000), 1);
    CHECK(page_alloc_is_free(&f.pa, 0x1003000));
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES);
    CHECK_EQ(f.pa.managed_pages, FAKE_MAP_PAGES);
    CHECK_EQ(page_alloc_add_range(&f.pa, 0x1000000, 0x10000), 0);
    fixture_fini(&f);
}

/* "Marks every page touching [base, base+size) in use": the range
 * [0x2000000, 2^64 - 1) does not wrap, so every page from 32 MiB up must
 * be reserved. (base + size + PAGE_SIZE - 1 must not be allowed to wrap.) */
TEST(page_alloc_reserve_range_to_end_of_address_space)
{
    struct fixture f;
    fixture_init(&f);
    page_alloc_reserve_range(&f.pa, 0x2000000, UINT64_MAX - 0x2000000);
    CHECK(!page_alloc_is_free(&f.pa, 0x3000000));
    CHECK(!page_alloc_is_free(&f.pa, 0x3ffe000));
    CHECK(page_alloc_is_free(&f.pa, 0x1fff000));
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES - 3);
    fixture_fini(&f);
}

/* The xorshift64 generator: a fixed seed makes the run repeatable. */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

#define SHADOW_UNUSABLE (-1)
#define SHADOW_FREE 0

/* First aligned run of `count` free pages in shadow[from, to), or 0. */
static uint64_t shadow_first_fit(const int *shadow, uint64_t from, uint64_t to, uint64_t count, uint64_t align)
{
    for (uint64_t p = (from + align - 1) / align * align; p + count <= to; p += align) {
        uint64_t n = 0;
        while (n < count && shadow[p + n] == SHADOW_FREE)
            n++;
        if (n == count)
            return p;
    }
    return 0;
}

struct live {
    uint64_t addr, count;
    int id;
};

TEST(page_alloc_randomized_against_shadow)
{
    struct fixture f;
    fixture_init(&f);
    int *shadow = malloc(PAGES * sizeof(int));
    for (uint64_t p = 0; p < PAGES; p++)
        shadow[p] = page_usable(p) ? SHADOW_FREE : SHADOW_UNUSABLE;
    struct live lives[256];
    int nlive = 0, next_id = 1;
    uint64_t shadow_free = FAKE_MAP_PAGES;
    static const uint64_t aligns[] = { 0, 1, 1, 1, 2, 4, 8, 64, 512 };
    unsigned long wrong_addr = 0, overlap = 0, wrong_count = 0, bad_free_ok = 0, good_free_failed = 0;
    unsigned long allocs = 0, failures = 0, frees = 0, scans_wrong = 0, bad_free_probes = 0;

    rng_state = 0x9e3779b97f4a7c15ULL;
    for (int step = 0; step < 6000; step++) {
        uint64_t r = rng_next();
        bool do_alloc = nlive == 0 || (nlive < 256 && r % 100 < 55);
        if (do_alloc) {
            uint64_t count = 1 + rng_next() % (rng_next() % 8 == 0 ? 700 : 24);
            uint64_t align = aligns[rng_next() % (sizeof(aligns) / sizeof(aligns[0]))];
            uint64_t a = align ? align : 1;
            uint64_t expect = shadow_first_fit(shadow, f.pa.search_hint, PAGES, count, a);
            if (!expect)
                expect = shadow_first_fit(shadow, 0, PAGES, count, a);
            uint64_t got = page_alloc_alloc(&f.pa, count, align);
            if (got != expect * PAGE_SIZE) {
                if (wrong_addr++ < 5)
                    unit_fail(__FILE__, __LINE__, "step %d: alloc(%llu, %llu) = %#llx, first fit is %#llx", step,
                              (unsigned long long)count, (unsigned long long)align, (unsigned long long)got,
                              (unsigned long long)(expect * PAGE_SIZE));
            }
            if (!got) {
                failures++;
                continue;
            }
            allocs++;
            uint64_t p0 = got / PAGE_SIZE;
            for (uint64_t p = p0; p < p0 + count && p < PAGES; p++) {
                if (shadow[p] != SHADOW_FREE)
                    overlap++;
                shadow[p] = next_id;
            }
            shadow_free -= count;
            lives[nlive++] = (struct live){ got, count, next_id++ };
        } else {
            int i = (int)(rng_next() % (uint64_t)nlive);
            struct live l = lives[i];
            /* Now and then, a bad free first: the run plus the free page after
             * it. (A never-usable page after it is the subject of
             * page_alloc_free_refuses_pages_never_handed_out.) */
            if (rng_next() % 4 == 0) {
                uint64_t next_page = l.addr / PAGE_SIZE + l.count;
                if (next_page < PAGES && shadow[next_page] == SHADOW_FREE) {
                    bad_free_probes++;
                    if (page_alloc_free(&f.pa, l.addr, l.count + 1) == 0)
                        bad_free_ok++;
                }
            }
            if (page_alloc_free(&f.pa, l.addr, l.count) != 0)
                good_free_failed++;
            frees++;
            for (uint64_t p = l.addr / PAGE_SIZE; p < l.addr / PAGE_SIZE + l.count; p++)
                shadow[p] = SHADOW_FREE;
            shadow_free += l.count;
            lives[i] = lives[--nlive];
            /* Freed twice: refused. */
            if (rng_next() % 8 == 0 && page_alloc_free(&f.pa, l.addr, l.count) == 0)
                bad_free_ok++;
        }
        if (f.pa.free_pages != shadow_free)
            wrong_count++;
        if (step % 500 == 0) {
            for (uint64_t p = 0; p < PAGES; p++)
                scans_wrong += page_alloc_is_free(&f.pa, p * PAGE_SIZE) != (shadow[p] == SHADOW_FREE);
        }
    }
    CHECK_EQ(wrong_addr, 0);
    CHECK_EQ(overlap, 0);
    CHECK_EQ(wrong_count, 0);
    CHECK_EQ(bad_free_ok, 0);
    CHECK_EQ(good_free_failed, 0);
    CHECK_EQ(scans_wrong, 0);
    /* The run exercised both outcomes. */
    CHECK(allocs > 1000);
    CHECK(failures > 10);
    CHECK(frees > 1000);
    CHECK(bad_free_probes > 100);
    CHECK_EQ(f.pa.managed_pages, FAKE_MAP_PAGES);

    /* Free what is left: back to the start. */
    for (int i = 0; i < nlive; i++)
        CHECK_EQ(page_alloc_free(&f.pa, lives[i].addr, lives[i].count), 0);
    CHECK_EQ(f.pa.free_pages, FAKE_MAP_PAGES);
    uint64_t mismatches = 0;
    for (uint64_t p = 0; p < PAGES; p++)
        mismatches += page_alloc_is_free(&f.pa, p * PAGE_SIZE) != page_usable(p);
    CHECK_EQ(mismatches, 0);
    free(shadow);
    fixture_fini(&f);
}

/* add_range and reserve_range work a bitmap word at a time: checked against
 * the rules page by page (add: whole pages from 1 MiB, not yet managed;
 * reserve: every page touched that is managed and free), over random
 * unaligned ranges, some crossing many words, some inside one. */
TEST(page_alloc_ranges_word_by_word_match_page_by_page)
{
    enum { N = 1500 }; /* pages: 6 MiB, words of 64 pages and a partial last word */
    uint64_t top = (uint64_t)N * PAGE_SIZE - 0x800;
    uint64_t count = (top + PAGE_SIZE - 1) / PAGE_SIZE;
    uint64_t *bitmap = calloc(1, page_alloc_bitmap_bytes(top));
    struct page_alloc pa;
    page_alloc_init(&pa, bitmap, top);
    bool managed[N] = { false }, free_[N] = { false };
    uint64_t model_free = 0, model_managed = 0, most_free = 0;
    unsigned long mismatches = 0, counter_mismatches = 0;
    rng_state = 0x2545f4914f6cdd1dULL;
    for (int step = 0; step < 3000; step++) {
        uint64_t base = rng_next() % (top + 0x10000);
        uint64_t size = rng_next() % 8 == 0 ? rng_next() % top : rng_next() % (40 * PAGE_SIZE);
        if (rng_next() % 2) {
            uint64_t added = page_alloc_add_range(&pa, base, size), want = 0;
            uint64_t lo = base < PAGE_ALLOC_MIN_ADDR ? PAGE_ALLOC_MIN_ADDR : base;
            uint64_t first = (lo + PAGE_SIZE - 1) / PAGE_SIZE, last = (base + size) / PAGE_SIZE;
            for (uint64_t p = first; size && p < last && p < count; p++)
                if (!managed[p]) {
                    managed[p] = free_[p] = true;
                    want++;
                }
            model_free += want;
            model_managed += want;
            mismatches += added != want;
        } else {
            page_alloc_reserve_range(&pa, base, size);
            uint64_t first = base / PAGE_SIZE, last = (base + size + PAGE_SIZE - 1) / PAGE_SIZE;
            for (uint64_t p = first; size && p < last && p < count; p++)
                if (managed[p] && free_[p]) {
                    managed[p] = free_[p] = false;
                    model_free--;
                    model_managed--;
                }
        }
        if (rng_next() % 4 == 0) { /* some pages in use, so reserve meets allocated ones */
            uint64_t a = page_alloc_alloc(&pa, 1 + rng_next() % 3, 0);
            for (uint64_t p = a / PAGE_SIZE; a && p < a / PAGE_SIZE + 3 && p < count; p++)
                if (free_[p] && !page_alloc_is_free(&pa, p * PAGE_SIZE)) {
                    free_[p] = false;
                    model_free--;
                }
        }
        for (uint64_t p = 0; p < count; p++)
            mismatches += page_alloc_is_free(&pa, p * PAGE_SIZE) != free_[p];
        counter_mismatches += pa.free_pages != model_free || pa.managed_pages != model_managed;
        most_free = model_free > most_free ? model_free : most_free;
    }
    CHECK_EQ(mismatches, 0);
    CHECK_EQ(counter_mismatches, 0);
    CHECK(most_free > 500); /* the run did fill the map, not only empty it */
    free(bitmap);
}
