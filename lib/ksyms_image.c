/* The symbol table embedded in this image by the second link pass (scripts/gen-ksyms). */
#include "lib/ksyms.h"

extern const struct ksym ksym_entries[] __attribute__((visibility("hidden")));
extern const uint32_t ksym_entry_count __attribute__((visibility("hidden")));
extern const char ksym_names[] __attribute__((visibility("hidden")));

const struct ksym_table *ksym_kernel_table(void)
{
    static struct ksym_table table;
    table.syms = ksym_entries;
    table.count = ksym_entry_count;
    table.names = ksym_names;
    return &table;
}
