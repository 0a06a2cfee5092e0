/*
 * The CPU's interrupt flag, as lib/ needs it (the log ring, the NAPI run
 * queue): declared here so lib/ includes only lib/, implemented by the
 * architecture (arch/x86_64/irq_flags.c) or by a host test's stand-in.
 */
#ifndef LIB_IRQ_FLAGS_H
#define LIB_IRQ_FLAGS_H

#include <stdbool.h>

/* Disables interrupts and returns whether they were on, for irq_restore. */
bool irq_save(void);
void irq_restore(bool enabled);

#endif
