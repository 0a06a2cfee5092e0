#include "arch/x86_64/rtc.h"

#include "arch/x86_64/cpu.h"

#define RTC_INDEX 0x70
#define RTC_DATA 0x71
#define EDGE_SPINS (1u << 26) /* a second's wait: about 2 s under TCG */
/* An update holds UIP for under 2 ms: 65,536 reads of the status are 2-10
 * ms under TCG, about 0.1 s where each read exits to a hypervisor, and bound
 * the wait on an RTC that never clears it. */
#define UIP_SPINS (1u << 16)
#define READS_MAX 8

uint8_t rtc_read(uint8_t reg)
{
    outb(RTC_INDEX, reg);
    return inb(RTC_DATA);
}

bool rtc_wait_second_edge(uint8_t *seconds)
{
    uint8_t start = rtc_read(RTC_SECONDS);
    for (uint32_t i = 0; i < EDGE_SPINS; i++) {
        if (rtc_read(RTC_STATUS_A) & RTC_UPDATE_IN_PROGRESS)
            continue;
        uint8_t now = rtc_read(RTC_SECONDS);
        if (now != start) {
            *seconds = now;
            return true;
        }
    }
    return false;
}

/* All time-of-day registers, once no update is in progress; false if one never ends. */
static bool read_registers(struct rtc_registers *r)
{
    uint32_t spins = 0;
    while (rtc_read(RTC_STATUS_A) & RTC_UPDATE_IN_PROGRESS)
        if (++spins == UIP_SPINS)
            return false;
    *r = (struct rtc_registers){
        .seconds = rtc_read(RTC_SECONDS), .minutes = rtc_read(RTC_MINUTES), .hours = rtc_read(RTC_HOURS),
        .day = rtc_read(RTC_DAY), .month = rtc_read(RTC_MONTH), .year = rtc_read(RTC_YEAR),
        .status_b = rtc_read(RTC_STATUS_B),
    };
    return true;
}

bool rtc_read_unix(uint64_t *t)
{
    if (rtc_read(RTC_STATUS_A) == RTC_NO_DEVICE)
        return false;
    /* An update may start between the status check and the reads: take the
     * time only when two reads in a row agree (Linux's mc146818_get_time). */
    struct rtc_registers before, after;
    if (!read_registers(&before))
        return false;
    for (int i = 0; i < READS_MAX; i++) {
        if (!read_registers(&after))
            return false;
        if (before.seconds == after.seconds && before.minutes == after.minutes && before.hours == after.hours &&
            before.day == after.day && before.month == after.month && before.year == after.year)
            return rtc_registers_to_unix(&after, t);
        before = after;
    }
    return false;
}
