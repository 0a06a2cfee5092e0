/*
 * Kernel timers on the TSC clock, woken by the LAPIC timer in one-shot mode:
 * the main loop runs what is due, then arms the LAPIC for the next deadline
 * and halts (tickless: no interrupt while nothing is due).
 */
#ifndef ARCH_X86_64_TIMER_H
#define ARCH_X86_64_TIMER_H

#include "lib/timer_list.h"

/* Nanoseconds since EFI entry: the kernel's monotonic clock. */
uint64_t clock_now_ns(void);

/* Spins for `ns` on that clock: for the last acts of a machine (a power-off or
 * reset given time to take effect), where nothing else is left to run. */
void clock_spin_ns(uint64_t ns);

/* Starts measuring the LAPIC timer (interrupts and time init). */
void timer_service_init(void);
/* At the end of init (after tsc_calibrate_refine): the timer can arm one-shots from here on. */
void timer_service_ready(void);

/* Calls fn(t, arg) from the main loop once clock_now_ns() >= deadline_ns. */
void timer_at(struct timer *t, uint64_t deadline_ns, timer_fn fn, void *arg);
void timer_after(struct timer *t, uint64_t delay_ns, timer_fn fn, void *arg);
bool timer_cancel(struct timer *t);

/* Runs due timers; returns how many fired. */
unsigned timers_run(void);

/* Arms the LAPIC timer for the earliest deadline (or stops it); call with
 * interrupts disabled right before halting. */
void timers_arm_wakeup(void);

uint64_t timers_fired(void);

#endif
