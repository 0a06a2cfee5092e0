/*
 * Kernel heap: power-of-two size classes (32 B .. 2 KiB) carved from whole
 * pages, and page runs for anything larger. Every block carries a 16-byte
 * header so heap_free() can check what it is given: a pointer that is not a
 * live heap block (double free, wild pointer, overrun header) is refused.
 * Pages come from a caller-supplied source, so the heap is testable on the host.
 */
#ifndef LIB_HEAP_H
#define LIB_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define HEAP_MIN_SHIFT 5   /* 32-byte smallest block (header included) */
#define HEAP_MAX_SHIFT 11  /* 2 KiB largest size-class block */
#define HEAP_CLASSES (HEAP_MAX_SHIFT - HEAP_MIN_SHIFT + 1)
#define HEAP_ALIGN 16

struct heap_page_source {
    void *(*alloc_pages)(size_t count, void *ctx); /* NULL when out of memory */
    void (*free_pages)(void *addr, size_t count, void *ctx);
    void *ctx;
};

struct heap {
    struct heap_page_source source;
    void *free_lists[HEAP_CLASSES];
    size_t bytes_in_use;     /* as requested by callers */
    size_t pages_held;       /* pages taken from the source */
    size_t allocations;      /* live blocks */
    size_t failed_allocations;
    size_t bad_frees;
};

void heap_init(struct heap *h, const struct heap_page_source *source);

/* 16-byte aligned; NULL when out of memory or size is 0 or absurd. */
void *heap_alloc(struct heap *h, size_t size);

/* Returns 0, or -1 (counted in bad_frees, nothing changed) for a pointer that
 * is not a live heap block (double free, interior or wild pointer). Blocks
 * carry no heap identity: free a block into the heap it came from. NULL is
 * accepted and ignored. */
int heap_free(struct heap *h, void *ptr);

/* Usable size of a live block, or 0. */
size_t heap_block_size(const struct heap *h, const void *ptr);

#endif
