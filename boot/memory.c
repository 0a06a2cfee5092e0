#include "boot/memory.h"

#include <efi.h>

#include "arch/x86_64/paging.h"
#include "lib/log.h"
#include "lib/page_alloc.h"
#include "lib/panic.h"
#include "lib/string.h"

extern const char ImageBase[] __attribute__((visibility("hidden")));
extern const char __text_start[], __text_end[] __attribute__((visibility("hidden")));
extern const char __data_start[], __data_end[] __attribute__((visibility("hidden")));
extern const char __bss_start[], __bss_end[] __attribute__((visibility("hidden")));
extern const char __image_end[] __attribute__((visibility("hidden")));

static struct page_alloc phys_pages;
static const struct boot_info *memory_boot_info;

#define for_each_descriptor(bi, d)                                                              \
    for (const EFI_MEMORY_DESCRIPTOR *d = (bi)->memmap;                                         \
         (const char *)d < (const char *)(bi)->memmap + (bi)->memmap_size;                      \
         d = (const EFI_MEMORY_DESCRIPTOR *)((const char *)d + (bi)->memmap_desc_size))

static bool type_is_boot_services(UINT32 type)
{
    return type == EfiBootServicesCode || type == EfiBootServicesData;
}

/* Memory the kernel may allocate from, now or after the firmware's structures are dropped. */
static bool type_is_allocatable(UINT32 type)
{
    return type == EfiConventionalMemory || type_is_boot_services(type);
}

/* Everything that is RAM holding something the kernel may read (image, ACPI tables, runtime services). */
static bool type_is_ram(UINT32 type)
{
    switch (type) {
    case EfiLoaderCode:
    case EfiLoaderData:
    case EfiBootServicesCode:
    case EfiBootServicesData:
    case EfiRuntimeServicesCode:
    case EfiRuntimeServicesData:
    case EfiConventionalMemory:
    case EfiACPIReclaimMemory:
    case EfiACPIMemoryNVS:
        return true;
    default:
        return false;
    }
}

void memory_init(const struct boot_info *bi)
{
    memory_boot_info = bi;
    uint64_t top = 0;
    for_each_descriptor(bi, d)
        if (type_is_allocatable(d->Type) && d->PhysicalStart + d->NumberOfPages * PAGE_SIZE > top)
            top = d->PhysicalStart + d->NumberOfPages * PAGE_SIZE;

    /* The bitmap goes at the start of the first conventional region that holds it. */
    size_t bitmap_bytes = page_alloc_bitmap_bytes(top);
    uint64_t bitmap = 0;
    for_each_descriptor(bi, d) {
        uint64_t start = d->PhysicalStart < PAGE_ALLOC_MIN_ADDR ? PAGE_ALLOC_MIN_ADDR : d->PhysicalStart;
        uint64_t end = d->PhysicalStart + d->NumberOfPages * PAGE_SIZE;
        if (d->Type == EfiConventionalMemory && end > start && end - start >= bitmap_bytes) {
            bitmap = start;
            break;
        }
    }
    if (!bitmap)
        panic("memory: no conventional region holds the %zu-byte page bitmap", bitmap_bytes);
    page_alloc_init(&phys_pages, (uint64_t *)bitmap, top);

    for_each_descriptor(bi, d)
        if (d->Type == EfiConventionalMemory)
            page_alloc_add_range(&phys_pages, d->PhysicalStart, d->NumberOfPages * PAGE_SIZE);
    page_alloc_reserve_range(&phys_pages, bitmap, bitmap_bytes);

    log_info("memory: %llu MiB conventional free, page bitmap %zu KiB at 0x%llx, top 0x%llx",
             (unsigned long long)(phys_pages.free_pages * PAGE_SIZE >> 20), bitmap_bytes / 1024,
             (unsigned long long)bitmap, (unsigned long long)top);
}

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

void memory_enable_paging(void)
{
    const struct boot_info *bi = memory_boot_info;
    if (paging_begin(page_table_alloc, page_table_free) < 0)
        panic("memory: no page for the top-level page table");
    for_each_descriptor(bi, d)
        if (type_is_ram(d->Type))
            map_or_panic(d->PhysicalStart, d->NumberOfPages * PAGE_SIZE, PAGE_WRITE, "RAM");

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

void memory_release_boot_services(void)
{
    uint64_t added = 0;
    for_each_descriptor(memory_boot_info, d)
        if (type_is_boot_services(d->Type))
            added += page_alloc_add_range(&phys_pages, d->PhysicalStart, d->NumberOfPages * PAGE_SIZE);
    log_info("memory: boot-services memory released: +%llu KiB, %llu MiB usable in all",
             (unsigned long long)(added * PAGE_SIZE / 1024),
             (unsigned long long)(phys_pages.free_pages * PAGE_SIZE >> 20));
}

uint64_t pages_alloc(size_t count)
{
    return page_alloc_alloc(&phys_pages, count, 1);
}

void pages_free(uint64_t phys, size_t count)
{
    if (page_alloc_free(&phys_pages, phys, count) < 0)
        log_error("memory: bad free of %zu pages at 0x%llx (not allocated)", count, (unsigned long long)phys);
}

uint64_t stack_alloc(size_t count)
{
    uint64_t guard = pages_alloc(count + 1);
    if (!guard)
        return 0;
    memset((void *)(guard + PAGE_SIZE), 0, count * PAGE_SIZE);
    if (paging_unmap(guard, PAGE_SIZE) < 0)
        return 0;
    return guard + (count + 1) * PAGE_SIZE;
}

void *dma_alloc(size_t bytes)
{
    size_t count = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
    uint64_t phys = pages_alloc(count);
    if (!phys)
        return NULL;
    memset((void *)phys, 0, count * PAGE_SIZE);
    return (void *)phys;
}

void dma_free(void *ptr, size_t bytes)
{
    pages_free((uint64_t)ptr, (bytes + PAGE_SIZE - 1) / PAGE_SIZE);
}

struct memory_stats memory_get_stats(void)
{
    return (struct memory_stats){
        .managed_bytes = phys_pages.managed_pages * PAGE_SIZE,
        .free_bytes = phys_pages.free_pages * PAGE_SIZE,
        .top = phys_pages.page_count * PAGE_SIZE,
    };
}
