#include "arch/x86_64/machine_exit.h"

#include "arch/x86_64/cpu.h"
#include "lib/log.h"

#define ISA_DEBUG_EXIT_PORT 0xF4

void machine_exit(enum machine_exit_code code)
{
    log_flush(); /* QEMU exits at the port write: nothing may still wait in the console ring */
    outl(ISA_DEBUG_EXIT_PORT, code);
    for (;;) {
        irq_disable();
        __asm__ volatile("hlt");
    }
}
