#include "lib/log.h"

#include <stdarg.h>

#include "lib/irq_flags.h"
#include "lib/printf.h"

static void (*log_output)(const char *s, size_t n);
static uint64_t (*log_clock)(void);
static enum log_level log_threshold = LOG_INFO;

void log_set_output(void (*write)(const char *s, size_t n)) { log_output = write; }
void log_set_clock(uint64_t (*now_ns)(void)) { log_clock = now_ns; }
void log_set_level(enum log_level level) { log_threshold = level; }

/* ---- the deferred console ----
 * A byte on the serial port costs ~2 us under TCG, and the boot log alone is
 * ~3.5 KB. Deferred, text waits here and the main loop writes it out on each
 * pass, so neither init nor the data path waits for the UART. Nothing is
 * dropped: a full ring is written out on the spot. Order is kept, except that
 * a ring filling up inside an interrupt handler while the main loop is
 * writing may put that handler's text first. */
#define LOG_RING_SIZE 16384u
#define LOG_FLUSH_CHUNK 64u

static char ring[LOG_RING_SIZE];
static size_t ring_head, ring_tail; /* free-running: used = head - tail */
static bool deferred;

static void ring_put(const char *s, size_t n)
{
    bool flags = irq_save();
    while (n > 0) {
        if (ring_head - ring_tail == LOG_RING_SIZE) {
            irq_restore(flags);
            log_flush();
            flags = irq_save();
            continue;
        }
        ring[ring_head++ % LOG_RING_SIZE] = *s++;
        n--;
    }
    irq_restore(flags);
}

void log_flush(void)
{
    for (;;) {
        char chunk[LOG_FLUSH_CHUNK];
        size_t n = 0;
        bool flags = irq_save();
        while (n < sizeof(chunk) && ring_tail != ring_head)
            chunk[n++] = ring[ring_tail++ % LOG_RING_SIZE];
        irq_restore(flags);
        if (n == 0)
            return;
        if (log_output)
            log_output(chunk, n);
    }
}

void log_set_deferred(bool on)
{
    if (!on)
        log_flush();
    deferred = on;
}

static void log_sink(const char *s, size_t n, void *ctx)
{
    (void)ctx;
    if (deferred)
        ring_put(s, n);
    else if (log_output)
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
