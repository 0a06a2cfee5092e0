/* In-guest self-tests of the interrupt and time code (run by boot/selftest.c). */
#ifndef ARCH_X86_64_SELFTESTS_H
#define ARCH_X86_64_SELFTESTS_H

#include <stddef.h>

/* A self-IPI reaches its handler through the LAPIC and the dispatcher. */
int selftest_self_ipi(char *reason, size_t reason_size);

/* The PIT's IRQ 0, routed through the MADT override and the IOAPIC, arrives. */
int selftest_ioapic_pit(char *reason, size_t reason_size);

/* Two users of one line share its vector and both see its interrupt;
 * another trigger mode is refused (ioapic_route_shared). */
int selftest_shared_line(char *reason, size_t reason_size);

/* A level-triggered line held asserted that no handler claims is masked
 * (IRQ_STUCK_RUN) and the kernel goes on. */
int selftest_stuck_line(char *reason, size_t reason_size);

/* 2 s by the guest clock: periodic timers fire on time, woken by the LAPIC
 * timer, and the TSC clock agrees with the ACPI PM timer. */
int selftest_timer(char *reason, size_t reason_size);

#endif
