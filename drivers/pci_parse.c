#include "drivers/pci_parse.h"

#include "arch/x86_64/apic_encoding.h"
#include "lib/string.h"

/* BAR register bits (PCI Local Bus spec 3.0, 6.2.5.1). */
#define BAR_IO 0x1u
#define BAR_MEM_TYPE_MASK 0x6u
#define BAR_MEM_TYPE_64 0x4u
#define BAR_MEM_PREFETCH 0x8u
#define BAR_IO_ADDR_MASK 0xFFFFFFFCu
#define BAR_MEM_ADDR_MASK 0xFFFFFFF0u

int pci_bar_decode(uint32_t value, uint32_t value_high, uint32_t probe, uint32_t probe_high, struct pci_bar *out)
{
    memset(out, 0, sizeof(*out));
    if (value & BAR_IO) {
        uint32_t mask = probe & BAR_IO_ADDR_MASK;
        if (mask == 0)
            return 1;
        if ((mask & 0xFFFF0000u) == 0)
            mask |= 0xFFFF0000u; /* a 16-bit I/O decoder reads the upper half as zero */
        out->type = PCI_BAR_IO;
        out->base = value & BAR_IO_ADDR_MASK;
        out->size = (uint32_t)(~mask + 1);
        return 1;
    }
    out->prefetchable = value & BAR_MEM_PREFETCH;
    if ((value & BAR_MEM_TYPE_MASK) == BAR_MEM_TYPE_64) {
        uint64_t mask = ((uint64_t)probe_high << 32) | (probe & BAR_MEM_ADDR_MASK);
        if (mask == 0) {
            out->prefetchable = false;
            return 2;
        }
        out->type = PCI_BAR_MEM64;
        out->base = ((uint64_t)value_high << 32) | (value & BAR_MEM_ADDR_MASK);
        out->size = ~mask + 1;
        return 2;
    }
    uint32_t mask = probe & BAR_MEM_ADDR_MASK;
    if (mask == 0) {
        out->prefetchable = false;
        return 1;
    }
    out->type = PCI_BAR_MEM32;
    out->base = value & BAR_MEM_ADDR_MASK;
    out->size = (uint32_t)(~mask + 1);
    return 1;
}

int pci_bar_decode_unsized(uint32_t value, uint32_t value_high, struct pci_bar *out)
{
    memset(out, 0, sizeof(*out));
    bool mem64 = !(value & BAR_IO) && (value & BAR_MEM_TYPE_MASK) == BAR_MEM_TYPE_64;
    uint64_t base = value & BAR_IO ? value & BAR_IO_ADDR_MASK
                                   : ((mem64 ? (uint64_t)value_high << 32 : 0) | (value & BAR_MEM_ADDR_MASK));
    if (base == 0)
        return mem64 ? 2 : 1; /* absent, or left unassigned by the firmware */
    out->type = value & BAR_IO ? PCI_BAR_IO : mem64 ? PCI_BAR_MEM64 : PCI_BAR_MEM32;
    out->prefetchable = !(value & BAR_IO) && (value & BAR_MEM_PREFETCH);
    out->base = base;
    return mem64 ? 2 : 1;
}

const char *pci_bar_type_name(enum pci_bar_type type)
{
    switch (type) {
    case PCI_BAR_IO: return "io";
    case PCI_BAR_MEM32: return "mem32";
    case PCI_BAR_MEM64: return "mem64";
    default: return "none";
    }
}

