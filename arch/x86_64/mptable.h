/*
 * The Intel MultiProcessor Specification 1.4 tables (chapter 4): the MP
 * floating pointer structure ("_MP_") and the MP configuration table
 * ("PCMP") that firmware without ACPI may leave (QEMU's qboot does on
 * microvm with acpi=off), and the architectural defaults for when there is
 * neither. Both are read into the struct madt_info the ACPI MADT fills, so
 * the LAPIC and IOAPIC code has one input whatever the platform offers.
 * Pure functions over bytes in memory: every entry is checked against the
 * table's own length first. Unit-tested on the host.
 */
#ifndef ARCH_X86_64_MPTABLE_H
#define ARCH_X86_64_MPTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/acpi_tables.h"

#define MPTABLE_FLOATING_SIZE 16
#define MPTABLE_FLOATING_ALIGN 16          /* the structure starts on a paragraph (4.1) */
#define MPTABLE_CONFIG_HEADER_SIZE 44
#define MPTABLE_IOAPIC_INPUTS_ASSUMED 24   /* the MP table gives no GSI bases: see mptable_parse_config */

/* The architectural addresses a PC without tables has its APICs at. */
#define ARCH_DEFAULT_LAPIC_ADDRESS 0xFEE00000u
#define ARCH_DEFAULT_IOAPIC_ADDRESS 0xFEC00000u

struct mptable_floating {
    uint32_t config_address;  /* physical address of the configuration table, 0: none */
    uint8_t spec_revision;    /* 1 (MP 1.1) or 4 (MP 1.4) */
    uint8_t default_config;   /* feature byte 1: non-zero names a default configuration (chapter 5) */
    bool imcr_present;        /* feature byte 2 bit 7: the firmware starts in PIC mode */
};

/* Offset of the first valid floating pointer structure (signature, length
 * of one paragraph, checksum, known revision) on a 16-byte boundary of
 * area[0..len), or -1 when there is none. */
long mptable_find_floating(const uint8_t *area, size_t len, struct mptable_floating *out);

/* Reads a configuration table of `available` readable bytes: signature,
 * length, checksum, then the base table's entries (processors, buses,
 * IOAPICs, I/O and local interrupt assignments), walked by the base
 * table's length: QEMU's qboot writes an entry count of 0.
 * IOAPICs get GSI bases in table order, MPTABLE_IOAPIC_INPUTS_ASSUMED
 * apart (the MP table has no GSIs; every QEMU IOAPIC has 24 inputs). ISA
 * interrupt assignments that differ from identity (QEMU routes IRQ 0 to
 * pin 2) become overrides, NMI local assignments become LAPIC NMI entries.
 * Returns 0 or an ACPI_ERR_* code. */
int mptable_parse_config(const void *table, size_t available, struct madt_info *out);

/* LAPIC at 0xFEE00000, one IOAPIC (id 0) at 0xFEC00000 with GSI base 0,
 * ISA IRQs identity-mapped (no override), LINT1 as NMI: what a PC without
 * ACPI or MP tables is assumed to be. */
void mptable_default_platform(struct madt_info *out);

#endif
