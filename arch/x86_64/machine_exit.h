/*
 * Ending the machine. Under QEMU with `-device isa-debug-exit,iobase=0xf4,iosize=0x04`
 * a write of V makes QEMU exit with status (V << 1) | 1; without that device
 * the CPU halts for good. The test harness reads these statuses.
 */
#ifndef ARCH_X86_64_MACHINE_EXIT_H
#define ARCH_X86_64_MACHINE_EXIT_H

enum machine_exit_code {
    MACHINE_EXIT_SUCCESS = 0x10, /* QEMU status 33 */
    MACHINE_EXIT_FAILURE = 0x11, /* QEMU status 35: a self-test failed */
    MACHINE_EXIT_PANIC = 0x12,   /* QEMU status 37 */
};

__attribute__((noreturn)) void machine_exit(enum machine_exit_code code);

#endif
