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
#include "arch/x86_64/random.h"
#include "lib/phys_mem.h"

/* ---- kernel services ---- */

void *kmalloc(size_t size) { return size ? malloc(size) : NULL; }
void *kzalloc(size_t size) { return size ? calloc(1, size) : NULL; }
void kfree(void *ptr) { free(ptr); }

void dma_free(void *ptr, size_t bytes)
{
    (void)bytes;
    free(ptr);
}

/* Not cleared, as the kernel's: filled with a pattern instead, so that a
 * driver reading past what the device wrote sees garbage, not zeros. */
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

/* The machine's random seed (arch/x86_64/random.c): fixed, so runs repeat. */
uint64_t random_seed(void) { return 0x5EED5EED12345678ULL; }

bool irq_save(void) { return false; }
void irq_restore(bool enabled) { (void)enabled; }

/* Time stands still unless a test moves it (vnenv_advance). */
static uint64_t now_ns = 1000000000ULL;
#define MAX_TIMERS 32
static struct timer *timers_seen[MAX_TIMERS];

uint64_t clock_now_ns(void) { return now_ns; }
void timer_at(struct timer *t, uint64_t deadline_ns, timer_fn fn, void *arg)
{
    *t = (struct timer){ .deadline = deadline_ns, .fn = fn, .arg = arg, .armed = true };
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (timers_seen[i] == t)
            return;
        if (!timers_seen[i]) {
            timers_seen[i] = t;
            return;
        }
    }
    abort();
}
void timer_after(struct timer *t, uint64_t delay_ns, timer_fn fn, void *arg) { timer_at(t, clock_now_ns() + delay_ns, fn, arg); }
bool timer_cancel(struct timer *t)
{
    bool was = t->armed;
    t->armed = false;
    return was;
}

/* The driver's error lines are findings: the tests count them, and may read
 * the text of the latest ones (a test empties vnenv_errors first). */
unsigned long vnenv_error_lines;
char vnenv_errors[1024];
bool log_enabled(enum log_level level) { return level <= LOG_INFO; }
void klog(enum log_level level, const char *fmt, ...)
{
    if (level != LOG_ERROR)
        return;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
    size_t used = strlen(vnenv_errors);
    snprintf(vnenv_errors + used, sizeof vnenv_errors - used, "%s\n", line);
    vnenv_error_lines++;
}

/* ---- the transport: one modern virtio-net function (its PCI side: tests/common/one_pci_function.c) ---- */

static struct vnenv *current;
static uint64_t device_features;
static uint8_t device_config[VNENV_CONFIG_SIZE];

struct virtio_device *attached[8];
unsigned attached_count;

int virtio_pci_attach(struct pci_device *pci, struct virtio_device *vdev)
{
    /* The transport keeps the devices it attached, failed ones too (the
     * driver never frees those: they may hold ring addresses). */
    if (attached_count < sizeof(attached) / sizeof(attached[0]))
        attached[attached_count++] = vdev;
    snprintf(vdev->name, sizeof(vdev->name), "00:02.0");
    vdev->pci = pci;
    return 0;
}

