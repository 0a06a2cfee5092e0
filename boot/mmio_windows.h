/*
 * Where the virtio-mmio devices are: the ACPI DSDT's Devices with _HID
 * "LNRO0005" (QEMU's microvm with ACPI on), then the command line's
 * virtio_mmio.device= words (microvm with acpi=off, Firecracker). Run after
 * acpi_init; the result goes down to the driver in struct virtio_net_config.
 */
#ifndef BOOT_MMIO_WINDOWS_H
#define BOOT_MMIO_WINDOWS_H

#include "boot/cmdline.h"
#include "drivers/virtio/virtio_config.h"

/* Fills out[0..max) and returns the count; one console line says what was found. */
int mmio_windows_collect(const struct kernel_options *opts, struct virtio_mmio_window *out, int max);

#endif
