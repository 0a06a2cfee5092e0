#include "arch/x86_64/pic.h"

#include "arch/x86_64/cpu.h"

/* Intel 8259A datasheet: initialization command words. */
#define PIC1_COMMAND 0x20
#define PIC1_DATA 0x21
#define PIC2_COMMAND 0xA0
#define PIC2_DATA 0xA1
#define ICW1_INIT_WITH_ICW4 0x11
#define ICW3_PIC1_SLAVE_ON_IRQ2 0x04
#define ICW3_PIC2_CASCADE_ID 0x02
#define ICW4_8086 0x01
#define MASK_ALL 0xFF

/* Linux's probe_8259A: a mask written to the master reads back only if a PIC
 * is there (an unclaimed port reads 0xFF). microvm's pic=off has none. */
#define PROBE_MASK 0xFB

bool pic_remap_and_mask(void)
{
    outb(PIC2_DATA, MASK_ALL);
    outb(PIC1_DATA, PROBE_MASK);
    if (inb(PIC1_DATA) != PROBE_MASK)
        return false;
    outb(PIC1_COMMAND, ICW1_INIT_WITH_ICW4);
    outb(PIC2_COMMAND, ICW1_INIT_WITH_ICW4);
    outb(PIC1_DATA, PIC_VECTOR_BASE);
    outb(PIC2_DATA, PIC_VECTOR_BASE + 8);
    outb(PIC1_DATA, ICW3_PIC1_SLAVE_ON_IRQ2);
    outb(PIC2_DATA, ICW3_PIC2_CASCADE_ID);
    outb(PIC1_DATA, ICW4_8086);
    outb(PIC2_DATA, ICW4_8086);
    outb(PIC1_DATA, MASK_ALL);
    outb(PIC2_DATA, MASK_ALL);
    return true;
}
