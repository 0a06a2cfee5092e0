#include "boot/efi_memmap.h"

#include <efi.h>

#include "lib/log.h"
#include "lib/page_alloc.h"

/* Where an EFI memory type goes; false for what is not RAM (MMIO, reserved, unusable). */
static bool classify(UINT32 type, enum boot_mem_type *out)
{
    switch (type) {
    case EfiConventionalMemory:
        *out = BOOT_MEM_FREE;
        return true;
    case EfiBootServicesCode:
    case EfiBootServicesData:
        *out = BOOT_MEM_FREE_LATER;
        return true;
    case EfiLoaderCode:
    case EfiLoaderData:
    case EfiRuntimeServicesCode:
    case EfiRuntimeServicesData:
    case EfiACPIReclaimMemory:
    case EfiACPIMemoryNVS:
        *out = BOOT_MEM_IN_USE;
        return true;
    default:
        return false;
    }
}

void efi_memmap_convert(const void *map, uint64_t size, uint64_t desc_size, struct boot_info *bi)
{
    unsigned dropped = 0;
    bi->memmap_count = 0;
    for (uint64_t off = 0; off + sizeof(EFI_MEMORY_DESCRIPTOR) <= size; off += desc_size) {
        const EFI_MEMORY_DESCRIPTOR *d = (const EFI_MEMORY_DESCRIPTOR *)((const char *)map + off);
        enum boot_mem_type type;
        if (!classify(d->Type, &type))
            continue;
        if (boot_memmap_add(bi, d->PhysicalStart, d->NumberOfPages * PAGE_SIZE, type) < 0)
            dropped++;
    }
    if (dropped)
        log_warn("memory: %u EFI memory map entries past the first %u ignored", dropped, BOOT_MEMMAP_MAX);
}
