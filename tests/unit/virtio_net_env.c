#include "tests/unit/virtio_net_env.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/timer.h"
#include "drivers/pci.h"
#include "lib/irq_flags.h"
#include "lib/kheap.h"
#include "lib/log.h"
#include "lib/napi.h"
#include "lib/phys_mem.h"

/* ---- kernel services ---- */

void *kmalloc(size_t size) { return size ? malloc(size) : NULL; }
void *kzalloc(size_t size) { return size ? calloc(1, size) : NULL; }
void kfree(void *ptr) { free(ptr); }

void *dma_alloc(size_t bytes)
{
    size_t rounded = (bytes + 4095) & ~(size_t)4095;
    void *p = aligned_alloc(4096, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

void dma_free(void *ptr, size_t bytes)
{
    (void)bytes;
    free(ptr);
}

/* A roomy machine: the driver sizes its receive pool from this. */
struct memory_stats memory_get_stats(void) { return (struct memory_stats){ .free_bytes = 256ull << 20 }; }

bool irq_save(void) { return false; }
void irq_restore(bool enabled) { (void)enabled; }

/* Time stands still here: timers are armed and cancelled, never fired. */
uint64_t clock_now_ns(void) { return 1000000000ULL; }
void timer_at(struct timer *t, uint64_t deadline_ns, timer_fn fn, void *arg)
{
    *t = (struct timer){ .deadline = deadline_ns, .fn = fn, .arg = arg, .armed = true };
}
void timer_after(struct timer *t, uint64_t delay_ns, timer_fn fn, void *arg) { timer_at(t, clock_now_ns() + delay_ns, fn, arg); }
bool timer_cancel(struct timer *t)
{
    bool was = t->armed;
    t->armed = false;
    return was;
}

/* The driver's error lines are findings: the tests count them. */
unsigned long vnenv_error_lines;
bool log_enabled(enum log_level level) { return level <= LOG_INFO; }
void klog(enum log_level level, const char *fmt, ...)
{
    if (level != LOG_ERROR)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    vnenv_error_lines++;
}

/* ---- the transport: one modern virtio-net function ---- */

static struct vnenv *current;
static struct pci_device the_function = { .vendor_id = 0x1af4, .device_id = 0x1041 };
static uint64_t device_features;
static const uint8_t device_config[12] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 1, 0 }; /* mac, status LINK_UP */

struct pci_device *pci_next_device(struct pci_device *prev) { return prev ? NULL : &the_function; }

int virtio_pci_attach(struct pci_device *pci, struct virtio_device *vdev)
{
    snprintf(vdev->name, sizeof(vdev->name), "00:02.0");
    vdev->pci = pci;
    return 0;
}

int virtio_negotiate(struct virtio_device *vdev, uint64_t wanted)
{
    vdev->features = device_features & (wanted | VIRTIO_F_VERSION_1);
    return 0;
}

bool virtio_has_feature(const struct virtio_device *vdev, uint64_t bit) { return (vdev->features & bit) != 0; }

void virtio_config_read(struct virtio_device *vdev, unsigned offset, void *buf, unsigned len)
{
    (void)vdev;
    if (offset + len <= sizeof(device_config))
        memcpy(buf, device_config + offset, len);
}

static struct sim *sim_of(struct virtqueue *vq) { return vq->index == 0 ? &current->rx : &current->tx; }

static void queue_notify(struct virtqueue *vq, void *ctx)
{
    (void)ctx;
    sim_kick(sim_of(vq));
}

static void queue_report(const char *message) { fprintf(stderr, "virtqueue broken: %s\n", message); }

int virtio_find_vqs(struct virtio_device *vdev, unsigned nvqs, const char *const names[],
                    void (*const callbacks[])(struct virtqueue *vq), enum irq_mode mode)
{
    (void)mode;
    static const struct virtqueue_env env = { queue_notify, malloc, free, queue_report, NULL };
    /* The ring features the driver negotiated, indirect tables aside (the sim's chains are checked without them). */
    uint64_t features = vdev->features & (VIRTIO_F_RING_EVENT_IDX | VIRTIO_F_RING_PACKED);
    for (unsigned i = 0; i < nvqs; i++) {
        struct virtqueue *vq = calloc(1, sizeof(*vq));
        void *ring = dma_alloc(virtqueue_ring_bytes(VNENV_RING_SIZE, features));
        if (!vq || !ring || virtqueue_init(vq, names[i], (uint16_t)i, VNENV_RING_SIZE, ring, features, &env) < 0)
            return -1;
        vq->callback = callbacks[i];
        vdev->vqs[i] = vq;
        sim_init(i == 0 ? &current->rx : &current->tx, ring, VNENV_RING_SIZE, features);
    }
    vdev->nvqs = nvqs;
    vdev->irq_mode = VIRTIO_IRQ_MSIX_PER_QUEUE;
    return 0;
}

void virtio_driver_ok(struct virtio_device *vdev) { (void)vdev; }
void virtio_fail(struct virtio_device *vdev, const char *why) { fprintf(stderr, "virtio_fail %s: %s\n", vdev->name, why); }
bool virtio_needs_reset(struct virtio_device *vdev) { (void)vdev; return false; }
int virtio_reset(struct virtio_device *vdev) { (void)vdev; return -1; }
int virtio_restore(struct virtio_device *vdev) { (void)vdev; return -1; }

/* The driver's receive-side call that the race test needs to step into
 * (linked with --wrap, tests/unit/Makefile). */
uint16_t __real_virtqueue_enable_cb_prepare(struct virtqueue *vq);
uint16_t __wrap_virtqueue_enable_cb_prepare(struct virtqueue *vq)
{
    uint16_t last = __real_virtqueue_enable_cb_prepare(vq);
    if (current && vq->index == 0 && current->after_enable_prepare) {
        void (*hook)(struct vnenv *) = current->after_enable_prepare;
        current->after_enable_prepare = NULL;
        hook(current);
    }
    return last;
}

/* ---- the stack: takes each frame and gives its buffers straight back ---- */

static void stack_receive(void *ctx, const struct virtio_net_rx_frame *frame)
{
    struct vnenv *e = ctx;
    e->frames_received++;
    for (unsigned i = 0; i < frame->count; i++)
        virtio_net_rx_release(e->nic, frame->bufs[i].id);
}

static void stack_tx_done(void *ctx, void *token) { (void)ctx; (void)token; }

/* ---- the environment ---- */

struct vnenv *vnenv_get(bool event_idx, bool packed)
{
    /* virtio_net keeps its devices for good: one per ring mode, probed on
     * first use and shared by the tests, which each leave it idle. */
    static struct vnenv envs[2][2];
    struct vnenv *e = &envs[packed][event_idx];
    current = e;
    if (!e->nic) {
        device_features = VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF |
                          (event_idx ? VIRTIO_F_RING_EVENT_IDX : 0) | (packed ? VIRTIO_F_RING_PACKED : 0);
        struct virtio_net_config cfg = {
            .virtio = { .irq_mode = IRQ_MODE_MSIX, .event_idx = event_idx, .packed = packed },
            .budget = VNENV_BUDGET,
        };
        int before = virtio_net_count();
        if (virtio_net_probe_all(&cfg) != before + 1)
            return NULL;
        e->nic = virtio_net_get(before);
        struct virtio_net_stack stack = { stack_receive, stack_tx_done, NULL, e, NULL };
        virtio_net_attach_stack(e->nic, &stack);
    }
    e->frames_received = 0;
    e->interrupts_delivered = 0;
    e->after_enable_prepare = NULL;
    return e;
}

static void deliver(struct vnenv *e, struct sim *s, unsigned queue)
{
    e->interrupts_delivered++;
    struct virtqueue *vq = (struct virtqueue *)virtio_net_device(e->nic)->vqs[queue];
    (void)s;
    vq->callback(vq);
}

/* Completes `count` receive buffers as one-buffer frames: the device writes
 * the data, then a virtio-net header saying so. */
static void complete_rx(struct vnenv *e, unsigned count, uint32_t len)
{
    struct sim *s = &e->rx;
    sim_take_all(s);
    for (unsigned i = 0; i < count; i++) {
        uint16_t head = sim_in_flight_head(s, 0);
        const struct sim_chain *c = sim_chain(s, head);
        if (!c)
            return;
        uint8_t *buf = (uint8_t *)(uintptr_t)c->bufs[0].addr;
        sim_put_used(s, head, len);
        memset(buf, 0, 12);
        buf[10] = 1; /* num_buffers = 1 (virtio 1.2, 5.1.6) */
    }
}

unsigned vnenv_receive(struct vnenv *e, unsigned count, uint32_t len)
{
    complete_rx(e, count, len);
    if (!sim_flush(&e->rx))
        return 0;
    deliver(e, &e->rx, 0);
    return 1;
}

void vnenv_receive_silently(struct vnenv *e, unsigned count, uint32_t len)
{
    complete_rx(e, count, len);
    (void)sim_flush(&e->rx); /* its decision came too late: no interrupt */
}

void vnenv_run_polls(struct vnenv *e)
{
    (void)e;
    napi_run_scheduled();
}

unsigned vnenv_rx_unseen(const struct vnenv *e)
{
    /* Both count from the probe on, whichever the ring format. */
    const struct virtqueue *vq = virtio_net_device(e->nic)->vqs[0];
    return (unsigned)(e->rx.completed - vq->stats.completed);
}
