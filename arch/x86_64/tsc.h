/*
 * The time-stamp counter as the kernel's clock: calibrated at EFI entry (and,
 * against the PIT, refined once init is done), read as nanoseconds since
 * that entry. Under TCG the TSC is not flagged
 * invariant but follows host time (FACTS.md); the boot line says which.
 */
#ifndef ARCH_X86_64_TSC_H
#define ARCH_X86_64_TSC_H

#include <stdbool.h>
#include <stdint.h>

/* Records the tick count read first thing in efi_main (before .bss is cleared). */
void tsc_mark_entry(uint64_t entry_tsc);

/* Measures the TSC frequency (CPUID 0x15, hypervisor leaf 0x40000010, else
 * against PIT channel 2). Returns the name of the source used. */
const char *tsc_calibrate(void);

/* With the PIT as the source, tsc_calibrate measures only 0.5 ms and leaves
 * the PIT counting; this measures the whole time since then (up to 55 ms)
 * and adopts that frequency, keeping the clock continuous. Call once, with
 * interrupts disabled. Returns false (and changes nothing) when there is no
 * such measurement running or it ran out. */
bool tsc_calibrate_refine(void);

uint64_t tsc_hz(void);
bool tsc_is_invariant(void);

/* A span of TSC ticks in nanoseconds, at the current rate. */
uint64_t tsc_ticks_to_ns(uint64_t ticks);

/* The wall clock from KVM's kvmclock (its wall-clock MSR plus the time
 * since): seconds since 1970 UTC; false when not under KVM. */
bool kvmclock_unix_time(uint64_t *t);

/* Nanoseconds since the tick count given to tsc_mark_entry(). */
uint64_t clock_since_entry_ns(void);

#endif
