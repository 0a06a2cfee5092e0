/*
 * lib/heap.c over a page source backed by aligned_alloc(4096, ...) that
 * counts pages out and back and can be told to fail: size classes and their
 * boundaries, alignment, no overlap, reuse, refused frees, failure paths and
 * the counters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/heap.h"
#include "lib/page_alloc.h"
#include "tests/unit/check.h"

#define MAX_RUNS 4096

/* Returned runs are kept (not given back to libc) until the end of the test,
 * so that the heap may still read a freed block's header, as it may in the
 * kernel, where freed pages stay mapped. */
struct fake_source {
    size_t outstanding;   /* pages out and not yet returned */
    size_t alloc_calls;
    size_t free_calls;
    bool fail;            /* next alloc_pages calls return NULL */
    int errors;           /* returns of unknown runs, wrong counts, twice */
    struct {
        void *addr;
        size_t count;
        bool returned;
    } runs[MAX_RUNS];
    size_t nruns;
};

static void *fake_alloc_pages(size_t count, void *ctx)
{
    struct fake_source *s = ctx;
    s->alloc_calls++;
    if (s->fail || count == 0 || s->nruns == MAX_RUNS)
        return NULL;
    void *p = aligned_alloc(PAGE_SIZE, count * PAGE_SIZE);
    if (!p)
        abort();
    memset(p, 0xcc, count * PAGE_SIZE); /* the heap must not expect zeroed pages */
    s->runs[s->nruns].addr = p;
    s->runs[s->nruns].count = count;
    s->runs[s->nruns].returned = false;
    s->nruns++;
    s->outstanding += count;
    return p;
}

static void fake_free_pages(void *addr, size_t count, void *ctx)
{
    struct fake_source *s = ctx;
    s->free_calls++;
    for (size_t i = 0; i < s->nruns; i++) {
        if (s->runs[i].addr != addr)
            continue;
        if (s->runs[i].returned || s->runs[i].count != count) {
            s->errors++;
            return;
        }
        s->runs[i].returned = true;
        s->outstanding -= count;
        return;
    }
    s->errors++;
}

struct fixture {
    struct fake_source src;
    struct heap heap;
};

static struct fixture *fixture_new(void)
{
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f)
        abort();
    struct heap_page_source source = { fake_alloc_pages, fake_free_pages, &f->src };
    heap_init(&f->heap, &source);
    return f;
}

static void fixture_free(struct fixture *f)
{
    for (size_t i = 0; i < f->src.nruns; i++)
        free(f->src.runs[i].addr);
    free(f);
}

/* The heap's counters agree with the source, and the source saw no misuse. */
#define CHECK_SOURCE_CONSISTENT(f)                              \
    do {                                                        \
        CHECK_EQ((f)->heap.pages_held, (f)->src.outstanding);   \
        CHECK_EQ((f)->src.errors, 0);                           \
    } while (0)

TEST(heap_initial_state)
{
    struct fixture *f = fixture_new();
    CHECK_EQ(f->heap.allocations, 0);
    CHECK_EQ(f->heap.bytes_in_use, 0);
    CHECK_EQ(f->heap.pages_held, 0);
    CHECK_EQ(f->heap.failed_allocations, 0);
    CHECK_EQ(f->heap.bad_frees, 0);
    for (int c = 0; c < HEAP_CLASSES; c++)
        CHECK(f->heap.free_lists[c] == NULL);
    CHECK_EQ(f->src.alloc_calls, 0); /* heap_init takes no pages */
    fixture_free(f);
}

