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

/* Hands the loader's memory (BOOT_MEM_FREE_LATER) to the allocator: call only
 * once the loader's stack, page tables, GDT and IDT are no longer in use. */
void memory_release_loader(const struct boot_info *bi);

#endif
