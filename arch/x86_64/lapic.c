#include "arch/x86_64/lapic.h"

#include "arch/x86_64/apic_encoding.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/tsc.h"
#include "lib/errno.h"
#include "lib/log.h"

/* Register offsets (Intel SDM vol. 3A, table 11-1). */
#define LAPIC_ID 0x020
#define LAPIC_VERSION 0x030
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0B0
#define LAPIC_SVR 0x0F0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3E0
#define LAPIC_MMIO_SIZE 0x1000

#define X2APIC_SELF_IPI_MSR 0x83F
#define MSR_APIC_BASE 0x1B
#define APIC_BASE_ENABLE (1ULL << 11)
#define APIC_BASE_X2APIC (1ULL << 10)
#define CPUID_1_ECX_X2APIC (1u << 21)
#define CPUID_1_EDX_APIC (1u << 9)

#define SVR_APIC_ENABLE (1u << 8)
#define LVT_MASKED (1u << 16)
#define LVT_DELIVERY_NMI (4u << 8)
#define LVT_LEVEL (1u << 15)
#define LVT_ACTIVE_LOW (1u << 13)
#define LVT_TIMER_ONESHOT (0u << 17)
#define ICR_SHORTHAND_SELF (1u << 18)
#define ICR_ASSERT (1u << 14)
#define TIMER_DIVIDE_BY_16 0x3
#define TIMER_DIVIDE_BY_1 0xB
#define TIMER_DIVISOR 16

static volatile uint32_t *lapic_mmio;
static bool x2apic;
static uint64_t timer_hz;
static uint64_t timer_max_ns;
static uint64_t lapic_errors;

static uint32_t lapic_read(uint32_t reg)
{
    return x2apic ? (uint32_t)rdmsr(x2apic_msr(reg)) : lapic_mmio[reg / 4];
}

static void lapic_write(uint32_t reg, uint32_t value)
{
    if (x2apic)
        wrmsr(x2apic_msr(reg), value);
    else
        lapic_mmio[reg / 4] = value;
}

bool lapic_is_x2apic(void)
{
    return x2apic;
}

uint32_t lapic_id(void)
{
    uint32_t id = lapic_read(LAPIC_ID);
    return x2apic ? id : id >> 24;
}

void lapic_eoi(void)
{
    lapic_write(LAPIC_EOI, 0);
}

/* The error interrupt: report what ESR says and clear it (write, then read: SDM 11.5.3). */
static bool lapic_error_interrupt(void *ctx)
{
    (void)ctx;
    lapic_write(LAPIC_ESR, 0);
    uint32_t esr = lapic_read(LAPIC_ESR);
    lapic_errors++;
    if (lapic_errors <= 4)
        log_error("lapic: error interrupt, ESR=0x%x (%llu so far)", esr, (unsigned long long)lapic_errors);
    return true;
}

/* Counting down a one-shot that has not fired yet. */
static volatile bool timer_counting;

/* Timer interrupts only wake the main loop, which runs the expired timers. */
static bool lapic_timer_interrupt(void *ctx)
{
    (void)ctx;
    timer_counting = false;
    return true;
}

bool lapic_timer_counting(void)
{
    return timer_counting;
}

static uint32_t lint_from_madt(const struct madt_info *madt, int lint, uint32_t id)
{
    for (int i = 0; i < madt->nmi_count; i++) {
        const struct madt_lapic_nmi *n = &madt->nmis[i];
        if (n->lint != lint || (n->processor_uid != 0xFF && n->processor_uid != id))
            continue;
        uint32_t lvt = LVT_DELIVERY_NMI;
        if ((n->flags & MPS_INTI_POLARITY_MASK) == MPS_INTI_POLARITY_LOW)
            lvt |= LVT_ACTIVE_LOW;
        if ((n->flags & MPS_INTI_TRIGGER_MASK) == MPS_INTI_TRIGGER_LEVEL)
            lvt |= LVT_LEVEL;
        return lvt;
    }
    return LVT_MASKED;
}

int lapic_init(uint64_t phys_base, const struct madt_info *madt)
{
    struct cpuid_regs leaf1 = cpuid(1, 0);
    if (!(leaf1.edx & CPUID_1_EDX_APIC))
        return -ENODEV; /* QEMU's -cpu ...,-apic: the MADT still names one, but nothing answers */
    x2apic = leaf1.ecx & CPUID_1_ECX_X2APIC;
    uint64_t base_msr = rdmsr(MSR_APIC_BASE);
    if (x2apic) {
        wrmsr(MSR_APIC_BASE, base_msr | APIC_BASE_ENABLE | APIC_BASE_X2APIC);
    } else {
        lapic_mmio = mmio_map(phys_base, LAPIC_MMIO_SIZE);
        if (!lapic_mmio)
            return -ENOMEM;
        wrmsr(MSR_APIC_BASE, base_msr | APIC_BASE_ENABLE);
    }
    irq_register(VECTOR_LAPIC_ERROR, lapic_error_interrupt, NULL);
    irq_register(VECTOR_LAPIC_TIMER, lapic_timer_interrupt, NULL);

    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_SVR, SVR_APIC_ENABLE | VECTOR_SPURIOUS);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VECTOR_LAPIC_TIMER);
    uint32_t id = lapic_id();
    /* The PIC is masked and nothing uses ExtINT: LINT0 stays masked. */
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT1, lint_from_madt(madt, 1, id));
    lapic_write(LAPIC_LVT_ERROR, VECTOR_LAPIC_ERROR);
    lapic_write(LAPIC_ESR, 0);
    lapic_write(LAPIC_ESR, 0);
    lapic_eoi(); /* drop anything the firmware left in service */

    log_info("lapic: %s, id %u, version 0x%x, at 0x%llx", x2apic ? "x2APIC (MSRs)" : "xAPIC (MMIO)", id,
             lapic_read(LAPIC_VERSION) & 0xFF, (unsigned long long)phys_base);
    return 0;
}

