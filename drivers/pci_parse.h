/*
 * Pure decoding of PCI configuration space: BARs, the capability list (with
 * bounds and loop protection), MSI-X layout and table entries, and INTx
 * routing. No hardware access: unit-tested on recorded and malformed
 * config-space images.
 */
#ifndef DRIVERS_PCI_PARSE_H
#define DRIVERS_PCI_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/* Configuration header offsets (PCI Local Bus spec 3.0, 6.1). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_PROG_IF 0x09
#define PCI_SUBCLASS 0x0A
#define PCI_CLASS 0x0B
#define PCI_HEADER_TYPE 0x0E
#define PCI_BAR0 0x10
/* Type 1 (bridge) header (PCI-to-PCI Bridge spec 1.2, 3.2). */
#define PCI_PRIMARY_BUS 0x18
#define PCI_SECONDARY_BUS 0x19
#define PCI_SUBORDINATE_BUS 0x1A
#define PCI_IO_BASE 0x1C          /* and limit at 0x1D */
#define PCI_MEMORY_BASE 0x20      /* and limit at 0x22: address bits 31:20 in bits 15:4 */
#define PCI_PREF_MEMORY_BASE 0x24 /* and limit at 0x26 */
#define PCI_BRIDGE_WINDOW_ALIGN (1u << 20)
#define PCI_CAPABILITY_POINTER 0x34
#define PCI_INTERRUPT_LINE 0x3C
#define PCI_INTERRUPT_PIN 0x3D

#define PCI_COMMAND_IO (1u << 0)
#define PCI_COMMAND_MEMORY (1u << 1)
#define PCI_COMMAND_BUS_MASTER (1u << 2)
#define PCI_COMMAND_INTX_DISABLE (1u << 10)
#define PCI_STATUS_CAP_LIST (1u << 4)
#define PCI_HEADER_TYPE_MASK 0x7F
#define PCI_HEADER_MULTIFUNCTION 0x80
#define PCI_HEADER_TYPE_BRIDGE 1
#define PCI_CONFIG_HEADER_END 0x40

/* Capability IDs (PCI Code and ID Assignment spec). */
#define PCI_CAP_ID_PM 0x01
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_VENDOR 0x09
#define PCI_CAP_ID_PCIE 0x10
#define PCI_CAP_ID_MSIX 0x11

/* ---- BARs ---- */

enum pci_bar_type { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar {
    enum pci_bar_type type;
    bool prefetchable;
    uint64_t base;
    uint64_t size;
};

/* Decodes a BAR from its value and what it reads back after all ones were
 * written (the size probe); for a 64-bit BAR the next register is the high
 * half. Returns the number of BAR registers used: 1, or 2 for 64-bit. */
int pci_bar_decode(uint32_t value, uint32_t value_high, uint32_t probe, uint32_t probe_high, struct pci_bar *out);

/* The same from the value alone, for functions no driver here claims: type,
 * prefetchable and address, size 0 (unknown). A BAR reading 0 counts as none. */
int pci_bar_decode_unsized(uint32_t value, uint32_t value_high, struct pci_bar *out);

const char *pci_bar_type_name(enum pci_bar_type type);

/* ---- Capabilities ---- */

#define PCI_MAX_CAPS 48 /* (256 - 64) / 4: more means a cycle */

struct pci_capability {
    uint8_t id;
    uint8_t offset;
};

struct pci_cap_list {
    int count;
    struct pci_capability caps[PCI_MAX_CAPS];
    const char *error;   /* NULL, or why the walk was cut short */
    uint8_t error_pointer;
};

typedef uint8_t (*pci_read8_fn)(void *ctx, uint16_t reg);

/* Walks the list: stops at a pointer into the header, a revisited offset
 * (a cycle) or too many entries, recording the reason. Returns the count. */
int pci_cap_walk(pci_read8_fn read8, void *ctx, struct pci_cap_list *out);

/* Offset of the first capability with `id`, or 0. */
uint8_t pci_cap_find(const struct pci_cap_list *list, uint8_t id);

/* ---- MSI-X (PCI Local Bus spec 3.0, 6.8.2) ---- */

#define PCI_MSIX_CONTROL 2       /* from the capability */
#define PCI_MSIX_TABLE 4
#define PCI_MSIX_PBA 8
#define PCI_MSIX_CONTROL_TABLE_SIZE 0x07FF
#define PCI_MSIX_CONTROL_FUNCTION_MASK (1u << 14)
#define PCI_MSIX_CONTROL_ENABLE (1u << 15)
#define PCI_MSIX_BIR_MASK 0x7
#define PCI_MSIX_ENTRY_SIZE 16
#define PCI_MSIX_ENTRY_VECTOR_CONTROL_MASKED 1u

struct pci_msix_layout {
    uint16_t table_size; /* entries */
    uint8_t table_bar;
    uint32_t table_offset;
    uint8_t pba_bar;
    uint32_t pba_offset;
};

void pci_msix_decode(uint16_t control, uint32_t table_reg, uint32_t pba_reg, struct pci_msix_layout *out);

/* The four dwords of a table entry: address low, address high, data, vector control. */
void pci_msix_entry(uint8_t dest_apic_id, uint8_t vector, bool masked, uint32_t words[4]);

/* ---- INTx routing ---- */

/* The chipsets whose routing was measured (FACTS.md, "Device interrupts"). */
enum pci_chipset { PCI_CHIPSET_UNKNOWN, PCI_CHIPSET_PIIX3, PCI_CHIPSET_ICH9 };

/* The pin (1-4 = INTA-D) a device's pin arrives on at the bridge above it. */
uint8_t pci_swizzle_pin(uint8_t pin, uint8_t device);

/* Where a root-bus slot's pin goes.
 * PIIX3 (pc): PIRQ (slot - 1 + pin) % 4 (pin A = 0); pirq_route[] holds the
 * chipset's PIRQA-D route registers; the result is an ISA IRQ (*is_isa_irq).
 * ICH9 (q35), APIC mode: GSI 16-23 by the slot formula measured on QEMU.
 * Returns 0, or -1 when the pin has no route (disabled PIRQ, unknown chipset). */
int pci_intx_route(enum pci_chipset chipset, uint8_t slot, uint8_t pin, const uint8_t pirq_route[4],
                   uint32_t *irq_or_gsi, bool *is_isa_irq);

#endif
