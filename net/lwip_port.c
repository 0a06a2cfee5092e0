/*
 * lwIP's platform hooks: the clock (sys_now), diagnostics, assertions,
 * random numbers and memory, all from the kernel's own services.
 */
#include <stdarg.h>

#include "arch/x86_64/timer.h"
#include "lib/kheap.h"
#include "lib/log.h"
#include "lib/panic.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "lwip/arch.h"
#include "lwip/sys.h"
#include "net/lwip_port.h"

/* lwIP's millisecond clock starts 5 minutes short of its 32-bit wrap, as
 * Linux's jiffies do (INITIAL_JIFFIES), so that a mistake at the wrap shows
 * in any run longer than that (the soak, a user's first hour), not after
 * 49.7 days up. */
#define SYS_NOW_START (0u - 300000u)

u32_t sys_now(void)
{
    return (u32_t)(clock_now_ns() / 1000000) + SYS_NOW_START;
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

void net_platform_assert(const char *file, int line)
{
    panic("lwIP assertion failed at %s:%d", file, line);
}

/* xorshift64*, seeded by net_init from what kmain passed down: good enough
 * for ports, ISNs and DHCP transaction ids, not for cryptography. */
static uint64_t random_state = 0x9E3779B97F4A7C15ULL;

void net_random_seed(uint64_t seed)
{
    random_state = seed | 1;
}

uint32_t net_random32(void)
{
    random_state ^= random_state >> 12;
    random_state ^= random_state << 25;
    random_state ^= random_state >> 27;
    return (uint32_t)((random_state * 0x2545F4914F6CDD1DULL) >> 32);
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
