#include "lib/kheap.h"

#include "lib/phys_mem.h"
#include "lib/log.h"
#include "lib/string.h"

static struct heap kernel_heap;

static void *heap_pages_alloc(size_t count, void *ctx)
{
    (void)ctx;
    return (void *)pages_alloc(count);
}

static void heap_pages_free(void *addr, size_t count, void *ctx)
{
    (void)ctx;
    pages_free((uint64_t)addr, count);
}

void kheap_init(void)
{
    struct heap_page_source source = { heap_pages_alloc, heap_pages_free, NULL };
    heap_init(&kernel_heap, &source);
}

void *kmalloc(size_t size)
{
    return heap_alloc(&kernel_heap, size);
}

void *kzalloc(size_t size)
{
    void *p = heap_alloc(&kernel_heap, size);
    if (p)
        memset(p, 0, size);
    return p;
}

void kfree(void *ptr)
{
    if (heap_free(&kernel_heap, ptr) < 0)
        log_error("heap: kfree(%p): not a live heap block (double free or wild pointer)", ptr);
}

const struct heap *kheap_stats(void)
{
    return &kernel_heap;
}