TEST(heap_size_classes_and_boundaries)
{
    static const struct {
        size_t size;
        size_t usable;  /* heap_block_size */
        size_t pages;   /* pages a fresh heap takes for it */
    } cases[] = {
        { 1, 16, 1 },       { 15, 16, 1 },      { 16, 16, 1 },     { 17, 48, 1 },     { 48, 48, 1 },
        { 49, 112, 1 },     { 112, 112, 1 },    { 113, 240, 1 },   { 240, 240, 1 },   { 241, 496, 1 },
        { 1008, 1008, 1 },  { 1009, 2032, 1 },  { 2032, 2032, 1 }, { 2033, 4080, 1 }, { 4080, 4080, 1 },
        { 4081, 8176, 2 },  { 8176, 8176, 2 },  { 8177, 12272, 3 }, { 100000, 102384, 25 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture *f = fixture_new();
        unsigned char *p = heap_alloc(&f->heap, cases[i].size);
        CHECK(p != NULL);
        if (!p) {
            fixture_free(f);
            continue;
        }
        size_t usable = heap_block_size(&f->heap, p);
        if (usable != cases[i].usable)
            unit_fail(__FILE__, __LINE__, "heap_block_size after heap_alloc(%zu) = %zu, want %zu", cases[i].size,
                      usable, cases[i].usable);
        else
            unit_pass();
        CHECK(usable >= cases[i].size);
        if (f->src.outstanding != cases[i].pages)
            unit_fail(__FILE__, __LINE__, "heap_alloc(%zu) took %zu pages, want %zu", cases[i].size,
                      f->src.outstanding, cases[i].pages);
        else
            unit_pass();
        CHECK_EQ((uintptr_t)p % HEAP_ALIGN, 0);
        /* Every usable byte can be written (ASan checks the bounds). */
        memset(p, 0x5a, usable);
        CHECK_EQ(f->heap.bytes_in_use, cases[i].size);
        CHECK_EQ(f->heap.allocations, 1);
        CHECK_EQ(heap_free(&f->heap, p), 0);
        CHECK_EQ(f->heap.bytes_in_use, 0);
        CHECK_EQ(f->heap.allocations, 0);
        CHECK_SOURCE_CONSISTENT(f);
        fixture_free(f);
    }
}

TEST(heap_class_page_is_shared_by_its_blocks)
{
    struct fixture *f = fixture_new();
    /* A 32-byte class page holds 128 blocks; the 129th needs a second page. */
    void *blocks[129];
    for (int i = 0; i < 128; i++)
        blocks[i] = heap_alloc(&f->heap, 16);
    CHECK_EQ(f->src.outstanding, 1);
    blocks[128] = heap_alloc(&f->heap, 16);
    CHECK_EQ(f->src.outstanding, 2);
    /* Two 2 KiB blocks per page. */
    void *big[3];
    for (int i = 0; i < 3; i++)
        big[i] = heap_alloc(&f->heap, 2000);
    CHECK_EQ(f->src.outstanding, 4);
    CHECK_EQ(f->heap.allocations, 132);
    for (int i = 0; i < 129; i++)
        CHECK_EQ(heap_free(&f->heap, blocks[i]), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(heap_free(&f->heap, big[i]), 0);
    /* Class pages stay with the heap for reuse. */
    CHECK_EQ(f->heap.pages_held, 4);
    CHECK_EQ(f->heap.allocations, 0);
    CHECK_EQ(f->heap.bytes_in_use, 0);
    for (int i = 0; i < 129; i++)
        blocks[i] = heap_alloc(&f->heap, 1 + i % 16);
    CHECK_EQ(f->src.outstanding, 4);
    for (int i = 0; i < 129; i++)
        heap_free(&f->heap, blocks[i]);
    CHECK_SOURCE_CONSISTENT(f);
    fixture_free(f);
}

TEST(heap_free_then_reuse)
{
    struct fixture *f = fixture_new();
    void *p = heap_alloc(&f->heap, 100);
    void *q = heap_alloc(&f->heap, 100);
    CHECK(p && q && p != q);
    CHECK_EQ(heap_free(&f->heap, p), 0);
    CHECK_EQ(heap_block_size(&f->heap, p), 0); /* no longer live */
    /* The block just freed is the next one of its class (100 + 16 and
     * 112 + 16 both round to 128) handed out. */
    void *r = heap_alloc(&f->heap, 112);
    CHECK(r == p);
    /* Another class (113 + 16 rounds to 256) does not take it. */
    CHECK_EQ(heap_free(&f->heap, r), 0);
    void *s = heap_alloc(&f->heap, 113);
    CHECK(s != p);
    CHECK_EQ(heap_block_size(&f->heap, p), 0);
    size_t pages = f->src.outstanding;
    CHECK_EQ(heap_free(&f->heap, q), 0);
    CHECK_EQ(heap_free(&f->heap, s), 0);
    CHECK_EQ(f->src.outstanding, pages);
    CHECK_SOURCE_CONSISTENT(f);
    fixture_free(f);
}

TEST(heap_large_blocks_give_pages_back)
{
    struct fixture *f = fixture_new();
    void *a = heap_alloc(&f->heap, 100000); /* 25 pages */
    void *b = heap_alloc(&f->heap, 4081);   /* 2 pages */
    void *c = heap_alloc(&f->heap, 2033);   /* 1 page */
    CHECK_EQ(f->src.outstanding, 28);
    CHECK_EQ(f->heap.pages_held, 28);
    CHECK_EQ(f->heap.bytes_in_use, 100000 + 4081 + 2033);
    /* The payload follows a 16-byte header at the start of the run. */
    CHECK_EQ((uintptr_t)a % PAGE_SIZE, 16);
    memset(a, 1, 100000);
    memset(b, 2, 4081);
    memset(c, 3, 2033);

    CHECK_EQ(heap_free(&f->heap, a), 0);
    CHECK_EQ(f->src.outstanding, 3);
    CHECK_EQ(f->heap.pages_held, 3);
    CHECK_EQ(heap_free(&f->heap, c), 0);
    CHECK_EQ(f->src.outstanding, 2);
    CHECK_EQ(heap_free(&f->heap, b), 0);
    CHECK_EQ(f->src.outstanding, 0);
    CHECK_EQ(f->src.free_calls, 3);
    CHECK_EQ(f->heap.allocations, 0);
    CHECK_EQ(f->heap.bytes_in_use, 0);
    CHECK_SOURCE_CONSISTENT(f);
    fixture_free(f);
}

/* The counters that a refused free must leave alone. */
struct heap_counts {
    size_t bytes_in_use, pages_held, allocations, failed_allocations;
    void *free_lists[HEAP_CLASSES];
};

static struct heap_counts counts_of(const struct heap *h)
{
    struct heap_counts c = { h->bytes_in_use, h->pages_held, h->allocations, h->failed_allocations, { 0 } };
    memcpy(c.free_lists, h->free_lists, sizeof(c.free_lists));
    return c;
}

static bool counts_same(struct heap_counts a, struct heap_counts b)
{
    return a.bytes_in_use == b.bytes_in_use && a.pages_held == b.pages_held && a.allocations == b.allocations &&
           a.failed_allocations == b.failed_allocations && memcmp(a.free_lists, b.free_lists, sizeof(a.free_lists)) == 0;
}

TEST(heap_refuses_bad_frees)
{
    struct fixture *f = fixture_new();
    unsigned char *small = heap_alloc(&f->heap, 200);
    unsigned char *other = heap_alloc(&f->heap, 200);
    unsigned char *large = heap_alloc(&f->heap, 10000);
    unsigned char *freed = heap_alloc(&f->heap, 40);
    unsigned char *freed_large = heap_alloc(&f->heap, 5000);
    CHECK(small && other && large && freed && freed_large);
    memset(small, 0, 200);
    memset(large, 0, 10000);
    CHECK_EQ(heap_free(&f->heap, freed), 0);
    CHECK_EQ(heap_free(&f->heap, freed_large), 0);
    size_t outstanding = f->src.outstanding;

    struct heap_counts before = counts_of(&f->heap);
    CHECK_EQ(heap_free(&f->heap, freed), -1);        /* double free */
    CHECK_EQ(heap_free(&f->heap, freed_large), -1);  /* double free of a page run */
    CHECK_EQ(heap_free(&f->heap, small + 16), -1);   /* interior, 16-aligned */
    CHECK_EQ(heap_free(&f->heap, small + 64), -1);
    CHECK_EQ(heap_free(&f->heap, large + 4096), -1);
    CHECK_EQ(heap_free(&f->heap, large + 9984), -1);
    CHECK_EQ(heap_free(&f->heap, small + 1), -1);    /* misaligned */
    CHECK_EQ(heap_free(&f->heap, small + 8), -1);
    CHECK_EQ(heap_free(&f->heap, large - 8), -1);
    CHECK_EQ(f->heap.bad_frees, 9);
    CHECK(counts_same(before, counts_of(&f->heap)));
    CHECK_EQ(f->src.outstanding, outstanding);
    CHECK_EQ(f->src.free_calls, 1);

    /* NULL is accepted and ignored. */
    CHECK_EQ(heap_free(&f->heap, NULL), 0);
    CHECK_EQ(f->heap.bad_frees, 9);
    CHECK(counts_same(before, counts_of(&f->heap)));

    /* The blocks next to the refused pointers are still live and intact. */
    CHECK_EQ(heap_block_size(&f->heap, small), 240);
    CHECK_EQ(heap_block_size(&f->heap, other), 240);
    CHECK_EQ(heap_free(&f->heap, small), 0);
    CHECK_EQ(heap_free(&f->heap, other), 0);
    CHECK_EQ(heap_free(&f->heap, large), 0);
    CHECK_EQ(f->heap.allocations, 0);
    CHECK_EQ(f->heap.bytes_in_use, 0);
    CHECK_SOURCE_CONSISTENT(f);
    fixture_free(f);
}

TEST(heap_refuses_overrun_header)
{
    struct fixture *f = fixture_new();
    unsigned char *p = heap_alloc(&f->heap, 64);
    unsigned char *q = heap_alloc(&f->heap, 6000);
    CHECK(p && q);
    struct heap_counts before = counts_of(&f->heap);
    unsigned char saved[16];

    /* A clobbered magic number. */
    memcpy(saved, p - 16, 16);
    memset(p - 16, 0x41, 4);
    CHECK_EQ(heap_block_size(&f->heap, p), 0);
    CHECK_EQ(heap_free(&f->heap, p), -1);
    memcpy(p - 16, saved, 16);

    /* Magic intact, class index out of range (the byte after the magic). */
    memcpy(saved, q - 16, 16);
    unsigned char *cls = q - 12;
    uint32_t bogus = HEAP_CLASSES;
    memcpy(cls, &bogus, 4);
    CHECK_EQ(heap_free(&f->heap, q), -1);
    bogus = 0xfffffffe;
    memcpy(cls, &bogus, 4);
    CHECK_EQ(heap_free(&f->heap, q), -1);
    CHECK_EQ(heap_block_size(&f->heap, q), 0);
    memcpy(q - 16, saved, 16);

    CHECK_EQ(f->heap.bad_frees, 3);
    CHECK(counts_same(before, counts_of(&f->heap)));
    /* Restored, they free normally. */
    CHECK_EQ(heap_free(&f->heap, p), 0);
    CHECK_EQ(heap_free(&f->heap, q), 0);
    CHECK_SOURCE_CONSISTENT(f);
    fixture_free(f);
}

TEST(heap_block_size_of_non_blocks)
{
    struct fixture *f = fixture_new();
    unsigned char *p = heap_alloc(&f->heap, 30);
    CHECK_EQ(heap_block_size(&f->heap, NULL), 0);
    CHECK_EQ(heap_block_size(&f->heap, p + 1), 0);
    CHECK_EQ(heap_block_size(&f->heap, p + 16), 0);
    CHECK_EQ(heap_block_size(&f->heap, p), 48);
    heap_free(&f->heap, p);
    CHECK_EQ(heap_block_size(&f->heap, p), 0);
    CHECK_EQ(f->heap.bad_frees, 0); /* asking is not freeing */
    fixture_free(f);
}

TEST(heap_size_zero_and_absurd)
{
    struct fixture *f = fixture_new();
    CHECK(heap_alloc(&f->heap, 0) == NULL);
    CHECK(heap_alloc(&f->heap, SIZE_MAX) == NULL);
    CHECK(heap_alloc(&f->heap, SIZE_MAX - 15) == NULL); /* size + header would wrap */
    CHECK(heap_alloc(&f->heap, (1ULL << 40) + 1) == NULL);
    CHECK_EQ(f->heap.failed_allocations, 4);
    CHECK_EQ(f->heap.allocations, 0);
    CHECK_EQ(f->heap.bytes_in_use, 0);
    CHECK_EQ(f->src.alloc_calls, 0); /* the source is never asked */
    fixture_free(f);
}

TEST(heap_page_source_failure)
{
    struct fixture *f = fixture_new();
    f->src.fail = true;
    CHECK(heap_alloc(&f->heap, 100) == NULL);
    CHECK(heap_alloc(&f->heap, 10000) == NULL);
    CHECK(heap_alloc(&f->heap, 2033) == NULL);
    CHECK_EQ(f->heap.failed_allocations, 3);
    CHECK_EQ(f->heap.allocations, 0);
    CHECK_EQ(f->heap.bytes_in_use, 0);
    CHECK_EQ(f->heap.pages_held, 0);
    for (int c = 0; c < HEAP_CLASSES; c++)
        CHECK(f->heap.free_lists[c] == NULL);

    /* Once the source recovers, so does the heap. */
    f->src.fail = false;
    void *p = heap_alloc(&f->heap, 100);
    CHECK(p != NULL);
    /* A class with free blocks needs no page, so a failing source does not matter. */
    f->src.fail = true;
    void *q = heap_alloc(&f->heap, 100);
    CHECK(q != NULL);
    CHECK(heap_alloc(&f->heap, 5000) == NULL);
    CHECK_EQ(f->heap.failed_allocations, 4);
    CHECK_EQ(f->heap.allocations, 2);
    heap_free(&f->heap, p);
    heap_free(&f->heap, q);
    CHECK_EQ(f->heap.allocations, 0);
    CHECK_SOURCE_CONSISTENT(f);
    fixture_free(f);
}

static uint64_t rng_state;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

struct live_block {
    unsigned char *p;
    size_t size;
    unsigned char fill;
};

static bool block_intact(const struct live_block *b)
{
    for (size_t i = 0; i < b->size; i++)
        if (b->p[i] != b->fill)
            return false;
    return true;
}

static int compare_blocks(const void *a, const void *b)
{
    const struct live_block *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

/* Random sizes across every class and page runs: each block filled with its
 * own byte, checked before it is freed; addresses checked for overlap. */
TEST(heap_randomized_blocks_do_not_overlap)
{
    struct fixture *f = fixture_new();
    enum { MAX_LIVE = 400 };
    static struct live_block live[MAX_LIVE];
    int nlive = 0;
    size_t live_bytes = 0;
    unsigned long corrupted = 0, misaligned = 0, too_small = 0, null = 0, bad_counts = 0, frees_failed = 0;
    unsigned long allocs = 0, large_allocs = 0;

    rng_state = 0x2545f4914f6cdd1dULL;
    for (int step = 0; step < 20000; step++) {
        bool do_alloc = nlive == 0 || (nlive < MAX_LIVE && rng_next() % 100 < 52);
        if (do_alloc) {
            uint64_t r = rng_next();
            size_t size = r % 16 == 0 ? 2033 + rng_next() % 20000 : 1 + rng_next() % 2100;
            unsigned char *p = heap_alloc(&f->heap, size);
            if (!p) {
                null++;
                continue;
            }
            allocs++;
            large_allocs += size > 2032;
            misaligned += (uintptr_t)p % HEAP_ALIGN != 0;
            too_small += heap_block_size(&f->heap, p) < size;
            unsigned char fill = (unsigned char)(1 + step % 255);
            memset(p, fill, size);
            live[nlive++] = (struct live_block){ p, size, fill };
            live_bytes += size;
        } else {
            int i = (int)(rng_next() % (uint64_t)nlive);
            corrupted += !block_intact(&live[i]);
            frees_failed += heap_free(&f->heap, live[i].p) != 0;
            live_bytes -= live[i].size;
            live[i] = live[--nlive];
        }
        bad_counts += f->heap.allocations != (size_t)nlive || f->heap.bytes_in_use != live_bytes ||
                      f->heap.pages_held != f->src.outstanding;

        if (step % 2000 == 1999) {
            /* No two live blocks share a byte. */
            struct live_block sorted[MAX_LIVE];
            memcpy(sorted, live, sizeof(live[0]) * (size_t)nlive);
            qsort(sorted, (size_t)nlive, sizeof(sorted[0]), compare_blocks);
            for (int k = 1; k < nlive; k++)
                if (sorted[k - 1].p + sorted[k - 1].size > sorted[k].p)
                    unit_fail(__FILE__, __LINE__, "blocks %p (+%zu) and %p overlap", (void *)sorted[k - 1].p,
                              sorted[k - 1].size, (void *)sorted[k].p);
            for (int k = 0; k < nlive; k++)
                corrupted += !block_intact(&live[k]);
        }
    }
    CHECK_EQ(corrupted, 0);
    CHECK_EQ(misaligned, 0);
    CHECK_EQ(too_small, 0);
    CHECK_EQ(null, 0);
    CHECK_EQ(bad_counts, 0);
    CHECK_EQ(frees_failed, 0);
    CHECK(allocs > 5000);
    CHECK(large_allocs > 200);
    CHECK_EQ(f->heap.bad_frees, 0);

    for (int k = 0; k < nlive; k++) {
        corrupted += !block_intact(&live[k]);
        frees_failed += heap_free(&f->heap, live[k].p) != 0;
    }
    CHECK_EQ(corrupted, 0);
    CHECK_EQ(frees_failed, 0);
    CHECK_EQ(f->heap.allocations, 0);
    CHECK_EQ(f->heap.bytes_in_use, 0);
    /* Every page run went back, each exactly once; only class pages remain. */
    CHECK_EQ(f->src.free_calls, large_allocs);
    CHECK_SOURCE_CONSISTENT(f);
    fixture_free(f);
}
