/* The legacy 8259 PIC pair: moved off the exception vectors and masked,
 * since every interrupt goes through the LAPIC and IOAPIC. */
#ifndef ARCH_X86_64_PIC_H
#define ARCH_X86_64_PIC_H

#include <stdbool.h>

#define PIC_VECTOR_BASE 0x20 /* spurious IRQ 7 / 15 arrive at 0x27 / 0x2F */

/* false when no PIC answers (nothing to mask). */
bool pic_remap_and_mask(void);

#endif
