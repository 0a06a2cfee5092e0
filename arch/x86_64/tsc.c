#include "arch/x86_64/tsc.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/tsc_scale.h"

static uint64_t tsc_entry;
static struct tsc_scale tsc_clock_scale;

/* 8254 PIT (Intel 8254 datasheet) and the PC's port 0x61 gate/output bits. */
#define PIT_HZ 1193182ULL
#define PIT_CH2_DATA 0x42
#define PIT_COMMAND 0x43
#define PIT_CMD_CH2_LOHI_MODE0 0xB0  /* channel 2, lobyte/hibyte, mode 0 (terminal count) */
#define PORT_SYS_CONTROL_B 0x61
#define SYS_CONTROL_B_CH2_GATE 0x01
#define SYS_CONTROL_B_SPEAKER 0x02
#define SYS_CONTROL_B_CH2_OUT 0x20

/* 5 x 2 ms: the PIT and the TSC both follow host time under QEMU, so a short
 * window costs only the port-read latency at its ends (< 0.1 %) unless the
 * host deschedules the vCPU right there; the median drops up to two such runs. */
#define CALIBRATION_US 2000
#define CALIBRATION_RUNS 5
#define CPUID_HYPERVISOR_BASE 0x40000000u
#define CPUID_HYPERVISOR_TIMING 0x40000010u  /* eax = TSC kHz (VMware/KVM convention) */

void tsc_mark_entry(uint64_t entry_tsc)
{
    tsc_entry = entry_tsc;
}

/* TSC ticks during one PIT channel 2 countdown of CALIBRATION_US. */
static uint64_t pit_measure_once(void)
{
    uint16_t count = (uint16_t)(PIT_HZ * CALIBRATION_US / 1000000);
    uint8_t ctl = inb(PORT_SYS_CONTROL_B);
    outb(PORT_SYS_CONTROL_B, (uint8_t)((ctl & ~SYS_CONTROL_B_SPEAKER) & ~SYS_CONTROL_B_CH2_GATE));
    outb(PIT_COMMAND, PIT_CMD_CH2_LOHI_MODE0);
    outb(PIT_CH2_DATA, count & 0xff);
    outb(PIT_CH2_DATA, count >> 8);
    /* Raising the gate starts the countdown; OUT goes high at terminal count. */
    outb(PORT_SYS_CONTROL_B, (uint8_t)((ctl & ~SYS_CONTROL_B_SPEAKER) | SYS_CONTROL_B_CH2_GATE));
    uint64_t start = rdtsc();
    while (!(inb(PORT_SYS_CONTROL_B) & SYS_CONTROL_B_CH2_OUT))
        cpu_relax();
    uint64_t end = rdtsc();
    outb(PORT_SYS_CONTROL_B, ctl);
    return end - start;
}

static uint64_t pit_calibrate_hz(void)
{
    uint64_t runs[CALIBRATION_RUNS];
    for (int i = 0; i < CALIBRATION_RUNS; i++)
        runs[i] = pit_measure_once();
    /* The median: runs disturbed by the host do not skew the result. */
    for (int i = 0; i < CALIBRATION_RUNS; i++)
        for (int j = i + 1; j < CALIBRATION_RUNS; j++)
            if (runs[j] < runs[i]) {
                uint64_t t = runs[i];
                runs[i] = runs[j];
                runs[j] = t;
            }
    return runs[CALIBRATION_RUNS / 2] * PIT_HZ / (PIT_HZ * CALIBRATION_US / 1000000);
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
        hz = pit_calibrate_hz();
    }
    tsc_clock_scale = tsc_scale_from_hz(hz);
    return source;
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

uint64_t clock_since_entry_ns(void)
{
    if (!tsc_clock_scale.hz)
        return 0;
    return tsc_scale_to_ns(&tsc_clock_scale, rdtsc() - tsc_entry);
}
