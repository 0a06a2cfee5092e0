/* The kernel's page tables (arch/x86_64/paging.c) over boot_info's RAM and the image's sections. */
#include "boot/memory.h"

#include "arch/x86_64/paging.h"
#include "lib/log.h"
#include "lib/page_alloc.h"
#include "lib/panic.h"
#include "lib/phys_mem.h"
#include "lib/string.h"

/* From the link script: the image and its sections. */
extern const char ImageBase[] __attribute__((visibility("hidden")));
extern const char __text_start[], __text_end[] __attribute__((visibility("hidden")));
extern const char __data_start[], __data_end[] __attribute__((visibility("hidden")));
extern const char __bss_start[], __bss_end[] __attribute__((visibility("hidden")));
extern const char __image_end[] __attribute__((visibility("hidden")));

static uint64_t page_table_alloc(void)
{
    uint64_t page = pages_alloc(1);
    if (page)
        memset((void *)page, 0, PAGE_SIZE);
    return page;
}

static void page_table_free(uint64_t page)
{
    pages_free(page, 1);
}

static void map_or_panic(uint64_t addr, uint64_t size, unsigned attrs, const char *what)
{
    if (paging_map(addr, size, attrs) < 0)
        panic("memory: out of memory mapping %s at 0x%llx", what, (unsigned long long)addr);
}

void memory_enable_paging(const struct boot_info *bi)
{
    if (paging_begin(page_table_alloc, page_table_free) < 0)
        panic("memory: no page for the top-level page table");
    for (unsigned i = 0; i < bi->memmap_count; i++)
        map_or_panic(bi->memmap[i].base, bi->memmap[i].size, PAGE_WRITE, "RAM");

    /* The image: read-only by default, code executable, data writable. */
    uint64_t base = (uint64_t)ImageBase;
    map_or_panic(base, (uint64_t)__image_end - base, 0, "kernel image");
    map_or_panic((uint64_t)__text_start, (uint64_t)(__text_end - __text_start), PAGE_EXEC, "kernel text");
    map_or_panic((uint64_t)__data_start, (uint64_t)(__data_end - __data_start), PAGE_WRITE, "kernel data");
    map_or_panic((uint64_t)__bss_start, (uint64_t)(__bss_end - __bss_start), PAGE_WRITE, "kernel bss");
    if (paging_unmap(0, PAGE_SIZE) < 0)
        panic("memory: out of memory unmapping page 0");

    paging_activate();
    struct paging_stats s = paging_get_stats();
    log_info("paging: own tables active, %llu x 2 MiB + %llu x 4 KiB pages, %llu table pages, NX %s, page 0 unmapped",
             (unsigned long long)s.pages_2m, (unsigned long long)s.pages_4k, (unsigned long long)s.table_pages,
             paging_nx_supported() ? "on" : "unsupported");
}
