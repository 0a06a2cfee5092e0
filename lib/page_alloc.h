/*
 * Physical page allocator: two bits per 4 KiB page from address 0 up to the
 * highest usable page: "in use" and "managed" (ever made available), so a
 * free of memory the allocator never had is refused. Contiguous runs are
 * found first-fit from a moving hint. The allocator never touches the memory it manages, only its
 * bitmap, so it can be tested on the host over a fake memory map.
 */
#ifndef LIB_PAGE_ALLOC_H
#define LIB_PAGE_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096ULL
#define PAGE_SHIFT 12

/* Pages below this are never handed out: page 0 must stay unmapped, and the
 * first megabyte holds legacy firmware areas. */
#define PAGE_ALLOC_MIN_ADDR 0x100000ULL

struct page_alloc {
    uint64_t *bitmap;      /* 1 = in use (or never available) */
    uint64_t *managed;     /* 1 = made available by add_range */
    uint64_t page_count;   /* pages covered by the bitmap */
    uint64_t free_pages;
    uint64_t managed_pages; /* pages ever made available */
    uint64_t search_hint;  /* page index where the next search starts */
};

/* Bytes of bitmap storage (both bitmaps) needed to cover memory up to `top` (exclusive). */
size_t page_alloc_bitmap_bytes(uint64_t top);

/* Starts with every page in use; `bitmap` must hold page_alloc_bitmap_bytes(top). */
void page_alloc_init(struct page_alloc *pa, uint64_t *bitmap, uint64_t top);

/* Makes the whole pages inside [base, base+size) available; returns pages added.
 * Parts below PAGE_ALLOC_MIN_ADDR or beyond the bitmap are ignored. */
uint64_t page_alloc_add_range(struct page_alloc *pa, uint64_t base, uint64_t size);

/* Takes every free page touching [base, base+size) out of use (it can be
 * neither allocated nor freed) until an add_range covering it again;
 * allocated pages are left to their owners. */
void page_alloc_reserve_range(struct page_alloc *pa, uint64_t base, uint64_t size);

/* `count` contiguous pages whose first page index is a multiple of
 * `align_pages` (a power of two, or 0/1 for none); returns their physical
 * address, or 0 when no such run is free. */
uint64_t page_alloc_alloc(struct page_alloc *pa, uint64_t count, uint64_t align_pages);

/* Returns 0, or -1 if any page in the run was not handed out by page_alloc_alloc
 * (never available, reserved, or already free); nothing is freed then. */
int page_alloc_free(struct page_alloc *pa, uint64_t addr, uint64_t count);

bool page_alloc_is_free(const struct page_alloc *pa, uint64_t addr);

#endif
