#ifndef ARCH_X86_64_STACK_SWITCH_H
#define ARCH_X86_64_STACK_SWITCH_H

#include <stdint.h>

/* Runs fn(arg) on the stack ending at `top` (16-byte aligned), with a zero
 * frame pointer so backtraces end there. Never returns. */
__attribute__((noreturn)) void stack_switch_call(uint64_t top, void (*fn)(void *), void *arg);

#endif
