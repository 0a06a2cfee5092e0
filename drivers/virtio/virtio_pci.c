/*
 * What every virtio-pci device shares, whichever transport it uses: the
 * handshake, feature negotiation, queue creation and interrupt vectors.
 */
#include "arch/x86_64/irq.h"
#include "lib/kheap.h"
#include "lib/phys_mem.h"
#include "drivers/virtio/virtio.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/printf.h"
#include "lib/string.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_MODERN_DEVICE_BASE 0x1040 /* 0x1040 + device type: modern-only IDs */
#define CONFIG_READ_TRIES 8

const char *virtio_irq_mode_name(enum virtio_irq_mode mode)
{
    switch (mode) {
    case VIRTIO_IRQ_MSIX_PER_QUEUE: return "MSI-X per queue";
    case VIRTIO_IRQ_MSIX_SHARED: return "MSI-X shared";
    case VIRTIO_IRQ_INTX: return "INTx";
    default: return "none (polling)";
    }
}

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
    static const struct {
        uint64_t bit;
        const char *name;
    } names[] = {
        { 1ULL << 0, "CSUM" },          { 1ULL << 1, "GUEST_CSUM" },     { 1ULL << 3, "MTU" },
        { 1ULL << 5, "MAC" },           { 1ULL << 15, "MRG_RXBUF" },     { 1ULL << 16, "STATUS" },
        { 1ULL << 17, "CTRL_VQ" },      { 1ULL << 27, "ANY_LAYOUT" },  { VIRTIO_F_RING_INDIRECT_DESC, "INDIRECT_DESC" },
        { VIRTIO_F_RING_EVENT_IDX, "EVENT_IDX" }, { VIRTIO_F_VERSION_1, "VERSION_1" },
    };
    unsigned n = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if ((f & names[i].bit) && n < size)
            n += (unsigned)snprintf(buf + n, size - n, "%s%s", n ? " " : "", names[i].name);
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
    if (ops != &virtio_pci_modern_ops)
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
    bool modern = ops == &virtio_pci_modern_ops;
    if (modern)
        wanted |= VIRTIO_F_VERSION_1;
    else
        wanted &= 0xFFFFFFFFu; /* the legacy interface has 32 feature bits */
    vdev->features = offered & wanted;
    if (modern && !(vdev->features & VIRTIO_F_VERSION_1)) {
        virtio_fail(vdev, "the modern interface without VIRTIO_F_VERSION_1");
        return -ENODEV;
    }
    if (write_features(vdev) < 0)
        return -EIO;
    char names[160];
    virtio_describe_features(vdev->features, names, sizeof(names));
    log_info("virtio: %s: %s transport, features 0x%llx of 0x%llx offered: %s", vdev->name, ops->name,
             (unsigned long long)vdev->features, (unsigned long long)offered, names);
    return 0;
}

void virtio_config_read(struct virtio_device *vdev, unsigned offset, void *buf, unsigned len)
{
    uint8_t *out = buf;
    if (vdev->ops == &virtio_pci_modern_ops && !vdev->device_cfg) {
        memset(buf, 0, len);
        return;
    }
    /* A changed generation means the device updated the fields meanwhile: read again. */
    for (int attempt = 0; attempt < CONFIG_READ_TRIES; attempt++) {
        uint8_t before = vdev->ops->config_generation(vdev);
        for (unsigned i = 0; i < len; i++)
            out[i] = vdev->ops->config_read8(vdev, offset + i);
        if (vdev->ops->config_generation(vdev) == before)
            return;
    }
    log_warn("virtio: %s: configuration kept changing while read", vdev->name);
}

/* ---- interrupts ---- */

static void run_queue_callback(struct virtqueue *vq)
{
    if (vq->callback)
        vq->callback(vq);
}

static bool vq_interrupt(void *ctx)
{
    struct virtqueue *vq = ctx;
    run_queue_callback(vq);
    return true;
}

