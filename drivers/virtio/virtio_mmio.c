/*
 * The virtio-mmio transport (virtio 1.2, 4.2): version 2 and the legacy
 * version 1 (4.2.4), one interrupt line through the IOAPIC.
 *
 * Defence: the window is checked before it is trusted (magic, version,
 * device id); a queue that is already live before setup, or that does not
 * read back ready after it, is refused with a line naming it; config space
 * reads stay inside the window.
 */
#include "drivers/virtio/virtio_mmio.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/mmio.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/timer.h"
#include "lib/errno.h"
#include "lib/log.h"
#include "lib/printf.h"
#include "lib/string.h"

/* Control registers (virtio 1.2, 4.2.2, table 4.1); those marked LEGACY
 * exist only in version 1 (4.2.4). Every one is 32 bits wide and is
 * accessed only with aligned 32-bit reads and writes (4.2.2.2). */
#define MMIO_MAGIC_VALUE 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_VENDOR_ID 0x00c
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_LEGACY_GUEST_PAGE_SIZE 0x028
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_LEGACY_QUEUE_ALIGN 0x03c
#define MMIO_LEGACY_QUEUE_PFN 0x040
#define MMIO_QUEUE_READY 0x044
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC_LOW 0x080  /* the high half follows at +4 */
#define MMIO_QUEUE_DRIVER_LOW 0x090
#define MMIO_QUEUE_DEVICE_LOW 0x0a0
#define MMIO_CONFIG_GENERATION 0x0fc
#define MMIO_CONFIG 0x100          /* device-specific configuration (4.2.2) */

/* InterruptStatus bits (4.2.2): the same meaning as virtio-pci's ISR bits. */
#define MMIO_INTERRUPT_VRING 1u
#define MMIO_INTERRUPT_CONFIG 2u
_Static_assert(MMIO_INTERRUPT_VRING == VIRTIO_ISR_QUEUE && MMIO_INTERRUPT_CONFIG == VIRTIO_ISR_CONFIG,
               "the line handler reads InterruptStatus as an ISR");

/* The legacy interface places a queue by page number and aligns its used
 * ring; this kernel's rings use the legacy layout, 4 KiB for both. */
#define MMIO_LEGACY_PAGE_SIZE VRING_LEGACY_ALIGN
#define MMIO_LEGACY_PAGE_SHIFT 12
_Static_assert((1u << MMIO_LEGACY_PAGE_SHIFT) == MMIO_LEGACY_PAGE_SIZE, "page size and shift agree");

/* QueueNumMax on QEMU's virtio-mmio is the transport's limit (VIRTQUEUE_MAX_SIZE,
 * 1024) for every queue, not the device's own size (256 for virtio-net, what
 * virtio-pci reports as queue_size). The driver may choose less (4.2.3.2):
 * 256 gives the same rings as on PCI, with a quarter of the ring and receive
 * buffer memory of 1024 and of the time to set them up. */
#define MMIO_QUEUE_SIZE_PREFERRED 256
#define RESET_TIMEOUT_NS 1000000000ULL

/* ---- registers ---- */

static uint32_t mm_read(struct virtio_device *v, unsigned off) { return mmio_read32(v->mmio.regs + off); }
static void mm_write(struct virtio_device *v, unsigned off, uint32_t value) { mmio_write32(v->mmio.regs + off, value); }
static bool mm_legacy(const struct virtio_device *v) { return v->mmio.version == VIRTIO_MMIO_VERSION_LEGACY; }

static void mm_write64(struct virtio_device *v, unsigned low, uint64_t value)
{
    mm_write(v, low, (uint32_t)value);
    mm_write(v, low + 4, (uint32_t)(value >> 32));
}

static uint8_t mm_get_status(struct virtio_device *v) { return (uint8_t)mm_read(v, MMIO_STATUS); }
static void mm_set_status(struct virtio_device *v, uint8_t s) { mm_write(v, MMIO_STATUS, s); }

