#include "arch/x86_64/tsc.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/rtc.h"
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

#define PIT_CMD_CH0_LOHI_MODE0 0x30  /* channel 0, lobyte/hibyte, mode 0 */
#define PIT_CH0_DATA 0x40
#define PIT_CMD_READBACK_CH0_STATUS 0xE2 /* read-back: status only, channel 0 */
#define PIT_STATUS_OUT 0x80
#define PIT_SPIN_MAX (1u << 22)        /* reads of a counter that never moves: no PIT */
#define NO_DEVICE 0xFF                 /* what an unclaimed I/O port reads */

static bool pit_window_running;
static unsigned pit_channel;         /* 2 (gated through port 0x61) or 0 */
static uint16_t pit_base_count;      /* the window measures from this (count, TSC) pair */
static uint64_t pit_base_tsc;
static uint8_t sys_control_saved;

void tsc_mark_entry(uint64_t entry_tsc)
{
    rebase_tsc = entry_tsc;
}

static uint16_t pit_count(void)
{
    outb(PIT_COMMAND, (uint8_t)(pit_channel << 6)); /* counter latch */
    uint16_t port = pit_channel == 2 ? PIT_CH2_DATA : PIT_CH0_DATA;
    uint8_t lo = inb(port);
    uint8_t hi = inb(port);
    return (uint16_t)(lo | hi << 8);
}

/* A PIT count and the TSC read back to back. Every pair is read by this one
 * function so that, once it has run, no pair waits between its two reads for
 * code to be translated (TCG): that wait made the first pair, taken when the
 * PIT was programmed, read 5-8 % low over a 0.5 ms window. */
static __attribute__((noinline)) void pit_sample(uint16_t *count, uint64_t *tsc)
{
    *count = pit_count();
    *tsc = rdtsc();
}

/* Terminal count: more than the window passed. */
static bool pit_window_over(void)
{
    if (pit_channel == 2)
        return inb(PORT_SYS_CONTROL_B) & SYS_CONTROL_B_CH2_OUT;
    outb(PIT_COMMAND, PIT_CMD_READBACK_CH0_STATUS);
    return inb(PIT_CH0_DATA) & PIT_STATUS_OUT;
}

/* Starts a PIT channel counting down from its maximum. Channel 2, whose gate
 * is port 0x61's bit 0, leaves channel 0 to the firmware (EFI calibrates
 * before ExitBootServices, while OVMF's timer tick runs on channel 0). A
 * machine without port 0x61 (QEMU microvm has a PIT but no speaker port, so
 * channel 2 never counts) gets channel 0, whose gate is always on; its IRQ0
 * stays masked. */
static void pit_window_start(void)
{
    sys_control_saved = inb(PORT_SYS_CONTROL_B);
    if (sys_control_saved != NO_DEVICE) {
        pit_channel = 2;
        uint8_t off = (uint8_t)(sys_control_saved & ~SYS_CONTROL_B_SPEAKER & ~SYS_CONTROL_B_CH2_GATE);
        outb(PORT_SYS_CONTROL_B, off);
        outb(PIT_COMMAND, PIT_CMD_CH2_LOHI_MODE0);
        outb(PIT_CH2_DATA, PIT_WINDOW_TICKS & 0xff);
        outb(PIT_CH2_DATA, PIT_WINDOW_TICKS >> 8);
        outb(PORT_SYS_CONTROL_B, (uint8_t)(off | SYS_CONTROL_B_CH2_GATE)); /* the gate starts the count */
    } else {
        pit_channel = 0;
        outb(PIT_COMMAND, PIT_CMD_CH0_LOHI_MODE0);
        outb(PIT_CH0_DATA, PIT_WINDOW_TICKS & 0xff);
        outb(PIT_CH0_DATA, PIT_WINDOW_TICKS >> 8);
    }
    /* The second pair is the base: the first ran pit_sample untranslated. */
    for (int i = 0; i < 2; i++)
        pit_sample(&pit_base_count, &pit_base_tsc);
    pit_window_running = true;
}

/* TSC Hz from the window so far, once at least min_ticks passed; 0 if it ran
 * out, or if the counter never moved (no PIT). */
static uint64_t pit_window_hz(uint16_t min_ticks)
{
    uint32_t elapsed;
    uint16_t count;
    uint64_t now;
    unsigned spins = 0;
    do {
        if (pit_window_over())
            return 0;
        pit_sample(&count, &now);
        elapsed = (uint16_t)(pit_base_count - count);
        if (elapsed == 0 && ++spins == PIT_SPIN_MAX)
            return 0;
    } while (elapsed < min_ticks);
    return (now - pit_base_tsc) * PIT_HZ / elapsed;
}

/* One whole second between two RTC ticks: slow (up to 2 s), so only when
 * nothing better exists. */
