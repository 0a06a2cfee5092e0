/* lwIP's port header: compiler and platform glue for the freestanding kernel. */
#ifndef NET_ARCH_CC_H
#define NET_ARCH_CC_H

#include <stdint.h>

/* No libc: gcc's freestanding headers give stdint/stddef/limits; the rest is here. */
#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_CTYPE_H 1
#define LWIP_NO_LIMITS_H 1 /* gcc's limits.h wants the libc one after it */
#define INT_MAX __INT_MAX__
#define LWIP_NO_UNISTD_H 1
#define SSIZE_MAX __LONG_MAX__
typedef long ssize_t;
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"

#define BYTE_ORDER LITTLE_ENDIAN

void net_platform_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An lwIP assertion names its file and line only: its text is there in the
 * source, and the 8 KiB of texts kept the image under 256 KiB. */
__attribute__((noreturn)) void net_platform_assert(const char *file, int line);
uint32_t net_random32(void);

#define LWIP_PLATFORM_DIAG(x) do { net_platform_diag x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) net_platform_assert(__FILE__, __LINE__)
#define LWIP_RAND() net_random32()

/* The pools' arrays: a byte each, as net/lwip_pools.c gives every pool its
 * memory from the heap at lwip_init (LWIP_HOOK_MEMP_POOL_MEMORY). The other
 * user of this macro, mem.c's own heap, is not built (MEM_LIBC_MALLOC). */
#define LWIP_DECLARE_MEMORY_ALIGNED(variable_name, size) u8_t variable_name[1]

/* MEM_LIBC_MALLOC: lwIP's heap is the kernel heap. */
#include <stddef.h>
void *net_mem_malloc(size_t size);
void *net_mem_calloc(size_t count, size_t size);
void net_mem_free(void *ptr);
#define mem_clib_malloc net_mem_malloc
#define mem_clib_calloc net_mem_calloc
#define mem_clib_free net_mem_free

#endif
