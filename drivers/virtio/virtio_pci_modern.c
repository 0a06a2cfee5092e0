/*
 * The modern virtio-pci transport (virtio 1.2, 4.1.4): configuration
 * structures found through vendor-specific PCI capabilities, in memory BARs.
 */
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/mmio.h"
#include "arch/x86_64/timer.h"
#include "drivers/virtio/virtio.h"
#include "lib/errno.h"
#include "lib/log.h"

/* Vendor capability layout (virtio 1.2, 4.1.4). */
#define VIRTIO_CAP_CFG_TYPE 3
#define VIRTIO_CAP_BAR 4
#define VIRTIO_CAP_OFFSET 8
#define VIRTIO_CAP_LENGTH 12
#define VIRTIO_CAP_NOTIFY_MULTIPLIER 16
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

/* struct virtio_pci_common_cfg (virtio 1.2, 4.1.4.3). */
#define COMMON_DEVICE_FEATURE_SELECT 0
#define COMMON_DEVICE_FEATURE 4
#define COMMON_DRIVER_FEATURE_SELECT 8
#define COMMON_DRIVER_FEATURE 12
#define COMMON_CONFIG_MSIX_VECTOR 16
#define COMMON_NUM_QUEUES 18
#define COMMON_DEVICE_STATUS 20
#define COMMON_CONFIG_GENERATION 21
#define COMMON_QUEUE_SELECT 22
#define COMMON_QUEUE_SIZE 24
#define COMMON_QUEUE_MSIX_VECTOR 26
#define COMMON_QUEUE_ENABLE 28
#define COMMON_QUEUE_NOTIFY_OFF 30
#define COMMON_QUEUE_DESC 32
#define COMMON_QUEUE_DRIVER 40
#define COMMON_QUEUE_DEVICE 48
#define COMMON_CFG_MIN_LENGTH 56

#define RESET_TIMEOUT_NS 1000000000ULL

static volatile uint8_t *common(struct virtio_device *v, unsigned off) { return v->common_cfg + off; }

static void write64(struct virtio_device *v, unsigned off, uint64_t value)
{
    mmio_write32(common(v, off), (uint32_t)value);
    mmio_write32(common(v, off + 4), (uint32_t)(value >> 32));
}

static uint8_t modern_get_status(struct virtio_device *v) { return mmio_read8(common(v, COMMON_DEVICE_STATUS)); }
static void modern_set_status(struct virtio_device *v, uint8_t s) { mmio_write8(common(v, COMMON_DEVICE_STATUS), s); }

static int modern_reset(struct virtio_device *v)
{
    modern_set_status(v, 0);
    /* The device may take a while: reset is complete only when status reads 0 (4.1.4.3.2). */
    uint64_t start = clock_now_ns();
    while (modern_get_status(v) != 0) {
        if (clock_now_ns() - start > RESET_TIMEOUT_NS)
            return -ETIMEDOUT;
        cpu_relax();
    }
    return 0;
}

static uint64_t modern_get_features(struct virtio_device *v)
{
    mmio_write32(common(v, COMMON_DEVICE_FEATURE_SELECT), 0);
    uint64_t low = mmio_read32(common(v, COMMON_DEVICE_FEATURE));
    mmio_write32(common(v, COMMON_DEVICE_FEATURE_SELECT), 1);
    uint64_t high = mmio_read32(common(v, COMMON_DEVICE_FEATURE));
    return low | (high << 32);
}

static void modern_set_features(struct virtio_device *v, uint64_t features)
{
    mmio_write32(common(v, COMMON_DRIVER_FEATURE_SELECT), 0);
    mmio_write32(common(v, COMMON_DRIVER_FEATURE), (uint32_t)features);
    mmio_write32(common(v, COMMON_DRIVER_FEATURE_SELECT), 1);
    mmio_write32(common(v, COMMON_DRIVER_FEATURE), (uint32_t)(features >> 32));
}

static uint8_t modern_config_generation(struct virtio_device *v)
{
    return mmio_read8(common(v, COMMON_CONFIG_GENERATION));
}

static uint16_t modern_config_read(struct virtio_device *v, unsigned offset, unsigned width)
{
    /* The device-specific capability is optional: without it, or past its
     * length, the fields read as 0. */
    if (!virtio_config_within(offset, width, v->device_cfg_length))
        return 0;
    return width == 2 ? mmio_read16(v->device_cfg + offset) : mmio_read8(v->device_cfg + offset);
}

static uint16_t modern_queue_max_size(struct virtio_device *v, uint16_t index)
{
    if (index >= mmio_read16(common(v, COMMON_NUM_QUEUES)))
        return 0;
    mmio_write16(common(v, COMMON_QUEUE_SELECT), index);
    return mmio_read16(common(v, COMMON_QUEUE_SIZE));
}

