/* panic() and assert(): report, dump registers and a backtrace, end the machine. */
#ifndef LIB_PANIC_H
#define LIB_PANIC_H

__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);

/* Reports `message` as a PANIC with registers and a backtrace, then ends the
 * machine. Implemented by the architecture (arch/x86_64/trap.c): lib/ knows no CPU. */
__attribute__((noreturn)) void panic_report(const char *message);

#define assert(cond)                                                                   \
    do {                                                                               \
        if (!(cond))                                                                   \
            panic("assertion failed: %s (%s:%d, %s)", #cond, __FILE__, __LINE__, __func__); \
    } while (0)

#endif
