#include "lib/ksyms.h"

#include <stddef.h>

const char *ksym_find(const struct ksym_table *table, uint64_t offset, uint64_t *within, uint64_t *size)
{
    uint64_t start = table->first;
    const char *name = table->names;
    for (uint32_t i = 0; i < table->count && offset >= start; i++) {
        uint64_t end = start + table->spans[i];
        if (offset < end) {
            *within = offset - start;
            *size = table->spans[i];
            return name;
        }
        start = end;
        while (*name++)
            ;
    }
    return NULL;
}
