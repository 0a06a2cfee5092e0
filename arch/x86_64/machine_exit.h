/*
 * Ending the machine. Under QEMU with `-device isa-debug-exit,iobase=0xf4,iosize=0x04`
 * a write of V makes QEMU exit with status (V << 1) | 1; without that device
 * the CPU halts for good, or, after a PANIC with Linux's panic=N, restarts.
 * The test harness reads these statuses.
 */
#ifndef ARCH_X86_64_MACHINE_EXIT_H
#define ARCH_X86_64_MACHINE_EXIT_H

#include <stdbool.h>
#include <stdint.h>

enum machine_exit_code {
    MACHINE_EXIT_SUCCESS = 0x10, /* QEMU status 33 */
    MACHINE_EXIT_FAILURE = 0x11, /* QEMU status 35: a self-test failed */
    MACHINE_EXIT_PANIC = 0x12,   /* QEMU status 37 */
};

__attribute__((noreturn)) void machine_exit(enum machine_exit_code code);

/* What a PANIC does once reported (panic=N from kmain, once the clock runs):
 * with timeout_s 0 it halts; else it waits timeout_s seconds (negative: not
 * at all) and calls `restart`, then faults the CPU into a reset if it returns. */
void machine_exit_on_panic(int32_t timeout_s, void (*restart)(void));

/* Ends a reported PANIC as machine_exit_on_panic says: one console line, then
 * isa-debug-exit (QEMU ends there when it has the device), then the halt or
 * the restart. `nested`: the report itself faulted, so restart at once. */
__attribute__((noreturn)) void machine_exit_panic(bool nested);

/* The reset every x86 machine has: an interrupt with no IDT to take it. */
__attribute__((noreturn)) void machine_triple_fault(void);

#endif
