#include "arch/x86_64/tsc.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/tsc_scale.h"

static struct tsc_scale tsc_clock_scale;
/* The clock is rebase_ns + ticks since rebase_tsc at the current scale, so a
 * refined scale changes its rate, never its value. */
static uint64_t rebase_tsc, rebase_ns;

/* 8254 PIT (Intel 8254 datasheet) and the PC's port 0x61 gate/output bits. */
#define PIT_HZ 1193182ULL
#define PIT_CH2_DATA 0x42
#define PIT_COMMAND 0x43
#define PIT_CMD_CH2_LOHI_MODE0 0xB0  /* channel 2, lobyte/hibyte, mode 0 (terminal count) */
#define PIT_CMD_CH2_LATCH 0x80       /* channel 2, counter latch */
#define PORT_SYS_CONTROL_B 0x61
#define SYS_CONTROL_B_CH2_GATE 0x01
#define SYS_CONTROL_B_SPEAKER 0x02
#define SYS_CONTROL_B_CH2_OUT 0x20

/* Two stages (docs/boot.md): 0.5 ms at entry for the first log lines, then the
 * whole of init, up to the PIT's 16-bit range, for the clock that stays. Both
 * count PIT ticks against TSC ticks; the error is the few microseconds of
 * port access at each end, so the longer window is ~50 times as exact, and
 * the 30 ms of waiting this used to cost are gone. */
#define PIT_WINDOW_TICKS 0xFFFF        /* 54.9 ms */
#define PROVISIONAL_TICKS 597          /* 0.5 ms: good to ~0.5 %, for time stamps until the refinement */
#define REFINE_MIN_TICKS 11932         /* 10 ms, or the refinement is skipped */
#define CPUID_HYPERVISOR_BASE 0x40000000u
#define CPUID_HYPERVISOR_TIMING 0x40000010u  /* eax = TSC kHz (VMware/KVM convention) */

static bool pit_window_running;
static uint64_t pit_window_tsc;      /* TSC when the PIT started counting */
static uint8_t sys_control_saved;

void tsc_mark_entry(uint64_t entry_tsc)
{
    rebase_tsc = entry_tsc;
}

static uint16_t pit_ch2_count(void)
{
    outb(PIT_COMMAND, PIT_CMD_CH2_LATCH);
    uint8_t lo = inb(PIT_CH2_DATA);
    uint8_t hi = inb(PIT_CH2_DATA);
    return (uint16_t)(lo | hi << 8);
}

/* Starts channel 2 counting down from its maximum, speaker off. */
static void pit_window_start(void)
{
    sys_control_saved = inb(PORT_SYS_CONTROL_B);
    uint8_t off = (uint8_t)(sys_control_saved & ~SYS_CONTROL_B_SPEAKER & ~SYS_CONTROL_B_CH2_GATE);
    outb(PORT_SYS_CONTROL_B, off);
    outb(PIT_COMMAND, PIT_CMD_CH2_LOHI_MODE0);
    outb(PIT_CH2_DATA, PIT_WINDOW_TICKS & 0xff);
    outb(PIT_CH2_DATA, PIT_WINDOW_TICKS >> 8);
    outb(PORT_SYS_CONTROL_B, (uint8_t)(off | SYS_CONTROL_B_CH2_GATE)); /* the gate starts the count */
    pit_window_tsc = rdtsc();
    pit_window_running = true;
}

/* TSC Hz from the window so far, once at least min_ticks passed; 0 if it ran out. */
static uint64_t pit_window_hz(uint16_t min_ticks)
{
    uint32_t elapsed;
    uint64_t now;
    do {
        if (inb(PORT_SYS_CONTROL_B) & SYS_CONTROL_B_CH2_OUT)
            return 0; /* terminal count: more than the window passed */
        elapsed = PIT_WINDOW_TICKS - pit_ch2_count();
        now = rdtsc();
    } while (elapsed < min_ticks);
    return (now - pit_window_tsc) * PIT_HZ / elapsed;
}

static void set_scale(uint64_t hz)
{
    if (tsc_clock_scale.hz) { /* a refinement: from now on, at the new rate */
        uint64_t now = rdtsc();
        rebase_ns += tsc_scale_to_ns(&tsc_clock_scale, now - rebase_tsc);
        rebase_tsc = now;
    }
    tsc_clock_scale = tsc_scale_from_hz(hz);
}

static uint64_t cpuid_tsc_hz(void)
{
    if (cpuid(0, 0).eax >= 0x15) {
        struct cpuid_regs r = cpuid(0x15, 0);  /* eax/ebx = TSC/crystal ratio, ecx = crystal Hz */
        if (r.eax && r.ebx && r.ecx)
            return (uint64_t)r.ecx * r.ebx / r.eax;
    }
    return 0;
}

static uint64_t hypervisor_tsc_hz(void)
{
    if (!(cpuid(1, 0).ecx & (1u << 31)))  /* CPUID.1:ECX.hypervisor */
        return 0;
    if (cpuid(CPUID_HYPERVISOR_BASE, 0).eax < CPUID_HYPERVISOR_TIMING)
        return 0;
    return (uint64_t)cpuid(CPUID_HYPERVISOR_TIMING, 0).eax * 1000;
}

const char *tsc_calibrate(void)
{
    const char *source = "cpuid 0x15";
    uint64_t hz = cpuid_tsc_hz();
    if (!hz) {
        source = "hypervisor leaf 0x40000010";
        hz = hypervisor_tsc_hz();
    }
    if (!hz) {
        source = "PIT channel 2";
        pit_window_start();
        hz = pit_window_hz(PROVISIONAL_TICKS);
    }
    set_scale(hz);
    return source;
}

bool tsc_calibrate_refine(void)
{
    if (!pit_window_running)
        return false;
    pit_window_running = false;
    uint64_t hz = 0;
    if (PIT_WINDOW_TICKS - pit_ch2_count() >= REFINE_MIN_TICKS)
        hz = pit_window_hz(REFINE_MIN_TICKS);
    outb(PORT_SYS_CONTROL_B, sys_control_saved);
    if (!hz)
        return false;
    set_scale(hz);
    return true;
}

uint64_t tsc_hz(void)
{
    return tsc_clock_scale.hz;
}

bool tsc_is_invariant(void)
{
    if (cpuid(0x80000000u, 0).eax < 0x80000007u)
        return false;
    return cpuid(0x80000007u, 0).edx & CPUID_80000007_EDX_INVARIANT_TSC;
}

uint64_t tsc_ticks_to_ns(uint64_t ticks)
{
    return tsc_scale_to_ns(&tsc_clock_scale, ticks);
}

uint64_t clock_since_entry_ns(void)
{
    if (!tsc_clock_scale.hz)
        return 0;
    return rebase_ns + tsc_scale_to_ns(&tsc_clock_scale, rdtsc() - rebase_tsc);
}
