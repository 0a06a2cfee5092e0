/*
 * The kernel's stacks (the main one and the IST stacks for #DF, NMI, #MC),
 * carved from a page-aligned area in .bss with an unmapped guard page below
 * each, so an overflow faults instead of corrupting memory. In the image, not
 * the page allocator: they are needed before the loader's memory is released,
 * when a small machine has almost nothing else free (OVMF at -m 40).
 */
#ifndef ARCH_X86_64_STACKS_H
#define ARCH_X86_64_STACKS_H

#include <stddef.h>
#include <stdint.h>

/* `pages` zeroed pages above a guard page; returns the address just past the
 * top, or 0 when the area is used up. Needs the kernel's own page tables. */
uint64_t stack_alloc(size_t pages);

#endif
