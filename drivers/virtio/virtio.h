/*
 * A virtio device: one interface for the drivers above it, with the
 * transports behind it (virtio-pci modern 1.x through the vendor
 * capabilities and legacy through the I/O BAR; virtio-mmio version 2 and
 * legacy version 1), the status handshake, feature negotiation, virtqueue
 * setup and the device's interrupts: on PCI the vector chain of Linux's
 * vp_find_vqs (per-queue MSI-X, then shared MSI-X, then INTx), on MMIO the
 * one line the platform declares.
 */
#ifndef DRIVERS_VIRTIO_VIRTIO_H
#define DRIVERS_VIRTIO_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86_64/apic_encoding.h"
#include "drivers/pci.h"
#include "drivers/virtio/virtio_config.h"
#include "drivers/virtio/virtqueue.h"

/* Device status bits (virtio 1.2, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Device-independent feature bits (virtio 1.2, 6); the ring ones are in virtio_ring.h. */
#define VIRTIO_F_VERSION_1 (1ULL << 32)
#define VIRTIO_F_ACCESS_PLATFORM (1ULL << 33)

/* "No vector" for config_msix_vector / queue_msix_vector (virtio 1.2, 4.1.4.3 and 4.1.5.1.2). */
#define VIRTIO_MSI_NO_VECTOR 0xFFFF

/* ISR status bits (virtio 1.2, 4.1.4.5). */
#define VIRTIO_ISR_QUEUE 1
#define VIRTIO_ISR_CONFIG 2

#define VIRTIO_MAX_QUEUES 8

/* VIRTIO_IRQ_LINE: a transport's single interrupt line through the IOAPIC (virtio-mmio). */
enum virtio_irq_mode {
    VIRTIO_IRQ_NONE, VIRTIO_IRQ_MSIX_PER_QUEUE, VIRTIO_IRQ_MSIX_SHARED, VIRTIO_IRQ_INTX, VIRTIO_IRQ_LINE
};

struct virtio_device;

/* What a transport provides; the rest of the virtio code never asks which it is. */
struct virtio_transport_ops {
    const char *name;
    /* The virtio 1.x interface: 64 feature bits, VERSION_1 required, FEATURES_OK read back. */
    bool modern;
    /* The device takes only the queue size it offers (legacy virtio-pci has no size register). */
    bool fixed_queue_size;
    int (*reset)(struct virtio_device *vdev); /* returns once the device reads back 0 */
    uint8_t (*get_status)(struct virtio_device *vdev);
    void (*set_status)(struct virtio_device *vdev, uint8_t status);
    uint64_t (*get_features)(struct virtio_device *vdev);
    void (*set_features)(struct virtio_device *vdev, uint64_t features);
    uint8_t (*config_generation)(struct virtio_device *vdev);
    /* One field of the device's configuration, read at its own width, 1 or 2
     * bytes (4.1.3.1, 4.2.2.2: a 16-bit field by a 16-bit access); 0 past
     * what the device gives. */
    uint16_t (*config_read)(struct virtio_device *vdev, unsigned offset, unsigned width);
    uint16_t (*queue_max_size)(struct virtio_device *vdev, uint16_t index); /* 0: no such queue */
    /* Tells the device where the rings of `vq` are and how many entries it has. */
    int (*queue_setup)(struct virtio_device *vdev, struct virtqueue *vq);
    /* Makes the queue live; an error when the device does not take it (it stays refused). */
    int (*queue_enable)(struct virtio_device *vdev, uint16_t index);
    void (*queue_notify)(struct virtio_device *vdev, uint16_t index);
    /* Returns the interrupt causes (VIRTIO_ISR_*) and acknowledges them, which deasserts a level line. */
    uint8_t (*read_isr)(struct virtio_device *vdev);
    /* Interrupts for the queues and configuration changes as `mode` asks
     * (irq=); poll takes none. 0, or a negative error with nothing held. */
    int (*setup_interrupts)(struct virtio_device *vdev, enum irq_mode mode);
    /* After a reset: points the device at the interrupts chosen at setup again. */
    int (*restore_interrupts)(struct virtio_device *vdev);
    /* Appends what setup chose, e.g. " (vectors 0x30 0x31)", for the queue line. */
    void (*describe_interrupts)(struct virtio_device *vdev, char *buf, unsigned size);
    /* PCI only (MSI-X): write an MSI-X table index and return what the device reads back. */
    uint16_t (*set_config_vector)(struct virtio_device *vdev, uint16_t entry);
    uint16_t (*set_queue_vector)(struct virtio_device *vdev, uint16_t index, uint16_t entry);
};

struct virtio_device_stats {
    uint64_t interrupts;
    uint64_t not_mine;        /* a line interrupt with ISR = 0: another device on the line */
    uint64_t config_changes;
};

/* virtio-mmio: the register window and its interrupt line. */
struct virtio_mmio_transport {
    volatile uint8_t *regs;
    uint64_t size;
    uint32_t version;                   /* 2, or 1 for the legacy interface */
    uint32_t gsi;
    struct irq_line_mode line;
    int vector;                         /* the line's vector once routed, else -1 */
};

