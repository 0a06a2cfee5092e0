/*
 * The virtio-mmio transport (virtio 1.2, 4.2): a device's registers in one
 * memory window the platform describes (ACPI DSDT or the command line, see
 * struct virtio_mmio_window), version 2 (the virtio 1.x interface) or 1 (the
 * legacy interface: queues placed by page frame number, QEMU's
 * `-global virtio-mmio.force-legacy=on`), and one interrupt line routed
 * through the IOAPIC. Behind struct virtio_transport_ops like virtio-pci, so
 * the virtqueue and the drivers do not know which transport they have.
 */
#ifndef DRIVERS_VIRTIO_VIRTIO_MMIO_H
#define DRIVERS_VIRTIO_VIRTIO_MMIO_H

#include <stdint.h>

#include "drivers/virtio/virtio.h"
#include "drivers/virtio/virtio_config.h"

/* Device types (virtio 1.2, 5). */
#define VIRTIO_ID_NET 1

/* Identification registers (virtio 1.2, 4.2.2). */
#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt", little-endian */
#define VIRTIO_MMIO_VERSION_LEGACY 1
#define VIRTIO_MMIO_VERSION_MODERN 2

enum virtio_mmio_identity {
    VIRTIO_MMIO_OK,
    VIRTIO_MMIO_BAD_MAGIC,     /* no virtio-mmio device answers there */
    VIRTIO_MMIO_BAD_VERSION,   /* neither 1 (legacy) nor 2 */
    VIRTIO_MMIO_EMPTY,         /* device id 0: a transport slot with no device behind it */
    VIRTIO_MMIO_OTHER_DEVICE,  /* a device, but not of the type asked for */
};

/* Judges the identification registers (4.2.3.1.1: the driver MUST ignore a
 * device whose magic, version or device id says so). Pure, for the tests. */
enum virtio_mmio_identity virtio_mmio_identify(uint32_t magic, uint32_t version, uint32_t device_id,
                                               uint32_t wanted_device_id);

/* Maps the window and binds `vdev` to it when a device of type
 * `device_id` answers there. A window that is not one (bad magic, unknown
 * version, device id 0) or holds another device gets one console line
 * naming it and -ENODEV. */
int virtio_mmio_attach(const struct virtio_mmio_window *window, uint32_t device_id, struct virtio_device *vdev);

#endif
