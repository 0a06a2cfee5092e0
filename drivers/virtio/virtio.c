/*
 * What every virtio device shares, whichever transport it sits on: the
 * status handshake, feature negotiation, device configuration reads, queue
 * creation, the interrupt work, and reset and restore for recovery. The
 * transports (virtio_pci*.c, virtio_mmio.c) supply the registers and the
 * interrupts through struct virtio_transport_ops.
 */
#include "drivers/virtio/virtio.h"

#include "lib/errno.h"
#include "lib/kheap.h"
#include "lib/log.h"
#include "lib/phys_mem.h"
#include "lib/printf.h"
#include "lib/string.h"

#define CONFIG_READ_TRIES 8

const char *virtio_irq_mode_name(enum virtio_irq_mode mode)
{
    switch (mode) {
    case VIRTIO_IRQ_MSIX_PER_QUEUE: return "MSI-X per queue";
    case VIRTIO_IRQ_MSIX_SHARED: return "MSI-X shared";
    case VIRTIO_IRQ_INTX: return "INTx";
    case VIRTIO_IRQ_LINE: return "interrupt line";
    default: return "none (polling)";
    }
}

bool virtio_has_feature(const struct virtio_device *vdev, uint64_t bit)
{
    return (vdev->features & bit) != 0;
}

void virtio_fail(struct virtio_device *vdev, const char *why)
{
    vdev->ops->set_status(vdev, vdev->ops->get_status(vdev) | VIRTIO_STATUS_FAILED);
    log_error("virtio: %s: %s; device marked FAILED", vdev->name, why);
}

void virtio_describe_features(uint64_t f, char *buf, unsigned size)
{
    /* Every bit by its name in the spec (virtio 1.2, 5.1.3 for the network
     * device, 6 for the reserved ones); a bit without one as "bitN". */
    static const char *const names[64] = {
        [0] = "CSUM", [1] = "GUEST_CSUM", [2] = "CTRL_GUEST_OFFLOADS", [3] = "MTU", [5] = "MAC",
        [7] = "GUEST_TSO4", [8] = "GUEST_TSO6", [9] = "GUEST_ECN", [10] = "GUEST_UFO", [11] = "HOST_TSO4",
        [12] = "HOST_TSO6", [13] = "HOST_ECN", [14] = "HOST_UFO", [15] = "MRG_RXBUF", [16] = "STATUS",
        [17] = "CTRL_VQ", [18] = "CTRL_RX", [19] = "CTRL_VLAN", [20] = "CTRL_RX_EXTRA", [21] = "GUEST_ANNOUNCE",
        [22] = "MQ", [23] = "CTRL_MAC_ADDR", [27] = "ANY_LAYOUT", [28] = "INDIRECT_DESC", [29] = "EVENT_IDX",
        [32] = "VERSION_1", [33] = "ACCESS_PLATFORM", [34] = "RING_PACKED", [35] = "IN_ORDER",
        [36] = "ORDER_PLATFORM", [37] = "SR_IOV", [38] = "NOTIFICATION_DATA",
    };
    unsigned n = 0;
    buf[0] = '\0';
    for (unsigned bit = 0; bit < 64 && n < size; bit++) {
        if (!(f & (1ULL << bit)))
            continue;
        if (names[bit])
            n += (unsigned)snprintf(buf + n, size - n, "%s%s", n ? " " : "", names[bit]);
        else
            n += (unsigned)snprintf(buf + n, size - n, "%sbit%u", n ? " " : "", bit);
    }
}

/* ACKNOWLEDGE, then DRIVER: status bits are only ever added until a reset (virtio 1.2, 3.1.1). */
static void acknowledge(struct virtio_device *vdev)
{
    vdev->ops->set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE);
    vdev->ops->set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
}

