/*
 * The host stand-in for the kernel services the receive path calls (see
 * rx_path_env.h). Anything that would be a kernel bug under a well-behaved
 * ring (an error log from the driver or netif glue, a broken-queue report,
 * an lwIP assertion) aborts, so libFuzzer reports it as a crash.
 */
#include "tests/fuzz/rx_path_env.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/random.h"
#include "arch/x86_64/timer.h"
#include "drivers/pci.h"
#include "drivers/virtio/virtio.h"
#include "drivers/virtio/virtio_mmio.h"
#include "drivers/virtio/virtio_net.h"
#include "lib/irq_flags.h"
#include "lib/kheap.h"
#include "lib/log.h"
#include "lib/napi.h"
#include "lib/phys_mem.h"
#include "lib/printf.h"
#include "lib/timer_list.h"
#include "lwip/sys.h"
#include "net/lwip_port.h"
#include "net/net.h"

#define MAX_POLL_ROUNDS 64

/* ---- heap ---- */

void *kmalloc(size_t size) { return size ? malloc(size) : NULL; }
void *kzalloc(size_t size) { return size ? calloc(1, size) : NULL; }
void kfree(void *ptr) { free(ptr); }

const struct heap *kheap_stats(void)
{
    static struct heap none;
    return &none;
}

/* Device-visible memory, page aligned. Not cleared, as the kernel's: filled
 * with a pattern instead, so that a driver reading past what the device wrote
 * sees garbage, not zeros. */
void *dma_alloc_uninit(size_t bytes)
{
    size_t rounded = (bytes + 4095) & ~(size_t)4095;
    void *p = aligned_alloc(4096, rounded);
    if (p)
        memset(p, 0xa5, rounded);
    return p;
}

/* Zeroed, as the kernel's dma_alloc is: the same pages, cleared. */
void *dma_alloc(size_t bytes)
{
    void *p = dma_alloc_uninit(bytes);
    if (p)
        memset(p, 0, (bytes + 4095) & ~(size_t)4095);
    return p;
}

/* A roomy machine: the driver sizes its receive pool from this. */
struct memory_stats memory_get_stats(void) { return (struct memory_stats){ .free_bytes = 256ull << 20 }; }

/* ---- clock, kernel timers, main-loop hooks, NAPI ---- */

static uint64_t now_ns = 1000000000ULL; /* as if booted a second ago */
static struct timer_list timers;

uint64_t env_now_ns(void) { return now_ns; }
uint64_t clock_now_ns(void) { return now_ns; }
void timer_at(struct timer *t, uint64_t deadline_ns, timer_fn fn, void *arg) { timer_list_arm(&timers, t, deadline_ns, fn, arg); }
void timer_after(struct timer *t, uint64_t delay_ns, timer_fn fn, void *arg) { timer_at(t, now_ns + delay_ns, fn, arg); }
bool timer_cancel(struct timer *t) { return timer_list_cancel(&timers, t); }
uint64_t timers_fired(void) { return timers.fired; }

/* The machine's random seed (arch/x86_64/random.c): fixed, so runs repeat. */
uint64_t random_seed(void) { return 0x5EED5EED12345678ULL; }

/* The real NAPI scheduler (lib/napi.c) runs here; one CPU, no interrupts. */
bool irq_save(void) { return false; }
void irq_restore(bool enabled) { (void)enabled; }

/* As the kernel's main loop does: polls, timers, then lwIP's timeouts (kmain's hook). */
static void main_loop_pass(void)
{
    napi_run_scheduled();
    timer_list_run(&timers, now_ns);
    net_run_timeouts();
}

void env_run_polls(void)
{
    for (int i = 0; i < MAX_POLL_ROUNDS && napi_pending(); i++)
        main_loop_pass();
}

void env_advance(uint64_t ns)
{
    now_ns += ns;
    main_loop_pass();
    env_run_polls();
}

/* ---- logging: errors are findings ---- */

static void discard_formatted(const char *fmt, va_list ap)
{
    char line[256]; /* formatted anyway, so ASan sees the arguments read */
    vsnprintf(line, sizeof(line), fmt, ap);
}

bool log_enabled(enum log_level level) { return level <= LOG_INFO; }

void klog(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (level == LOG_ERROR) {
        char line[256];
        vsnprintf(line, sizeof(line), fmt, ap);
        fprintf(stderr, "kernel error log: %s\n", line);
        abort();
    }
    discard_formatted(fmt, ap);
    va_end(ap);
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    discard_formatted(fmt, ap);
    va_end(ap);
}

/* ---- lwIP's platform hooks (net/lwip_port.c in the kernel) ---- */

/* Wraps 2 s of fake time in (the kernel's wraps 5 minutes after boot, as
 * Linux's jiffies do), so every longer stack test and fuzz input runs lwIP
 * across its 32-bit millisecond wrap. */
u32_t sys_now(void) { return (u32_t)(now_ns / 1000000) - 2000u; }

void net_platform_diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    discard_formatted(fmt, ap);
    va_end(ap);
}

