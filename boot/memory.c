#include "boot/memory.h"

#include "arch/x86_64/paging.h"
#include "lib/log.h"
#include "lib/page_alloc.h"
#include "lib/panic.h"
#include "lib/phys_mem.h"

#define for_each_range(bi, r) for (const struct boot_mem_range *r = (bi)->memmap; r < (bi)->memmap + (bi)->memmap_count; r++)

void memory_init(const struct boot_info *bi)
{
    uint64_t top = 0;
    for_each_range(bi, r)
        if (r->type != BOOT_MEM_IN_USE && r->base + r->size > top)
            top = r->base + r->size;
    /* Modules may be given back later (a refused site archive): cover them too. */
    for (unsigned i = 0; i < bi->module_count; i++)
        if (bi->modules[i].base + bi->modules[i].size > top)
            top = bi->modules[i].base + bi->modules[i].size;

    /* The bitmap goes at the start of the first free region that holds it. */
    size_t bitmap_bytes = page_alloc_bitmap_bytes(top);
    uint64_t bitmap = 0;
    for_each_range(bi, r) {
        uint64_t start = r->base < PAGE_ALLOC_MIN_ADDR ? PAGE_ALLOC_MIN_ADDR : r->base;
        uint64_t end = r->base + r->size;
        if (r->type == BOOT_MEM_FREE && end > start && end - start >= bitmap_bytes) {
            bitmap = start;
            break;
        }
    }
    if (!bitmap)
        panic("memory: no free region holds the %zu-byte page bitmap", bitmap_bytes);
    phys_mem_init((uint64_t *)bitmap, top);

    for_each_range(bi, r)
        if (r->type == BOOT_MEM_FREE)
            phys_mem_add(r->base, r->size);
    phys_mem_reserve(bitmap, bitmap_bytes);

    struct memory_stats m = memory_get_stats();
    log_info("memory: %llu MiB free, page bitmap %zu KiB at 0x%llx, top 0x%llx",
             (unsigned long long)(m.free_bytes >> 20), bitmap_bytes / 1024, (unsigned long long)bitmap,
             (unsigned long long)top);
}

static bool holds_any(const struct boot_mem_range *r, const uint64_t *keep, unsigned keep_count)
{
    for (unsigned i = 0; i < keep_count; i++)
        if (keep[i] >= r->base && keep[i] - r->base < r->size)
            return true;
    return false;
}

static void hold_firmware_table(uint64_t page)
{
    phys_mem_reserve(page, PAGE_SIZE);
}

void memory_release_loader(const struct boot_info *bi, const uint64_t *keep, unsigned keep_count)
{
    uint64_t free_before = memory_get_stats().free_bytes;
    bool added = false; /* a range released before adds nothing (page_alloc_add_range) */
    for_each_range(bi, r)
        if (r->type == BOOT_MEM_FREE_LATER && !holds_any(r, keep, keep_count))
            added |= phys_mem_add(r->base, r->size) != 0;
    if (!added)
        return;
    /* Before paging_activate the CPU walks the firmware's tables, which lie
     * in this memory: the pages on the way to RAM (all it touches until
     * then, the image among it) are held until a later call adds them
     * again. */
    uint64_t ram_end = 0;
    for_each_range(bi, r)
        if (r->base + r->size > ram_end)
            ram_end = r->base + r->size;
    paging_for_each_firmware_table(ram_end, hold_firmware_table);
    uint64_t free_after = memory_get_stats().free_bytes;
    log_info("memory: %s memory released%s: +%llu KiB, %llu MiB usable in all", bi->loader,
             keep_count ? " but for what is still in use" : "", (unsigned long long)((free_after - free_before) / 1024),
             (unsigned long long)(free_after >> 20));
}