static void config_interrupt_work(struct virtio_device *vdev)
{
    vdev->stats.config_changes++;
    if (vdev->config_changed)
        vdev->config_changed(vdev);
}

static bool config_interrupt(void *ctx)
{
    struct virtio_device *vdev = ctx;
    vdev->stats.interrupts++;
    config_interrupt_work(vdev);
    return true;
}

static bool shared_queues_interrupt(void *ctx)
{
    struct virtio_device *vdev = ctx;
    vdev->stats.interrupts++;
    for (unsigned i = 0; i < vdev->nvqs; i++)
        run_queue_callback(vdev->vqs[i]);
    return true;
}

/* INTx: the line may be shared; only the ISR says whether it was us (and reading it deasserts the line). */
static bool intx_interrupt(void *ctx)
{
    struct virtio_device *vdev = ctx;
    uint8_t isr = vdev->ops->read_isr(vdev);
    if (!isr) {
        vdev->stats.not_mine++;
        return false;
    }
    vdev->stats.interrupts++;
    if (isr & VIRTIO_ISR_CONFIG)
        config_interrupt_work(vdev);
    if (isr & VIRTIO_ISR_QUEUE)
        for (unsigned i = 0; i < vdev->nvqs; i++)
            run_queue_callback(vdev->vqs[i]);
    return true;
}

static bool msix_queue_interrupt(void *ctx)
{
    struct virtqueue *vq = ctx;
    ((struct virtio_device *)vq->env.ctx)->stats.interrupts++;
    return vq_interrupt(vq);
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
        for (unsigned i = 1; i < pci->irq_count; i++) {
            irq_unregister(pci->irq_vectors[i], shared_queues_interrupt, vdev);
            if (i - 1 < vdev->nvqs)
                irq_unregister(pci->irq_vectors[i], msix_queue_interrupt, vdev->vqs[i - 1]);
        }
    } else if (pci->irq_mode == PCI_IRQ_MODE_INTX) {
        irq_unregister(pci->irq_vectors[0], intx_interrupt, vdev);
    }
    pci_free_irq_vectors(pci);
    vdev->irq_mode = VIRTIO_IRQ_NONE;
}

/* MSI-X: entry 0 for configuration changes, then one entry per queue, or one for all. */
static int try_msix(struct virtio_device *vdev, bool per_queue)
{
    unsigned want = per_queue ? vdev->nvqs + 1 : 2;
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
        uint16_t entry = (uint16_t)(per_queue ? 1 + i : 1);
        if (vdev->ops->set_queue_vector(vdev, (uint16_t)i, entry) != entry) {
            log_warn("virtio: %s: device refused MSI-X entry %u for queue %u", vdev->name, entry, i);
            vdev->irq_mode = per_queue ? VIRTIO_IRQ_MSIX_PER_QUEUE : VIRTIO_IRQ_MSIX_SHARED;
            release_vectors(vdev);
            return -EIO;
        }
        if (per_queue)
            irq_register(pci->irq_vectors[1 + i], msix_queue_interrupt, vdev->vqs[i]);
    }
    vdev->irq_mode = per_queue ? VIRTIO_IRQ_MSIX_PER_QUEUE : VIRTIO_IRQ_MSIX_SHARED;
    return 0;
}

static int try_intx(struct virtio_device *vdev)
{
    if (pci_alloc_irq_vectors(vdev->pci, 1, 1, PCI_IRQ_INTX) < 0)
        return -ENODEV;
    irq_register(vdev->pci->irq_vectors[0], intx_interrupt, vdev);
    vdev->irq_mode = VIRTIO_IRQ_INTX;
    return 0;
}

