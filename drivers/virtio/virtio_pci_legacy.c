/*
 * The legacy virtio-pci transport (virtio 1.2, 4.1.4.8): registers in I/O
 * BAR 0, 32 feature bits, queues placed by page frame number in the fixed
 * legacy ring layout. Device configuration follows the header, which grows
 * by 4 bytes while MSI-X is enabled.
 */
#include "arch/x86_64/cpu.h"
#include "drivers/virtio/virtio.h"
#include "lib/errno.h"

#define LEGACY_DEVICE_FEATURES 0
#define LEGACY_DRIVER_FEATURES 4
#define LEGACY_QUEUE_PFN 8
#define LEGACY_QUEUE_SIZE 12
#define LEGACY_QUEUE_SELECT 14
#define LEGACY_QUEUE_NOTIFY 16
#define LEGACY_DEVICE_STATUS 18
#define LEGACY_ISR_STATUS 19
#define LEGACY_CONFIG_MSIX_VECTOR 20
#define LEGACY_QUEUE_MSIX_VECTOR 22
#define LEGACY_CONFIG_NO_MSIX 20
#define LEGACY_CONFIG_WITH_MSIX 24
#define LEGACY_QUEUE_PFN_SHIFT 12

static uint16_t port(struct virtio_device *v, unsigned off) { return (uint16_t)(v->io_base + off); }

static uint8_t legacy_get_status(struct virtio_device *v) { return inb(port(v, LEGACY_DEVICE_STATUS)); }
static void legacy_set_status(struct virtio_device *v, uint8_t s) { outb(port(v, LEGACY_DEVICE_STATUS), s); }

static int legacy_reset(struct virtio_device *v)
{
    legacy_set_status(v, 0);
    /* Reading status flushes the reset (4.1.4.8: "the driver MUST read back"). */
    return legacy_get_status(v) == 0 ? 0 : -EIO;
}

static uint64_t legacy_get_features(struct virtio_device *v) { return inl(port(v, LEGACY_DEVICE_FEATURES)); }
static void legacy_set_features(struct virtio_device *v, uint64_t f) { outl(port(v, LEGACY_DRIVER_FEATURES), (uint32_t)f); }
static uint8_t legacy_config_generation(struct virtio_device *v) { (void)v; return 0; }

static uint16_t legacy_config_read(struct virtio_device *v, unsigned offset, unsigned width)
{
    unsigned header = v->pci->irq_mode == PCI_IRQ_MODE_MSIX ? LEGACY_CONFIG_WITH_MSIX : LEGACY_CONFIG_NO_MSIX;
    uint16_t at = port(v, header + offset);
    return width == 2 ? inw(at) : inb(at);
}

static uint16_t legacy_queue_max_size(struct virtio_device *v, uint16_t index)
{
    outw(port(v, LEGACY_QUEUE_SELECT), index);
    return inw(port(v, LEGACY_QUEUE_SIZE));
}

static int legacy_queue_setup(struct virtio_device *v, struct virtqueue *vq)
{
    /* Legacy devices cannot resize a queue: the driver must use the size offered. */
    if (legacy_queue_max_size(v, vq->index) != virtqueue_size(vq))
        return -EINVAL;
    uint64_t pfn = virtqueue_desc_addr(vq) >> LEGACY_QUEUE_PFN_SHIFT;
    if (pfn > 0xFFFFFFFFu)
        return -EINVAL; /* the PFN register has 32 bits: rings must sit below 16 TiB */
    outl(port(v, LEGACY_QUEUE_PFN), (uint32_t)pfn);
    return 0;
}

static int legacy_queue_enable(struct virtio_device *v, uint16_t index)
{
    (void)v;
    (void)index; /* writing the PFN already enabled it */
    return 0;
}

static void legacy_queue_notify(struct virtio_device *v, uint16_t index) { outw(port(v, LEGACY_QUEUE_NOTIFY), index); }

static uint16_t legacy_set_config_vector(struct virtio_device *v, uint16_t entry)
{
    outw(port(v, LEGACY_CONFIG_MSIX_VECTOR), entry);
    return inw(port(v, LEGACY_CONFIG_MSIX_VECTOR));
}

static uint16_t legacy_set_queue_vector(struct virtio_device *v, uint16_t index, uint16_t entry)
{
    outw(port(v, LEGACY_QUEUE_SELECT), index);
    outw(port(v, LEGACY_QUEUE_MSIX_VECTOR), entry);
    return inw(port(v, LEGACY_QUEUE_MSIX_VECTOR));
}

static uint8_t legacy_read_isr(struct virtio_device *v) { return inb(port(v, LEGACY_ISR_STATUS)); }

const struct virtio_transport_ops virtio_pci_legacy_ops = {
    .name = "legacy",
    .fixed_queue_size = true,
    .reset = legacy_reset,
    .get_status = legacy_get_status,
    .set_status = legacy_set_status,
    .get_features = legacy_get_features,
    .set_features = legacy_set_features,
    .config_generation = legacy_config_generation,
    .config_read = legacy_config_read,
    .queue_max_size = legacy_queue_max_size,
    .queue_setup = legacy_queue_setup,
    .queue_enable = legacy_queue_enable,
    .queue_notify = legacy_queue_notify,
    .set_config_vector = legacy_set_config_vector,
    .set_queue_vector = legacy_set_queue_vector,
    .read_isr = legacy_read_isr,
    .setup_interrupts = virtio_pci_setup_interrupts,
    .restore_interrupts = virtio_pci_restore_interrupts,
    .describe_interrupts = virtio_pci_describe_interrupts,
};
