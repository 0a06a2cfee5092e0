#include "drivers/pci_config.h"

#include "arch/x86_64/acpi.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/paging.h"
#include "lib/log.h"

#define PCI_CONFIG_ADDRESS_PORT 0xCF8
#define PCI_CONFIG_DATA_PORT 0xCFC

static const struct mcfg_entry *ecam;
static volatile uint8_t *ecam_base;
static struct mcfg_entry host_ecam;

static bool use_ecam(const struct mcfg_entry *e, const char *source)
{
    uint64_t first = e->base + pci_ecam_offset(e->bus_start, 0, 0, 0);
    uint64_t size = (uint64_t)(e->bus_end - e->bus_start + 1) << 20;
    if (!mmio_map(first, size)) {
        log_error("pci: cannot map ECAM at 0x%llx, using the legacy ports", (unsigned long long)first);
        return false;
    }
    ecam = e;
    ecam_base = (volatile uint8_t *)e->base;
    log_info("pci: config access through ECAM at 0x%llx (buses %u-%u) from %s", (unsigned long long)e->base,
             e->bus_start, e->bus_end, source);
    return true;
}

int pci_config_init(const struct acpi_aml_device *host)
{
    const struct acpi_platform *p = acpi_platform();
    for (int i = 0; p->have_mcfg && i < p->mcfg.count; i++) {
        const struct mcfg_entry *e = &p->mcfg.entries[i];
        if (e->segment == 0) { /* this kernel enumerates segment 0 only */
            use_ecam(e, "the MCFG");
            return 0;
        }
    }
    if (host && host->has_cba) {
        host_ecam = (struct mcfg_entry){ .base = host->cba, .bus_start = 0, .bus_end = 0xFF };
        if (host->has_bus_range) {
            host_ecam.bus_start = host->bus_start;
            host_ecam.bus_end = host->bus_end;
        }
        if (use_ecam(&host_ecam, "the host bridge's _CBA (no MCFG)"))
            return 0;
    }
    log_info("pci: config access through ports 0xCF8/0xCFC (no MCFG)");
    return 0;
}

bool pci_config_uses_ecam(void)
{
    return ecam != 0;
}

/* The ECAM address of a register, or NULL when ECAM does not cover it. */
static volatile uint8_t *ecam_register(struct pci_address a, uint16_t reg)
{
    if (!ecam || a.segment != ecam->segment || a.bus < ecam->bus_start || a.bus > ecam->bus_end)
        return 0;
    return ecam_base + pci_ecam_offset(a.bus, a.device, a.function, reg);
}

uint32_t pci_config_read32(struct pci_address a, uint16_t reg)
{
    volatile uint8_t *r = ecam_register(a, reg & ~3u);
    if (r)
        return *(volatile uint32_t *)r;
    if (reg > 0xFF)
        return 0xFFFFFFFFu; /* extended space needs ECAM */
    outl(PCI_CONFIG_ADDRESS_PORT, pci_port_address(a.bus, a.device, a.function, (uint8_t)reg));
    return inl(PCI_CONFIG_DATA_PORT);
}

uint16_t pci_config_read16(struct pci_address a, uint16_t reg)
{
    return (uint16_t)(pci_config_read32(a, reg) >> ((reg & 2) * 8));
}

uint8_t pci_config_read8(struct pci_address a, uint16_t reg)
{
    return (uint8_t)(pci_config_read32(a, reg) >> ((reg & 3) * 8));
}

void pci_config_write32(struct pci_address a, uint16_t reg, uint32_t value)
{
    volatile uint8_t *r = ecam_register(a, reg & ~3u);
    if (r) {
        *(volatile uint32_t *)r = value;
        return;
    }
    if (reg > 0xFF)
        return;
    outl(PCI_CONFIG_ADDRESS_PORT, pci_port_address(a.bus, a.device, a.function, (uint8_t)reg));
    outl(PCI_CONFIG_DATA_PORT, value);
}

/* Narrow writes go through the exact byte lanes: a read-modify-write of the
 * whole dword could clear write-1-to-clear status bits next to the target. */
static void write_narrow(struct pci_address a, uint16_t reg, uint32_t value, unsigned width)
{
    volatile uint8_t *r = ecam_register(a, reg);
    if (r) {
        if (width == 2)
            *(volatile uint16_t *)r = (uint16_t)value;
        else
            *r = (uint8_t)value;
        return;
    }
    if (reg > 0xFF)
        return;
    outl(PCI_CONFIG_ADDRESS_PORT, pci_port_address(a.bus, a.device, a.function, (uint8_t)reg));
    if (width == 2)
        outw((uint16_t)(PCI_CONFIG_DATA_PORT + (reg & 2)), (uint16_t)value);
    else
        outb((uint16_t)(PCI_CONFIG_DATA_PORT + (reg & 3)), (uint8_t)value);
}

void pci_config_write16(struct pci_address a, uint16_t reg, uint16_t value)
{
    write_narrow(a, reg, value, 2);
}

void pci_config_write8(struct pci_address a, uint16_t reg, uint8_t value)
{
    write_narrow(a, reg, value, 1);
}
