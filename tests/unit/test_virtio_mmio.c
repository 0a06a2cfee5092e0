/*
 * drivers/virtio/virtio_mmio.c against a register window in host memory:
 * the identity checks of discovery (magic, version, device id, the window's
 * own shape), then the transport operations, read back from the registers
 * they must write (virtio 1.2, 4.2.2 and 4.2.4): queue placement in both
 * versions, the already-live queue refused, the interrupt acknowledge, the
 * configuration space bound, and the interrupt line (routing, sharing,
 * refusals). Plain memory cannot play a device that changes a register by
 * itself, so a stuck QueueReady is not simulated here.
 *
 * What the transport calls outside it (mapping, the IOAPIC, vectors, the
 * generic line handler) is stubbed below and records what it was asked.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/paging.h"
#include "drivers/virtio/virtio_mmio.h"
#include "lib/errno.h"
#include "lib/printf.h"
#include "tests/unit/check.h"

/* ---- stubs ---- */

static int map_calls;
static int next_vector = 0x30;
static uint32_t routed_gsi;
static uint8_t routed_vector;
static struct irq_line_mode routed_mode;
static int route_result;
static int handlers_registered;
static uint32_t unmasked_gsi;
static int line_resets;
static uint8_t line_reset_vector;

volatile void *mmio_map(uint64_t phys, uint64_t size)
{
    (void)size;
    map_calls++;
    return (volatile void *)(uintptr_t)phys;
}

int irq_register(uint8_t vector, irq_handler_fn fn, void *ctx)
{
    (void)vector;
    (void)ctx;
    handlers_registered += fn == virtio_line_interrupt;
    return 0;
}

/* Which vector a line has, and sharing it, is ioapic.c's (selftest_shared_line). */
int ioapic_route_shared(uint32_t gsi, struct irq_line_mode mode)
{
    if (route_result < 0)
        return route_result;
    routed_gsi = gsi;
    routed_vector = (uint8_t)next_vector++;
    routed_mode = mode;
    return routed_vector;
}

int ioapic_unmask(uint32_t gsi)
{
    unmasked_gsi = gsi;
    return 0;
}

bool virtio_line_interrupt(void *ctx) { return ctx != NULL; }

void irq_line_reset(uint8_t vector)
{
    line_resets++;
    line_reset_vector = vector;
}

/* tests/unit/virtio_net_env.c counts the error lines logged, which other
 * tests expect to stay 0: count the deliberate ones here, then put the count back. */
extern unsigned long vnenv_error_lines;
static unsigned long error_lines_mark;
static void error_lines_begin(void) { error_lines_mark = vnenv_error_lines; }
static unsigned long error_lines_taken(void)
{
    unsigned long n = vnenv_error_lines - error_lines_mark;
    vnenv_error_lines = error_lines_mark;
    return n;
}

/* ---- a register window ---- */

#define WINDOW_SIZE 0x200
#define LOW_RING_ADDRESS 0x40000000ul /* a page the 32-bit legacy PFN register can name */

static _Alignas(4096) uint8_t window[WINDOW_SIZE];
static _Alignas(4096) uint8_t ring_memory[3 * 4096];

static uint32_t reg(unsigned off) { uint32_t v; memcpy(&v, window + off, 4); return v; }
static void set_reg(unsigned off, uint32_t v) { memcpy(window + off, &v, 4); }

/* A device as the registers say before the driver touches it. */
static void fresh_window(uint32_t version, uint32_t device_id)
{
    memset(window, 0, sizeof(window));
    set_reg(0x000, VIRTIO_MMIO_MAGIC);
    set_reg(0x004, version);
    set_reg(0x008, device_id);
    set_reg(0x00c, 0x554D4551); /* "QEMU" */
    set_reg(0x034, 1024);       /* QueueNumMax */
}

static struct virtio_mmio_window window_at(uint64_t base, uint64_t size, uint32_t gsi)
{
    return (struct virtio_mmio_window){ base, size, gsi, VIRTIO_MMIO_CMDLINE_LINE };
}

static int attach(uint32_t version, uint32_t device_id, uint32_t gsi, struct virtio_device *vdev)
{
    fresh_window(version, device_id);
    struct virtio_mmio_window w = window_at((uintptr_t)window, WINDOW_SIZE, gsi);
    return virtio_mmio_attach(&w, VIRTIO_ID_NET, vdev);
}

/* ---- discovery ---- */

