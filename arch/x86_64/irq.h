/*
 * Interrupt vectors and their handlers. Device vectors are handed out by an
 * allocator; several handlers may share a vector (a shared INTx line), and
 * each says whether the interrupt was its own. After the handlers run the
 * dispatcher signals EOI to the LAPIC. Handlers run with interrupts off and
 * must only record work for the main loop.
 */
#ifndef ARCH_X86_64_IRQ_H
#define ARCH_X86_64_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/trap.h"

/* Vector map. 0x20-0x2F: the masked legacy PIC (pic.h). */
#define VECTOR_DEVICE_FIRST 0x30
#define VECTOR_DEVICE_LAST 0xDF
#define VECTOR_LAPIC_TIMER 0xF0
#define VECTOR_LAPIC_ERROR 0xFE
#define VECTOR_SPURIOUS 0xFF

#define IRQ_HANDLERS_PER_VECTOR 4

/* Returns true when the interrupt came from this handler's device. */
typedef bool (*irq_handler_fn)(void *ctx);

/* A free device vector, or -ENOSPC. */
int irq_alloc_vector(void);
void irq_free_vector(int vector);

/* Adds a handler to a vector: 0, -EINVAL or -ENOSPC (vector full). */
int irq_register(uint8_t vector, irq_handler_fn fn, void *ctx);
int irq_unregister(uint8_t vector, irq_handler_fn fn, void *ctx);

/* A line's device was reset, which drops the line: if it was masked as
 * stuck (IRQ_STUCK_RUN), it is unmasked again. QEMU's virtio-mmio keeps its
 * line up from a device error (NEEDS_RESET) until the reset, whatever is
 * acknowledged. */
void irq_line_reset(uint8_t vector);

/* Called by trap_dispatch for vectors 32-255. */
void irq_dispatch(const struct trap_frame *frame);

/* A level-triggered line that no handler claims this many times in a row is
 * taken to be stuck asserted: it would deliver again at every EOI and starve
 * the main loop, so its IOAPIC input is masked (Linux's "nobody cared"). An
 * unclaimed delivery now and then is normal: a shared line's other device, or
 * a hypervisor delivering a level interrupt again after the device was
 * acknowledged (KVM does it on some hosts: docs/interrupts.md). */
#define IRQ_STUCK_RUN 1000

struct irq_vector_stats {
    uint64_t count;          /* deliveries */
    uint64_t unclaimed;      /* deliveries no handler claimed */
    uint32_t unclaimed_run;  /* unclaimed since the last claimed one */
    bool masked_as_stuck;    /* its line was masked after IRQ_STUCK_RUN */
};
struct irq_vector_stats irq_stats(uint8_t vector);
/* Calls emit(ctx, vector, count, unclaimed) for each device or timer vector delivered at least once. */
void irq_for_each_count(void (*emit)(void *ctx, unsigned vector, uint64_t count, uint64_t unclaimed), void *ctx);

#endif
