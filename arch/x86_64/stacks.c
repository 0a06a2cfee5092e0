#include "arch/x86_64/stacks.h"

#include "arch/x86_64/paging.h"
#include "lib/page_alloc.h"

/* kmain's 16-page stack and three 4-page IST stacks, each with its guard. */
#define STACK_AREA_PAGES (16 + 1 + 3 * (4 + 1))

static uint8_t stack_area[STACK_AREA_PAGES * PAGE_SIZE] __attribute__((aligned(4096)));
static size_t stack_area_used; /* pages */

uint64_t stack_alloc(size_t pages)
{
    if (pages + 1 > STACK_AREA_PAGES - stack_area_used)
        return 0;
    uint64_t guard = (uint64_t)(stack_area + stack_area_used * PAGE_SIZE);
    if (paging_unmap(guard, PAGE_SIZE) < 0)
        return 0;
    stack_area_used += pages + 1;
    return guard + (pages + 1) * PAGE_SIZE; /* .bss is zero already */
}