static uint64_t rtc_tsc_hz(void)
{
    if (rtc_read(RTC_STATUS_A) == RTC_NO_DEVICE)
        return 0;
    uint8_t s;
    if (!rtc_wait_second_edge(&s))
        return 0;
    uint64_t start = rdtsc();
    if (!rtc_wait_second_edge(&s))
        return 0;
    return rdtsc() - start;
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

static bool under_hypervisor(void)
{
    return cpuid(1, 0).ecx & (1u << 31); /* CPUID.1:ECX.hypervisor */
}

static uint64_t hypervisor_tsc_hz(void)
{
    if (!under_hypervisor())
        return 0;
    if (cpuid(CPUID_HYPERVISOR_BASE, 0).eax < CPUID_HYPERVISOR_TIMING)
        return 0;
    return (uint64_t)cpuid(CPUID_HYPERVISOR_TIMING, 0).eax * 1000;
}

/* KVM's pvclock (kvmclock): the hypervisor writes the TSC-to-ns factors it
 * uses into guest memory named by an MSR. Asked once, then switched off. */
#define KVM_SIGNATURE_EBX 0x4b4d564bu /* "KVMKVMKVM\0\0\0" */
#define KVM_SIGNATURE_ECX 0x564b4d56u
#define KVM_SIGNATURE_EDX 0x0000004du
#define CPUID_KVM_FEATURES 0x40000001u
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
#define KVMCLOCK_ENABLE 1u
#define KVMCLOCK_TRIES 1000

struct pvclock_time_info {
    uint32_t version; /* odd while the hypervisor writes */
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad[2];
};

static bool on_kvm(void)
{
    if (!under_hypervisor())
        return false;
    struct cpuid_regs r = cpuid(CPUID_HYPERVISOR_BASE, 0);
    return r.ebx == KVM_SIGNATURE_EBX && r.ecx == KVM_SIGNATURE_ECX && r.edx == KVM_SIGNATURE_EDX &&
           r.eax >= CPUID_KVM_FEATURES;
}

#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00u

/* One consistent reading of the hypervisor's time info, with the MSR
 * switched on for it and off again; false if KVM offers none. */
static bool kvmclock_read(struct pvclock_time_info *out)
{
    /* Its own 32 bytes, aligned so they never cross a page; the kernel runs
     * identity-mapped (both entries), so this address is the physical one
     * the MSR wants. */
    static volatile struct pvclock_time_info info __attribute__((aligned(32)));
    if (!on_kvm() || !(cpuid(CPUID_KVM_FEATURES, 0).eax & KVM_FEATURE_CLOCKSOURCE2))
        return false;
    info.version = 0;
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&info | KVMCLOCK_ENABLE);
    bool ok = false;
    for (int i = 0; i < KVMCLOCK_TRIES && !ok; i++) {
        uint32_t version = info.version;
        __asm__ volatile("" ::: "memory");
        *out = (struct pvclock_time_info){ .tsc_timestamp = info.tsc_timestamp, .system_time = info.system_time,
                                           .tsc_to_system_mul = info.tsc_to_system_mul,
                                           .tsc_shift = info.tsc_shift };
        __asm__ volatile("" ::: "memory");
        ok = version && !(version & 1) && version == info.version;
    }
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
    return ok;
}

static uint64_t kvmclock_tsc_hz(void)
{
    struct pvclock_time_info t;
    return kvmclock_read(&t) ? tsc_hz_from_pvclock(t.tsc_to_system_mul, t.tsc_shift) : 0;
}

bool kvmclock_unix_time(uint64_t *t)
{
    /* The wall clock KVM writes is the time at which kvmclock read 0. */
    static volatile struct { uint32_t version, sec, nsec; } wall __attribute__((aligned(16)));
    struct pvclock_time_info info;
    if (!kvmclock_read(&info) || !tsc_hz_from_pvclock(info.tsc_to_system_mul, info.tsc_shift))
        return false;
    uint64_t now_ns = info.system_time +
                      pvclock_ns(rdtsc() - info.tsc_timestamp, info.tsc_to_system_mul, info.tsc_shift);
    wall.version = 0;
    wrmsr(MSR_KVM_WALL_CLOCK_NEW, (uint64_t)(uintptr_t)&wall);
    uint32_t version = wall.version;
    __asm__ volatile("" ::: "memory");
    uint64_t sec = wall.sec, nsec = wall.nsec;
    __asm__ volatile("" ::: "memory");
    if (!version || (version & 1) || version != wall.version || !sec || nsec >= NS_PER_SEC)
        return false;
    *t = sec + (nsec + now_ns) / NS_PER_SEC;
    return true;
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
        source = "kvmclock";
        hz = kvmclock_tsc_hz();
    }
    if (!hz) {
        pit_window_start();
        source = pit_channel == 2 ? "PIT channel 2" : "PIT channel 0";
        hz = pit_window_hz(PROVISIONAL_TICKS);
        pit_window_running = hz != 0;
    }
    if (!hz) {
        source = "the RTC (no PIT answered; 1 s)";
        hz = rtc_tsc_hz();
    }
    if (!hz) {
        /* QEMU's documented microvm line (pit=off, rtc=off) without KVM. */
        source = "the LAPIC timer, no PIT or RTC (ASSUMED to count at 1 GHz, as under QEMU and KVM)";
        hz = lapic_timer_tsc_hz_at_1ghz();
    }
    if (!hz) {
        /* No clock to measure against: time stamps and timers run at a
         * guess, and the console says so (boot: tsc ... line). */
        source = "nothing (no CPUID frequency, PIT, RTC or LAPIC timer): ASSUMED 1 GHz, time is wrong";
        hz = 1000000000ULL;
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
    if ((uint16_t)(pit_base_count - pit_count()) >= REFINE_MIN_TICKS)
        hz = pit_window_hz(REFINE_MIN_TICKS);
    if (pit_channel == 2)
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
