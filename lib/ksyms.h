/*
 * The kernel's own symbol table, for symbolized backtraces. The build links
 * the kernel twice: the second link embeds a table generated (scripts/gen-ksyms)
 * from the first one's function symbols. Offsets are relative to ImageBase, so
 * the table needs no relocation wherever OVMF loads the image.
 */
#ifndef LIB_KSYMS_H
#define LIB_KSYMS_H

#include <stdint.h>

/* 8 bytes an entry (about 900 of them): scripts/gen-ksyms refuses a function
 * of 64 KiB or more, or a name blob that large. */
struct ksym {
    uint32_t offset; /* from ImageBase */
    uint16_t size;
    uint16_t name;   /* index into the name blob */
};

struct ksym_table {
    const struct ksym *syms; /* sorted by offset */
    uint32_t count;
    const char *names;
};

/* Finds the function containing `offset`; NULL if none. Sets *within and *size. */
const char *ksym_find(const struct ksym_table *table, uint64_t offset, uint64_t *within, uint64_t *size);

/* The table linked into this kernel. */
const struct ksym_table *ksym_kernel_table(void);

#endif
