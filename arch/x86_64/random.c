#include "arch/x86_64/random.h"

#include <stdbool.h>

#include "arch/x86_64/cpu.h"

#define CPUID_1_ECX_RDRAND (1u << 30) /* Intel SDM vol. 2A, CPUID leaf 1 */

uint64_t random_seed(void)
{
    uint64_t seed = rdtsc();
    if (cpuid(1, 0).ecx & CPUID_1_ECX_RDRAND) {
        uint64_t r;
        unsigned char ok;
        __asm__ volatile("rdrand %0; setc %1" : "=r"(r), "=qm"(ok));
        if (ok)
            seed ^= r;
    }
    return seed | 1;
}
