/*
 * The kernel's physical memory: one page allocator (lib/page_alloc.c) over
 * the RAM the boot entry reported, and device-visible (DMA) buffers on top.
 * All RAM is identity-mapped, so a physical address is also a pointer.
 * The boot code feeds it (phys_mem_init, phys_mem_add); everyone else takes
 * pages and DMA buffers from it.
 */
#ifndef LIB_PHYS_MEM_H
#define LIB_PHYS_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Starts with no memory; `bitmap` must hold page_alloc_bitmap_bytes(top). */
void phys_mem_init(uint64_t *bitmap, uint64_t top);
/* Makes [base, base+size) allocatable; returns the pages added. */
uint64_t phys_mem_add(uint64_t base, uint64_t size);
/* Takes [base, base+size) out of use (the bitmap itself, say) until a
 * phys_mem_add covering it again. */
void phys_mem_reserve(uint64_t base, uint64_t size);

/* `count` contiguous pages (not zeroed); 0 when out of memory. */
uint64_t pages_alloc(size_t count);
void pages_free(uint64_t phys, size_t count);

/* Device-visible memory: page-aligned, physically contiguous, zeroed.
 * Returns the pointer (== physical address) or NULL. */
void *dma_alloc(size_t bytes);
/* The same pages, not cleared: for buffers only the device fills and the
 * driver reads no further than the device wrote (receive buffers: clearing
 * their 1 MiB at boot touched every page for nothing). */
void *dma_alloc_uninit(size_t bytes);
void dma_free(void *ptr, size_t bytes);

struct memory_stats {
    uint64_t managed_bytes;
    uint64_t free_bytes;
    uint64_t top;  /* highest byte the allocator manages, exclusive */
};
struct memory_stats memory_get_stats(void);

#endif
