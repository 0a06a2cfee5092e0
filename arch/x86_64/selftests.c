#include "arch/x86_64/selftests.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/timer.h"
#include "arch/x86_64/main_loop.h"
#include "lib/errno.h"
#include "lib/ktap.h"
#include "lib/printf.h"

#define MS 1000000ULL

static bool counter_nonzero(void *ctx)
{
    return *(volatile uint64_t *)ctx != 0;
}

static bool count_interrupt(void *ctx)
{
    (*(volatile uint64_t *)ctx)++;
    return true;
}

int selftest_self_ipi(char *reason, size_t reason_size)
{
    static volatile uint64_t hits;
    hits = 0;
    int vector = irq_alloc_vector();
    if (vector < 0) {
        snprintf(reason, reason_size, "no free vector");
        return -1;
    }
    irq_register((uint8_t)vector, count_interrupt, (void *)&hits);
    lapic_send_self_ipi((uint8_t)vector);
    bool arrived = main_loop_run_until(counter_nonzero, (void *)&hits, 100 * MS);
    irq_unregister((uint8_t)vector, count_interrupt, (void *)&hits);
    irq_free_vector(vector);
    ktap_diag("ipi: vector 0x%x delivered %llu time(s)", vector, (unsigned long long)hits);
    if (!arrived || hits != 1) {
        snprintf(reason, reason_size, "self-IPI on vector 0x%x arrived %llu times, expected once", vector,
                 (unsigned long long)hits);
        return -1;
    }
    return 0;
}

/* PIT channel 0 in mode 0 raises IRQ 0 once at terminal count (Intel 8254 datasheet). */
#define PIT_CH0_DATA 0x40
#define PIT_COMMAND 0x43
#define PIT_CMD_CH0_LOHI_MODE0 0x30
#define PIT_COUNT_10MS 11932
#define PIT_COUNT_1MS 1193

/* Its output goes low now and high at terminal count, where it stays. */
static void pit_ch0_mode0(uint16_t count)
{
    outb(PIT_COMMAND, PIT_CMD_CH0_LOHI_MODE0);
    outb(PIT_CH0_DATA, count & 0xFF);
    outb(PIT_CH0_DATA, count >> 8);
}

int selftest_ioapic_pit(char *reason, size_t reason_size)
{
    static volatile uint64_t hits;
    hits = 0;
    struct irq_line_mode mode;
    uint32_t gsi = ioapic_isa_irq_to_gsi(0, &mode);
    int vector = irq_alloc_vector();
    if (vector < 0) {
        snprintf(reason, reason_size, "no free vector");
        return -1;
    }
    irq_register((uint8_t)vector, count_interrupt, (void *)&hits);
    int rc = ioapic_route_gsi(gsi, (uint8_t)vector, mode);
    if (rc == 0) {
        ioapic_unmask(gsi);
        pit_ch0_mode0(PIT_COUNT_10MS);
        main_loop_run_until(counter_nonzero, (void *)&hits, 500 * MS);
    }
    ioapic_unroute(gsi);
    irq_unregister((uint8_t)vector, count_interrupt, (void *)&hits);
    irq_free_vector(vector);
    ktap_diag("ioapic: ISA IRQ 0 -> GSI %u (%s, active %s) -> vector 0x%x: %llu interrupt(s)", gsi,
              mode.level_triggered ? "level" : "edge", mode.active_low ? "low" : "high", vector,
              (unsigned long long)hits);
    if (rc < 0) {
        snprintf(reason, reason_size, "no IOAPIC input for GSI %u", gsi);
        return -1;
    }
    if (hits == 0) {
        snprintf(reason, reason_size, "PIT interrupt never arrived on GSI %u", gsi);
        return -1;
    }
    return 0;
}

static bool refuse_interrupt(void *ctx)
{
    (*(volatile uint64_t *)ctx)++;
    return false;
}

static bool vector_masked_as_stuck(void *ctx)
{
    return irq_stats(*(const uint8_t *)ctx).masked_as_stuck;
}

static bool never(void *ctx)
{
    (void)ctx;
    return false;
}

/* A line stuck asserted: the PIT's output stays high after its mode-0 count,
 * and routed level-triggered to a handler that never claims it, it would be
 * delivered again at every EOI. The dispatcher must mask it and go on. */
