/*
 * What every virtio-pci device shares, whichever of the two PCI transports
 * it uses: binding the function, and the interrupt vectors of Linux's
 * vp_find_vqs (per-queue MSI-X, then one shared MSI-X vector, then INTx).
 */
#include "arch/x86_64/irq.h"
#include "drivers/virtio/virtio.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/printf.h"
#include "lib/string.h"

#define VIRTIO_PCI_MODERN_DEVICE_BASE 0x1040 /* 0x1040 + device type: modern-only IDs */

int virtio_pci_attach(struct pci_device *pci, struct virtio_device *vdev)
{
    memset(vdev, 0, sizeof(*vdev));
    vdev->pci = pci;
    pci_device_name(pci, vdev->name);
    pci_enable_device(pci);
    if (virtio_pci_modern_attach(vdev) == 0)
        return 0;
    /* Transitional and legacy-only devices keep the legacy header in BAR 0. */
    if (pci->device_id < VIRTIO_PCI_MODERN_DEVICE_BASE && pci->bars[0].type == PCI_BAR_IO) {
        vdev->io_base = (uint16_t)pci->bars[0].base;
        vdev->ops = &virtio_pci_legacy_ops;
        return 0;
    }
    log_error("virtio: %s: neither modern capabilities nor a legacy I/O BAR", vdev->name);
    return -ENODEV;
}

/* ---- interrupt vectors ---- */

static bool config_interrupt(void *ctx)
{
    struct virtio_device *vdev = ctx;
    vdev->stats.interrupts++;
    virtio_config_interrupt_work(vdev);
    return true;
}

static bool shared_queues_interrupt(void *ctx)
{
    struct virtio_device *vdev = ctx;
    vdev->stats.interrupts++;
    virtio_queues_interrupt_work(vdev);
    return true;
}

static bool msix_queue_interrupt(void *ctx)
{
    struct virtqueue *vq = ctx;
    ((struct virtio_device *)vq->env.ctx)->stats.interrupts++;
    if (vq->callback)
        vq->callback(vq);
    return true;
}

/* The MSI-X entry of queue i: per queue, the queues that take interrupts
 * (those with a callback) get 1, 2, ... in order; shared, each of them gets
 * 1; a queue without a callback (polled, as a control queue is) gets none. */
static uint16_t queue_msix_entry(const struct virtio_device *vdev, unsigned i, bool per_queue)
{
    if (!vdev->vqs[i]->callback)
        return VIRTIO_MSI_NO_VECTOR;
    if (!per_queue)
        return 1;
    uint16_t entry = 1;
    for (unsigned k = 0; k < i; k++)
        entry = (uint16_t)(entry + (vdev->vqs[k]->callback != NULL));
    return entry;
}

/* Undo a vector attempt: the device forgets the entries, the vectors go back. */
static void release_vectors(struct virtio_device *vdev)
{
    struct pci_device *pci = vdev->pci;
    if (pci->irq_mode == PCI_IRQ_MODE_MSIX) {
        vdev->ops->set_config_vector(vdev, VIRTIO_MSI_NO_VECTOR);
        for (unsigned i = 0; i < vdev->nvqs; i++)
            vdev->ops->set_queue_vector(vdev, (uint16_t)i, VIRTIO_MSI_NO_VECTOR);
        irq_unregister(pci->irq_vectors[0], config_interrupt, vdev);
        for (unsigned i = 1; i < pci->irq_count; i++)
            irq_unregister(pci->irq_vectors[i], shared_queues_interrupt, vdev);
        for (unsigned i = 0; i < vdev->nvqs; i++) {
            uint16_t entry = queue_msix_entry(vdev, i, true);
            if (entry < pci->irq_count)
                irq_unregister(pci->irq_vectors[entry], msix_queue_interrupt, vdev->vqs[i]);
        }
    } else if (pci->irq_mode == PCI_IRQ_MODE_INTX) {
        irq_unregister(pci->irq_vectors[0], virtio_line_interrupt, vdev);
    }
    pci_free_irq_vectors(pci);
    vdev->irq_mode = VIRTIO_IRQ_NONE;
}