int pci_cap_walk(pci_read8_fn read8, void *ctx, struct pci_cap_list *out)
{
    memset(out, 0, sizeof(*out));
    uint16_t status = (uint16_t)(read8(ctx, PCI_STATUS) | (read8(ctx, PCI_STATUS + 1) << 8));
    if (!(status & PCI_STATUS_CAP_LIST))
        return 0;
    uint8_t visited[256 / 8] = { 0 };
    /* The two low bits of every pointer are reserved: ignore them, as Linux does. */
    uint8_t ptr = read8(ctx, PCI_CAPABILITY_POINTER) & 0xFC;
    while (ptr) {
        if (ptr < PCI_CONFIG_HEADER_END) {
            out->error = "capability pointer into the header";
        } else if (visited[ptr / 8] & (1u << (ptr % 8))) {
            out->error = "capability list loops";
        } else if (out->count == PCI_MAX_CAPS) {
            out->error = "too many capabilities";
        }
        if (out->error) {
            out->error_pointer = ptr;
            break;
        }
        visited[ptr / 8] |= (uint8_t)(1u << (ptr % 8));
        out->caps[out->count++] = (struct pci_capability){ read8(ctx, ptr), ptr };
        ptr = read8(ctx, (uint16_t)(ptr + 1)) & 0xFC;
    }
    return out->count;
}

uint8_t pci_cap_find(const struct pci_cap_list *list, uint8_t id)
{
    for (int i = 0; i < list->count; i++)
        if (list->caps[i].id == id)
            return list->caps[i].offset;
    return 0;
}

void pci_msix_decode(uint16_t control, uint32_t table_reg, uint32_t pba_reg, struct pci_msix_layout *out)
{
    out->table_size = (uint16_t)((control & PCI_MSIX_CONTROL_TABLE_SIZE) + 1);
    out->table_bar = table_reg & PCI_MSIX_BIR_MASK;
    out->table_offset = table_reg & ~(uint32_t)PCI_MSIX_BIR_MASK;
    out->pba_bar = pba_reg & PCI_MSIX_BIR_MASK;
    out->pba_offset = pba_reg & ~(uint32_t)PCI_MSIX_BIR_MASK;
}

void pci_msix_entry(uint8_t dest_apic_id, uint8_t vector, bool masked, uint32_t words[4])
{
    words[0] = msi_address(dest_apic_id);
    words[1] = 0;
    words[2] = msi_data(vector);
    words[3] = masked ? PCI_MSIX_ENTRY_VECTOR_CONTROL_MASKED : 0;
}

uint8_t pci_swizzle_pin(uint8_t pin, uint8_t device)
{
    if (pin < 1 || pin > 4)
        return 0; /* no interrupt pin stays no pin */
    return (uint8_t)(((pin - 1 + device) % 4) + 1);
}

/* ICH9 PIRQ route registers: bit 7 set means the route is disabled. */
#define PIRQ_ROUTE_DISABLED 0x80
#define PIRQ_ROUTE_IRQ_MASK 0x0F

int pci_intx_route(enum pci_chipset chipset, uint8_t slot, uint8_t pin, const uint8_t pirq_route[4],
                   uint32_t *irq_or_gsi, bool *is_isa_irq)
{
    if (pin < 1 || pin > 4 || slot > 31)
        return -1;
    unsigned pin_index = pin - 1u; /* INTA = 0 */
    switch (chipset) {
    case PCI_CHIPSET_PIIX3: {
        uint8_t route = pirq_route[(slot + 3u + pin_index) % 4]; /* (slot - 1 + pin) mod 4 */
        if ((route & PIRQ_ROUTE_DISABLED) || (route & PIRQ_ROUTE_IRQ_MASK) == 0)
            return -1;
        *irq_or_gsi = route & PIRQ_ROUTE_IRQ_MASK;
        *is_isa_irq = true;
        return 0;
    }
    case PCI_CHIPSET_ICH9:
        /* GSI = 16 + PIRQ; QEMU's q35 wires slots to PIRQs as measured (FACTS.md). */
        if (slot == 0)
            return -1; /* the host bridge raises no INTx */
        if (slot <= 24)
            *irq_or_gsi = 20 + (slot + pin_index) % 4;
        else if (slot == 30)
            *irq_or_gsi = 20 + pin_index;
        else
            *irq_or_gsi = 16 + pin_index;
        *is_isa_irq = false;
        return 0;
    default:
        return -1;
    }
}
