#include "boot/crash.h"

#include <stdint.h>

#include "lib/log.h"
#include "lib/panic.h"
#include "lib/string.h"

/* Each crash lives in its own non-inlined function so the backtrace test can
 * look for that function's name. Volatile values keep the compiler from
 * proving the fault and replacing it with a trap of its own. */

static volatile int crash_keep_going = 1;

__attribute__((noinline)) static void crash_pagefault(void)
{
    int *volatile null_pointer = NULL;
    *null_pointer = 42;
}

__attribute__((noinline)) static void crash_divide(void)
{
    /* In C a division by zero is undefined and may be dropped: divide in asm. */
    volatile uint32_t zero = 0;
    uint32_t divisor = zero, quotient = 1, remainder = 0;
    __asm__ volatile("divl %2" : "+a"(quotient), "+d"(remainder) : "r"(divisor));
}

__attribute__((noinline)) static void crash_invalid_opcode(void)
{
    __asm__ volatile("ud2");
}

__attribute__((noinline)) static void crash_general_protection(void)
{
    volatile uint64_t *non_canonical = (volatile uint64_t *)0x8000000000000000ULL;
    (void)*non_canonical;
}

__attribute__((noinline)) static uint64_t crash_stack_overflow(uint64_t depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    if (crash_keep_going)
        return crash_stack_overflow(depth + 1) + (uint64_t)frame[0];
    return 0;
}

/* Writes past the end of a local array: the stack protector catches it on return. */
__attribute__((noinline)) static void crash_stack_smash(void)
{
    char buffer[16];
    volatile unsigned length = sizeof(buffer) + 32;
    for (unsigned i = 0; i < length; i++)
        ((volatile char *)buffer)[i] = 'A';
}

static void crash_stack(void)
{
    crash_stack_overflow(0);
}

__attribute__((noinline)) static void crash_panic(void)
{
    panic("crash=panic requested");
}

__attribute__((noinline)) static void crash_write_text(void)
{
    volatile uint8_t *code = (volatile uint8_t *)(uintptr_t)&crash_write_text;
    *code = 0xC3;
}

/* A `ret` instruction in writable data: calling it must fault when NX is on. */
static uint8_t crash_data_code[16] = { 0xC3 };

__attribute__((noinline)) static void crash_exec_data(void)
{
    void (*volatile fn)(void) = (void (*)(void))(uintptr_t)crash_data_code;
    fn();
    __asm__ volatile(""); /* no tail call: keep this frame for the backtrace */
}

static const struct {
    const char *kind;
    void (*run)(void);
} crash_kinds[] = {
    { "pagefault", crash_pagefault },
    { "divide", crash_divide },
    { "ud", crash_invalid_opcode },
    { "gp", crash_general_protection },
    { "stack", crash_stack },
    { "smash", crash_stack_smash },
    { "panic", crash_panic },
    { "write-text", crash_write_text },
    { "exec-data", crash_exec_data },
};

#define CRASH_KIND_COUNT (sizeof(crash_kinds) / sizeof(crash_kinds[0]))

bool crash_kind_known(const char *kind)
{
    for (unsigned i = 0; i < CRASH_KIND_COUNT; i++)
        if (strcmp(kind, crash_kinds[i].kind) == 0)
            return true;
    return false;
}

void crash_now(const char *kind)
{
    log_info("crash: %s requested", kind);
    for (unsigned i = 0; i < CRASH_KIND_COUNT; i++)
        if (strcmp(kind, crash_kinds[i].kind) == 0)
            crash_kinds[i].run();
    log_error("crash: %s did not fault", kind);
}
