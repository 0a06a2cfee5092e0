#include "arch/x86_64/backtrace.h"

#include <stdbool.h>

#include "lib/ksyms.h"
#include "lib/log.h"

#define MAX_STACKS 8
#define MAX_FRAMES_PRINTED 32
#define MAX_FRAMES_WALKED 100000 /* a 64 KiB stack holds far fewer; ends any cycle */
/* Before any stack is registered (on the firmware's stack), accept frames up
 * to this far above the first one. */
#define UNREGISTERED_STACK_SPAN (256 * 1024)

extern const char ImageBase[] __attribute__((visibility("hidden")));

static struct {
    uint64_t low, high;
} known_stacks[MAX_STACKS];
static int known_stack_count;

void backtrace_add_stack(uint64_t low, uint64_t high)
{
    if (known_stack_count < MAX_STACKS)
        known_stacks[known_stack_count++] = (typeof(known_stacks[0])){ low, high };
}

static bool frame_readable(uint64_t rbp, uint64_t first_rbp)
{
    if (rbp == 0 || rbp % 8)
        return false;
    if (known_stack_count == 0)
        return rbp >= first_rbp && rbp + 16 <= first_rbp + UNREGISTERED_STACK_SPAN;
    for (int i = 0; i < known_stack_count; i++)
        if (rbp >= known_stacks[i].low && rbp + 16 <= known_stacks[i].high)
            return true;
    return false;
}

/* Looks up `lookup` (an address inside the instruction of interest) and
 * prints it relative to its function; returns false if it is not kernel code. */
static bool print_symbol_at(uint64_t addr, uint64_t lookup)
{
    uint64_t base = (uint64_t)ImageBase;
    uint64_t within, size;
    const char *name = lookup >= base ? ksym_find(ksym_kernel_table(), lookup - base, &within, &size) : NULL;
    if (name)
        kprintf(" %s+0x%llx/0x%llx", name, (unsigned long long)(within + (addr - lookup)), (unsigned long long)size);
    else
        kprintf(" ?");
    return name != NULL;
}

void backtrace_print_symbol(uint64_t addr)
{
    print_symbol_at(addr, addr);
}

static void print_frame(int depth, uint64_t ret)
{
    kprintf("  #%d 0x%016llx", depth, (unsigned long long)ret);
    /* A return address may already lie past the end of a noreturn caller;
     * look up the call instruction itself. */
    print_symbol_at(ret, ret - 1);
    kprintf("\n");
}

void backtrace_print(uint64_t rip, uint64_t rbp, uint64_t rsp)
{
    kprintf("Backtrace:\n");
    kprintf("  #0 0x%016llx", (unsigned long long)rip);
    bool in_kernel = print_symbol_at(rip, rip);
    kprintf("\n");

    int depth = 1;
    /* A jump or call to a bad address faults before any frame is built:
     * the caller's return address is still on top of the stack. */
    if (!in_kernel && rsp && frame_readable(rsp, rsp))
        print_frame(depth++, *(const uint64_t *)rsp);

    uint64_t first = rbp, previous_ret = 0;
    unsigned repeats = 0, walked = 0;
    for (; depth < MAX_FRAMES_PRINTED && walked < MAX_FRAMES_WALKED && frame_readable(rbp, first); walked++) {
        const uint64_t *frame = (const uint64_t *)rbp;
        uint64_t ret = frame[1];
        if (ret == 0)
            break;
        if (ret == previous_ret) {
            repeats++; /* deep recursion: one line says it all */
        } else {
            if (repeats)
                kprintf("  ... the frame above repeats %u more times\n", repeats);
            repeats = 0;
            print_frame(depth++, ret);
        }
        previous_ret = ret;
        if (frame[0] <= rbp) /* stacks grow down: callers' frames lie above */
            break;
        rbp = frame[0];
    }
    if (repeats)
        kprintf("  ... the frame above repeats %u more times\n", repeats);
    if (depth == MAX_FRAMES_PRINTED)
        kprintf("  ... (stopped after %d frames)\n", MAX_FRAMES_PRINTED);
}
