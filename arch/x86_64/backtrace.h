/* Frame-pointer backtraces, symbolized from the kernel's own symbol table. */
#ifndef ARCH_X86_64_BACKTRACE_H
#define ARCH_X86_64_BACKTRACE_H

#include <stdint.h>

/* Frames are followed only inside registered stacks, so a corrupt frame
 * pointer ends the walk instead of faulting. */
void backtrace_add_stack(uint64_t low, uint64_t high);

/* Prints "Backtrace:" and one line per frame, starting at (rip, rbp); rsp
 * (0 if unknown) finds the caller when rip is not kernel code. */
void backtrace_print(uint64_t rip, uint64_t rbp, uint64_t rsp);

/* Prints " name+0xoff/0xsize", or " ?" for an address outside the kernel. */
void backtrace_print_symbol(uint64_t addr);

#endif
