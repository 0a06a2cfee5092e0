#include "lib/phys_mem.h"

#include "lib/log.h"
#include "lib/page_alloc.h"
#include "lib/string.h"

static struct page_alloc phys_pages;

void phys_mem_init(uint64_t *bitmap, uint64_t top)
{
    page_alloc_init(&phys_pages, bitmap, top);
}

uint64_t phys_mem_add(uint64_t base, uint64_t size)
{
    return page_alloc_add_range(&phys_pages, base, size);
}

void phys_mem_reserve(uint64_t base, uint64_t size)
{
    page_alloc_reserve_range(&phys_pages, base, size);
}

uint64_t pages_alloc(size_t count)
{
    return page_alloc_alloc(&phys_pages, count, 1);
}

void pages_free(uint64_t phys, size_t count)
{
    if (page_alloc_free(&phys_pages, phys, count) < 0)
        log_error("memory: bad free of %zu pages at 0x%llx (not allocated)", count, (unsigned long long)phys);
}

/* The whole pages a DMA buffer of `bytes` takes. */
static size_t dma_pages(size_t bytes)
{
    return (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
}

void *dma_alloc_uninit(size_t bytes)
{
    return (void *)pages_alloc(dma_pages(bytes));
}

void *dma_alloc(size_t bytes)
{
    void *p = dma_alloc_uninit(bytes);
    if (p)
        memset(p, 0, dma_pages(bytes) * PAGE_SIZE);
    return p;
}

void dma_free(void *ptr, size_t bytes)
{
    pages_free((uint64_t)ptr, dma_pages(bytes));
}

struct memory_stats memory_get_stats(void)
{
    return (struct memory_stats){
        .managed_bytes = phys_pages.managed_pages * PAGE_SIZE,
        .free_bytes = phys_pages.free_pages * PAGE_SIZE,
        .top = phys_pages.page_count * PAGE_SIZE,
    };
}
