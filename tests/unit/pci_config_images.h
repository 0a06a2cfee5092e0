/*
 * Configuration-space images (the first 256 bytes) recorded from QEMU 7.2
 * q35 + OVMF: the kernel's `log=debug` hex dump (`pci: BB:DD.F config XX:`)
 * copied byte for byte. What each one holds is decoded by hand in
 * test_pci_parse.c, next to the expectations.
 */
#ifndef TESTS_UNIT_PCI_CONFIG_IMAGES_H
#define TESTS_UNIT_PCI_CONFIG_IMAGES_H

#include <stdint.h>

#define PCI_IMAGE_SIZE 256

/* -device virtio-net-pci (transitional 1af4:1000) at 00:02.0 */
extern const uint8_t pci_image_transitional[PCI_IMAGE_SIZE];
/* -device virtio-net-pci,disable-legacy=on (1af4:1041) at 00:02.0 */
extern const uint8_t pci_image_modern[PCI_IMAGE_SIZE];
/* -device virtio-net-pci,vectors=0 at 00:02.0 */
extern const uint8_t pci_image_no_msix[PCI_IMAGE_SIZE];
/* -device virtio-net-pci,disable-modern=on at 00:02.0 */
extern const uint8_t pci_image_legacy[PCI_IMAGE_SIZE];
/* -device pcie-root-port,id=rp1,bus=pcie.0,addr=7,chassis=1: the bridge at 00:07.0 ... */
extern const uint8_t pci_image_root_port[PCI_IMAGE_SIZE];
/* ... and -device virtio-net-pci,bus=rp1 behind it at 01:00.0 */
extern const uint8_t pci_image_behind_root_port[PCI_IMAGE_SIZE];
/* q35's own AHCI controller at 00:1f.2 (8086:2922): MSI, not MSI-X */
extern const uint8_t pci_image_q35_ahci[PCI_IMAGE_SIZE];

#endif
