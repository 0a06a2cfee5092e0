/*
 * lwIP's platform hooks: the clock (sys_now), diagnostics, assertions,
 * random numbers and memory, all from the kernel's own services.
 */
#include <stdarg.h>

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/timer.h"
#include "boot/kheap.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "lwip/arch.h"
#include "lwip/sys.h"

u32_t sys_now(void)
{
    return (u32_t)(clock_now_ns() / 1000000);
}

void net_platform_diag(const char *fmt, ...)
{
    char line[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    kprintf("lwip: %s", line);
}

void net_platform_assert(const char *message, const char *file, int line)
{
    panic("lwIP assertion \"%s\" failed at %s:%d", message, file, line);
}

/* xorshift64*, seeded from RDRAND when the CPU has it, else the TSC: good
 * enough for ports, ISNs and DHCP transaction ids, not for cryptography. */
uint32_t net_random32(void)
{
    static uint64_t state;
    if (!state) {
        uint64_t seed = rdtsc();
        if (cpuid(1, 0).ecx & (1u << 30)) {
            uint64_t r;
            unsigned char ok;
            __asm__ volatile("rdrand %0; setc %1" : "=r"(r), "=qm"(ok));
            if (ok)
                seed ^= r;
        }
        state = seed | 1;
    }
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return (uint32_t)((state * 0x2545F4914F6CDD1DULL) >> 32);
}

int atoi(const char *s)
{
    int sign = 1, v = 0;
    while (*s == ' ')
        s++;
    if (*s == '-' || *s == '+')
        sign = *s++ == '-' ? -1 : 1;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return sign * v;
}

void *net_mem_malloc(size_t size) { return kmalloc(size); }
void *net_mem_calloc(size_t count, size_t size)
{
    if (size && count > (size_t)-1 / size)
        return NULL;
    return kzalloc(count * size);
}
void net_mem_free(void *ptr) { kfree(ptr); }
