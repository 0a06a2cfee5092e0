/*
 * How the virtio transport is asked to behave: the interrupt policy and the
 * ring features to offer, and where the virtio-mmio devices are. kmain fills
 * it from the command line (irq=, indirect=, event_idx=, packed=,
 * virtio_mmio.device=) and the ACPI DSDT, and passes it down at probe time.
 */
#ifndef DRIVERS_VIRTIO_VIRTIO_CONFIG_H
#define DRIVERS_VIRTIO_VIRTIO_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/apic_encoding.h"

/* irq=: auto tries per-queue MSI-X, then one shared MSI-X vector, then INTx;
 * poll takes no interrupt at all (busy polling). */
enum irq_mode { IRQ_MODE_AUTO, IRQ_MODE_MSIX, IRQ_MODE_SHARED, IRQ_MODE_INTX, IRQ_MODE_POLL, IRQ_MODE_COUNT };

static inline const char *irq_mode_name(enum irq_mode mode)
{
    static const char *const names[IRQ_MODE_COUNT] = {
        [IRQ_MODE_AUTO] = "auto", [IRQ_MODE_MSIX] = "msix", [IRQ_MODE_SHARED] = "shared",
        [IRQ_MODE_INTX] = "intx", [IRQ_MODE_POLL] = "poll",
    };
    return (unsigned)mode < IRQ_MODE_COUNT ? names[mode] : "?";
}

/* A virtio-mmio register window and its interrupt, as the platform describes
 * it: an ACPI Device with _HID "LNRO0005" (Memory32Fixed and Interrupt in
 * its _CRS), or a `virtio_mmio.device=SIZE@BASE:IRQ` word on the command
 * line, which names no trigger mode: docs/virtio.md says which is used. */
struct virtio_mmio_window {
    uint64_t base;
    uint64_t size;
    uint32_t gsi;
    struct irq_line_mode line;
};

/* Up to this many windows are passed down (QEMU's microvm has 8 transports, 24 with its second IOAPIC). */
#define VIRTIO_MMIO_WINDOWS_MAX 8

/* The line mode of a command-line window: level-triggered, active high.
 * QEMU's virtio-mmio holds its line high while InterruptStatus is not 0,
 * so a level input neither loses a cause that arrives before the ACK nor
 * needs one; a device that pulses instead (an edge source) is still seen
 * once per pulse. docs/virtio.md has the reasoning. */
#define VIRTIO_MMIO_CMDLINE_LINE ((struct irq_line_mode){ .level_triggered = true, .active_low = false })

struct virtio_config {
    enum irq_mode irq_mode;
    bool indirect;   /* offer VIRTIO_F_RING_INDIRECT_DESC */
    bool event_idx;  /* offer VIRTIO_F_RING_EVENT_IDX */
    bool packed;     /* offer VIRTIO_F_RING_PACKED (used when a modern device offers it) */
};

#endif