TEST(virtio_mmio_identify)
{
    CHECK_EQ(virtio_mmio_identify(0x74726976, 2, 1, 1), VIRTIO_MMIO_OK);
    CHECK_EQ(virtio_mmio_identify(0x74726976, 1, 1, 1), VIRTIO_MMIO_OK);
    CHECK_EQ(virtio_mmio_identify(0x76697274, 2, 1, 1), VIRTIO_MMIO_BAD_MAGIC); /* "virt" the wrong way round */
    CHECK_EQ(virtio_mmio_identify(0xFFFFFFFF, 2, 1, 1), VIRTIO_MMIO_BAD_MAGIC); /* nothing decodes there */
    CHECK_EQ(virtio_mmio_identify(0x74726976, 0, 1, 1), VIRTIO_MMIO_BAD_VERSION);
    CHECK_EQ(virtio_mmio_identify(0x74726976, 3, 1, 1), VIRTIO_MMIO_BAD_VERSION);
    CHECK_EQ(virtio_mmio_identify(0x74726976, 2, 0, 1), VIRTIO_MMIO_EMPTY);     /* microvm's empty slots */
    CHECK_EQ(virtio_mmio_identify(0x74726976, 2, 2, 1), VIRTIO_MMIO_OTHER_DEVICE);
}

TEST(virtio_mmio_attach_refuses_what_is_not_a_nic)
{
    struct virtio_device vdev;
    CHECK_EQ(attach(2, 1, 12, &vdev), 0);
    set_reg(0x000, 0);
    struct virtio_mmio_window w = window_at((uintptr_t)window, WINDOW_SIZE, 12);
    CHECK_EQ(virtio_mmio_attach(&w, VIRTIO_ID_NET, &vdev), -ENODEV);
    CHECK_EQ(attach(3, 1, 12, &vdev), -ENODEV);
    CHECK_EQ(attach(2, 0, 12, &vdev), -ENODEV);
    CHECK_EQ(attach(2, 2, 12, &vdev), -ENODEV);

    /* Windows that cannot hold the registers are refused, each with one error line, before they are mapped. */
    error_lines_begin();
    int before = map_calls;
    const struct virtio_mmio_window bad[] = {
        window_at(0, WINDOW_SIZE, 12),
        window_at((uintptr_t)window + 2, WINDOW_SIZE, 12),
        window_at((uintptr_t)window, 0x100, 12),
        window_at((uintptr_t)window, 0, 12),
        window_at(0xFFFFFFFFFFFFFF00ull, WINDOW_SIZE, 12),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(virtio_mmio_attach(&bad[i], VIRTIO_ID_NET, &vdev), -ENODEV);
        CHECK_EQ(error_lines_taken(), 1);
    }
    CHECK_EQ(map_calls, before);
}

TEST(virtio_mmio_attach_binds_version_2)
{
    struct virtio_device vdev;
    CHECK_EQ(attach(2, 1, 12, &vdev), 0);
    CHECK(vdev.ops->modern);
    CHECK(!vdev.ops->fixed_queue_size);
    CHECK(vdev.pci == NULL);
    CHECK_EQ(strncmp(vdev.name, "mmio@", 5), 0);
    CHECK_EQ(vdev.mmio.version, 2u);
    CHECK_EQ(vdev.mmio.gsi, 12u);
    CHECK_EQ(vdev.mmio.vector, -1);
}

/* ---- transport operations ---- */

static void no_notify(struct virtqueue *vq, void *ctx) { (void)vq; (void)ctx; }
static void no_report(const char *message) { (void)message; }

/* A split virtqueue over `ring` (only its addresses and size matter here). */
static void ring_queue_at(struct virtqueue *vq, uint16_t index, uint16_t num, uint8_t *ring)
{
    static const struct virtqueue_env env = { no_notify, malloc, free, no_report, NULL };
    memset(vq, 0, sizeof(*vq));
    virtqueue_init(vq, "test", index, num, ring, 0, &env);
}

static void ring_queue(struct virtqueue *vq, uint16_t index, uint16_t num, size_t offset)
{
    ring_queue_at(vq, index, num, ring_memory + offset);
}

