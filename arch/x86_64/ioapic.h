/*
 * I/O APICs: every one the MADT lists, each owning the GSIs from its base.
 * All inputs start masked; a driver routes the GSI it needs to a vector on
 * the boot CPU with the line's trigger mode and polarity.
 */
#ifndef ARCH_X86_64_IOAPIC_H
#define ARCH_X86_64_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/acpi_tables.h"
#include "arch/x86_64/apic_encoding.h"

int ioapic_init(const struct madt_info *madt, uint32_t dest_apic_id);

/* Routes `gsi` to `vector` (masked until ioapic_unmask). 0, -ENODEV (no
 * IOAPIC has it) or -ENOSPC (no room to remember the route). */
int ioapic_route_gsi(uint32_t gsi, uint8_t vector, struct irq_line_mode mode);
/* The vector of a line that several devices may share (PCI INTx, virtio-mmio
 * windows, the ACPI SCI): the one `gsi` was routed to before if its mode is
 * `mode`, else a new vector, routed now (masked until ioapic_unmask). Each
 * user registers its handler on it. -EBUSY: routed with another trigger mode
 * or polarity; -ENOSPC: no vector or no room; -ENODEV: no IOAPIC has it. */
int ioapic_route_shared(uint32_t gsi, struct irq_line_mode mode);
/* Masks `gsi` and forgets its route (the self-tests' temporary routes). */
void ioapic_unroute(uint32_t gsi);
int ioapic_mask(uint32_t gsi);
int ioapic_unmask(uint32_t gsi);

/* Masks (a line stuck asserted) or unmasks again every GSI routed to
 * `vector`: how many. */
int ioapic_mask_vector(uint8_t vector, bool masked);

/* An ISA IRQ's GSI and line mode after the MADT's interrupt source overrides. */
uint32_t ioapic_isa_irq_to_gsi(uint8_t irq, struct irq_line_mode *mode);

#endif
