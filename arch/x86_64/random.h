/* A seed for the kernel's pseudo-random numbers (not for cryptography). */
#ifndef ARCH_X86_64_RANDOM_H
#define ARCH_X86_64_RANDOM_H

#include <stdint.h>

/* RDRAND when the CPU has it, mixed with the TSC; never 0. */
uint64_t random_seed(void);

#endif
