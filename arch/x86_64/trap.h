/*
 * Exceptions and interrupts: the IDT, the common dispatcher and the PANIC
 * report. Interrupts do not nest: every gate is an interrupt gate, so IF is
 * clear while a handler runs, and handlers only record work for the main loop.
 */
#ifndef ARCH_X86_64_TRAP_H
#define ARCH_X86_64_TRAP_H

#include <stdbool.h>
#include <stdint.h>

/* The stack as trap_entry.S leaves it: saved registers, then what the stub
 * and the CPU pushed. */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error_code;
    uint64_t rip, cs, rflags, rsp, ss;
};

#define EXCEPTION_VECTORS 32
#define VECTOR_COUNT 256

/* Exception vectors used by name (Intel SDM vol. 3A, table 6-1). */
#define VECTOR_NMI 2
#define VECTOR_INVALID_OPCODE 6
#define VECTOR_DOUBLE_FAULT 8
#define VECTOR_PAGE_FAULT 14
#define VECTOR_MACHINE_CHECK 18

/* Loads the IDT; every vector has a gate from here on. */
void idt_init(void);

/* True once idt_init has loaded this kernel's IDT. */
bool idt_is_loaded(void);

/* Moves the double-fault, NMI and machine-check gates onto their IST stacks
 * (call once the TSS holding those stacks is loaded). */
void idt_use_ist(void);

/* Called by trap_entry.S: exceptions panic, vectors 32-255 go to irq_dispatch. */
void trap_dispatch(struct trap_frame *frame);

#endif
