/*
 * The kernel's own symbol table, for symbolized backtraces. The build links
 * the kernel twice: the second link embeds a table generated (scripts/gen-ksyms)
 * from the first one's function symbols. Offsets are relative to ImageBase, so
 * the table needs no relocation wherever OVMF loads the image.
 */
#ifndef LIB_KSYMS_H
#define LIB_KSYMS_H

#include <stdint.h>

/* 6 bytes an entry (about 900 of them): scripts/gen-ksyms refuses a function
 * of 64 KiB or more. */
struct __attribute__((packed)) ksym {
    uint32_t offset; /* from ImageBase */
    uint16_t size;
};

struct ksym_table {
    const struct ksym *syms; /* sorted by offset */
    uint32_t count;
    /* One NUL-terminated name per entry, in the entries' order: a lookup
     * walks to its name (only backtraces look up), so no entry spends
     * bytes on where its name starts. */
    const char *names;
};

/* Finds the function containing `offset`; NULL if none. Sets *within and *size. */
const char *ksym_find(const struct ksym_table *table, uint64_t offset, uint64_t *within, uint64_t *size);

/* The table linked into this kernel. */
const struct ksym_table *ksym_kernel_table(void);

#endif