#define VIRTIO_DEVICE_NAME_MAX 16

struct virtio_device {
    char name[VIRTIO_DEVICE_NAME_MAX];  /* PCI address "00:02.0", or "mmio@feb00e00" */
    struct pci_device *pci;             /* NULL on virtio-mmio */
    struct virtio_mmio_transport mmio;
    const struct virtio_transport_ops *ops;
    /* Modern transport: the regions the vendor capabilities point at. */
    volatile uint8_t *common_cfg;
    volatile uint8_t *notify_base;
    uint32_t notify_length;             /* bytes of the notify region */
    uint32_t notify_multiplier;
    volatile uint8_t *notify[VIRTIO_MAX_QUEUES]; /* each queue's, checked inside the region at setup */
    volatile uint8_t *isr;
    volatile uint8_t *device_cfg;
    uint32_t device_cfg_length;
    /* Legacy transport: the I/O BAR. */
    uint16_t io_base;

    uint64_t features;                  /* negotiated */
    enum virtio_irq_mode irq_mode;
    unsigned nvqs;
    struct virtqueue *vqs[VIRTIO_MAX_QUEUES];
    void (*config_changed)(struct virtio_device *vdev);
    /* Called by virtio_negotiate between reading the offered features and
     * writing the driver's: may read device config to decide (virtio 1.2,
     * 3.1.1), returns the features still wanted. NULL: all of `wanted`. */
    uint64_t (*vet_features)(struct virtio_device *vdev, uint64_t offered, uint64_t wanted);
    void *priv;
    struct virtio_device_stats stats;
};

/* Binds the device to the modern transport when its capabilities are there,
 * else the legacy one; maps what it needs and enables the function. */
int virtio_pci_attach(struct pci_device *pci, struct virtio_device *vdev);

/* Reset, ACKNOWLEDGE, DRIVER, features = device & wanted (VERSION_1 required
 * on the modern transport), FEATURES_OK read back. On failure sets FAILED
 * and says why. */
int virtio_negotiate(struct virtio_device *vdev, uint64_t wanted);

bool virtio_has_feature(const struct virtio_device *vdev, uint64_t bit);

/* Creates queue 0..nvqs-1 (size = device maximum, capped at VIRTQUEUE_MAX_SIZE),
 * then the transport's interrupts per `mode` (PCI: auto tries per-queue
 * MSI-X, shared MSI-X, INTx; MMIO: its line; poll takes none), then enables
 * the queues. */
int virtio_find_vqs(struct virtio_device *vdev, unsigned nvqs, const char *const names[],
                    void (*const callbacks[])(struct virtqueue *vq), enum irq_mode mode);

void virtio_driver_ok(struct virtio_device *vdev);

/* Recovery (virtio 1.2, 2.1.2): virtio_reset stops the device, which then
 * owns none of the buffers (the driver detaches them); virtio_restore writes
 * the negotiated features again, re-creates every queue in its old memory
 * and re-points the MSI-X entries, ready for the driver to refill and set
 * DRIVER_OK. Each returns 0 or a negative error (restore marks FAILED). */
int virtio_reset(struct virtio_device *vdev);
int virtio_restore(struct virtio_device *vdev);
/* The device set NEEDS_RESET in its status (it hit an error it cannot recover from). */
bool virtio_needs_reset(struct virtio_device *vdev);
void virtio_fail(struct virtio_device *vdev, const char *why);

/* Device-specific configuration, consistent under the generation counter:
 * a 2-byte `len` is one 16-bit field, any other length bytes (the MAC). */
void virtio_config_read(struct virtio_device *vdev, unsigned offset, void *buf, unsigned len);

/* For the transports: a field of `width` bytes at `offset` lies within the
 * `length` bytes of configuration the device gives (no wrap-around). */
static inline bool virtio_config_within(unsigned offset, unsigned width, uint64_t length)
{
    return offset < length && width <= length - offset;
}

const char *virtio_irq_mode_name(enum virtio_irq_mode mode);

/* Prints the device's feature bits by name into buf. */
void virtio_describe_features(uint64_t features, char *buf, unsigned size);

/* Used by the transports. */
extern const struct virtio_transport_ops virtio_pci_modern_ops;
extern const struct virtio_transport_ops virtio_pci_legacy_ops;
int virtio_pci_modern_attach(struct virtio_device *vdev);
int virtio_pci_setup_interrupts(struct virtio_device *vdev, enum irq_mode mode);
int virtio_pci_restore_interrupts(struct virtio_device *vdev);
void virtio_pci_describe_interrupts(struct virtio_device *vdev, char *buf, unsigned size);
/* The handler of a device's one interrupt line (PCI INTx, MMIO): reads the
 * ISR through the transport (acknowledging it), says "not mine" when it is
 * 0, else counts it and runs the configuration and queue work. ctx: the device. */
bool virtio_line_interrupt(void *ctx);
/* Interrupt work shared by every transport's handlers. */
void virtio_config_interrupt_work(struct virtio_device *vdev);
void virtio_queues_interrupt_work(struct virtio_device *vdev);

#endif