static int mm_reset(struct virtio_device *v)
{
    mm_set_status(v, 0);
    if (mm_legacy(v))
        return mm_get_status(v) == 0 ? 0 : -EIO;
    /* Version 2 may take a while: the reset is complete once status reads 0 (4.2.3.1). */
    uint64_t start = clock_now_ns();
    while (mm_get_status(v) != 0) {
        if (clock_now_ns() - start > RESET_TIMEOUT_NS)
            return -ETIMEDOUT;
        cpu_relax();
    }
    return 0;
}

static uint64_t mm_get_features(struct virtio_device *v)
{
    mm_write(v, MMIO_DEVICE_FEATURES_SEL, 0);
    uint64_t low = mm_read(v, MMIO_DEVICE_FEATURES);
    mm_write(v, MMIO_DEVICE_FEATURES_SEL, 1);
    uint64_t high = mm_read(v, MMIO_DEVICE_FEATURES);
    return low | (high << 32);
}

static void mm_set_features(struct virtio_device *v, uint64_t features)
{
    mm_write(v, MMIO_DRIVER_FEATURES_SEL, 0);
    mm_write(v, MMIO_DRIVER_FEATURES, (uint32_t)features);
    mm_write(v, MMIO_DRIVER_FEATURES_SEL, 1);
    mm_write(v, MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
}

/* 32 bits in the register; a change of a multiple of 256 between two reads is not a case worth a wider type. */
static uint8_t mm_config_generation(struct virtio_device *v)
{
    return mm_legacy(v) ? 0 : (uint8_t)mm_read(v, MMIO_CONFIG_GENERATION);
}

static uint16_t mm_config_read(struct virtio_device *v, unsigned offset, unsigned width)
{
    if (!virtio_config_within(offset, width, v->mmio.size - MMIO_CONFIG))
        return 0; /* beyond the window the platform gave */
    volatile uint8_t *field = v->mmio.regs + MMIO_CONFIG + offset;
    return width == 2 ? mmio_read16(field) : mmio_read8(field);
}

static uint16_t mm_queue_max_size(struct virtio_device *v, uint16_t index)
{
    mm_write(v, MMIO_QUEUE_SEL, index);
    uint32_t max = mm_read(v, MMIO_QUEUE_NUM_MAX);
    return (uint16_t)(max > MMIO_QUEUE_SIZE_PREFERRED ? MMIO_QUEUE_SIZE_PREFERRED : max);
}

static int mm_queue_setup(struct virtio_device *v, struct virtqueue *vq)
{
    mm_write(v, MMIO_QUEUE_SEL, vq->index);
    /* A queue must not be live before the driver sets it up (4.2.3.2; 4.2.4 for QueuePFN). */
    uint32_t live = mm_read(v, mm_legacy(v) ? MMIO_LEGACY_QUEUE_PFN : MMIO_QUEUE_READY);
    if (live != 0) {
        log_error("virtio: %s: queue %u is already in use before setup (%s reads 0x%x): refused", v->name,
                  vq->index, mm_legacy(v) ? "QueuePFN" : "QueueReady", live);
        return -EBUSY;
    }
    mm_write(v, MMIO_QUEUE_NUM, virtqueue_size(vq));
    if (!mm_legacy(v)) {
        mm_write64(v, MMIO_QUEUE_DESC_LOW, virtqueue_desc_addr(vq));
        mm_write64(v, MMIO_QUEUE_DRIVER_LOW, virtqueue_driver_addr(vq));
        mm_write64(v, MMIO_QUEUE_DEVICE_LOW, virtqueue_device_addr(vq));
        return 0;
    }
    uint64_t desc = virtqueue_desc_addr(vq);
    uint64_t pfn = desc >> MMIO_LEGACY_PAGE_SHIFT;
    if (desc & (MMIO_LEGACY_PAGE_SIZE - 1) || pfn > 0xFFFFFFFFu)
        return -EINVAL; /* the ring must start on a page the 32-bit PFN register can name */
    /* Written with every queue: a device reset may forget them. */
    mm_write(v, MMIO_LEGACY_GUEST_PAGE_SIZE, MMIO_LEGACY_PAGE_SIZE);
    mm_write(v, MMIO_LEGACY_QUEUE_ALIGN, VRING_LEGACY_ALIGN);
    mm_write(v, MMIO_LEGACY_QUEUE_PFN, (uint32_t)pfn); /* a non-zero PFN makes the queue live */
    return 0;
}

static int mm_queue_enable(struct virtio_device *v, uint16_t index)
{
    if (mm_legacy(v))
        return 0; /* writing the PFN already did */
    mm_write(v, MMIO_QUEUE_SEL, index);
    mm_write(v, MMIO_QUEUE_READY, 1);
    if (mm_read(v, MMIO_QUEUE_READY) != 1) {
        log_error("virtio: %s: queue %u does not read back ready after setup: refused", v->name, index);
        return -EIO;
    }
    return 0;
}

static void mm_queue_notify(struct virtio_device *v, uint16_t index) { mm_write(v, MMIO_QUEUE_NOTIFY, index); }

/* The causes, acknowledged at once: the device drops its line when no cause is left (4.2.2). */
static uint8_t mm_read_isr(struct virtio_device *v)
{
    uint32_t status = mm_read(v, MMIO_INTERRUPT_STATUS);
    if (status)
        mm_write(v, MMIO_INTERRUPT_ACK, status);
    return (uint8_t)(status & (MMIO_INTERRUPT_VRING | MMIO_INTERRUPT_CONFIG));
}

/* ---- the interrupt line ---- */

/* Windows on one GSI share its vector: the line handler tells their interrupts apart. */
static int mm_line_vector(struct virtio_device *v)
{
    int vector = ioapic_route_shared(v->mmio.gsi, v->mmio.line);
    if (vector == -EBUSY)
        log_error("virtio: %s: GSI %u is already routed with another trigger mode or polarity", v->name, v->mmio.gsi);
    else if (vector == -ENODEV)
        log_error("virtio: %s: GSI %u belongs to no IOAPIC", v->name, v->mmio.gsi);
    return vector;
}

static int mm_setup_interrupts(struct virtio_device *v, enum irq_mode mode)
{
    if (mode == IRQ_MODE_POLL)
        return 0;
    if (mode == IRQ_MODE_MSIX || mode == IRQ_MODE_SHARED) {
        log_error("virtio: %s: virtio-mmio has no MSI-X (irq=%s); irq=auto or intx takes its line", v->name,
                  irq_mode_name(mode));
        return -ENODEV;
    }
    int vector = mm_line_vector(v);
    if (vector < 0)
        return vector;
    int rc = irq_register((uint8_t)vector, virtio_line_interrupt, v);
    if (rc < 0)
        return rc;
    v->mmio.vector = vector;
    v->irq_mode = VIRTIO_IRQ_LINE;
    ioapic_unmask(v->mmio.gsi);
    return 0;
}

/* The line is the platform's: a device reset changes nothing about its
 * routing, but takes it down, so a line masked as stuck comes back. */
static int mm_restore_interrupts(struct virtio_device *v)
{
    if (v->irq_mode == VIRTIO_IRQ_LINE)
        irq_line_reset((uint8_t)v->mmio.vector);
    return 0;
}

static void mm_describe_interrupts(struct virtio_device *v, char *buf, unsigned size)
{
    snprintf(buf, size, " (GSI %u, %s, active %s, vector 0x%x)", v->mmio.gsi,
             v->mmio.line.level_triggered ? "level" : "edge", v->mmio.line.active_low ? "low" : "high",
             (unsigned)v->mmio.vector);
}

/* Versions 2 and 1 (legacy) share every register this driver uses but
 * FEATURES_OK and VERSION_1, which the generic code asks `modern` about. */
#define VIRTIO_MMIO_OPS(NAME, MODERN)                                                               \
    {                                                                                               \
        .name = NAME, .modern = MODERN, .reset = mm_reset, .get_status = mm_get_status,             \
        .set_status = mm_set_status, .get_features = mm_get_features,                               \
        .set_features = mm_set_features, .config_generation = mm_config_generation,                 \
        .config_read = mm_config_read, .queue_max_size = mm_queue_max_size,                         \
        .queue_setup = mm_queue_setup, .queue_enable = mm_queue_enable,                             \
        .queue_notify = mm_queue_notify, .read_isr = mm_read_isr,                                   \
        .setup_interrupts = mm_setup_interrupts, .restore_interrupts = mm_restore_interrupts,       \
        .describe_interrupts = mm_describe_interrupts,                                              \
    }
static const struct virtio_transport_ops virtio_mmio_ops = VIRTIO_MMIO_OPS("mmio version 2", true);
static const struct virtio_transport_ops virtio_mmio_legacy_ops = VIRTIO_MMIO_OPS("mmio version 1 (legacy)", false);

/* ---- discovery ---- */

enum virtio_mmio_identity virtio_mmio_identify(uint32_t magic, uint32_t version, uint32_t device_id,
                                               uint32_t wanted_device_id)
{
    if (magic != VIRTIO_MMIO_MAGIC)
        return VIRTIO_MMIO_BAD_MAGIC;
    if (version != VIRTIO_MMIO_VERSION_LEGACY && version != VIRTIO_MMIO_VERSION_MODERN)
        return VIRTIO_MMIO_BAD_VERSION;
    if (device_id == 0)
        return VIRTIO_MMIO_EMPTY;
    return device_id == wanted_device_id ? VIRTIO_MMIO_OK : VIRTIO_MMIO_OTHER_DEVICE;
}

int virtio_mmio_attach(const struct virtio_mmio_window *w, uint32_t device_id, struct virtio_device *vdev)
{
    memset(vdev, 0, sizeof(*vdev));
    snprintf(vdev->name, sizeof(vdev->name), "mmio@%llx", (unsigned long long)w->base);
    /* The registers up to the configuration space must fit, 4-byte aligned, without wrapping around. */
    if (w->base == 0 || (w->base & 3) || w->size <= MMIO_CONFIG || w->base + w->size < w->base) {
        log_error("virtio: %s: a window of %llu bytes at 0x%llx cannot hold virtio-mmio registers: skipped",
                  vdev->name, (unsigned long long)w->size, (unsigned long long)w->base);
        return -ENODEV;
    }
    volatile uint8_t *regs = mmio_map(w->base, w->size);
    if (!regs) {
        log_error("virtio: %s: cannot map the window (%llu bytes): skipped", vdev->name, (unsigned long long)w->size);
        return -ENODEV;
    }
    uint32_t magic = mmio_read32(regs + MMIO_MAGIC_VALUE);
    uint32_t version = mmio_read32(regs + MMIO_VERSION);
    uint32_t id = mmio_read32(regs + MMIO_DEVICE_ID);
    switch (virtio_mmio_identify(magic, version, id, device_id)) {
    case VIRTIO_MMIO_BAD_MAGIC:
        log_warn("virtio: %s: magic 0x%x is not \"virt\" (0x%x): no virtio-mmio device, skipped", vdev->name, magic,
                 VIRTIO_MMIO_MAGIC);
        return -ENODEV;
    case VIRTIO_MMIO_BAD_VERSION:
        log_warn("virtio: %s: unknown virtio-mmio version %u (1 and 2 are known): skipped", vdev->name, version);
        return -ENODEV;
    case VIRTIO_MMIO_EMPTY:
        log_info("virtio: %s: device id 0: an empty transport slot, skipped", vdev->name);
        return -ENODEV;
    case VIRTIO_MMIO_OTHER_DEVICE:
        log_info("virtio: %s: device id %u, not %u: left alone", vdev->name, id, device_id);
        return -ENODEV;
    case VIRTIO_MMIO_OK:
        break;
    }
    vdev->mmio = (struct virtio_mmio_transport){
        .regs = regs, .size = w->size, .version = version, .gsi = w->gsi, .line = w->line,
        .vector = -1,
    };
    vdev->ops = version == VIRTIO_MMIO_VERSION_MODERN ? &virtio_mmio_ops : &virtio_mmio_legacy_ops;
    log_info("virtio: %s: virtio-mmio version %u, device id %u, vendor 0x%x, %llu-byte window, GSI %u", vdev->name,
             version, id, mmio_read32(regs + MMIO_VENDOR_ID), (unsigned long long)w->size, w->gsi);
    return 0;
}
