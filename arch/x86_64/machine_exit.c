#include "arch/x86_64/machine_exit.h"

#include "arch/x86_64/cpu.h"

#define ISA_DEBUG_EXIT_PORT 0xF4

void machine_exit(enum machine_exit_code code)
{
    outl(ISA_DEBUG_EXIT_PORT, code);
    for (;;) {
        irq_disable();
        __asm__ volatile("hlt");
    }
}
