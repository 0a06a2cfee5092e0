#include "boot/memory_selftest.h"

#include <stdint.h>

#include "arch/x86_64/paging.h"
#include "lib/kheap.h"
#include "lib/phys_mem.h"
#include "lib/ktap.h"
#include "lib/page_alloc.h"
#include "lib/printf.h"
#include "lib/string.h"

#define DMA_TEST_PAGES 16
#define HEAP_TEST_BLOCKS 64

static int fail(char *reason, size_t size, const char *what)
{
    snprintf(reason, size, "%s", what);
    return -1;
}

int selftest_memory(char *reason, size_t reason_size)
{
    struct memory_stats before = memory_get_stats();

    uint8_t *dma = dma_alloc(DMA_TEST_PAGES * PAGE_SIZE);
    if (!dma)
        return fail(reason, reason_size, "dma_alloc failed");
    if ((uintptr_t)dma % PAGE_SIZE)
        return fail(reason, reason_size, "dma_alloc returned an unaligned buffer");
    for (size_t i = 0; i < DMA_TEST_PAGES * PAGE_SIZE; i++)
        if (dma[i])
            return fail(reason, reason_size, "dma_alloc returned memory that is not zeroed");
    memset(dma, 0xA5, DMA_TEST_PAGES * PAGE_SIZE);
    dma_free(dma, DMA_TEST_PAGES * PAGE_SIZE);

    size_t live_before = kheap_stats()->allocations;
    void *blocks[HEAP_TEST_BLOCKS];
    for (int i = 0; i < HEAP_TEST_BLOCKS; i++) {
        size_t size = 16 + (size_t)i * 97;
        blocks[i] = kmalloc(size);
        if (!blocks[i])
            return fail(reason, reason_size, "kmalloc failed");
        memset(blocks[i], i, size);
    }
    for (int i = 0; i < HEAP_TEST_BLOCKS; i++) {
        const uint8_t *b = blocks[i];
        for (size_t j = 0; j < 16 + (size_t)i * 97; j++)
            if (b[j] != (uint8_t)i)
                return fail(reason, reason_size, "heap blocks overlap");
        kfree(blocks[i]);
    }
    if (kheap_stats()->allocations != live_before)
        return fail(reason, reason_size, "heap counts more live blocks after freeing all it allocated");

    extern const char __text_start[] __attribute__((visibility("hidden")));
    if (paging_is_mapped(0))
        return fail(reason, reason_size, "page 0 is mapped");
    if (!paging_is_mapped((uint64_t)__text_start))
        return fail(reason, reason_size, "kernel text is not mapped");

    struct memory_stats after = memory_get_stats();
    ktap_diag("memory: %llu MiB managed, %llu KiB free before, %llu KiB after (heap keeps its pages)",
              (unsigned long long)(after.managed_bytes >> 20), (unsigned long long)(before.free_bytes >> 10),
              (unsigned long long)(after.free_bytes >> 10));
    return 0;
}