void lapic_send_self_ipi(uint8_t vector)
{
    if (x2apic) {
        wrmsr(X2APIC_SELF_IPI_MSR, vector);
        return;
    }
    lapic_write(LAPIC_ICR_HIGH, 0);
    lapic_write(LAPIC_ICR_LOW, ICR_SHORTHAND_SELF | ICR_ASSERT | vector);
}

#define EARLY_TICKS 1000000u /* 1 ms at 1 GHz */
#define EARLY_SPIN_MAX (1u << 24)

__attribute__((cold)) uint64_t lapic_timer_tsc_hz_at_1ghz(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if ((base & (APIC_BASE_ENABLE | APIC_BASE_X2APIC)) != APIC_BASE_ENABLE)
        return 0;
    volatile uint32_t *reg = (volatile uint32_t *)(uintptr_t)(base & ~0xFFFULL);
    reg[LAPIC_LVT_TIMER / 4] = LVT_MASKED;
    reg[LAPIC_TIMER_DIVIDE / 4] = TIMER_DIVIDE_BY_1;
    reg[LAPIC_TIMER_INITIAL / 4] = 0xFFFFFFFFu;
    uint32_t first = reg[LAPIC_TIMER_CURRENT / 4], ticks = 0;
    uint64_t start = rdtsc(), end = start;
    for (uint32_t spins = 0; ticks < EARLY_TICKS && spins < EARLY_SPIN_MAX; spins++) {
        ticks = first - reg[LAPIC_TIMER_CURRENT / 4];
        end = rdtsc();
    }
    reg[LAPIC_TIMER_INITIAL / 4] = 0;
    return ticks >= EARLY_TICKS ? (end - start) * 1000000000ULL / ticks : 0;
}

/* The timer counts down from its maximum, masked, through the rest of init;
 * its rate against the TSC is taken at the end (no busy wait: it used to
 * cost 10 ms of boot). Nothing programs a one-shot before then: only the main
 * loop arms the timer. */
static uint64_t calibration_start_tsc;

void lapic_timer_calibration_start(void)
{
    lapic_write(LAPIC_TIMER_DIVIDE, TIMER_DIVIDE_BY_16);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VECTOR_LAPIC_TIMER);
    calibration_start_tsc = rdtsc();
    lapic_write(LAPIC_TIMER_INITIAL, 0xFFFFFFFFu);
}

uint64_t lapic_timer_calibration_finish(void)
{
    uint32_t remaining = lapic_read(LAPIC_TIMER_CURRENT);
    uint64_t elapsed_ns = tsc_ticks_to_ns(rdtsc() - calibration_start_tsc);
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    uint64_t ticks = 0xFFFFFFFFu - remaining;
    timer_hz = ticks * 1000000000ULL / elapsed_ns; /* < 2^32 * 2^30: no overflow */
    timer_max_ns = 0xFFFFFFFFULL * 1000000000ULL / timer_hz;
    log_info("lapic: timer %llu.%03llu MHz input (divider %d), one-shot, max %llu ms per shot",
             (unsigned long long)(timer_hz * TIMER_DIVISOR / 1000000),
             (unsigned long long)(timer_hz * TIMER_DIVISOR / 1000 % 1000), TIMER_DIVISOR,
             (unsigned long long)(timer_max_ns / 1000000));
    return timer_hz;
}

void lapic_timer_oneshot_ns(uint64_t ns)
{
    if (ns > timer_max_ns)
        ns = timer_max_ns;
    /* ns <= timer_max_ns keeps ns * (hz / 1000) below 2^64 for any real timer clock. */
    uint64_t count = ns * (timer_hz / 1000) / 1000000;
    /* Never early: the rate is known against the TSC to about 0.1 %, and a
     * tick before the deadline finds nothing due and costs a second
     * interrupt (an idle guest's 1 s sleeps took two each). 1/256 more is
     * at most 0.4 % late. */
    count += count / 256 + 1;
    if (count > UINT32_MAX)
        count = UINT32_MAX;
    lapic_write(LAPIC_LVT_TIMER, LVT_TIMER_ONESHOT | VECTOR_LAPIC_TIMER);
    timer_counting = true;
    lapic_write(LAPIC_TIMER_INITIAL, (uint32_t)count);
}

void lapic_timer_stop(void)
{
    timer_counting = false;
    lapic_write(LAPIC_TIMER_INITIAL, 0);
}
