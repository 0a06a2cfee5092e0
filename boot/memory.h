/*
 * Physical memory for the kernel, fed by the EFI memory map: conventional
 * memory from the start, boot-services memory once the kernel runs on its
 * own stack, tables and IDT. All memory is identity-mapped, so a physical
 * address is also a pointer.
 */
#ifndef BOOT_MEMORY_H
#define BOOT_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot_info.h"

/* Sets up the page allocator over conventional memory. */
void memory_init(const struct boot_info *bi);

/* Builds and loads the kernel's page tables: RAM read-write no-execute,
 * the image with per-section permissions, page 0 unmapped. */
void memory_enable_paging(void);

/* Hands boot-services code and data to the allocator: call only once the
 * firmware's stack, page tables, GDT and IDT are no longer in use. */
void memory_release_boot_services(void);

/* `count` contiguous pages (not zeroed); 0 when out of memory. */
uint64_t pages_alloc(size_t count);
void pages_free(uint64_t phys, size_t count);

/* `count` zeroed, physically contiguous pages with an unmapped guard page
 * below them (for stacks); returns the address just past the top, or 0. */
uint64_t stack_alloc(size_t count);

/* Device-visible memory: page-aligned, physically contiguous, zeroed.
 * Returns the pointer (== physical address) or NULL. */
void *dma_alloc(size_t bytes);
void dma_free(void *ptr, size_t bytes);

struct memory_stats {
    uint64_t managed_bytes;
    uint64_t free_bytes;
    uint64_t top;  /* highest byte the allocator manages, exclusive */
};
struct memory_stats memory_get_stats(void);

#endif