static int setup_vectors(struct virtio_device *vdev, enum irq_mode mode)
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
    bool legacy = vdev->ops == &virtio_pci_legacy_ops;
    if (size > VIRTQUEUE_MAX_SIZE && !legacy)
        size = VIRTQUEUE_MAX_SIZE;
    struct virtqueue *vq = kzalloc(sizeof(*vq));
    void *ring = dma_alloc(virtqueue_ring_bytes(size));
    struct virtqueue_env env = { vq_notify, vq_alloc, vq_free, vq_report, vdev };
    char full_name[VIRTQUEUE_NAME_MAX];
    snprintf(full_name, sizeof(full_name), "%s/%s", vdev->name, name);
    int rc = vq && ring ? virtqueue_init(vq, full_name, (uint16_t)index, size, ring,
                                         virtio_has_feature(vdev, VIRTIO_F_RING_EVENT_IDX),
                                         virtio_has_feature(vdev, VIRTIO_F_RING_INDIRECT_DESC), &env)
                        : -ENOMEM;
    if (rc == 0)
        rc = vdev->ops->queue_setup(vdev, vq);
    if (rc < 0) {
        log_error("virtio: %s: queue %u (%s, %u entries) could not be set up: error %d", vdev->name, index, name,
                  size, rc);
        if (vq)
            virtqueue_destroy(vq);
        kfree(vq);
        if (ring)
            dma_free(ring, virtqueue_ring_bytes(size));
        return rc;
    }
    vq->callback = callback;
    vq->priv = vdev->priv;
    vdev->vqs[index] = vq;
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
    int rc = setup_vectors(vdev, mode);
    if (rc < 0) {
        log_error("virtio: %s: no interrupt vectors in mode irq=%s", vdev->name, irq_mode_name(mode));
        virtio_fail(vdev, "interrupt setup failed");
        return rc;
    }
    for (unsigned i = 0; i < nvqs; i++)
        vdev->ops->queue_enable(vdev, (uint16_t)i);

    char line[200];
    unsigned n = (unsigned)snprintf(line, sizeof(line), "virtio: %s: %s", vdev->name, virtio_irq_mode_name(vdev->irq_mode));
    struct pci_device *pci = vdev->pci;
    if (vdev->irq_mode != VIRTIO_IRQ_NONE)
        n += (unsigned)snprintf(line + n, sizeof(line) - n, " (vectors");
    for (unsigned i = 0; vdev->irq_mode != VIRTIO_IRQ_NONE && i < pci->irq_count; i++)
        n += (unsigned)snprintf(line + n, sizeof(line) - n, " 0x%x", pci->irq_vectors[i]);
    if (vdev->irq_mode != VIRTIO_IRQ_NONE)
        n += (unsigned)snprintf(line + n, sizeof(line) - n, ")");
    for (unsigned i = 0; i < nvqs; i++)
        n += (unsigned)snprintf(line + n, sizeof(line) - n, ", %s %u entries", names[i], vdev->vqs[i]->vring.num);
    log_info("%s", line);
    return 0;
}

/* ---- reset and restore (NEEDS_RESET, broken queues) ---- */

int virtio_reset(struct virtio_device *vdev)
{
    return vdev->ops->reset(vdev);
}

/* The MSI-X entries chosen at setup: a reset sets the device's back to NO_VECTOR. */
static int restore_vectors(struct virtio_device *vdev)
{
    if (vdev->irq_mode != VIRTIO_IRQ_MSIX_PER_QUEUE && vdev->irq_mode != VIRTIO_IRQ_MSIX_SHARED)
        return 0;
    if (vdev->ops->set_config_vector(vdev, 0) != 0)
        return -EIO;
    for (unsigned i = 0; i < vdev->nvqs; i++) {
        uint16_t entry = (uint16_t)(vdev->irq_mode == VIRTIO_IRQ_MSIX_PER_QUEUE ? 1 + i : 1);
        if (vdev->ops->set_queue_vector(vdev, (uint16_t)i, entry) != entry)
            return -EIO;
    }
    return 0;
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
    if (restore_vectors(vdev) < 0) {
        virtio_fail(vdev, "the device refused its MSI-X entries after the reset");
        return -EIO;
    }
    for (unsigned i = 0; i < vdev->nvqs; i++)
        vdev->ops->queue_enable(vdev, (uint16_t)i);
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
