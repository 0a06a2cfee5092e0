#include "lib/ksyms.h"

#include <stddef.h>

const char *ksym_find(const struct ksym_table *table, uint64_t offset, uint64_t *within, uint64_t *size)
{
    uint32_t lo = 0, hi = table->count;
    /* Find the last symbol starting at or before offset. */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (table->syms[mid].offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct ksym *s = &table->syms[lo - 1];
    if (offset - s->offset >= s->size)
        return NULL;
    *within = offset - s->offset;
    *size = s->size;
    const char *name = table->names;
    for (uint32_t i = 0; i < lo - 1; i++)
        while (*name++)
            ;
    return name;
}