TEST(virtio_mmio_version_2_queue_setup)
{
    struct virtio_device vdev;
    CHECK_EQ(attach(2, 1, 12, &vdev), 0);
    CHECK_EQ(vdev.ops->queue_max_size(&vdev, 1), 256); /* QEMU's 1024 is the transport's limit, not the device's size */
    CHECK_EQ(reg(0x030), 1u);
    set_reg(0x034, 0);
    CHECK_EQ(vdev.ops->queue_max_size(&vdev, 5), 0); /* no such queue */
    set_reg(0x034, 128);
    CHECK_EQ(vdev.ops->queue_max_size(&vdev, 1), 128);
    set_reg(0x034, 0x100000);
    CHECK_EQ(vdev.ops->queue_max_size(&vdev, 1), 256);

    struct virtqueue vq;
    ring_queue(&vq, 1, 256, 0);
    CHECK_EQ(vdev.ops->queue_setup(&vdev, &vq), 0);
    CHECK_EQ(reg(0x030), 1u);    /* QueueSel */
    CHECK_EQ(reg(0x038), 256u);  /* QueueNum */
    uint64_t desc = virtqueue_desc_addr(&vq), avail = virtqueue_driver_addr(&vq), used = virtqueue_device_addr(&vq);
    CHECK_EQ(reg(0x080) | (uint64_t)reg(0x084) << 32, desc);
    CHECK_EQ(reg(0x090) | (uint64_t)reg(0x094) << 32, avail);
    CHECK_EQ(reg(0x0a0) | (uint64_t)reg(0x0a4) << 32, used);
    CHECK_EQ(reg(0x040), 0u);    /* nothing of the legacy interface */
    CHECK_EQ(reg(0x028), 0u);
    CHECK_EQ(vdev.ops->queue_enable(&vdev, 1), 0);
    CHECK_EQ(reg(0x044), 1u);    /* QueueReady */

    /* A queue that reads ready before setup is refused with a line, and nothing is written to it. */
    set_reg(0x038, 0);
    error_lines_begin();
    CHECK_EQ(vdev.ops->queue_setup(&vdev, &vq), -EBUSY);
    CHECK_EQ(error_lines_taken(), 1);
    CHECK_EQ(reg(0x038), 0u);

    vdev.ops->queue_notify(&vdev, 1);
    CHECK_EQ(reg(0x050), 1u);
    CHECK_EQ(vdev.ops->reset(&vdev), 0);
    CHECK_EQ(reg(0x070), 0u);
    vdev.ops->set_status(&vdev, 0x0B);
    CHECK_EQ(vdev.ops->get_status(&vdev), 0x0B);
    virtqueue_destroy(&vq);
}

