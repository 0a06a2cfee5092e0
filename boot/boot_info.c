/* boot_info's memory map: pure logic, unit-tested on the host. */
#include "boot/boot_info.h"

int boot_memmap_add(struct boot_info *bi, uint64_t base, uint64_t size, enum boot_mem_type type)
{
    if (size == 0)
        return 0;
    if (bi->memmap_count == BOOT_MEMMAP_MAX)
        return -1;
    bi->memmap[bi->memmap_count++] = (struct boot_mem_range){ .base = base, .size = size, .type = type };
    return 0;
}

int boot_memmap_reserve(struct boot_info *bi, uint64_t base, uint64_t size)
{
    if (size == 0)
        return 0;
    uint64_t end = base + size < base ? UINT64_MAX : base + size;
    for (unsigned i = 0; i < bi->memmap_count; i++) {
        struct boot_mem_range *r = &bi->memmap[i];
        uint64_t r_end = r->base + r->size;
        if (r->type == BOOT_MEM_IN_USE || r_end <= base || r->base >= end)
            continue;
        uint64_t head = base > r->base ? base - r->base : 0; /* the part below the reservation */
        uint64_t tail_base = end < r_end ? end : r_end;      /* the part above it */
        struct boot_mem_range tail = { tail_base, r_end - tail_base, r->type };
        if (head) {
            r->size = head;
        } else {
            *r = tail; /* the first part is gone: the tail (maybe empty) takes its slot */
            tail.size = 0;
        }
        if (tail.size && boot_memmap_add(bi, tail.base, tail.size, tail.type) < 0)
            return -1;
    }
    /* Emptied slots (a range wholly inside the reservation) are dropped. */
    unsigned kept = 0;
    for (unsigned i = 0; i < bi->memmap_count; i++)
        if (bi->memmap[i].size)
            bi->memmap[kept++] = bi->memmap[i];
    bi->memmap_count = kept;
    return boot_memmap_add(bi, base, end - base, BOOT_MEM_IN_USE);
}
