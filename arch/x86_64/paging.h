/*
 * The kernel's own page tables: an identity map (virtual == physical) built
 * from scratch after ExitBootServices. RAM is mapped write-back with 2 MiB
 * pages where a range allows, 4 KiB pages elsewhere; MMIO is mapped uncached
 * on demand; page 0 stays unmapped so a NULL dereference faults.
 */
#ifndef ARCH_X86_64_PAGING_H
#define ARCH_X86_64_PAGING_H

#include <stdbool.h>
#include <stdint.h>

enum page_attr {
    PAGE_WRITE = 1 << 0,
    PAGE_EXEC = 1 << 1,
    PAGE_UNCACHED = 1 << 2,
};

/* Where page-table pages come from: one zeroed 4 KiB page, or 0 when out. */
typedef uint64_t (*page_table_alloc_fn)(void);
typedef void (*page_table_free_fn)(uint64_t page);

/* Starts an empty set of tables; nothing is live until paging_activate(). */
int paging_begin(page_table_alloc_fn alloc, page_table_free_fn release);

/* Identity-maps [addr, addr+size) with `attrs` (enum page_attr), replacing
 * whatever mapped it before. Returns 0 or -1 when out of memory. */
int paging_map(uint64_t addr, uint64_t size, unsigned attrs);

/* Removes the mapping of every page touching [addr, addr+size). */
int paging_unmap(uint64_t addr, uint64_t size);

/* Loads the new tables (and enables no-execute when the CPU has it). */
void paging_activate(void);

/* Before paging_activate, calls fn with each page of the firmware's tables,
 * which the CPU walks until then (CR3's tree, four or five levels), on the
 * way to the addresses under `below`; after it, nothing (ours are the page
 * allocator's). At most PAGING_FIRMWARE_TABLES_MAX pages: a tree that claims
 * more (a table that maps itself) is not followed further. */
#define PAGING_FIRMWARE_TABLES_MAX 4096
void paging_for_each_firmware_table(uint64_t below, void (*fn)(uint64_t page));

bool paging_is_mapped(uint64_t addr);
bool paging_nx_supported(void);

/* Firmware tables (ACPI, MP) usually lie in RAM that is mapped already;
 * the pages of [addr, addr+size) that are not get mapped read-only. Returns
 * a pointer to addr, or NULL when a page could not be mapped. */
const void *paging_map_firmware(uint64_t addr, uint64_t size);

/* Maps a device's registers uncached and returns a pointer to them; NULL on failure. */
volatile void *mmio_map(uint64_t phys, uint64_t size);

/* Counts for the boot line. */
struct paging_stats {
    uint64_t table_pages;
    uint64_t pages_2m;
    uint64_t pages_4k;
};
struct paging_stats paging_get_stats(void);

#endif
