#include "arch/x86_64/stacks.h"

#include "arch/x86_64/paging.h"
#include "lib/page_alloc.h"
#include "lib/phys_mem.h"
#include "lib/string.h"

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
