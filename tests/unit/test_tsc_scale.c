/*
 * arch/x86_64/tsc_scale.h: ns = ticks * mult >> 32 with mult = floor(1e9 * 2^32 / hz).
 *
 * The error bound, derived rather than guessed. Let exact = ticks * 1e9 / hz and
 * mult = 1e9 * 2^32 / hz - f with 0 <= f < 1 (the truncation of the division).
 * Then ticks * mult / 2^32 = exact - ticks * f / 2^32, and the final shift
 * truncates once more, by less than 1. So
 *
 *     0 <= exact - ns < ticks / 2^32 + 1.
 *
 * In integers (D = ticks * 1e9 - ns * hz = hz * (exact - ns), exact in 128 bits):
 *
 *     0 <= D   and   D * 2^32 < (ticks + 2^32) * hz.
 *
 * Relative error: (exact - ns) / exact = D / (ticks * 1e9), so "relative error
 * below 1e-9" is exactly D < ticks.
 *
 * For 1 s at 2.6 GHz: ticks / 2^32 = 0.605, so the error is below 1.605 ns; being
 * an integer, ns is 1e9 - 1 or 1e9. At 5 GHz, mult = floor(858993459.2), f = 0.2,
 * so the relative error tends to 0.2 / 858993459.2 = 2.3e-10, below 1e-9.
 */
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/tsc_scale.h"
#include "tests/unit/check.h"

typedef unsigned __int128 u128;

#define SECONDS_PER_YEAR 31557600ULL /* 365.25 days */

static void check_bound(const char *file, int line, uint64_t hz, uint64_t ticks, bool relative)
{
    struct tsc_scale s = tsc_scale_from_hz(hz);
    uint64_t ns = tsc_scale_to_ns(&s, ticks);
    u128 scaled = (u128)ticks * NS_PER_SEC;
    u128 got = (u128)ns * hz;
    if (got > scaled) {
        unit_fail(file, line, "%llu ticks at %llu Hz: %llu ns is above the exact value", (unsigned long long)ticks,
                  (unsigned long long)hz, (unsigned long long)ns);
        return;
    }
    u128 d = scaled - got;
    if (d << 32 >= ((u128)ticks + (1ULL << 32)) * hz) {
        unit_fail(file, line, "%llu ticks at %llu Hz: %llu ns is %.3f ns short, bound %.3f",
                  (unsigned long long)ticks, (unsigned long long)hz, (unsigned long long)ns, (double)d / (double)hz,
                  (double)ticks / 4294967296.0 + 1);
        return;
    }
    if (relative && d >= ticks) {
        unit_fail(file, line, "%llu ticks at %llu Hz: relative error %.3g is not below 1e-9",
                  (unsigned long long)ticks, (unsigned long long)hz, (double)d / ((double)ticks * 1e9));
        return;
    }
    unit_pass();
}
#define CHECK_BOUND(hz, ticks) check_bound(__FILE__, __LINE__, (hz), (ticks), false)
#define CHECK_BOUND_RELATIVE(hz, ticks) check_bound(__FILE__, __LINE__, (hz), (ticks), true)

TEST(tsc_scale_one_ghz_is_exact)
{
    struct tsc_scale s = tsc_scale_from_hz(1000000000ULL);
    CHECK_EQ(s.hz, 1000000000ULL);
    CHECK_EQ(s.mult, 1ULL << 32);
    static const uint64_t ticks[] = { 0, 1, 999, 1000000000ULL, 1ULL << 32, (1ULL << 32) + 1, 0x123456789abcdefULL,
                                      1ULL << 63, UINT64_MAX };
    for (size_t i = 0; i < sizeof(ticks) / sizeof(ticks[0]); i++)
        CHECK_EQ(tsc_scale_to_ns(&s, ticks[i]), ticks[i]);
}

TEST(tsc_scale_mult_is_truncated_quotient)
{
    CHECK_EQ(tsc_scale_from_hz(2600000000ULL).mult, 1651910498ULL);  /* 1651910498.46 */
    CHECK_EQ(tsc_scale_from_hz(5000000000ULL).mult, 858993459ULL);   /* 858993459.2 */
    CHECK_EQ(tsc_scale_from_hz(3000000000ULL).mult, 1431655765ULL);  /* 1431655765.33 */
    CHECK_EQ(tsc_scale_from_hz(1).mult, 1000000000ULL << 32);
    CHECK_EQ(tsc_scale_from_hz(2600000000ULL).hz, 2600000000ULL);
}

