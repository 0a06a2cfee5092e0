/*
 * TSC ticks to nanoseconds as a fixed-point multiply: ns = ticks * mult >> 32,
 * with mult = 1e9 * 2^32 / hz. The 128-bit product cannot overflow for any
 * 64-bit tick count, and the result stays exact to well under 1 ppm, so the
 * conversion holds for uptimes of centuries. Pure arithmetic, unit-tested.
 */
#ifndef ARCH_X86_64_TSC_SCALE_H
#define ARCH_X86_64_TSC_SCALE_H

#include <stdint.h>

#define TSC_SCALE_SHIFT 32
#define NS_PER_SEC 1000000000ULL

struct tsc_scale {
    uint64_t hz;
    uint64_t mult;
};

/* 1e9 << 32 is below 2^63, so this is a plain 64-bit division (no libgcc). */
static inline struct tsc_scale tsc_scale_from_hz(uint64_t hz)
{
    struct tsc_scale s = { hz, hz ? (NS_PER_SEC << TSC_SCALE_SHIFT) / hz : 0 };
    return s;
}

static inline uint64_t tsc_scale_to_ns(const struct tsc_scale *s, uint64_t ticks)
{
    return (uint64_t)(((unsigned __int128)ticks * s->mult) >> TSC_SCALE_SHIFT);
}

/* The TSC rate a pvclock (KVM's kvmclock) describes: its ns = (ticks shifted
 * left by shift, right if negative) * mul >> 32, so hz = (1e9 << 32) / mul,
 * shifted the other way (Linux's pvclock_tsc_khz). 0 when mul is 0 or the
 * rate is not one a CPU runs at (below 1 MHz or above 1 THz): a hypervisor
 * that lies is not believed. */
static inline uint64_t tsc_hz_from_pvclock(uint32_t mul, int8_t shift)
{
    if (!mul || shift > 31 || shift < -31)
        return 0;
    uint64_t hz = (NS_PER_SEC << TSC_SCALE_SHIFT) / mul;
    hz = shift < 0 ? hz << -shift : hz >> shift;
    if (shift < 0 && hz >> -shift != (NS_PER_SEC << TSC_SCALE_SHIFT) / mul)
        return 0; /* overflowed */
    return hz >= 1000000ULL && hz <= 1000000000000ULL ? hz : 0;
}

/* A pvclock's nanoseconds for `ticks` past its tsc_timestamp: the ticks
 * shifted (left by shift, right if negative), times mul, over 2^32. */
static inline uint64_t pvclock_ns(uint64_t ticks, uint32_t mul, int8_t shift)
{
    if (shift > 63 || shift < -63)
        return 0;
    ticks = shift < 0 ? ticks >> -shift : ticks << shift;
    return (uint64_t)(((unsigned __int128)ticks * mul) >> 32);
}

#endif
