#include "lib/page_alloc.h"

static bool bit_get(const struct page_alloc *pa, uint64_t page)
{
    return (pa->bitmap[page / 64] >> (page % 64)) & 1;
}

static void bit_set(struct page_alloc *pa, uint64_t page)
{
    pa->bitmap[page / 64] |= 1ULL << (page % 64);
}

static void bit_clear(struct page_alloc *pa, uint64_t page)
{
    pa->bitmap[page / 64] &= ~(1ULL << (page % 64));
}

static size_t bitmap_words(uint64_t top)
{
    uint64_t pages = (top + PAGE_SIZE - 1) / PAGE_SIZE;
    return (size_t)((pages + 63) / 64);
}

size_t page_alloc_bitmap_bytes(uint64_t top)
{
    return 2 * bitmap_words(top) * sizeof(uint64_t);
}

static bool is_managed(const struct page_alloc *pa, uint64_t page)
{
    return (pa->managed[page / 64] >> (page % 64)) & 1;
}

void page_alloc_init(struct page_alloc *pa, uint64_t *bitmap, uint64_t top)
{
    size_t words = bitmap_words(top);
    pa->bitmap = bitmap;
    pa->managed = bitmap + words;
    pa->page_count = (top + PAGE_SIZE - 1) / PAGE_SIZE;
    pa->free_pages = 0;
    pa->managed_pages = 0;
    pa->search_hint = 0;
    for (size_t i = 0; i < words; i++) {
        pa->bitmap[i] = ~0ULL;
        pa->managed[i] = 0;
    }
}

static unsigned popcount64(uint64_t x)
{
    x = x - ((x >> 1) & 0x5555555555555555ULL);
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

/* The bits of pages [p, last) in p's bitmap word. */
static uint64_t word_mask(uint64_t p, uint64_t last)
{
    uint64_t lo = p % 64, hi = last - (p - lo) >= 64 ? 64 : last - (p - lo);
    uint64_t upto = hi == 64 ? ~0ULL : (1ULL << hi) - 1;
    return upto & ~((1ULL << lo) - 1);
}

/* Word by word, not page by page: a 128 MiB guest's map is 32768 pages,
 * which a per-page loop took 1.3 million instructions over at boot. */
uint64_t page_alloc_add_range(struct page_alloc *pa, uint64_t base, uint64_t size)
{
    if (size == 0 || base + size < base)
        return 0;
    uint64_t end = base + size;
    if (base < PAGE_ALLOC_MIN_ADDR)
        base = PAGE_ALLOC_MIN_ADDR;
    uint64_t first = (base + PAGE_SIZE - 1) / PAGE_SIZE;
    uint64_t last = end / PAGE_SIZE; /* exclusive */
    if (last > pa->page_count)
        last = pa->page_count;
    uint64_t added = 0;
    for (uint64_t p = first; p < last; p = (p | 63) + 1) {
        uint64_t fresh = word_mask(p, last) & ~pa->managed[p / 64];
        pa->managed[p / 64] |= fresh;
        pa->bitmap[p / 64] &= ~fresh;
        added += popcount64(fresh);
    }
    pa->free_pages += added;
    pa->managed_pages += added;
    return added;
}

void page_alloc_reserve_range(struct page_alloc *pa, uint64_t base, uint64_t size)
{
    if (size == 0)
        return;
    uint64_t first = base / PAGE_SIZE;
    uint64_t end = base + size < base ? UINT64_MAX : base + size; /* clamp a range past 2^64 */
    uint64_t last = end / PAGE_SIZE + (end % PAGE_SIZE != 0);
    if (last > pa->page_count)
        last = pa->page_count;
    for (uint64_t p = first; p < last; p = (p | 63) + 1) {
        /* Only free pages: an allocated page stays its owner's to free. */
        uint64_t taken = word_mask(p, last) & pa->managed[p / 64] & ~pa->bitmap[p / 64];
        pa->bitmap[p / 64] |= taken;
        pa->managed[p / 64] &= ~taken;
        pa->free_pages -= popcount64(taken);
        pa->managed_pages -= popcount64(taken);
    }
}

/* First-fit search for `count` free pages in [from, to), aligned; returns the page index or 0. */
static uint64_t find_run(const struct page_alloc *pa, uint64_t from, uint64_t to, uint64_t count, uint64_t align)
{
    uint64_t p = (from + align - 1) & ~(align - 1);
    while (p + count <= to) {
        if (bit_get(pa, p) && (p % 64) == 0 && pa->bitmap[p / 64] == ~0ULL) {
            p = (p + 64 + align - 1) & ~(align - 1); /* skip a full word of used pages */
            continue;
        }
        uint64_t n = 0;
        while (n < count && !bit_get(pa, p + n))
            n++;
        if (n == count)
            return p;
        p = (p + n + 1 + align - 1) & ~(align - 1);
    }
    return 0;
}

uint64_t page_alloc_alloc(struct page_alloc *pa, uint64_t count, uint64_t align_pages)
{
    if (count == 0 || count > pa->free_pages)
        return 0;
    uint64_t align = align_pages ? align_pages : 1;
    if (align & (align - 1))
        return 0;
    uint64_t start = find_run(pa, pa->search_hint, pa->page_count, count, align);
    if (start == 0)
        start = find_run(pa, 0, pa->page_count, count, align);
    if (start == 0) /* page 0 is never free, so 0 always means "not found" */
        return 0;
    for (uint64_t p = start; p < start + count; p++)
        bit_set(pa, p);
    pa->free_pages -= count;
    pa->search_hint = start + count;
    return start * PAGE_SIZE;
}

int page_alloc_free(struct page_alloc *pa, uint64_t addr, uint64_t count)
{
    if (addr % PAGE_SIZE)
        return -1;
    uint64_t first = addr / PAGE_SIZE;
    if (first == 0 || first + count > pa->page_count || first + count < first)
        return -1;
    for (uint64_t p = first; p < first + count; p++)
        if (!bit_get(pa, p) || !is_managed(pa, p))
            return -1;
    for (uint64_t p = first; p < first + count; p++)
        bit_clear(pa, p);
    pa->free_pages += count;
    if (first < pa->search_hint)
        pa->search_hint = first;
    return 0;
}

bool page_alloc_is_free(const struct page_alloc *pa, uint64_t addr)
{
    uint64_t p = addr / PAGE_SIZE;
    return p < pa->page_count && !bit_get(pa, p);
}
