/*
 * PCI configuration space through one API with two back ends: ECAM (memory-
 * mapped, from ACPI's MCFG on q35, or the host bridge's _CBA on microvm with
 * pcie=on) and the legacy 0xCF8/0xCFC ports (pc). Offsets past 0xFF need ECAM.
 */
#ifndef DRIVERS_PCI_CONFIG_H
#define DRIVERS_PCI_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

struct pci_address {
    uint16_t segment;
    uint8_t bus;
    uint8_t device;   /* 0-31 */
    uint8_t function; /* 0-7 */
};

/* ECAM: 4 KiB per function (PCI Express Base spec, 7.2.2). */
static inline uint64_t pci_ecam_offset(uint8_t bus, uint8_t device, uint8_t function, uint16_t reg)
{
    return ((uint64_t)bus << 20) | ((uint64_t)(device & 0x1F) << 15) | ((uint64_t)(function & 0x7) << 12) |
           (reg & 0xFFF);
}

/* Configuration mechanism #1 address (PCI Local Bus spec 3.0, 3.2.2.3.2). */
#define PCI_CONFIG_ENABLE 0x80000000u
static inline uint32_t pci_port_address(uint8_t bus, uint8_t device, uint8_t function, uint8_t reg)
{
    return PCI_CONFIG_ENABLE | ((uint32_t)bus << 16) | ((uint32_t)(device & 0x1F) << 11) |
           ((uint32_t)(function & 0x7) << 8) | (reg & 0xFC);
}

struct acpi_aml_device;

/* Chooses ECAM when the MCFG offers it, else when `host` (the DSDT's PCI
 * host bridge, or NULL) has a _CBA, mapping its buses; else the ports. */
int pci_config_init(const struct acpi_aml_device *host);
bool pci_config_uses_ecam(void);

uint32_t pci_config_read32(struct pci_address a, uint16_t reg);
uint16_t pci_config_read16(struct pci_address a, uint16_t reg);
uint8_t pci_config_read8(struct pci_address a, uint16_t reg);
void pci_config_write32(struct pci_address a, uint16_t reg, uint32_t value);
void pci_config_write16(struct pci_address a, uint16_t reg, uint16_t value);
void pci_config_write8(struct pci_address a, uint16_t reg, uint8_t value);

#endif
