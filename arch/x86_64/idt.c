#include "arch/x86_64/gdt.h"
#include "arch/x86_64/trap.h"

/* 64-bit interrupt gate (Intel SDM vol. 3A, 6.14.1). */
struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
} __attribute__((packed));

#define GATE_INTERRUPT_PRESENT_DPL0 0x8E
#define TRAP_STUB_SIZE 9 /* see trap_entry.S */

extern const char trap_stubs[] __attribute__((visibility("hidden")));

static struct idt_gate idt[VECTOR_COUNT] __attribute__((aligned(16)));

struct descriptor_pointer {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static void set_gate(int vector, uint8_t ist)
{
    uint64_t handler = (uint64_t)(trap_stubs + vector * TRAP_STUB_SIZE);
    idt[vector] = (struct idt_gate){
        .offset_low = handler & 0xFFFF,
        .selector = GDT_KERNEL_CODE,
        .ist = ist,
        .type_attr = GATE_INTERRUPT_PRESENT_DPL0,
        .offset_mid = (handler >> 16) & 0xFFFF,
        .offset_high = handler >> 32,
    };
}

void idt_init(void)
{
    /* The firmware's code segment selector differs from ours until gdt_init;
     * read the current one so the IDT works in between. */
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    for (int v = 0; v < VECTOR_COUNT; v++) {
        set_gate(v, 0);
        idt[v].selector = cs;
    }
    struct descriptor_pointer idtr = { sizeof(idt) - 1, (uint64_t)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

bool idt_is_loaded(void)
{
    struct descriptor_pointer idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    return idtr.base == (uint64_t)idt;
}

void idt_use_ist(void)
{
    for (int v = 0; v < VECTOR_COUNT; v++)
        set_gate(v, 0);
    set_gate(VECTOR_DOUBLE_FAULT, IST_DOUBLE_FAULT);
    set_gate(VECTOR_NMI, IST_NMI);
    set_gate(VECTOR_MACHINE_CHECK, IST_MACHINE_CHECK);
}