void net_platform_assert(const char *file, int line)
{
    fprintf(stderr, "lwIP assertion failed at %s:%d\n", file, line);
    abort();
}

/* Fixed seed, reset before each input: the same input takes the same path. */
static uint64_t random_state;

void env_reset_random(void) { random_state = 0x9E3779B97F4A7C15ULL; }
void net_random_seed(uint64_t seed) { (void)seed; /* the fixed seed above stands */ }

uint32_t net_random32(void)
{
    uint64_t state = random_state ? random_state : 0x9E3779B97F4A7C15ULL;
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    random_state = state;
    return (uint32_t)((state * 0x2545F4914F6CDD1DULL) >> 32);
}

void *net_mem_malloc(size_t size) { return kmalloc(size); }
void *net_mem_calloc(size_t count, size_t size) { return calloc(count, size); }
void net_mem_free(void *ptr) { free(ptr); }

/* ---- the virtio transport: one simulated virtio-net function (its PCI side: tests/common/one_pci_function.c) ---- */

static const struct env_device_ops *device_ops;
static uint64_t device_features;
static uint8_t device_config[12]; /* mac[6], status u16, max_virtqueue_pairs u16, mtu u16 */
static struct virtqueue *queues[2];

void env_set_device(const struct env_device_ops *ops, uint64_t features, const uint8_t mac[6])
{
    device_ops = ops;
    device_features = features;
    memcpy(device_config, mac, 6);
    device_config[6] = 1; /* VIRTIO_NET_S_LINK_UP */
}

struct virtqueue *env_queue(unsigned index) { return index < 2 ? queues[index] : NULL; }

int virtio_pci_attach(struct pci_device *pci, struct virtio_device *vdev)
{
    snprintf(vdev->name, sizeof(vdev->name), "00:02.0");
    vdev->pci = pci;
    return 0;
}

/* The harness passes no virtio-mmio windows; the driver links the call. */
int virtio_mmio_attach(const struct virtio_mmio_window *window, uint32_t device_id, struct virtio_device *vdev)
{
    (void)window;
    (void)device_id;
    (void)vdev;
    return -1;
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
    if (offset + len > sizeof(device_config))
        abort();
    memcpy(buf, device_config + offset, len);
}

/* Set by virtio_driver_ok, cleared when the queues are made: a driver must
 * not notify the device before DRIVER_OK (virtio 1.2, 3.1.1). */
static bool driver_ok;

static void queue_notify(struct virtqueue *vq, void *ctx)
{
    (void)ctx;
    if (!driver_ok) {
        fprintf(stderr, "queue %s notified before DRIVER_OK\n", vq->name);
        abort();
    }
    if (device_ops && device_ops->queue_notified)
        device_ops->queue_notified(vq);
}

static void *queue_alloc(size_t bytes) { return malloc(bytes); }

static void queue_report(const char *message)
{
    /* The simulated device keeps to the ring protocol: a broken queue is a driver bug. */
    fprintf(stderr, "virtqueue broken: %s\n", message);
    abort();
}

int virtio_find_vqs(struct virtio_device *vdev, unsigned nvqs, const char *const names[],
                    void (*const callbacks[])(struct virtqueue *vq), enum irq_mode mode)
{
    driver_ok = false;
    (void)mode;
    if (nvqs > 2)
        return -1;
    static const struct virtqueue_env env = { queue_notify, queue_alloc, free, queue_report, NULL };
    for (unsigned i = 0; i < nvqs; i++) {
        struct virtqueue *vq = calloc(1, sizeof(*vq));
        void *ring = dma_alloc(virtqueue_ring_bytes(ENV_RING_SIZE, vdev->features));
        if (!vq || !ring)
            return -1;
        if (virtqueue_init(vq, names[i], (uint16_t)i, ENV_RING_SIZE, ring, vdev->features, &env) < 0)
            return -1;
        vq->callback = callbacks[i];
        vdev->vqs[i] = vq;
        queues[i] = vq;
    }
    vdev->nvqs = nvqs;
    vdev->irq_mode = VIRTIO_IRQ_MSIX_PER_QUEUE;
    return 0;
}

void virtio_driver_ok(struct virtio_device *vdev)
{
    (void)vdev;
    driver_ok = true;
}

void virtio_fail(struct virtio_device *vdev, const char *why)
{
    fprintf(stderr, "virtio_fail %s: %s\n", vdev->name, why);
    abort();
}

/* The simulated device never sets NEEDS_RESET, and a broken queue already
 * ends the run in queue_report, so the driver's recovery is never reached
 * here (it is tested in QEMU: tests/system/test_device_faults.py). */
bool virtio_needs_reset(struct virtio_device *vdev)
{
    (void)vdev;
    return false;
}

int virtio_reset(struct virtio_device *vdev)
{
    fprintf(stderr, "virtio_reset %s: recovery reached in the fuzzer\n", vdev->name);
    abort();
}

int virtio_restore(struct virtio_device *vdev)
{
    fprintf(stderr, "virtio_restore %s: recovery reached in the fuzzer\n", vdev->name);
    abort();
}