int selftest_stuck_line(char *reason, size_t reason_size)
{
    static volatile uint64_t refused;
    static uint8_t vector;
    refused = 0;
    struct irq_line_mode mode;
    uint32_t gsi = ioapic_isa_irq_to_gsi(0, &mode);
    mode.level_triggered = true;
    mode.active_low = false;
    int v = irq_alloc_vector();
    if (v < 0) {
        snprintf(reason, reason_size, "no free vector");
        return -1;
    }
    vector = (uint8_t)v;
    irq_register(vector, refuse_interrupt, (void *)&refused);
    int rc = ioapic_route_gsi(gsi, vector, mode);
    bool masked = false;
    uint64_t after_mask = 0;
    if (rc == 0) {
        ioapic_unmask(gsi);
        pit_ch0_mode0(PIT_COUNT_1MS);
        masked = main_loop_run_until(vector_masked_as_stuck, &vector, 2000 * MS);
        uint64_t at_mask = refused;
        main_loop_run_until(never, NULL, 50 * MS); /* the line must stay quiet */
        after_mask = refused - at_mask;
        outb(PIT_COMMAND, PIT_CMD_CH0_LOHI_MODE0); /* a mode write drops the output */
    }
    ioapic_unroute(gsi);
    irq_unregister(vector, refuse_interrupt, (void *)&refused);
    irq_free_vector(vector);
    ktap_diag("stuck line: GSI %u level -> vector 0x%x: %llu refused, then %llu in 50 ms after the mask", gsi, vector,
              (unsigned long long)refused, (unsigned long long)after_mask);
    if (rc < 0)
        snprintf(reason, reason_size, "no IOAPIC input for GSI %u", gsi);
    else if (!masked)
        snprintf(reason, reason_size, "the stuck line was not masked (%llu refused)", (unsigned long long)refused);
    else if (refused < IRQ_STUCK_RUN || after_mask)
        snprintf(reason, reason_size, "masked after %llu deliveries with %llu more after it",
                 (unsigned long long)(refused - after_mask), (unsigned long long)after_mask);
    else
        return 0;
    return -1;
}

#define TIMER_TEST_PERIOD_NS (10 * MS)
#define TIMER_TEST_LENGTH_NS (2000 * MS)

struct periodic_state {
    struct timer timer;
    uint64_t next_deadline;
    uint64_t fired;
    uint64_t early;     /* callbacks that ran before their deadline: must stay 0 */
    uint64_t worst_lateness_ns;
};

static void periodic_tick(struct timer *t, void *arg)
{
    struct periodic_state *s = arg;
    uint64_t now = clock_now_ns();
    if (now < s->next_deadline)
        s->early++;
    else if (now - s->next_deadline > s->worst_lateness_ns)
        s->worst_lateness_ns = now - s->next_deadline;
    s->fired++;
    /* Next period from the planned deadline, skipping any the host made us miss. */
    do
        s->next_deadline += TIMER_TEST_PERIOD_NS;
    while (s->next_deadline <= now);
    timer_at(t, s->next_deadline, periodic_tick, s);
}

