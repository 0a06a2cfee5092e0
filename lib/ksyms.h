/*
 * The kernel's own symbol table, for symbolized backtraces. The build links
 * the kernel twice: the second link embeds a table generated (scripts/gen-ksyms)
 * from the first one's function symbols. Offsets are relative to ImageBase, so
 * the table needs no relocation wherever OVMF loads the image.
 */
#ifndef LIB_KSYMS_H
#define LIB_KSYMS_H

#include <stdint.h>

/* 2 bytes a function (about 950 of them): the functions in address order,
 * each as its span, from its start to the next one's (the padding after it
 * included; the last one's own size). scripts/gen-ksyms refuses a span of
 * 64 KiB or more. A function of span 0 (an alias of the next) is never found. */
struct ksym_table {
    uint32_t first;        /* offset from ImageBase of the first function */
    const uint16_t *spans;
    uint32_t count;
    /* One NUL-terminated name per function, in the same order: a lookup
     * walks the spans and the names together (only backtraces look up). */
    const char *names;
};

/* Finds the function containing `offset`; NULL if none. Sets *within and *size. */
const char *ksym_find(const struct ksym_table *table, uint64_t offset, uint64_t *within, uint64_t *size);

/* The table linked into this kernel. */
const struct ksym_table *ksym_kernel_table(void);

#endif
