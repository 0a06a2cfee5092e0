#include "arch/x86_64/irq.h"

#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/lapic.h"
#include "lib/errno.h"
#include "lib/irq_flags.h"
#include "lib/log.h"

/* Reports of interrupts on a vector with no handler stop after this many. */
#define REPORT_LIMIT 4

struct irq_handler {
    irq_handler_fn fn;
    void *ctx;
};

static struct irq_handler irq_handlers[VECTOR_COUNT][IRQ_HANDLERS_PER_VECTOR];
static struct irq_vector_stats irq_vector_stats[VECTOR_COUNT];
static bool irq_vector_allocated[VECTOR_COUNT];

int irq_alloc_vector(void)
{
    for (int v = VECTOR_DEVICE_FIRST; v <= VECTOR_DEVICE_LAST; v++) {
        if (!irq_vector_allocated[v]) {
            irq_vector_allocated[v] = true;
            irq_vector_stats[v].unclaimed_run = 0; /* a new owner: its line is not the last one's */
            irq_vector_stats[v].masked_as_stuck = false;
            return v;
        }
    }
    return -ENOSPC;
}

void irq_free_vector(int vector)
{
    if (vector >= VECTOR_DEVICE_FIRST && vector <= VECTOR_DEVICE_LAST)
        irq_vector_allocated[vector] = false;
}

int irq_register(uint8_t vector, irq_handler_fn fn, void *ctx)
{
    if (vector < EXCEPTION_VECTORS || !fn)
        return -EINVAL;
    for (int i = 0; i < IRQ_HANDLERS_PER_VECTOR; i++) {
        if (!irq_handlers[vector][i].fn) {
            irq_handlers[vector][i] = (struct irq_handler){ fn, ctx };
            return 0;
        }
    }
    return -ENOSPC;
}

int irq_unregister(uint8_t vector, irq_handler_fn fn, void *ctx)
{
    for (int i = 0; i < IRQ_HANDLERS_PER_VECTOR; i++) {
        if (irq_handlers[vector][i].fn == fn && irq_handlers[vector][i].ctx == ctx) {
            irq_handlers[vector][i] = (struct irq_handler){ 0 };
            return 0;
        }
    }
    return -EINVAL;
}

static void mask_stuck_line(uint8_t vector, struct irq_vector_stats *stats)
{
    int lines = ioapic_mask_vector(vector, true);
    stats->masked_as_stuck = lines > 0;
    log_error("irq: vector 0x%x: %u interrupts in a row that no handler claimed: %s", vector, IRQ_STUCK_RUN,
              lines ? "its line is stuck asserted; masked until its device is reset" : "no IOAPIC line to mask");
}

void irq_line_reset(uint8_t vector)
{
    bool flags = irq_save(); /* irq_dispatch writes the same counters */
    struct irq_vector_stats *stats = &irq_vector_stats[vector];
    bool was_masked = stats->masked_as_stuck;
    stats->unclaimed_run = 0;
    stats->masked_as_stuck = false;
    if (was_masked)
        ioapic_mask_vector(vector, false);
    irq_restore(flags);
    if (was_masked)
        log_info("irq: vector 0x%x: its line unmasked again, its device reset", vector);
}

void irq_dispatch(const struct trap_frame *frame)
{
    uint8_t vector = (uint8_t)frame->vector;
    struct irq_vector_stats *stats = &irq_vector_stats[vector];
    stats->count++;
    /* A spurious interrupt is not in service at the LAPIC: no EOI (Intel SDM vol. 3A, 11.9). */
    if (vector == VECTOR_SPURIOUS)
        return;

    bool claimed = false, any = false;
    for (int i = 0; i < IRQ_HANDLERS_PER_VECTOR; i++) {
        struct irq_handler *h = &irq_handlers[vector][i];
        if (h->fn) {
            any = true;
            claimed |= h->fn(h->ctx); /* call every handler: a shared line may have several sources */
        }
    }
    if (claimed) {
        stats->unclaimed_run = 0;
    } else {
        stats->unclaimed++;
        if (!any && stats->unclaimed <= REPORT_LIMIT)
            log_warn("irq: vector 0x%x has no handler (%llu so far)", vector, (unsigned long long)stats->unclaimed);
        if (++stats->unclaimed_run == IRQ_STUCK_RUN)
            mask_stuck_line(vector, stats);
    }
    lapic_eoi();
}

struct irq_vector_stats irq_stats(uint8_t vector)
{
    return irq_vector_stats[vector];
}

void irq_for_each_count(void (*emit)(void *ctx, unsigned vector, uint64_t count, uint64_t unclaimed), void *ctx)
{
    for (unsigned v = VECTOR_DEVICE_FIRST; v < VECTOR_COUNT; v++)
        if (irq_vector_stats[v].count)
            emit(ctx, v, irq_vector_stats[v].count, irq_vector_stats[v].unclaimed);
}
