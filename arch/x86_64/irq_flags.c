/* lib/irq_flags.h on x86-64: RFLAGS.IF. */
#include "lib/irq_flags.h"

#include <stdint.h>

#include "arch/x86_64/cpu.h"

#define RFLAGS_IF (1u << 9)

bool irq_save(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
    return flags & RFLAGS_IF;
}

void irq_restore(bool enabled)
{
    if (enabled)
        irq_enable();
}