int selftest_timer(char *reason, size_t reason_size)
{
    struct periodic_state s = { 0 };
    uint64_t irqs_before = irq_stats(VECTOR_LAPIC_TIMER).count;
    bool have_pm = acpi_pm_timer_available();
    ktap_diag("timer: start, %llu ms by the guest clock", (unsigned long long)(TIMER_TEST_LENGTH_NS / MS));
    uint32_t pm_start = have_pm ? acpi_pm_timer_read() : 0;
    uint64_t start = clock_now_ns();
    s.next_deadline = start + TIMER_TEST_PERIOD_NS;
    timer_at(&s.timer, s.next_deadline, periodic_tick, &s);
    main_loop_run_until(never, NULL, TIMER_TEST_LENGTH_NS);
    uint64_t elapsed = clock_now_ns() - start;
    uint32_t pm_ticks = have_pm ? acpi_pm_timer_delta(pm_start, acpi_pm_timer_read()) : 0;
    timer_cancel(&s.timer);
    uint64_t irqs = irq_stats(VECTOR_LAPIC_TIMER).count - irqs_before;
    uint64_t pm_ns = (uint64_t)pm_ticks * 1000000000ULL / ACPI_PM_TIMER_HZ;

    ktap_diag("timer: %llu.%03llu ms by TSC, %llu.%03llu ms by ACPI PM timer%s", (unsigned long long)(elapsed / MS),
              (unsigned long long)(elapsed / 1000 % 1000), (unsigned long long)(pm_ns / MS),
              (unsigned long long)(pm_ns / 1000 % 1000), have_pm ? "" : " (none)");
    ktap_diag("timer: %llu periodic callbacks (%llu early, worst %llu us late), %llu LAPIC timer interrupts",
              (unsigned long long)s.fired, (unsigned long long)s.early,
              (unsigned long long)(s.worst_lateness_ns / 1000), (unsigned long long)irqs);

    uint64_t expected = TIMER_TEST_LENGTH_NS / TIMER_TEST_PERIOD_NS;
    if (s.early) {
        snprintf(reason, reason_size, "%llu callbacks ran before their deadline", (unsigned long long)s.early);
        return -1;
    }
    /* Under TCG the host can delay us, so missed periods are allowed, but not most of them. */
    if (s.fired < expected / 2 || s.fired > expected) {
        snprintf(reason, reason_size, "%llu callbacks in %llu ms, expected %llu", (unsigned long long)s.fired,
                 (unsigned long long)(elapsed / MS), (unsigned long long)expected);
        return -1;
    }
    if (irqs == 0) {
        snprintf(reason, reason_size, "no LAPIC timer interrupt: the loop never slept");
        return -1;
    }
    /* The TSC clock and the PM timer are independent: they must agree within 2 %. */
    if (have_pm && (elapsed > pm_ns + pm_ns / 50 || elapsed + pm_ns / 50 < pm_ns)) {
        snprintf(reason, reason_size, "TSC says %llu ms, PM timer %llu ms", (unsigned long long)(elapsed / MS),
                 (unsigned long long)(pm_ns / MS));
        return -1;
    }
    return 0;
}

static bool both_nonzero(void *ctx)
{
    volatile uint64_t *hits = ctx;
    return hits[0] && hits[1];
}

/* Two users of one line (as two devices on a PCI INTx line, or the SCI
 * beside one): the second gets the first's vector and both handlers see
 * its interrupt; a user wanting another trigger mode is refused, and the
 * line keeps the first's. The PIT's IRQ 0 is the line. */
int selftest_shared_line(char *reason, size_t reason_size)
{
    static volatile uint64_t hits[2];
    hits[0] = hits[1] = 0;
    struct irq_line_mode mode;
    uint32_t gsi = ioapic_isa_irq_to_gsi(0, &mode);
    int first = ioapic_route_shared(gsi, mode);
    if (first < 0) {
        snprintf(reason, reason_size, "GSI %u not routed: %d", gsi, first);
        return -1;
    }
    int second = ioapic_route_shared(gsi, mode);
    struct irq_line_mode other = { .level_triggered = !mode.level_triggered, .active_low = mode.active_low };
    int refused = ioapic_route_shared(gsi, other);
    irq_register((uint8_t)first, count_interrupt, (void *)&hits[0]);
    irq_register((uint8_t)first, refuse_interrupt, (void *)&hits[1]);
    ioapic_unmask(gsi);
    pit_ch0_mode0(PIT_COUNT_10MS);
    main_loop_run_until(both_nonzero, (void *)hits, 500 * MS);
    ioapic_unroute(gsi);
    irq_unregister((uint8_t)first, count_interrupt, (void *)&hits[0]);
    irq_unregister((uint8_t)first, refuse_interrupt, (void *)&hits[1]);
    irq_free_vector(first);
    ktap_diag("shared line: GSI %u -> vector 0x%x, again 0x%x, other mode %d; handlers saw %llu and %llu", gsi, first,
              second, refused, (unsigned long long)hits[0], (unsigned long long)hits[1]);
    if (second != first) {
        snprintf(reason, reason_size, "the second user got vector %d, not the line's 0x%x", second, first);
        return -1;
    }
    if (refused != -EBUSY) {
        snprintf(reason, reason_size, "another trigger mode on the line gave %d, not -EBUSY", refused);
        return -1;
    }
    if (!hits[0] || !hits[1]) {
        snprintf(reason, reason_size, "the interrupt reached %s", hits[0] ? "the first handler only" :
                 hits[1] ? "the second handler only" : "neither handler");
        return -1;
    }
    return 0;
}
