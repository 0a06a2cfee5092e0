#include "lib/heap.h"

#include "lib/page_alloc.h"

#define HEADER_SIZE 16
#define MAGIC_LIVE 0x4b484541u  /* "KHEA" */
#define MAGIC_FREE 0x46524545u  /* "FREE" */
#define CLASS_LARGE 0xffffffffu

struct block_header {
    uint32_t magic;
    uint32_t class_index;  /* size class, or CLASS_LARGE for a page run */
    uint64_t size;         /* bytes the caller asked for */
};

_Static_assert(sizeof(struct block_header) == HEADER_SIZE, "header keeps payload 16-byte aligned");

void heap_init(struct heap *h, const struct heap_page_source *source)
{
    *h = (struct heap){ .source = *source };
}

static size_t large_pages(size_t size)
{
    return (size + HEADER_SIZE + PAGE_SIZE - 1) / PAGE_SIZE;
}

static unsigned class_for(size_t total)
{
    unsigned c = 0;
    while ((1ULL << (HEAP_MIN_SHIFT + c)) < total)
        c++;
    return c;
}

/* Splits a fresh page into blocks of one class and threads them on its free list. */
static int refill_class(struct heap *h, unsigned c)
{
    char *page = h->source.alloc_pages(1, h->source.ctx);
    if (!page)
        return -1;
    h->pages_held++;
    size_t block = 1ULL << (HEAP_MIN_SHIFT + c);
    for (size_t off = 0; off + block <= PAGE_SIZE; off += block) {
        struct block_header *b = (struct block_header *)(page + off);
        b->magic = MAGIC_FREE;
        b->class_index = c;
        b->size = 0;
        *(void **)(b + 1) = h->free_lists[c];
        h->free_lists[c] = b;
    }
    return 0;
}

void *heap_alloc(struct heap *h, size_t size)
{
    if (size == 0 || size > (1ULL << 40)) {
        h->failed_allocations++;
        return NULL;
    }
    size_t total = size + HEADER_SIZE;
    struct block_header *b;
    if (total <= (1ULL << HEAP_MAX_SHIFT)) {
        unsigned c = class_for(total);
        if (!h->free_lists[c] && refill_class(h, c) < 0) {
            h->failed_allocations++;
            return NULL;
        }
        b = h->free_lists[c];
        h->free_lists[c] = *(void **)(b + 1);
    } else {
        size_t pages = large_pages(size);
        b = h->source.alloc_pages(pages, h->source.ctx);
        if (!b) {
            h->failed_allocations++;
            return NULL;
        }
        h->pages_held += pages;
        b->class_index = CLASS_LARGE;
    }
    b->magic = MAGIC_LIVE;
    b->size = size;
    h->bytes_in_use += size;
    h->allocations++;
    return b + 1;
}

static struct block_header *live_header(const void *ptr)
{
    if (!ptr || ((uintptr_t)ptr % HEAP_ALIGN) != 0)
        return NULL;
    struct block_header *b = (struct block_header *)ptr - 1;
    if (b->magic != MAGIC_LIVE)
        return NULL;
    if (b->class_index != CLASS_LARGE && b->class_index >= HEAP_CLASSES)
        return NULL;
    return b;
}

size_t heap_block_size(const struct heap *h, const void *ptr)
{
    (void)h;
    struct block_header *b = live_header(ptr);
    if (!b)
        return 0;
    if (b->class_index == CLASS_LARGE)
        return large_pages(b->size) * PAGE_SIZE - HEADER_SIZE;
    return (1ULL << (HEAP_MIN_SHIFT + b->class_index)) - HEADER_SIZE;
}

int heap_free(struct heap *h, void *ptr)
{
    if (!ptr)
        return 0;
    struct block_header *b = live_header(ptr);
    if (!b) {
        h->bad_frees++;
        return -1;
    }
    h->allocations--;
    h->bytes_in_use -= b->size;
    b->magic = MAGIC_FREE;
    if (b->class_index == CLASS_LARGE) {
        size_t pages = large_pages(b->size);
        h->pages_held -= pages;
        h->source.free_pages(b, pages, h->source.ctx);
        return 0;
    }
    *(void **)(b + 1) = h->free_lists[b->class_index];
    h->free_lists[b->class_index] = b;
    return 0;
}
