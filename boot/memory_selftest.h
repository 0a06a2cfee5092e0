#ifndef BOOT_MEMORY_SELFTEST_H
#define BOOT_MEMORY_SELFTEST_H

#include <stddef.h>

/* DMA pages are zeroed, aligned and contiguous; the heap hands out distinct
 * blocks and takes them back; page 0 is unmapped and the image protected. */
int selftest_memory(char *reason, size_t reason_size);

#endif
