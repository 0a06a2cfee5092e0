/*
 * Where the interrupt controllers are, probed rather than assumed: the ACPI
 * MADT when there is one, else an Intel MP table (QEMU's qboot leaves one
 * on microvm with acpi=off), else the architectural defaults. One console
 * line says which was used.
 */
#ifndef ARCH_X86_64_APIC_TOPOLOGY_H
#define ARCH_X86_64_APIC_TOPOLOGY_H

#include "arch/x86_64/acpi_tables.h"

/* After acpi_init: the description lapic_init and ioapic_init take. Never NULL. */
const struct madt_info *apic_topology_probe(void);

#endif
