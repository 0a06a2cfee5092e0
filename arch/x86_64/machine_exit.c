#include "arch/x86_64/machine_exit.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/timer.h"
#include "lib/log.h"

#define ISA_DEBUG_EXIT_PORT 0xF4
#define S_NS 1000000000ULL

static struct {
    int32_t timeout_s;
    void (*restart)(void);
} on_panic;

static __attribute__((noreturn)) void halt_forever(void)
{
    for (;;) {
        irq_disable();
        __asm__ volatile("hlt");
    }
}

/* QEMU with isa-debug-exit ends at the port write: nothing may still wait in the console ring. */
static void signal_exit(enum machine_exit_code code)
{
    log_flush();
    outl(ISA_DEBUG_EXIT_PORT, code);
}

void machine_exit(enum machine_exit_code code)
{
    signal_exit(code);
    halt_forever();
}

void machine_exit_on_panic(int32_t timeout_s, void (*restart)(void))
{
    on_panic.timeout_s = timeout_s;
    on_panic.restart = restart;
}

void machine_exit_panic(bool nested)
{
    int32_t t = on_panic.timeout_s;
    bool restarts = t && on_panic.restart;
    if (!nested && restarts)
        kprintf("machine restarts in %d s (panic=%d)\n", t > 0 ? t : 0, t);
    else if (!nested)
        kprintf("machine halted: exit status 0x%x\n", MACHINE_EXIT_PANIC);
    signal_exit(MACHINE_EXIT_PANIC);
    if (!restarts)
        halt_forever();
    if (nested)
        machine_triple_fault(); /* the restart path may be what faulted: the plainest reset */
    if (t > 0)
        clock_spin_ns((uint64_t)t * S_NS);
    on_panic.restart();
    machine_triple_fault();
}

void machine_triple_fault(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } no_idt = { 0, 0 };
    __asm__ volatile("lidt %0; int3" : : "m"(no_idt) : "memory");
    halt_forever();
}