TEST(tsc_scale_one_second_at_2600_mhz)
{
    struct tsc_scale s = tsc_scale_from_hz(2600000000ULL);
    uint64_t ns = tsc_scale_to_ns(&s, 2600000000ULL);
    /* From the bound above: 1e9 - 1 <= ns <= 1e9. */
    CHECK(ns >= 999999999ULL && ns <= 1000000000ULL);
    CHECK_BOUND(2600000000ULL, 2600000000ULL);
    /* One hour: error below 3600 * 2.6e9 / 2^32 + 1 = 2180.3 ns. */
    uint64_t hour = tsc_scale_to_ns(&s, 3600ULL * 2600000000ULL);
    CHECK(hour <= 3600ULL * NS_PER_SEC && hour > 3600ULL * NS_PER_SEC - 2181);
    CHECK_BOUND(2600000000ULL, 3600ULL * 2600000000ULL);
}

TEST(tsc_scale_long_uptimes_at_5_ghz)
{
    const uint64_t hz = 5000000000ULL;
    struct tsc_scale s = tsc_scale_from_hz(hz);
    /* 10 years: 1.58e18 ticks. */
    uint64_t ticks = 10 * SECONDS_PER_YEAR * hz;
    CHECK_BOUND_RELATIVE(hz, ticks);
    uint64_t ns = tsc_scale_to_ns(&s, ticks);
    CHECK(ns <= 10 * SECONDS_PER_YEAR * NS_PER_SEC);
    CHECK(ns > 10 * SECONDS_PER_YEAR * NS_PER_SEC - 10 * SECONDS_PER_YEAR); /* < 1 ns per second */

    /* 200 years at 5 GHz would be 3.16e19 ticks, beyond the 64-bit counter
     * (which wraps after 116.9 years at 5 GHz); the whole counter range is
     * the longest uptime there is. */
    CHECK_BOUND_RELATIVE(hz, UINT64_MAX);
    CHECK_BOUND_RELATIVE(hz, UINT64_MAX - 1);
    CHECK_BOUND_RELATIVE(hz, 1ULL << 63);
    uint64_t max_ns = tsc_scale_to_ns(&s, UINT64_MAX);
    CHECK(max_ns > tsc_scale_to_ns(&s, UINT64_MAX / 2));
    CHECK(max_ns > 116 * SECONDS_PER_YEAR * NS_PER_SEC);
}

TEST(tsc_scale_200_years)
{
    /* 200 years fit the counter below 2.92 GHz: 1.64e19 ticks at 2.6 GHz. */
    uint64_t ticks = 200 * SECONDS_PER_YEAR * 2600000000ULL;
    CHECK_BOUND_RELATIVE(2600000000ULL, ticks);
    struct tsc_scale s = tsc_scale_from_hz(2600000000ULL);
    uint64_t ns = tsc_scale_to_ns(&s, ticks);
    CHECK(ns <= 200 * SECONDS_PER_YEAR * NS_PER_SEC);
    CHECK(ns > 200 * SECONDS_PER_YEAR * NS_PER_SEC - 200 * SECONDS_PER_YEAR);
    CHECK_BOUND_RELATIVE(1000000000ULL, 200 * SECONDS_PER_YEAR * 1000000000ULL);
    CHECK_BOUND_RELATIVE(2900000000ULL, 200 * SECONDS_PER_YEAR * 2900000000ULL);
}

static uint64_t rng_state;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

TEST(tsc_scale_bound_over_frequencies)
{
    /* Typical TSC rates, odd ones included, with ticks across the whole range. */
    static const uint64_t rates[] = { 1000000000ULL, 1193182ULL * 1000, 1999999999ULL, 2100000000ULL,
                                      2600000000ULL, 2904000000ULL, 3333333333ULL, 4294967296ULL,
                                      4294967297ULL, 5000000000ULL, 7000000001ULL };
    rng_state = 0x853c49e6748fea9bULL;
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        CHECK_BOUND(rates[r], 0);
        CHECK_BOUND(rates[r], 1);
        CHECK_BOUND(rates[r], rates[r]);
        CHECK_BOUND(rates[r], UINT64_MAX);
        unsigned long bad = 0;
        for (int i = 0; i < 2000; i++) {
            uint64_t t = rng_next() >> (rng_next() % 64);
            struct tsc_scale s = tsc_scale_from_hz(rates[r]);
            uint64_t ns = tsc_scale_to_ns(&s, t);
            u128 scaled = (u128)t * NS_PER_SEC, got = (u128)ns * rates[r];
            bad += got > scaled || (scaled - got) << 32 >= ((u128)t + (1ULL << 32)) * rates[r];
        }
        CHECK_EQ(bad, 0);
    }
}

