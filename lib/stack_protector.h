/* The stack protector's guard value and failure handler (see stack_protector.c). */
#ifndef LIB_STACK_PROTECTOR_H
#define LIB_STACK_PROTECTOR_H

#include <stdint.h>

/* Picks the guard from `seed` (the TSC, mixed: no RDRAND under TCG). Call
 * from a function that never returns, before anything deeper runs. */
void stack_protector_init(uint64_t seed);

#endif
