/*
 * Calendar arithmetic: days since 1970-01-01 of a proleptic Gregorian date
 * and back (the era-based algorithms of H. Hinnant's "chrono-Compatible
 * Low-Level Date Algorithms"). Pure; net/http_date.c and the RTC use it.
 */
#ifndef LIB_CIVIL_TIME_H
#define LIB_CIVIL_TIME_H

#include <stdbool.h>
#include <stdint.h>

#define SECONDS_PER_DAY 86400

int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

/* True if y-m-d names a day (month 1-12, the month's length, leap years). */
bool civil_valid_day(int64_t y, unsigned m, unsigned d);

#endif
