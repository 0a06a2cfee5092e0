#include "arch/x86_64/trap.h"

#include <stdbool.h>

#include "arch/x86_64/backtrace.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/machine_exit.h"
#include "lib/log.h"
#include "lib/panic.h"

static const char *const exception_names[EXCEPTION_VECTORS] = {
    "Divide Error (#DE)", "Debug (#DB)", "Non-Maskable Interrupt (NMI)", "Breakpoint (#BP)",
    "Overflow (#OF)", "Bound Range Exceeded (#BR)", "Invalid Opcode (#UD)", "Device Not Available (#NM)",
    "Double Fault (#DF)", "Coprocessor Segment Overrun", "Invalid TSS (#TS)", "Segment Not Present (#NP)",
    "Stack-Segment Fault (#SS)", "General Protection (#GP)", "Page Fault (#PF)", "Reserved (15)",
    "x87 Floating-Point Error (#MF)", "Alignment Check (#AC)", "Machine Check (#MC)", "SIMD Floating-Point (#XM)",
    "Virtualization Exception (#VE)", "Control Protection (#CP)", "Reserved (22)", "Reserved (23)",
    "Reserved (24)", "Reserved (25)", "Reserved (26)", "Reserved (27)",
    "Hypervisor Injection (#HV)", "VMM Communication (#VC)", "Security Exception (#SX)", "Reserved (31)",
};

/* Page-fault error code bits (Intel SDM vol. 3A, 4.7). */
#define PF_PRESENT (1u << 0)
#define PF_WRITE (1u << 1)
#define PF_USER (1u << 2)
#define PF_RESERVED_BIT (1u << 3)
#define PF_INSTRUCTION_FETCH (1u << 4)

static const char *pending_panic_message; /* set by panic_report just before ud2 */
static int panic_depth;
static void print_page_fault_reason(uint64_t error)
{
    kprintf(" [%s, %s%s%s]", error & PF_WRITE ? "write" : (error & PF_INSTRUCTION_FETCH ? "instruction fetch" : "read"),
            error & PF_PRESENT ? "protection violation" : "not present",
            error & PF_RESERVED_BIT ? ", reserved bit set" : "", error & PF_USER ? ", user" : "");
}

static void print_registers(const struct trap_frame *f)
{
    kprintf("RIP=0x%016llx", (unsigned long long)f->rip);
    backtrace_print_symbol(f->rip);
    kprintf("\nRSP=0x%016llx RFLAGS=0x%016llx CS=0x%04llx SS=0x%04llx\n", (unsigned long long)f->rsp,
            (unsigned long long)f->rflags, (unsigned long long)f->cs, (unsigned long long)f->ss);
    kprintf("CR0=0x%016llx CR2=0x%016llx CR3=0x%016llx CR4=0x%016llx\n", (unsigned long long)read_cr0(),
            (unsigned long long)read_cr2(), (unsigned long long)read_cr3(), (unsigned long long)read_cr4());
    kprintf("RAX=0x%016llx RBX=0x%016llx RCX=0x%016llx RDX=0x%016llx\n", (unsigned long long)f->rax,
            (unsigned long long)f->rbx, (unsigned long long)f->rcx, (unsigned long long)f->rdx);
    kprintf("RSI=0x%016llx RDI=0x%016llx RBP=0x%016llx R8=0x%016llx\n", (unsigned long long)f->rsi,
            (unsigned long long)f->rdi, (unsigned long long)f->rbp, (unsigned long long)f->r8);
    kprintf("R9=0x%016llx R10=0x%016llx R11=0x%016llx R12=0x%016llx\n", (unsigned long long)f->r9,
            (unsigned long long)f->r10, (unsigned long long)f->r11, (unsigned long long)f->r12);
    kprintf("R13=0x%016llx R14=0x%016llx R15=0x%016llx\n", (unsigned long long)f->r13,
            (unsigned long long)f->r14, (unsigned long long)f->r15);
}

/* The PANIC report for a trapped fault (or a panic() routed through #UD). */
__attribute__((noreturn)) static void panic_from_frame(const struct trap_frame *f, const char *message)
{
    irq_disable();
    log_set_deferred(false); /* what was logged before comes out first, then the report as it is written */
    if (++panic_depth > 1) {
        /* Faulted while reporting: say so with as little machinery as possible. */
        kprintf("\nPANIC: nested fault (vector %llu) while reporting a panic\n", (unsigned long long)f->vector);
        machine_exit_panic(true);
    }
    kprintf("\n");
    if (message) {
        kprintf("PANIC: %s\n", message);
    } else {
        kprintf("PANIC: %s error=0x%llx", exception_names[f->vector], (unsigned long long)f->error_code);
        if (f->vector == VECTOR_PAGE_FAULT) {
            kprintf(" address=0x%016llx", (unsigned long long)read_cr2());
            print_page_fault_reason(f->error_code);
        }
        kprintf("\n");
    }
    print_registers(f);
    backtrace_print(f->rip, f->rbp, f->rsp);
    machine_exit_panic(false);
}

void trap_dispatch(struct trap_frame *frame)
{
    if (frame->vector < EXCEPTION_VECTORS) {
        const char *message = NULL;
        if (frame->vector == VECTOR_INVALID_OPCODE && pending_panic_message)
            message = pending_panic_message;
        panic_from_frame(frame, message);
    }
    irq_dispatch(frame);
}

void panic_report(const char *message)
{
    if (idt_is_loaded()) {
        /* Trap into our own #UD handler so the report carries every register. */
        pending_panic_message = message;
        __asm__ volatile("ud2");
    }
    irq_disable();
    log_set_deferred(false);
    kprintf("\nPANIC: %s\n", message);
    const uint64_t *frame = __builtin_frame_address(0); /* [0] caller's RBP, [1] return address */
    backtrace_print(frame[1], frame[0], 0);
    machine_exit_panic(false);
    __builtin_unreachable();
}
