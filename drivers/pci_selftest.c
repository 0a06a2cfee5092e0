#include "drivers/pci_selftest.h"

#include "lib/ktap.h"
#include "drivers/pci.h"
#include "lib/printf.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_NET_TRANSITIONAL 0x1000
#define VIRTIO_NET_MODERN 0x1041
#define MAX_DEVICES 8
#define VECTORS_WANTED 3 /* what virtio-net asks for: config, receive, transmit */

static bool is_virtio_net(const struct pci_device *d)
{
    return d->vendor_id == VIRTIO_VENDOR && (d->device_id == VIRTIO_NET_TRANSITIONAL || d->device_id == VIRTIO_NET_MODERN);
}

int selftest_pci_irq(char *reason, size_t reason_size)
{
    struct pci_device *nics[MAX_DEVICES];
    int count = 0;
    for (struct pci_device *d = pci_next_device(NULL); d && count < MAX_DEVICES; d = pci_next_device(d))
        if (is_virtio_net(d))
            nics[count++] = d;
    if (count == 0) {
        snprintf(reason, reason_size, "no virtio-net device found");
        return -1;
    }
    int rc = 0;
    bool allocated_here[MAX_DEVICES] = { false };
    for (int i = 0; i < count && rc == 0; i++) {
        char name[8];
        /* A device its driver already set up keeps the vectors it got. */
        int n = (int)nics[i]->irq_count;
        if (nics[i]->irq_mode == PCI_IRQ_NONE) {
            n = pci_alloc_irq_vectors(nics[i], 1, VECTORS_WANTED, PCI_IRQ_ALL);
            allocated_here[i] = n > 0;
        }
        if (n <= 0) {
            snprintf(reason, reason_size, "%s: no interrupt vectors (error %d)", pci_device_name(nics[i], name), n);
            rc = -1;
            break;
        }
        ktap_diag("pci: %s %s, %d vector(s), first 0x%x", pci_device_name(nics[i], name),
                  nics[i]->irq_mode == PCI_IRQ_MODE_MSIX ? "MSI-X" : "INTx", n, nics[i]->irq_vectors[0]);
    }
    /* Every pair: MSI-X vectors never collide; INTx vectors match iff the GSI does. */
    for (int i = 0; i < count && rc == 0; i++) {
        for (int j = i + 1; j < count && rc == 0; j++) {
            const struct pci_device *a = nics[i], *b = nics[j];
            for (unsigned x = 0; x < a->irq_count; x++) {
                for (unsigned y = 0; y < b->irq_count; y++) {
                    bool same_vector = a->irq_vectors[x] == b->irq_vectors[y];
                    bool both_intx = a->irq_mode == PCI_IRQ_MODE_INTX && b->irq_mode == PCI_IRQ_MODE_INTX;
                    bool should_share = both_intx && a->intx_gsi == b->intx_gsi;
                    if (same_vector != should_share) {
                        char na[8], nb[8];
                        snprintf(reason, reason_size, "%s and %s: vectors 0x%x/0x%x %s", pci_device_name(a, na),
                                 pci_device_name(b, nb), a->irq_vectors[x], b->irq_vectors[y],
                                 same_vector ? "collide" : "differ on a shared line");
                        rc = -1;
                    }
                }
            }
        }
    }
    for (int i = 0; i < count; i++)
        if (allocated_here[i])
            pci_free_irq_vectors(nics[i]);
    return rc;
}
