#ifndef DRIVERS_PCI_SELFTEST_H
#define DRIVERS_PCI_SELFTEST_H

#include <stddef.h>

/* Allocates interrupt vectors for every virtio-net function its driver did
 * not set up, as a driver would (MSI-X, else INTx), and checks that MSI-X vectors are distinct and
 * that INTx devices share a vector exactly when they share a line. */
int selftest_pci_irq(char *reason, size_t reason_size);

#endif
