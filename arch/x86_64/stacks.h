/* Kernel stacks with a guard page: an overflow faults instead of corrupting memory. */
#ifndef ARCH_X86_64_STACKS_H
#define ARCH_X86_64_STACKS_H

#include <stddef.h>
#include <stdint.h>

/* `count` zeroed, physically contiguous pages with an unmapped guard page
 * below them; returns the address just past the top, or 0. Needs the
 * kernel's own page tables (paging_activate). */
uint64_t stack_alloc(size_t count);

#endif