TEST(virtio_mmio_version_1_queue_setup)
{
    struct virtio_device vdev;
    CHECK_EQ(attach(1, 1, 12, &vdev), 0);
    CHECK(!vdev.ops->modern);
    set_reg(0x0fc, 7);
    CHECK_EQ(vdev.ops->config_generation(&vdev), 0); /* version 1 has no generation counter */

    /* The PFN register has 32 bits: the ring must lie below 16 TiB, where host heaps do not. */
    uint8_t *low = mmap((void *)LOW_RING_ADDRESS, 3 * 4096, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    CHECK(low == (uint8_t *)LOW_RING_ADDRESS);
    if (low != (uint8_t *)LOW_RING_ADDRESS)
        return;
    struct virtqueue vq;
    ring_queue_at(&vq, 0, 256, low);
    CHECK_EQ(vdev.ops->queue_setup(&vdev, &vq), 0);
    CHECK_EQ(reg(0x038), 256u);               /* QueueNum: the legacy interface may take less than the maximum */
    CHECK_EQ(reg(0x028), 4096u);              /* GuestPageSize */
    CHECK_EQ(reg(0x03c), 4096u);              /* QueueAlign: the used ring at the next 4 KiB */
    CHECK_EQ(reg(0x040), (uint32_t)(virtqueue_desc_addr(&vq) >> 12)); /* QueuePFN */
    CHECK_EQ(reg(0x080), 0u);                 /* nothing of version 2 */
    CHECK_EQ(vdev.ops->queue_enable(&vdev, 0), 0);
    CHECK_EQ(reg(0x044), 0u);

    /* Already live (a PFN set), a ring not on a page, a ring above 16 TiB: refused. */
    error_lines_begin();
    CHECK_EQ(vdev.ops->queue_setup(&vdev, &vq), -EBUSY);
    CHECK_EQ(error_lines_taken(), 1);
    set_reg(0x040, 0);
    virtqueue_destroy(&vq);
    ring_queue_at(&vq, 0, 64, low);
    vq.ring = low + 64; /* as if placed off a page */
    CHECK_EQ(vdev.ops->queue_setup(&vdev, &vq), -EINVAL);
    virtqueue_destroy(&vq);
    ring_queue(&vq, 0, 64, 0);
    CHECK_EQ(vdev.ops->queue_setup(&vdev, &vq), (uintptr_t)ring_memory >> 44 ? -EINVAL : 0);
    virtqueue_destroy(&vq);
    set_reg(0x040, 0);
    munmap(low, 3 * 4096);
}

TEST(virtio_mmio_interrupt_status_is_acknowledged)
{
    struct virtio_device vdev;
    CHECK_EQ(attach(2, 1, 12, &vdev), 0);
    set_reg(0x060, 0x3);
    CHECK_EQ(vdev.ops->read_isr(&vdev), VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG);
    CHECK_EQ(reg(0x064), 0x3u);
    set_reg(0x064, 0xDEAD);
    set_reg(0x060, 0);
    CHECK_EQ(vdev.ops->read_isr(&vdev), 0); /* not ours: nothing acknowledged */
    CHECK_EQ(reg(0x064), 0xDEADu);
    set_reg(0x060, 0x5);
    CHECK_EQ(vdev.ops->read_isr(&vdev), VIRTIO_ISR_QUEUE); /* reserved bits acknowledged, not reported */
    CHECK_EQ(reg(0x064), 0x5u);
}

TEST(virtio_mmio_config_space_stays_in_the_window)
{
    struct virtio_device vdev;
    CHECK_EQ(attach(2, 1, 12, &vdev), 0);
    for (unsigned i = 0; i < WINDOW_SIZE - 0x100; i++)
        window[0x100 + i] = (uint8_t)(i + 1);
    CHECK_EQ(vdev.ops->config_read(&vdev, 0, 1), 1);
    CHECK_EQ(vdev.ops->config_read(&vdev, 5, 1), 6);
    CHECK_EQ(vdev.ops->config_read(&vdev, WINDOW_SIZE - 0x101, 1), (WINDOW_SIZE - 0x100) & 0xFF);
    CHECK_EQ(vdev.ops->config_read(&vdev, WINDOW_SIZE - 0x100, 1), 0);
    CHECK_EQ(vdev.ops->config_read(&vdev, 0xFFFFFFFFu, 1), 0);
    CHECK_EQ(vdev.ops->config_read(&vdev, 6, 2), 0x0807); /* a 16-bit field, little-endian */
    CHECK_EQ(vdev.ops->config_read(&vdev, WINDOW_SIZE - 0x102, 2), 0x00FF);
    CHECK_EQ(vdev.ops->config_read(&vdev, WINDOW_SIZE - 0x101, 2), 0); /* its second byte past the window */
    CHECK_EQ(vdev.ops->config_read(&vdev, 0xFFFFFFFFu, 2), 0);
    set_reg(0x0fc, 0x1234);
    CHECK_EQ(vdev.ops->config_generation(&vdev), 0x34);
}

TEST(virtio_mmio_interrupt_line)
{
    struct virtio_device a, b, c;
    CHECK_EQ(attach(2, 1, 40, &a), 0);
    CHECK_EQ(a.ops->setup_interrupts(&a, IRQ_MODE_POLL), 0);
    CHECK_EQ(a.irq_mode, VIRTIO_IRQ_NONE);
    error_lines_begin();
    CHECK_EQ(a.ops->setup_interrupts(&a, IRQ_MODE_MSIX), -ENODEV);
    CHECK_EQ(a.ops->setup_interrupts(&a, IRQ_MODE_SHARED), -ENODEV);
    CHECK_EQ(error_lines_taken(), 2);

    int registered = handlers_registered;
    CHECK_EQ(a.ops->setup_interrupts(&a, IRQ_MODE_AUTO), 0);
    CHECK_EQ(a.irq_mode, VIRTIO_IRQ_LINE);
    CHECK_EQ(routed_gsi, 40u);
    CHECK(routed_mode.level_triggered);
    CHECK(!routed_mode.active_low);
    CHECK_EQ(a.mmio.vector, routed_vector);
    CHECK_EQ(unmasked_gsi, 40u);
    CHECK_EQ(handlers_registered, registered + 1);
    char text[80];
    a.ops->describe_interrupts(&a, text, sizeof(text));
    char expect[80];
    snprintf(expect, sizeof(expect), " (GSI 40, level, active high, vector 0x%x)", routed_vector);
    CHECK_STR_EQ(text, expect);
    /* After a reset the line comes back if it was masked as stuck (irq_line_reset). */
    int resets = line_resets;
    CHECK_EQ(a.ops->restore_interrupts(&a), 0);
    CHECK_EQ(line_resets, resets + 1);
    CHECK_EQ(line_reset_vector, routed_vector);

    /* A second window on the line takes the vector ioapic.c gives, with its own handler. */
    CHECK_EQ(attach(2, 1, 41, &b), 0);
    CHECK_EQ(b.ops->setup_interrupts(&b, IRQ_MODE_INTX), 0);
    CHECK_EQ(b.mmio.vector, routed_vector);
    CHECK_EQ(handlers_registered, registered + 2);
    /* A line taken with another trigger mode, or on no IOAPIC: refused with a line. */
    const int refusals[] = { -EBUSY, -ENODEV };
    for (unsigned i = 0; i < 2; i++) {
        route_result = refusals[i];
        CHECK_EQ(attach(2, 1, 200, &c), 0);
        error_lines_begin();
        CHECK_EQ(c.ops->setup_interrupts(&c, IRQ_MODE_AUTO), refusals[i]);
        CHECK_EQ(error_lines_taken(), 1);
        CHECK_EQ(c.irq_mode, VIRTIO_IRQ_NONE);
        CHECK_EQ(handlers_registered, registered + 2);
    }
    route_result = 0;
}