/* After acknowledge(): the features, FEATURES_OK read back (modern only). */
static int write_features(struct virtio_device *vdev)
{
    const struct virtio_transport_ops *ops = vdev->ops;
    ops->set_features(vdev, vdev->features);
    if (!ops->modern)
        return 0;
    ops->set_status(vdev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    if (!(ops->get_status(vdev) & VIRTIO_STATUS_FEATURES_OK)) {
        virtio_fail(vdev, "the device did not accept the features (FEATURES_OK not set)");
        return -EIO;
    }
    return 0;
}

int virtio_negotiate(struct virtio_device *vdev, uint64_t wanted)
{
    const struct virtio_transport_ops *ops = vdev->ops;
    if (ops->reset(vdev) < 0) {
        log_error("virtio: %s: reset did not complete", vdev->name);
        return -EIO;
    }
    acknowledge(vdev);

    uint64_t offered = ops->get_features(vdev);
    if (vdev->vet_features)
        wanted = vdev->vet_features(vdev, offered, wanted);
    /* ACCESS_PLATFORM (6.1): the device reaches memory through the platform's
     * DMA translation (QEMU's iommu_platform=on; a vIOMMU may sit in between).
     * The spec asks drivers to accept it, and QEMU refuses FEATURES_OK without
     * it. This kernel never turns an IOMMU's translation on, so the addresses
     * it gives the device are the platform's DMA addresses as they are. */
    if (ops->modern)
        wanted |= VIRTIO_F_VERSION_1 | VIRTIO_F_ACCESS_PLATFORM;
    else
        wanted &= 0xFFFFFFFFu; /* the legacy interfaces have 32 feature bits */
    vdev->features = offered & wanted;
    if (ops->modern && !(vdev->features & VIRTIO_F_VERSION_1)) {
        virtio_fail(vdev, "the modern interface without VIRTIO_F_VERSION_1");
        return -ENODEV;
    }
    if (write_features(vdev) < 0)
        return -EIO;
    char names[320];
    virtio_describe_features(vdev->features, names, sizeof(names));
    log_info("virtio: %s: %s transport, features 0x%llx of 0x%llx offered: %s", vdev->name, ops->name,
             (unsigned long long)vdev->features, (unsigned long long)offered, names);
    return 0;
}

void virtio_config_read(struct virtio_device *vdev, unsigned offset, void *buf, unsigned len)
{
    uint8_t *out = buf;
    unsigned width = len == 2 ? 2 : 1;
    /* A changed generation means the device updated the fields meanwhile: read again. */
    for (int attempt = 0; attempt < CONFIG_READ_TRIES; attempt++) {
        uint8_t before = vdev->ops->config_generation(vdev);
        for (unsigned i = 0; i < len; i += width) {
            uint16_t field = vdev->ops->config_read(vdev, offset + i, width);
            out[i] = (uint8_t)field;
            if (width == 2)
                out[i + 1] = (uint8_t)(field >> 8);
        }
        if (vdev->ops->config_generation(vdev) == before)
            return;
    }
    log_warn("virtio: %s: configuration kept changing while read", vdev->name);
}

/* ---- interrupt work (the handlers are the transports') ---- */

void virtio_config_interrupt_work(struct virtio_device *vdev)
{
    vdev->stats.config_changes++;
    if (vdev->config_changed)
        vdev->config_changed(vdev);
}

void virtio_queues_interrupt_work(struct virtio_device *vdev)
{
    for (unsigned i = 0; i < vdev->nvqs; i++)
        if (vdev->vqs[i]->callback)
            vdev->vqs[i]->callback(vdev->vqs[i]);
}

/* A line may be shared; only the ISR says whether it was us (and reading it deasserts the line). */
bool virtio_line_interrupt(void *ctx)
{
    struct virtio_device *vdev = ctx;
    uint8_t isr = vdev->ops->read_isr(vdev);
    if (!isr) {
        vdev->stats.not_mine++;
        return false;
    }
    vdev->stats.interrupts++;
    if (isr & VIRTIO_ISR_CONFIG)
        virtio_config_interrupt_work(vdev);
    if (isr & VIRTIO_ISR_QUEUE)
        virtio_queues_interrupt_work(vdev);
    return true;
}

/* ---- queues ---- */

static void vq_notify(struct virtqueue *vq, void *ctx)
{
    struct virtio_device *vdev = ctx;
    vdev->ops->queue_notify(vdev, vq->index);
}

static void vq_report(const char *message)
{
    log_error("%s", message);
}

static void *vq_alloc(size_t bytes) { return kmalloc(bytes); }
static void vq_free(void *ptr) { kfree(ptr); }

static int create_queue(struct virtio_device *vdev, unsigned index, const char *name, void (*callback)(struct virtqueue *))
{
    uint16_t size = vdev->ops->queue_max_size(vdev, (uint16_t)index);
    if (size == 0) {
        log_error("virtio: %s: queue %u does not exist", vdev->name, index);
        return -ENODEV;
    }
    if (size > VIRTQUEUE_MAX_SIZE && !vdev->ops->fixed_queue_size)
        size = VIRTQUEUE_MAX_SIZE;
    struct virtqueue *vq = kzalloc(sizeof(*vq));
    /* dma_alloc's pages satisfy either format's alignment. */
    uint64_t ring_bytes = virtqueue_ring_bytes(size, vdev->features);
    void *ring = dma_alloc(ring_bytes);
    struct virtqueue_env env = { vq_notify, vq_alloc, vq_free, vq_report, vdev };
    char full_name[VIRTQUEUE_NAME_MAX];
    snprintf(full_name, sizeof(full_name), "%s/%s", vdev->name, name);
    int rc = vq && ring ? virtqueue_init(vq, full_name, (uint16_t)index, size, ring, vdev->features, &env) : -ENOMEM;
    if (rc == 0)
        rc = vdev->ops->queue_setup(vdev, vq);
    if (rc < 0) {
        log_error("virtio: %s: queue %u (%s, %u entries) could not be set up: error %d", vdev->name, index, name,
                  size, rc);
        if (vq)
            virtqueue_destroy(vq);
        kfree(vq);
        if (ring)
            dma_free(ring, ring_bytes);
        return rc;
    }
    vq->callback = callback;
    vq->priv = vdev->priv;
    vdev->vqs[index] = vq;
    return 0;
}

static int enable_queues(struct virtio_device *vdev)
{
    for (unsigned i = 0; i < vdev->nvqs; i++) {
        int rc = vdev->ops->queue_enable(vdev, (uint16_t)i);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int virtio_find_vqs(struct virtio_device *vdev, unsigned nvqs, const char *const names[],
                    void (*const callbacks[])(struct virtqueue *vq), enum irq_mode mode)
{
    if (nvqs == 0 || nvqs > VIRTIO_MAX_QUEUES)
        return -EINVAL;
    for (unsigned i = 0; i < nvqs; i++) {
        int rc = create_queue(vdev, i, names[i], callbacks[i]);
        if (rc < 0) {
            virtio_fail(vdev, "queue setup failed");
            return rc;
        }
        vdev->nvqs = i + 1;
    }
    int rc = vdev->ops->setup_interrupts(vdev, mode);
    if (rc < 0) {
        log_error("virtio: %s: no interrupt vectors in mode irq=%s", vdev->name, irq_mode_name(mode));
        virtio_fail(vdev, "interrupt setup failed");
        return rc;
    }
    if (enable_queues(vdev) < 0) {
        virtio_fail(vdev, "a queue did not become ready");
        return -EIO;
    }

    char line[200];
    unsigned n = (unsigned)snprintf(line, sizeof(line), "virtio: %s: %s", vdev->name, virtio_irq_mode_name(vdev->irq_mode));
    if (vdev->irq_mode != VIRTIO_IRQ_NONE && n < sizeof(line)) {
        vdev->ops->describe_interrupts(vdev, line + n, sizeof(line) - n);
        n += (unsigned)strlen(line + n);
    }
    for (unsigned i = 0; i < nvqs && n < sizeof(line); i++)
        n += (unsigned)snprintf(line + n, sizeof(line) - n, ", %s %u entries", names[i], virtqueue_size(vdev->vqs[i]));
    log_info("%s", line);
    return 0;
}

/* ---- reset and restore (NEEDS_RESET, broken queues) ---- */

int virtio_reset(struct virtio_device *vdev)
{
    return vdev->ops->reset(vdev);
}

int virtio_restore(struct virtio_device *vdev)
{
    acknowledge(vdev);
    if (write_features(vdev) < 0)
        return -EIO;
    for (unsigned i = 0; i < vdev->nvqs; i++) {
        int rc = virtqueue_reset(vdev->vqs[i]);
        if (rc == 0)
            rc = vdev->ops->queue_setup(vdev, vdev->vqs[i]);
        if (rc < 0) {
            virtio_fail(vdev, "a queue could not be set up again after the reset");
            return rc;
        }
    }
    if (vdev->ops->restore_interrupts(vdev) < 0) {
        virtio_fail(vdev, "the device refused its interrupts after the reset");
        return -EIO;
    }
    if (enable_queues(vdev) < 0) {
        virtio_fail(vdev, "a queue did not become ready after the reset");
        return -EIO;
    }
    return 0;
}

bool virtio_needs_reset(struct virtio_device *vdev)
{
    return vdev->ops->get_status(vdev) & VIRTIO_STATUS_NEEDS_RESET;
}

void virtio_driver_ok(struct virtio_device *vdev)
{
    vdev->ops->set_status(vdev, vdev->ops->get_status(vdev) | VIRTIO_STATUS_DRIVER_OK);
    log_info("virtio: %s: DRIVER_OK (status 0x%x)", vdev->name, vdev->ops->get_status(vdev));
}
