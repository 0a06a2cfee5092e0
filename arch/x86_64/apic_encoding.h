/*
 * Register encodings shared by the LAPIC, IOAPIC and MSI code: pure
 * functions of their inputs, unit-tested on the host.
 */
#ifndef ARCH_X86_64_APIC_ENCODING_H
#define ARCH_X86_64_APIC_ENCODING_H

#include <stdbool.h>
#include <stdint.h>

/* x2APIC: xAPIC register offset R is MSR 0x800 + R/16 (Intel SDM vol. 3A, 11.12.1.2). */
#define X2APIC_MSR_BASE 0x800u
static inline uint32_t x2apic_msr(uint32_t xapic_offset)
{
    return X2APIC_MSR_BASE + (xapic_offset >> 4);
}

/* IOAPIC redirection table entry (82093AA datasheet, 3.2.4). */
#define IOREDTBL_DELIVERY_FIXED (0ULL << 8)
#define IOREDTBL_DEST_PHYSICAL (0ULL << 11)
#define IOREDTBL_ACTIVE_LOW (1ULL << 13)
#define IOREDTBL_LEVEL (1ULL << 15)
#define IOREDTBL_MASKED (1ULL << 16)
#define IOREDTBL_DEST_SHIFT 56

struct irq_line_mode {
    bool level_triggered; /* false: edge */
    bool active_low;      /* false: active high */
};

static inline uint64_t ioapic_redirection_entry(uint8_t vector, uint8_t dest_apic_id, struct irq_line_mode mode,
                                                bool masked)
{
    uint64_t e = vector | IOREDTBL_DELIVERY_FIXED | IOREDTBL_DEST_PHYSICAL |
                 ((uint64_t)dest_apic_id << IOREDTBL_DEST_SHIFT);
    if (mode.level_triggered)
        e |= IOREDTBL_LEVEL;
    if (mode.active_low)
        e |= IOREDTBL_ACTIVE_LOW;
    if (masked)
        e |= IOREDTBL_MASKED;
    return e;
}

/* MSI/MSI-X message to one LAPIC, fixed delivery, edge (Intel SDM vol. 3A, 11.11). */
#define MSI_ADDRESS_BASE 0xFEE00000u
#define MSI_ADDRESS_DEST_SHIFT 12
static inline uint32_t msi_address(uint8_t dest_apic_id)
{
    return MSI_ADDRESS_BASE | ((uint32_t)dest_apic_id << MSI_ADDRESS_DEST_SHIFT);
}

static inline uint32_t msi_data(uint8_t vector)
{
    return vector; /* delivery mode fixed (000), edge, level bit ignored */
}

/* MPS INTI flags, as in MADT interrupt source overrides (ACPI 6.5, 5.2.12.5):
 * polarity bits 1:0 and trigger bits 3:2; 00 means "conforms to the bus". */
#define MPS_INTI_POLARITY_MASK 0x3
#define MPS_INTI_POLARITY_HIGH 0x1
#define MPS_INTI_POLARITY_LOW 0x3
#define MPS_INTI_TRIGGER_MASK 0xC
#define MPS_INTI_TRIGGER_EDGE 0x4
#define MPS_INTI_TRIGGER_LEVEL 0xC

/* The line mode an ISA IRQ gets from its override flags (ISA conforms to edge, active high). */
static inline struct irq_line_mode isa_line_mode(uint16_t inti_flags)
{
    struct irq_line_mode m = { false, false };
    if ((inti_flags & MPS_INTI_POLARITY_MASK) == MPS_INTI_POLARITY_LOW)
        m.active_low = true;
    if ((inti_flags & MPS_INTI_TRIGGER_MASK) == MPS_INTI_TRIGGER_LEVEL)
        m.level_triggered = true;
    return m;
}

#endif
