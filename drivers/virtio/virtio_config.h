/*
 * How the virtio transport is asked to behave: the interrupt policy and the
 * ring features to offer. kmain fills it from the command line (irq=,
 * indirect=, event_idx=) and passes it down at probe time.
 */
#ifndef DRIVERS_VIRTIO_VIRTIO_CONFIG_H
#define DRIVERS_VIRTIO_VIRTIO_CONFIG_H

#include <stdbool.h>

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

struct virtio_config {
    enum irq_mode irq_mode;
    bool indirect;   /* offer VIRTIO_F_RING_INDIRECT_DESC */
    bool event_idx;  /* offer VIRTIO_F_RING_EVENT_IDX */
};

#endif
