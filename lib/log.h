/*
 * Console logging. Every line gets a time stamp in milliseconds since EFI
 * entry, `[   12.345 ms] `, so boot milestones can be read straight off the
 * serial console (DESIGN.md, "Serial console"). kprintf() writes raw text
 * with no stamp, for PANIC dumps and KTAP lines.
 */
#ifndef LIB_LOG_H
#define LIB_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Where text goes and where time comes from; both may be changed later. */
void log_set_output(void (*write)(const char *s, size_t n));
void log_set_clock(uint64_t (*now_ns)(void));
void log_set_level(enum log_level level);
/* Deferred: output waits in a 16 KiB ring until log_flush (the main loop
 * calls it on every pass); off: written at once. Turning it off flushes. */
void log_set_deferred(bool on);
void log_flush(void);

/* True if a message at `level` would be printed (to skip costly preparation). */
bool log_enabled(enum log_level level);

void klog(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define log_error(...) klog(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) klog(LOG_WARN, __VA_ARGS__)
#define log_info(...) klog(LOG_INFO, __VA_ARGS__)
#define log_debug(...) klog(LOG_DEBUG, __VA_ARGS__)

/* Splits nanoseconds into whole milliseconds and the thousandths after them, for "%llu.%03llu". */
#define NS_MS_WHOLE(ns) ((unsigned long long)((ns) / 1000000))
#define NS_MS_FRAC(ns) ((unsigned long long)(((ns) / 1000) % 1000))

#endif
