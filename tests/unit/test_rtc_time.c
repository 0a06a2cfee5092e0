/*
 * arch/x86_64/rtc_time.c: the CMOS clock's registers to seconds since 1970,
 * BCD and binary, 24- and 12-hour, the two-digit year's century, and the
 * values no clock holds (a missing RTC reads 0xFF everywhere).
 */
#include <stdint.h>

#include "arch/x86_64/rtc.h"
#include "net/http_date.h"
#include "tests/unit/check.h"

#define BCD_24 RTC_24_HOUR
#define BIN_24 (RTC_24_HOUR | RTC_BINARY)

static uint64_t unix_of(struct rtc_registers r)
{
    uint64_t t = 0;
    return rtc_registers_to_unix(&r, &t) ? t : UINT64_MAX;
}

TEST(rtc_time_bcd_and_binary)
{
    /* 2026-12-05 01:30:07, QEMU's default: BCD, 24-hour. */
    CHECK_EQ(unix_of((struct rtc_registers){ 0x07, 0x30, 0x01, 0x05, 0x12, 0x26, BCD_24 }), 1796434207u);
    CHECK_EQ(unix_of((struct rtc_registers){ 7, 30, 1, 5, 12, 26, BIN_24 }), 1796434207u);
    /* The epoch, the last second of 1999, a leap day, the last two-digit year of 20xx. */
    CHECK_EQ(unix_of((struct rtc_registers){ 0, 0, 0, 1, 1, 0x70, BCD_24 }), 0);
    CHECK_EQ(unix_of((struct rtc_registers){ 0x59, 0x59, 0x23, 0x31, 0x12, 0x99, BCD_24 }), 946684799u);
    CHECK_EQ(unix_of((struct rtc_registers){ 0, 0, 0, 0x29, 0x02, 0x24, BCD_24 }), 1709164800u);
    CHECK_EQ(unix_of((struct rtc_registers){ 0, 0, 0, 1, 1, 0x69, BCD_24 }), 3124224000u);
}

TEST(rtc_time_12_hour)
{
    /* 12 AM is midnight, 12 PM noon, bit 7 PM. */
    CHECK_EQ(unix_of((struct rtc_registers){ 0, 0, 0x12, 1, 1, 0x70, 0 }), 0);
    CHECK_EQ(unix_of((struct rtc_registers){ 0, 0, 0x92, 1, 1, 0x70, 0 }), 12 * 3600);
    CHECK_EQ(unix_of((struct rtc_registers){ 0, 0, 0x81, 1, 1, 0x70, 0 }), 13 * 3600);
    CHECK_EQ(unix_of((struct rtc_registers){ 0, 0, 0x11, 1, 1, 0x70, 0 }), 11 * 3600);
    CHECK_EQ(unix_of((struct rtc_registers){ 0, 0, 11 | 0x80, 1, 1, 70, RTC_BINARY }), 23 * 3600);
    /* Hour 0 or 13 does not exist on a 12-hour clock. */
    CHECK_EQ(unix_of((struct rtc_registers){ 0, 0, 0x00, 1, 1, 0x70, 0 }), UINT64_MAX);
    CHECK_EQ(unix_of((struct rtc_registers){ 0, 0, 0x13, 1, 1, 0x70, 0 }), UINT64_MAX);
}

TEST(rtc_time_refuses_what_no_clock_holds)
{
    static const struct rtc_registers bad[] = {
        { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }, /* no RTC */
        { 0x60, 0, 0, 1, 1, 0x70, BCD_24 },           /* second 60 */
        { 0, 0x60, 0, 1, 1, 0x70, BCD_24 },           /* minute 60 */
        { 0, 0, 0x24, 1, 1, 0x70, BCD_24 },           /* hour 24 */
        { 0, 0, 0, 0x29, 0x02, 0x23, BCD_24 },        /* 29 February 2023 */
        { 0, 0, 0, 0x31, 0x04, 0x23, BCD_24 },        /* 31 April */
        { 0, 0, 0, 0, 1, 0x23, BCD_24 },              /* day 0 */
        { 0, 0, 0, 1, 0x13, 0x23, BCD_24 },           /* month 13 */
        { 0x0A, 0, 0, 1, 1, 0x23, BCD_24 },           /* not BCD */
        { 0, 0, 0, 1, 1, 100, BIN_24 },               /* year 100 */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ(unix_of(bad[i]), UINT64_MAX);
}

TEST(wall_clock_runs_on_the_kernel_clock)
{
    struct wall_clock c = { .unix_seconds = 1796434207u, .at_ns = 5000000000u };
    CHECK_EQ(wall_clock_at(&c, 5000000000u), 1796434207u);
    CHECK_EQ(wall_clock_at(&c, 5999999999u), 1796434207u);
    CHECK_EQ(wall_clock_at(&c, 6000000000u), 1796434208u);
    CHECK_EQ(wall_clock_at(&c, 4000000000u), 1796434207u); /* never before it was read */
    struct wall_clock none = { 0 };
    CHECK_EQ(wall_clock_at(&none, 6000000000u), 0);
}