int virtio_negotiate(struct virtio_device *vdev, uint64_t wanted)
{
    /* As virtio.c does: the driver vets what is offered before accepting. */
    if (vdev->vet_features)
        wanted = vdev->vet_features(vdev, device_features, wanted);
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

/* Every env probed, so a notification reaches the sim of the device it is for. */
static struct vnenv *all_envs[VIRTIO_NET_MAX_DEVICES];

static bool env_owns(const struct vnenv *e, const struct virtqueue *vq)
{
    return e->nic && (virtio_net_device(e->nic)->vqs[0] == vq || virtio_net_device(e->nic)->vqs[1] == vq);
}

static struct vnenv *env_of(struct virtqueue *vq)
{
    for (int i = 0; i < VIRTIO_NET_MAX_DEVICES; i++)
        if (all_envs[i] && env_owns(all_envs[i], vq))
            return all_envs[i];
    return current; /* still probing it */
}

static struct sim *sim_of(struct virtqueue *vq) { return vq->index == 0 ? &env_of(vq)->rx : &env_of(vq)->tx; }

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
    if (current && vq->index == 0 && env_owns(current, vq) && current->after_enable_prepare) {
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
    struct vnenv_frame *l = &e->last;
    *l = (struct vnenv_frame){ .count = frame->count, .gso_type = frame->gso_type, .gso_size = frame->gso_size,
                               .data_valid = frame->data_valid };
    for (unsigned i = 0; i < frame->count; i++) {
        for (uint32_t k = 0; k < frame->bufs[i].len && l->bytes + k < sizeof(l->head); k++)
            l->head[l->bytes + k] = frame->bufs[i].data[k];
        l->bytes += frame->bufs[i].len;
        virtio_net_rx_release(e->nic, frame->bufs[i].id);
    }
}

static void stack_tx_done(void *ctx, void *token)
{
    struct vnenv *e = ctx;
    (void)token;
    e->tx_done++;
}

static void stack_tx_wake(void *ctx)
{
    struct vnenv *e = ctx;
    e->tx_wakes++;
}

/* ---- the environment ---- */

static void reset_counters(struct vnenv *e)
{
    e->frames_received = 0;
    e->interrupts_delivered = 0;
    e->tx_done = 0;
    e->tx_wakes = 0;
    e->after_enable_prepare = NULL;
}

struct vnenv *vnenv_probe(uint64_t features, const uint8_t config[VNENV_CONFIG_SIZE])
{
    /* virtio_net keeps its devices for good: each probed once and shared by
     * the tests, which each leave it idle. */
    static struct vnenv envs[VIRTIO_NET_MAX_DEVICES];
    static unsigned used;
    if (used == VIRTIO_NET_MAX_DEVICES || virtio_net_count() == VIRTIO_NET_MAX_DEVICES)
        return NULL;
    struct vnenv *e = &envs[used];
    current = e;
    device_features = features | VIRTIO_F_VERSION_1;
    memcpy(device_config, config, VNENV_CONFIG_SIZE);
    struct virtio_net_config cfg = {
        .virtio = { .irq_mode = IRQ_MODE_MSIX, .event_idx = (features & VIRTIO_F_RING_EVENT_IDX) != 0,
                    .packed = (features & VIRTIO_F_RING_PACKED) != 0 },
        .budget = VNENV_BUDGET,
    };
    int before = virtio_net_count();
    if (virtio_net_probe_all(&cfg) != before + 1)
        return NULL;
    all_envs[used++] = e;
    e->nic = virtio_net_get(before);
    struct virtio_net_stack stack = { .receive = stack_receive, .tx_done = stack_tx_done, .tx_wake = stack_tx_wake,
                                      .ctx = e };
    virtio_net_attach_stack(e->nic, &stack);
    reset_counters(e);
    return e;
}

struct vnenv *vnenv_get(bool event_idx, bool packed)
{
    /* One device per ring mode, with the checksum and segmentation offloads
     * both ways (the tests that use neither do not notice them). */
    static struct vnenv *envs[2][2];
    static const uint8_t config[VNENV_CONFIG_SIZE] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 1, 0 }; /* mac, LINK_UP */
    if (!envs[packed][event_idx])
        envs[packed][event_idx] =
            vnenv_probe(VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_CSUM |
                            VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 |
                            VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 | (event_idx ? VIRTIO_F_RING_EVENT_IDX : 0) |
                            (packed ? VIRTIO_F_RING_PACKED : 0),
                        config);
    struct vnenv *e = envs[packed][event_idx];
    if (e) {
        current = e;
        reset_counters(e);
    }
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

bool vnenv_receive_raw(struct vnenv *e, const uint8_t *bytes, const uint32_t *lens, unsigned nbufs)
{
    struct sim *s = &e->rx;
    sim_take_all(s);
    uint32_t pos = 0;
    for (unsigned i = 0; i < nbufs; i++) {
        uint16_t head = sim_in_flight_head(s, 0);
        const struct sim_chain *c = sim_chain(s, head);
        if (!c)
            abort(); /* the test asked for more buffers than are posted */
        uint8_t *buf = (uint8_t *)(uintptr_t)c->bufs[0].addr;
        sim_put_used(s, head, lens[i]);
        memcpy(buf, bytes + pos, lens[i]);
        pos += lens[i];
    }
    if (!sim_flush(s))
        return false;
    deliver(e, s, 0);
    return true;
}

void vnenv_advance(uint64_t ns)
{
    now_ns += ns;
    for (int i = 0; i < MAX_TIMERS && timers_seen[i]; i++) {
        struct timer *t = timers_seen[i];
        if (t->armed && t->deadline <= now_ns) {
            t->armed = false;
            t->fn(t, t->arg);
        }
    }
}

unsigned vnenv_transmit(struct vnenv *e, unsigned count)
{
    struct sim *s = &e->tx;
    sim_take_all(s);
    unsigned delivered = 0;
    for (unsigned i = 0; i < count; i++) {
        uint16_t head = sim_in_flight_head(s, 0);
        if (!sim_chain(s, head))
            break;
        if (sim_complete(s, head, 0)) {
            deliver(e, s, 1);
            delivered++;
        }
    }
    return delivered;
}

void vnenv_settle(struct vnenv *e)
{
    struct virtqueue *rx = virtio_net_device(e->nic)->vqs[0];
    /* Bounded: a poll takes VNENV_BUDGET frames at most, a ring is 64. */
    for (int i = 0; i < 64 && napi_pending(); i++)
        napi_run_scheduled();
    unsigned empty = virtqueue_free_count(rx);
    if (empty) {
        unsigned long frames = e->frames_received;
        vnenv_receive(e, virtqueue_size(rx) / 2 + 1 - empty, 60);
        for (int i = 0; i < 64 && napi_pending(); i++)
            napi_run_scheduled();
        e->frames_received = frames;
    }
}
