#include "arch/x86_64/rtc.h"

#include "lib/civil_time.h"

#define YEAR_PIVOT 70 /* two digits: 70-99 are 19xx, 00-69 are 20xx */

/* A register's value, BCD unless the RTC says binary; -1 if not a BCD number. */
static int value(uint8_t reg, bool binary)
{
    if (binary)
        return reg;
    if ((reg & 0x0F) > 9 || (reg >> 4) > 9)
        return -1;
    return (reg >> 4) * 10 + (reg & 0x0F);
}

bool rtc_registers_to_unix(const struct rtc_registers *r, uint64_t *t)
{
    bool binary = r->status_b & RTC_BINARY;
    bool pm = !(r->status_b & RTC_24_HOUR) && (r->hours & 0x80);
    int sec = value(r->seconds, binary), min = value(r->minutes, binary);
    int hour = value(pm ? r->hours & 0x7F : r->hours, binary);
    int day = value(r->day, binary), month = value(r->month, binary), year = value(r->year, binary);
    if (sec < 0 || sec > 59 || min < 0 || min > 59 || hour < 0 || year < 0 || year > 99 || day < 0 || month < 0)
        return false;
    if (!(r->status_b & RTC_24_HOUR)) { /* 12-hour: 12 AM is 0, 12 PM is 12 */
        if (hour < 1 || hour > 12)
            return false;
        hour = hour % 12 + (pm ? 12 : 0);
    } else if (hour > 23) {
        return false;
    }
    year += year < YEAR_PIVOT ? 2000 : 1900;
    if (!civil_valid_day(year, (unsigned)month, (unsigned)day))
        return false;
    *t = (uint64_t)days_from_civil(year, (unsigned)month, (unsigned)day) * SECONDS_PER_DAY +
         (uint64_t)(hour * 3600 + min * 60 + sec);
    return true;
}
