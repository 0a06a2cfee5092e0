/*
 * gcc's stack protector (-fstack-protector-strong): functions with arrays or
 * address-taken locals put __stack_chk_guard between their locals and the
 * return address and call __stack_chk_fail if it changed by the time they
 * return. -mstack-protector-guard=global reads one global instead of the
 * usual %fs:0x28, since nothing here sets up FS.
 */
#include "lib/stack_protector.h"

#include "lib/panic.h"

/* In .data, not .bss: functions entered before stack_protector_init (efi_main)
 * read it before .bss is cleared. The low byte is zero, as glibc's is, so a
 * string overflow cannot reproduce it. */
uintptr_t __stack_chk_guard __attribute__((visibility("hidden"))) = 0x6b8f2d4e9a3c1700ULL;

void stack_protector_init(uint64_t seed)
{
    /* splitmix64: every bit of the seed reaches every bit of the guard. */
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    __stack_chk_guard = (uintptr_t)(z & ~0xFFULL);
}

__attribute__((noreturn, visibility("hidden"))) void __stack_chk_fail(void)
{
    panic("stack protector: a function's stack was overwritten (canary changed)");
}