/* MSI-X: entry 0 for configuration changes, then one entry per queue, or one for all. */
static int try_msix(struct virtio_device *vdev, bool per_queue)
{
    unsigned interrupting = 0;
    for (unsigned i = 0; i < vdev->nvqs; i++)
        interrupting += vdev->vqs[i]->callback != NULL;
    unsigned want = per_queue ? interrupting + 1 : 2;
    if (pci_alloc_irq_vectors(vdev->pci, want, want, PCI_IRQ_MSIX) < 0)
        return -ENOSPC;
    struct pci_device *pci = vdev->pci;
    if (vdev->ops->set_config_vector(vdev, 0) != 0) {
        log_warn("virtio: %s: device refused MSI-X entry 0 for configuration changes", vdev->name);
        release_vectors(vdev);
        return -EIO;
    }
    irq_register(pci->irq_vectors[0], config_interrupt, vdev);
    if (!per_queue)
        irq_register(pci->irq_vectors[1], shared_queues_interrupt, vdev);
    for (unsigned i = 0; i < vdev->nvqs; i++) {
        uint16_t entry = queue_msix_entry(vdev, i, per_queue);
        if (vdev->ops->set_queue_vector(vdev, (uint16_t)i, entry) != entry) {
            log_warn("virtio: %s: device refused MSI-X entry %u for queue %u", vdev->name, entry, i);
            vdev->irq_mode = per_queue ? VIRTIO_IRQ_MSIX_PER_QUEUE : VIRTIO_IRQ_MSIX_SHARED;
            release_vectors(vdev);
            return -EIO;
        }
        if (per_queue && entry != VIRTIO_MSI_NO_VECTOR)
            irq_register(pci->irq_vectors[entry], msix_queue_interrupt, vdev->vqs[i]);
    }
    vdev->irq_mode = per_queue ? VIRTIO_IRQ_MSIX_PER_QUEUE : VIRTIO_IRQ_MSIX_SHARED;
    return 0;
}

static int try_intx(struct virtio_device *vdev)
{
    if (pci_alloc_irq_vectors(vdev->pci, 1, 1, PCI_IRQ_INTX) < 0)
        return -ENODEV;
    irq_register(vdev->pci->irq_vectors[0], virtio_line_interrupt, vdev);
    vdev->irq_mode = VIRTIO_IRQ_INTX;
    return 0;
}

int virtio_pci_setup_interrupts(struct virtio_device *vdev, enum irq_mode mode)
{
    switch (mode) {
    case IRQ_MODE_POLL:
        return 0;
    case IRQ_MODE_MSIX:
        return try_msix(vdev, true);
    case IRQ_MODE_SHARED:
        return try_msix(vdev, false);
    case IRQ_MODE_INTX:
        return try_intx(vdev);
    case IRQ_MODE_AUTO:
    default:
        if (try_msix(vdev, true) == 0 || try_msix(vdev, false) == 0)
            return 0;
        return try_intx(vdev);
    }
}

/* The MSI-X entries chosen at setup: a reset sets the device's back to NO_VECTOR. */
int virtio_pci_restore_interrupts(struct virtio_device *vdev)
{
    if (vdev->irq_mode == VIRTIO_IRQ_INTX)
        irq_line_reset(vdev->pci->irq_vectors[0]); /* a line masked as stuck comes back */
    if (vdev->irq_mode != VIRTIO_IRQ_MSIX_PER_QUEUE && vdev->irq_mode != VIRTIO_IRQ_MSIX_SHARED)
        return 0;
    if (vdev->ops->set_config_vector(vdev, 0) != 0)
        return -EIO;
    for (unsigned i = 0; i < vdev->nvqs; i++) {
        uint16_t entry = queue_msix_entry(vdev, i, vdev->irq_mode == VIRTIO_IRQ_MSIX_PER_QUEUE);
        if (vdev->ops->set_queue_vector(vdev, (uint16_t)i, entry) != entry)
            return -EIO;
    }
    return 0;
}

void virtio_pci_describe_interrupts(struct virtio_device *vdev, char *buf, unsigned size)
{
    const struct pci_device *pci = vdev->pci;
    unsigned n = (unsigned)snprintf(buf, size, " (vectors");
    for (unsigned i = 0; i < pci->irq_count && n < size; i++)
        n += (unsigned)snprintf(buf + n, size - n, " 0x%x", pci->irq_vectors[i]);
    if (n < size)
        snprintf(buf + n, size - n, ")");
}
