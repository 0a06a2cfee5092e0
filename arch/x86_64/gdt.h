/* The kernel's GDT and TSS: flat 64-bit code and data, plus IST stacks so a
 * double fault, NMI or machine check runs on a known-good stack. */
#ifndef ARCH_X86_64_GDT_H
#define ARCH_X86_64_GDT_H

#include <stdint.h>

#define GDT_KERNEL_CODE 0x08
#define GDT_KERNEL_DATA 0x10
#define GDT_TSS 0x18

/* Interrupt-stack-table slots (1-based, as the IDT gate encodes them). */
#define IST_DOUBLE_FAULT 1
#define IST_NMI 2
#define IST_MACHINE_CHECK 3
#define IST_COUNT 3

/* Loads the GDT and TSS; ist_tops[i] is the top of the stack for IST slot i+1. */
void gdt_init(const uint64_t ist_tops[IST_COUNT]);

#endif