static int modern_queue_setup(struct virtio_device *v, struct virtqueue *vq)
{
    /* The three areas of either ring format (4.1.4.3): split descriptor
     * table, available ring, used ring; packed descriptor ring, driver and
     * device event suppression. With VIRTIO_F_RING_PACKED negotiated the
     * device reads them as the packed layout. */
    mmio_write16(common(v, COMMON_QUEUE_SELECT), vq->index);
    mmio_write16(common(v, COMMON_QUEUE_SIZE), virtqueue_size(vq));
    write64(v, COMMON_QUEUE_DESC, virtqueue_desc_addr(vq));
    write64(v, COMMON_QUEUE_DRIVER, virtqueue_driver_addr(vq));
    write64(v, COMMON_QUEUE_DEVICE, virtqueue_device_addr(vq));
    /* The queue's notify address, once: it must lie inside the notify
     * region (4.1.4.4), or every kick would write past it. */
    uint64_t at = (uint64_t)mmio_read16(common(v, COMMON_QUEUE_NOTIFY_OFF)) * v->notify_multiplier;
    if (vq->index >= VIRTIO_MAX_QUEUES || at + 2 > v->notify_length) {
        log_error("virtio: %s: queue %u's notify offset 0x%llx lies outside the %u-byte notify region", v->name,
                  vq->index, (unsigned long long)at, v->notify_length);
        return -EIO;
    }
    v->notify[vq->index] = v->notify_base + at;
    return 0;
}

static int modern_queue_enable(struct virtio_device *v, uint16_t index)
{
    mmio_write16(common(v, COMMON_QUEUE_SELECT), index);
    mmio_write16(common(v, COMMON_QUEUE_ENABLE), 1);
    return 0;
}

static void modern_queue_notify(struct virtio_device *v, uint16_t index)
{
    mmio_write16(v->notify[index], index);
}

static uint16_t modern_set_config_vector(struct virtio_device *v, uint16_t entry)
{
    mmio_write16(common(v, COMMON_CONFIG_MSIX_VECTOR), entry);
    return mmio_read16(common(v, COMMON_CONFIG_MSIX_VECTOR));
}

static uint16_t modern_set_queue_vector(struct virtio_device *v, uint16_t index, uint16_t entry)
{
    mmio_write16(common(v, COMMON_QUEUE_SELECT), index);
    mmio_write16(common(v, COMMON_QUEUE_MSIX_VECTOR), entry);
    return mmio_read16(common(v, COMMON_QUEUE_MSIX_VECTOR));
}

static uint8_t modern_read_isr(struct virtio_device *v)
{
    return mmio_read8(v->isr);
}

const struct virtio_transport_ops virtio_pci_modern_ops = {
    .name = "modern",
    .modern = true,
    .reset = modern_reset,
    .get_status = modern_get_status,
    .set_status = modern_set_status,
    .get_features = modern_get_features,
    .set_features = modern_set_features,
    .config_generation = modern_config_generation,
    .config_read = modern_config_read,
    .queue_max_size = modern_queue_max_size,
    .queue_setup = modern_queue_setup,
    .queue_enable = modern_queue_enable,
    .queue_notify = modern_queue_notify,
    .set_config_vector = modern_set_config_vector,
    .set_queue_vector = modern_set_queue_vector,
    .read_isr = modern_read_isr,
    .setup_interrupts = virtio_pci_setup_interrupts,
    .restore_interrupts = virtio_pci_restore_interrupts,
    .describe_interrupts = virtio_pci_describe_interrupts,
};

/* Maps the region a vendor capability describes, after checking it lies
 * inside its BAR; its length in *length_out. */
static volatile uint8_t *map_cap_region(struct virtio_device *v, uint8_t cap, uint32_t min_length, uint32_t *length_out)
{
    struct pci_device *pci = v->pci;
    uint8_t bar = pci_read8(pci, cap + VIRTIO_CAP_BAR);
    uint32_t offset = pci_read32(pci, cap + VIRTIO_CAP_OFFSET);
    uint32_t length = pci_read32(pci, cap + VIRTIO_CAP_LENGTH);
    if (bar >= PCI_BAR_COUNT || length < min_length || (uint64_t)offset + length > pci->bars[bar].size) {
        log_error("virtio: %s: capability at 0x%x points outside BAR %u (offset 0x%x, length 0x%x)", v->name, cap,
                  bar, offset, length);
        return NULL;
    }
    volatile uint8_t *base = pci_map_bar(pci, bar);
    *length_out = base ? length : 0;
    return base ? base + offset : NULL;
}

int virtio_pci_modern_attach(struct virtio_device *v)
{
    const struct pci_cap_list *caps = &v->pci->caps;
    for (int i = 0; i < caps->count; i++) {
        if (caps->caps[i].id != PCI_CAP_ID_VENDOR)
            continue;
        uint8_t cap = caps->caps[i].offset;
        uint8_t type = pci_read8(v->pci, cap + VIRTIO_CAP_CFG_TYPE);
        /* The first capability of each type is the one to use (4.1.4.1). */
        uint32_t length;
        if (type == VIRTIO_PCI_CAP_COMMON_CFG && !v->common_cfg)
            v->common_cfg = map_cap_region(v, cap, COMMON_CFG_MIN_LENGTH, &length);
        else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && !v->notify_base) {
            v->notify_base = map_cap_region(v, cap, 2, &v->notify_length);
            v->notify_multiplier = pci_read32(v->pci, cap + VIRTIO_CAP_NOTIFY_MULTIPLIER);
        } else if (type == VIRTIO_PCI_CAP_ISR_CFG && !v->isr)
            v->isr = map_cap_region(v, cap, 1, &length);
        else if (type == VIRTIO_PCI_CAP_DEVICE_CFG && !v->device_cfg)
            v->device_cfg = map_cap_region(v, cap, 1, &v->device_cfg_length);
    }
    if (!v->common_cfg || !v->notify_base || !v->isr)
        return -ENODEV;
    v->ops = &virtio_pci_modern_ops;
    return 0;
}