TEST(tsc_scale_monotonic)
{
    static const uint64_t rates[] = { 1000000000ULL, 2600000000ULL, 3333333333ULL, 5000000000ULL };
    rng_state = 0xda3e39cb94b95bdbULL;
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        struct tsc_scale s = tsc_scale_from_hz(rates[r]);
        /* Per tick the result moves by floor or ceil of 1e9 / hz, never back. */
        uint64_t max_step = (NS_PER_SEC + rates[r] - 1) / rates[r];
        unsigned long backwards = 0, big_steps = 0;
        /* Consecutive ticks: from 0, around 2^32 and 2^63, and at the top. */
        static const uint64_t starts[] = { 0, (1ULL << 32) - 50000, (1ULL << 63) - 50000, UINT64_MAX - 100000 };
        for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
            uint64_t prev = tsc_scale_to_ns(&s, starts[k]);
            for (uint64_t i = 1; i <= 100000; i++) { /* up to UINT64_MAX itself, no wrap */
                uint64_t t = starts[k] + i;
                uint64_t ns = tsc_scale_to_ns(&s, t);
                backwards += ns < prev;
                big_steps += ns - prev > max_step;
                prev = ns;
            }
        }
        /* Random increasing ticks over the whole range. */
        uint64_t t = 0, prev = 0;
        for (int i = 0; i < 100000; i++) {
            uint64_t step = rng_next() >> (rng_next() % 63 + 1); /* shift 1..63 */
            if (t > UINT64_MAX - step)
                break;
            t += step;
            uint64_t ns = tsc_scale_to_ns(&s, t);
            backwards += ns < prev;
            prev = ns;
        }
        CHECK_EQ(backwards, 0);
        CHECK_EQ(big_steps, 0);
    }
}

/* kvmclock's factors for a rate, as KVM writes them (mul normalized to
 * 2^31..2^32 by the shift), give that rate back. */
TEST(tsc_hz_from_pvclock_recovers_the_rate)
{
    CHECK_EQ(tsc_hz_from_pvclock(3303820996u, -1), 2600000000ULL); /* 2.6 GHz as KVM scales it */
    CHECK_EQ(tsc_hz_from_pvclock(1651910498u, 0), 2600000000ULL);
    CHECK_EQ(tsc_hz_from_pvclock(825955249u, 1), 2600000000ULL);
    CHECK_EQ(tsc_hz_from_pvclock(1u << 31, 1), 1000000000ULL);
    CHECK_EQ(tsc_hz_from_pvclock(2147483648u, -2), 8000000000ULL); /* 8 GHz */
}

/* A hypervisor that lies is not believed: no division by zero, no shift past
 * the width, no overflow, no rate a CPU does not run at. */
TEST(tsc_hz_from_pvclock_refuses_nonsense)
{
    CHECK_EQ(tsc_hz_from_pvclock(0, 0), 0ULL);
    CHECK_EQ(tsc_hz_from_pvclock(1u << 31, 64), 0ULL);
    CHECK_EQ(tsc_hz_from_pvclock(1u << 31, -128), 0ULL);
    CHECK_EQ(tsc_hz_from_pvclock(1, -31), 0ULL);              /* overflows 64 bits */
    CHECK_EQ(tsc_hz_from_pvclock(1, 0), 0ULL);                /* 4.3e18 Hz */
    CHECK_EQ(tsc_hz_from_pvclock(0xFFFFFFFFu, 31), 0ULL);     /* 0.47 Hz */
}

TEST(pvclock_ns_scales_and_shifts)
{
    CHECK_EQ(pvclock_ns(1000, 1u << 31, 1), 1000);   /* x2, then half a nanosecond a tick */
    CHECK_EQ(pvclock_ns(1000, 1u << 31, -1), 250);
    CHECK_EQ(pvclock_ns(1000, 1u << 31, 0), 500);
    /* No overflow in the product: 2^40 ticks at (2^32 - 1) / 2^32 ns. */
    CHECK_EQ(pvclock_ns(1ULL << 40, 0xFFFFFFFFu, 0), (1ULL << 40) - (1ULL << 8));
    /* 2.6 GHz as KVM describes it here (mul 3303820997, shift -1): a second of ticks is a second. */
    uint64_t ns = pvclock_ns(2600000000ULL, 3303820997u, -1);
    CHECK(ns > 999999000ULL && ns < 1000001000ULL);
    CHECK_EQ(pvclock_ns(1000, 1u << 31, 64), 0); /* a shift no pvclock has */
}
