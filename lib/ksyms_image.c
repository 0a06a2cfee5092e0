/* The symbol table embedded in this image by the second link pass (scripts/gen-ksyms). */
#include "lib/ksyms.h"

extern const uint32_t ksym_count __attribute__((visibility("hidden")));
extern const uint32_t ksym_first __attribute__((visibility("hidden")));
extern const uint16_t ksym_spans[] __attribute__((visibility("hidden")));
extern const char ksym_names[] __attribute__((visibility("hidden")));

const struct ksym_table *ksym_kernel_table(void)
{
    static struct ksym_table table;
    table.first = ksym_first;
    table.spans = ksym_spans;
    table.count = ksym_count;
    table.names = ksym_names;
    return &table;
}
