/*
 * A small, bounded scanner of ACPI Machine Language (ACPI 6.5, chapter 20)
 * that finds Device objects by _HID and reads the memory window and the
 * interrupt of their _CRS resource template (6.4), without an AML
 * interpreter. It walks the term lists it can follow (Scope, Device, Name,
 * and what it can skip by its package length or fixed shape) and leaves a
 * term list at the first opcode whose length it cannot know. So only
 * constant data is understood: a _HID or _CRS computed by a method, or a
 * Device declared inside an If, is not found (QEMU's microvm and
 * Firecracker declare theirs as plain Names). Besides: a Device's first
 * SystemMemory OperationRegion, a host bridge's _CBA, windows and _PRT,
 * the one shape of If in its _EVT that notifies a button (a GED's power
 * button), and \_S5.
 *
 * Pure logic over bytes in memory: every read is checked against the end
 * of its enclosing package, nesting is bounded, malformed AML is counted
 * and never read past. Unit-tested and fuzzed on the host.
 */
#ifndef ARCH_X86_64_ACPI_AML_H
#define ARCH_X86_64_ACPI_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/apic_encoding.h"

#define ACPI_AML_NESTING_MAX 16 /* Scopes and Devices inside each other */
#define ACPI_AML_HID_MAX 16     /* "LNRO0005", "PNP0501", "ACPI0013" fit */

struct acpi_aml_device {
    char name[5];          /* the Device's own NameSeg, e.g. "VR23" */
    bool crs_ok;           /* a Name(_CRS, Buffer) whose template ends with an end tag */
    /* The first Memory32Fixed or Memory32 descriptor. */
    bool has_memory;
    uint64_t memory_base;
    uint64_t memory_length;
    /* The first Extended Interrupt or IRQ descriptor; IRQ's number is read as a GSI. */
    bool has_interrupt;
    uint32_t gsi;
    struct irq_line_mode line;
    /* The first OperationRegion in SystemMemory declared in the Device with
     * constant operands (a Generic Event Device's event register). */
    bool has_region;
    uint64_t region_base;
    uint64_t region_length;
    /* A Method(_EVT) in the Device (a Generic Event Device's), read without
     * running it: the first `If (LEqual (..., K)) { Notify (NAME, 0x80) }`
     * on one bit K. 0 and "" when there is none of that shape. */
    uint32_t evt_notify_mask;
    char evt_notify_name[5];
    /* A PCI host bridge's (PNP0A08): its ECAM base from _CBA (a Name, or a
     * Method that returns a constant; PCI Firmware spec 3.3, 4.1.3), and from
     * _CRS's address space descriptors (6.4.3.5) the bus numbers it decodes
     * and its first memory window wholly below 4 GiB. */
    bool has_cba;
    uint64_t cba;
    bool has_bus_range;
    uint8_t bus_start, bus_end;
    bool has_window32;
    uint64_t window32_base, window32_length;
    /* Its _PRT (a Name holding a Package), where it lies in the table for
     * acpi_aml_prt_route; NULL when there is none. */
    const uint8_t *prt;
    size_t prt_len;
};

struct acpi_aml_scan {
    int found;      /* Devices whose _HID matched; only the first `max` are stored */
    int unparsed;   /* term lists left at an opcode the scanner cannot size */
    int malformed;  /* lengths or names running past their container, nesting too deep */
    /* Name(_S5_, Package) outside any Device: soft-off's SLP_TYPa and SLP_TYPb (7.4.2). */
    bool has_s5;
    uint8_t s5_slp_typ_a, s5_slp_typ_b;
};

/* Finds every Device whose _HID (a string, or an EISA id as a DWord) equals
 * `hid` in `len` bytes of AML: the body of a DSDT or SSDT, after its
 * 36-byte header. Results go to out[0..max), counts to *scan. */
void acpi_aml_find_devices(const uint8_t *aml, size_t len, const char *hid, struct acpi_aml_device *out, int max,
                           struct acpi_aml_scan *scan);

/* Reads a resource template (6.4: small and large descriptors up to the
 * end tag) into the memory, interrupt, bus and window fields of *dev; sets
 * and returns dev->crs_ok. A template that runs past `len` keeps nothing. */
bool acpi_aml_parse_resources(const uint8_t *buf, size_t len, struct acpi_aml_device *dev);

/* PCI interrupt routing (6.2.13): the entry of the _PRT package at
 * prt[0..len) for root-bus `slot` and `pin` (0-3 = INTA-D). Sets `source` to
 * its link device's last NameSeg, or to "" when it names none and *gsi is
 * its Source Index, a GSI. False when no entry matches or one is malformed. */
bool acpi_aml_prt_route(const uint8_t *prt, size_t len, uint8_t slot, uint8_t pin, char source[5], uint32_t *gsi);

/* A compressed EISA id (as the DWord reads little-endian) as its 7-character string, e.g. "PNP0501". */
void acpi_aml_eisa_id(uint32_t value, char out[8]);

#endif
