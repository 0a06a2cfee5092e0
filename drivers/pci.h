/*
 * PCI: enumeration of every bus and function, BARs, capabilities, MSI-X and
 * legacy INTx, and the calls drivers make (find, enable, map, allocate
 * interrupt vectors the way Linux's pci_alloc_irq_vectors does).
 */
#ifndef DRIVERS_PCI_H
#define DRIVERS_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/apic_encoding.h"
#include "drivers/pci_config.h"
#include "drivers/pci_parse.h"

#define PCI_BAR_COUNT 6
#define PCI_MAX_IRQ_VECTORS 16

enum pci_irq_mode { PCI_IRQ_NONE, PCI_IRQ_MODE_MSIX, PCI_IRQ_MODE_INTX };

/* Flags for pci_alloc_irq_vectors: which kinds of interrupt to try. */
#define PCI_IRQ_MSIX (1u << 0)
#define PCI_IRQ_INTX (1u << 1)
#define PCI_IRQ_ALL (PCI_IRQ_MSIX | PCI_IRQ_INTX)

#define PCI_CLASS_NETWORK 0x02 /* class_code of network controllers */

struct pci_device {
    struct pci_address addr;
    uint16_t vendor_id, device_id;
    uint8_t class_code, subclass, prog_if, revision, header_type;
    uint8_t irq_pin;  /* 0 none, 1-4 = INTA-D */
    uint8_t irq_line; /* what the firmware wrote; informational */
    uint8_t secondary_bus;       /* bridges */
    struct pci_device *parent;   /* the bridge above, NULL on bus 0 */
    struct pci_bar bars[PCI_BAR_COUNT];
    struct pci_cap_list caps;
    uint8_t msix_cap;            /* 0: none */
    struct pci_msix_layout msix;
    volatile uint32_t *msix_table;
    /* INTx route, resolved at enumeration (intx_routed false if none). */
    bool intx_routed;
    uint32_t intx_gsi;
    struct irq_line_mode intx_mode;
    /* Interrupts the driver holds. */
    enum pci_irq_mode irq_mode;
    unsigned irq_count;
    uint8_t irq_vectors[PCI_MAX_IRQ_VECTORS];
    struct pci_device *next;
};

/* Enumerates everything; prints one line per function. */
int pci_init(void);

/* Iterates over devices: pass NULL first, then the previous result. */
struct pci_device *pci_next_device(struct pci_device *prev);
struct pci_device *pci_find_device(uint16_t vendor, uint16_t device, struct pci_device *prev);

/* "00:02.0" into buf (at least 8 bytes); returns buf. */
const char *pci_device_name(const struct pci_device *dev, char *buf);

uint32_t pci_read32(const struct pci_device *dev, uint16_t reg);
uint16_t pci_read16(const struct pci_device *dev, uint16_t reg);
uint8_t pci_read8(const struct pci_device *dev, uint16_t reg);
void pci_write32(const struct pci_device *dev, uint16_t reg, uint32_t value);
void pci_write16(const struct pci_device *dev, uint16_t reg, uint16_t value);
void pci_write8(const struct pci_device *dev, uint16_t reg, uint8_t value);

/* Turns on I/O and memory decoding for the BARs it has, and bus mastering. */
void pci_enable_device(struct pci_device *dev);

/* A memory BAR mapped uncached (NULL if not a memory BAR or mapping failed). */
volatile void *pci_map_bar(struct pci_device *dev, int bar);

/* Tries MSI-X with max vectors, then fewer down to min, then INTx (one
 * vector, possibly shared with other devices on the same line), as `flags`
 * allow. Returns the number of vectors, or a negative error. The vectors are
 * dev->irq_vectors[0..n); register handlers with irq_register. */
int pci_alloc_irq_vectors(struct pci_device *dev, unsigned min, unsigned max, unsigned flags);
void pci_free_irq_vectors(struct pci_device *dev);

/* Per-entry MSI-X mask (the PBA keeps an event raised while masked). */
void pci_msix_mask(struct pci_device *dev, unsigned entry);
void pci_msix_unmask(struct pci_device *dev, unsigned entry);

enum pci_chipset pci_chipset(void);

#endif
