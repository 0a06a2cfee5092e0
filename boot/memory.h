/*
 * Physical memory at boot: the page allocator (lib/phys_mem.h) fed from the
 * loader's memory map, and the kernel's own page tables over it.
 */
#ifndef BOOT_MEMORY_H
#define BOOT_MEMORY_H

#include "boot/boot_info.h"

/* Sets up the page allocator over the free RAM. */
void memory_init(const struct boot_info *bi);

/* Builds and loads the kernel's page tables: RAM read-write no-execute,
 * the image with per-section permissions, page 0 unmapped. */
void memory_enable_paging(const struct boot_info *bi);

/* Hands the loader's memory (BOOT_MEM_FREE_LATER) to the allocator, except
 * the ranges holding any of the `keep` addresses (still in use: the stack we
 * run on, the loaded GDT) and the pages of the page tables the CPU walks now
 * (the firmware's, until memory_enable_paging). Released ranges stay
 * released; a later call with nothing to keep hands over the rest. Our own
 * IDT must be loaded first. */
void memory_release_loader(const struct boot_info *bi, const uint64_t *keep, unsigned keep_count);

#endif
