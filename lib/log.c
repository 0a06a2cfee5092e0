#include "lib/log.h"

#include <stdarg.h>

#include "lib/printf.h"

static void (*log_output)(const char *s, size_t n);
static uint64_t (*log_clock)(void);
static enum log_level log_threshold = LOG_INFO;

void log_set_output(void (*write)(const char *s, size_t n)) { log_output = write; }
void log_set_clock(uint64_t (*now_ns)(void)) { log_clock = now_ns; }
void log_set_level(enum log_level level) { log_threshold = level; }

static void log_sink(const char *s, size_t n, void *ctx)
{
    (void)ctx;
    if (log_output)
        log_output(s, n);
}

static void log_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vcbprintf(log_sink, NULL, fmt, ap);
    va_end(ap);
}

bool log_enabled(enum log_level level)
{
    return level <= log_threshold;
}

void klog(enum log_level level, const char *fmt, ...)
{
    if (level > log_threshold)
        return;
    uint64_t ns = log_clock ? log_clock() : 0;
    log_printf("[%5llu.%03llu ms] ", NS_MS_WHOLE(ns), NS_MS_FRAC(ns));
    va_list ap;
    va_start(ap, fmt);
    vcbprintf(log_sink, NULL, fmt, ap);
    va_end(ap);
    log_sink("\n", 1, NULL);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vcbprintf(log_sink, NULL, fmt, ap);
    va_end(ap);
}
