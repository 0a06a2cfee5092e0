/*
 * The boot CPU's local APIC, in x2APIC mode (MSRs) when the CPU offers it and
 * xAPIC mode (MMIO) otherwise, behind one set of functions. Its timer runs in
 * one-shot mode so the main loop can sleep until the next deadline (tickless).
 */
#ifndef ARCH_X86_64_LAPIC_H
#define ARCH_X86_64_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/acpi_tables.h"

/* Enables the LAPIC at `phys_base` (from the MADT) with the spurious and
 * error vectors, masks LINT0, programs LINT1 as the MADT's NMI entries say.
 * -ENODEV: the CPU has none; -ENOMEM: its page cannot be mapped. */
int lapic_init(uint64_t phys_base, const struct madt_info *madt);

bool lapic_is_x2apic(void);
uint32_t lapic_id(void);
void lapic_eoi(void);

/* Sends `vector` to this CPU (self-IPI). */
void lapic_send_self_ipi(uint8_t vector);

/* Before lapic_init, for tsc_calibrate when nothing else gives a rate: the
 * TSC's rate against the LAPIC timer, taken to count at 1 GHz. That is
 * QEMU's APIC clock under TCG and KVM (and KVM's own APIC's), a fact of the
 * hypervisor, not of the architecture. 0 unless the LAPIC is on in xAPIC
 * mode (its page identity-mapped, as at both entries) and its timer counts. */
uint64_t lapic_timer_tsc_hz_at_1ghz(void);

/* Measures the timer's input clock against the TSC: start early, finish once
 * the TSC's own rate is final and before any one-shot is armed; finish
 * returns its Hz (after the divider). */
void lapic_timer_calibration_start(void);
uint64_t lapic_timer_calibration_finish(void);

/* Fires VECTOR_LAPIC_TIMER once after `ns` (clamped to what the counter holds, at least one tick). */
void lapic_timer_oneshot_ns(uint64_t ns);
void lapic_timer_stop(void);
/* A one-shot is armed and has not fired (nor been stopped) yet. */
bool lapic_timer_counting(void);

#endif
