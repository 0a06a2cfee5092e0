/*
 * The modern virtio-pci transport against a device that lies about where
 * its regions end (virtio 1.2, 4.1.4): a queue whose notify offset lies
 * past the notify capability is refused (every kick wrote past it), and
 * device config read past its capability reads as 0. The function's
 * configuration space and BAR are host buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "drivers/pci.h"
#include "drivers/virtio/virtio.h"
#include "drivers/virtio/virtqueue.h"
#include "lib/errno.h"
#include "tests/unit/check.h"

enum { CAP_COMMON = 0x40, CAP_NOTIFY = 0x54, CAP_ISR = 0x68, CAP_DEVICE = 0x7c };
enum { AT_COMMON = 0, AT_NOTIFY = 0x100, AT_ISR = 0x200, AT_DEVICE = 0x300 };

/* The console's error lines (tests/unit/virtio_net_env.c). */
extern unsigned long vnenv_error_lines;
extern char vnenv_errors[1024];

static uint8_t config_space[256];
static uint8_t bar[0x1000] __attribute__((aligned(8)));

uint8_t pci_read8(const struct pci_device *dev, uint16_t reg)
{
    (void)dev;
    return config_space[reg];
}

uint32_t pci_read32(const struct pci_device *dev, uint16_t reg)
{
    (void)dev;
    uint32_t v;
    memcpy(&v, config_space + reg, 4);
    return v;
}

volatile void *pci_map_bar(struct pci_device *dev, int index)
{
    (void)dev;
    return index == 0 ? bar : NULL;
}

int virtio_pci_setup_interrupts(struct virtio_device *vdev, enum irq_mode mode)
{
    (void)vdev;
    (void)mode;
    return 0;
}
int virtio_pci_restore_interrupts(struct virtio_device *vdev)
{
    (void)vdev;
    return 0;
}
void virtio_pci_describe_interrupts(struct virtio_device *vdev, char *buf, unsigned size)
{
    (void)vdev;
    if (size)
        buf[0] = 0;
}

/* A vendor capability of `type` for [offset, offset + length) of BAR 0. */
static void put_cap(uint8_t at, uint8_t type, uint32_t offset, uint32_t length, uint32_t multiplier)
{
    config_space[at] = 0x09; /* vendor-specific */
    config_space[at + 3] = type;
    config_space[at + 4] = 0;
    memcpy(config_space + at + 8, &offset, 4);
    memcpy(config_space + at + 12, &length, 4);
    memcpy(config_space + at + 16, &multiplier, 4);
}

static void attach(struct pci_device *pci, struct virtio_device *v, uint32_t notify_length, uint32_t multiplier,
                   uint32_t device_length)
{
    memset(config_space, 0, sizeof(config_space));
    memset(bar, 0, sizeof(bar));
    *pci = (struct pci_device){ 0 };
    pci->bars[0].size = sizeof(bar);
    const uint8_t at[] = { CAP_COMMON, CAP_NOTIFY, CAP_ISR, CAP_DEVICE };
    put_cap(CAP_COMMON, 1, AT_COMMON, 56, 0);
    put_cap(CAP_NOTIFY, 2, AT_NOTIFY, notify_length, multiplier);
    put_cap(CAP_ISR, 3, AT_ISR, 1, 0);
    put_cap(CAP_DEVICE, 4, AT_DEVICE, device_length, 0);
    for (int i = 0; i < 4; i++)
        pci->caps.caps[pci->caps.count++] = (struct pci_capability){ .id = 0x09, .offset = at[i] };
    *v = (struct virtio_device){ .pci = pci };
    strcpy(v->name, "00:03.0");
    CHECK_EQ(virtio_pci_modern_attach(v), 0);
}

/* The device's notify offset for the next queue set up. */
static void set_notify_off(uint16_t off) { memcpy(bar + AT_COMMON + 30, &off, 2); }

static int setup_queue(struct virtio_device *v, struct virtqueue *vq, uint16_t index)
{
    static uint8_t ring[16384] __attribute__((aligned(4096)));
    static const struct virtqueue_env env = { .alloc = malloc, .free = free };
    CHECK_EQ(virtqueue_init(vq, "q", index, 8, ring, 0, &env), 0);
    return v->ops->queue_setup(v, vq);
}

TEST(virtio_pci_modern_notify_inside_its_region)
{
    struct pci_device pci;
    struct virtio_device v;
    struct virtqueue vq;
    attach(&pci, &v, 8, 4, 4);
    set_notify_off(1); /* bytes 4-5 of 8 */
    CHECK_EQ(setup_queue(&v, &vq, 1), 0);
    v.ops->queue_notify(&v, 1);
    CHECK_EQ(bar[AT_NOTIFY + 4], 1);
    virtqueue_destroy(&vq);
}

TEST(virtio_pci_modern_refuses_a_notify_offset_past_its_region)
{
    static const struct {
        uint32_t length, multiplier;
        uint16_t off;
    } lies[] = { { 8, 4, 2 }, { 2, 0xFFFFFFFF, 1 }, { 0xF00, 0x10000, 0xFFFF } };
    for (unsigned i = 0; i < 3; i++) {
        struct pci_device pci;
        struct virtio_device v;
        struct virtqueue vq;
        attach(&pci, &v, lies[i].length, lies[i].multiplier, 4);
        set_notify_off(lies[i].off);
        unsigned long errors = vnenv_error_lines;
        vnenv_errors[0] = 0;
        CHECK_EQ(setup_queue(&v, &vq, 0), -EIO);
        CHECK_EQ(vnenv_error_lines, errors + 1);
        CHECK(strstr(vnenv_errors, "notify region") != NULL);
        vnenv_error_lines = errors; /* the refusal's console line was expected */
        virtqueue_destroy(&vq);
    }
}

TEST(virtio_pci_modern_device_config_past_its_region_reads_zero)
{
    struct pci_device pci;
    struct virtio_device v;
    attach(&pci, &v, 8, 4, 2);
    bar[AT_DEVICE] = 0x52;
    bar[AT_DEVICE + 1] = 0x54;
    bar[AT_DEVICE + 2] = 0x99; /* past the capability's 2 bytes */
    CHECK_EQ(v.ops->config_read(&v, 0, 1), 0x52);
    CHECK_EQ(v.ops->config_read(&v, 1, 1), 0x54);
    CHECK_EQ(v.ops->config_read(&v, 2, 1), 0);
    CHECK_EQ(v.ops->config_read(&v, 5000, 1), 0);
    CHECK_EQ(v.ops->config_read(&v, 0, 2), 0x5452); /* a 16-bit field, little-endian */
    CHECK_EQ(v.ops->config_read(&v, 1, 2), 0);      /* its second byte past the region */
    CHECK_EQ(v.ops->config_read(&v, 0xFFFFFFFFu, 2), 0);
}
