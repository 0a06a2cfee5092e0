/*
 * The MC146818 CMOS real-time clock (ports 0x70/0x71): its registers, a
 * wait for the next second (the TSC's last-resort calibration, tsc.c), and
 * the wall clock it keeps (read once at boot for HTTP's Date). A register
 * reads 0xFF when there is no RTC (QEMU's microvm with rtc=off, Firecracker).
 */
#ifndef ARCH_X86_64_RTC_H
#define ARCH_X86_64_RTC_H

#include <stdbool.h>
#include <stdint.h>

#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_DAY 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_STATUS_A 0x0A
#define RTC_STATUS_B 0x0B
#define RTC_UPDATE_IN_PROGRESS 0x80 /* status A */
#define RTC_BINARY 0x04             /* status B: values binary, not BCD */
#define RTC_24_HOUR 0x02            /* status B: else 12-hour, bit 7 of the hour is PM */
#define RTC_NO_DEVICE 0xFF

uint8_t rtc_read(uint8_t reg);

/* Waits (up to about two seconds) until the seconds register changes; false if it never does. */
bool rtc_wait_second_edge(uint8_t *seconds);

/* The time-of-day registers as read, and status B that says how to read them. */
struct rtc_registers {
    uint8_t seconds, minutes, hours, day, month, year, status_b;
};

/* Pure (arch/x86_64/rtc_time.c): seconds since 1970-01-01 UTC, taking the
 * RTC to keep UTC as QEMU's does by default (-rtc base=utc) and its two-digit
 * year as 2000-2069 or 1970-1999; false for a value no clock can hold. */
bool rtc_registers_to_unix(const struct rtc_registers *r, uint64_t *t);

/* The RTC's time now, read until two reads agree outside an update; false without an RTC or a valid time. */
bool rtc_read_unix(uint64_t *t);

#endif
