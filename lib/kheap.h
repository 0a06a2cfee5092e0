/* The kernel's heap (lib/heap.c over the physical page allocator). */
#ifndef LIB_KHEAP_H
#define LIB_KHEAP_H

#include <stddef.h>

#include "lib/heap.h"

void kheap_init(void);
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *ptr);
const struct heap *kheap_stats(void);

#endif
