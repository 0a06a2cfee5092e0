#include "drivers/virtio/virtio_net.h"

#include "drivers/virtio/net_buffers.h"
#include "arch/x86_64/barrier.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/timer.h"
#include "boot/kheap.h"
#include "boot/memory.h"
#include "lib/errno.h"
#include "lib/inet_csum.h"
#include "lib/log.h"
#include "lib/string.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_NET_TRANSITIONAL 0x1000
#define VIRTIO_NET_MODERN 0x1041

/* struct virtio_net_config (virtio 1.2, 5.1.4). */
#define VIRTIO_NET_CONFIG_MAC 0
#define VIRTIO_NET_CONFIG_STATUS 6
#define VIRTIO_NET_CONFIG_MTU 10
#define VIRTIO_NET_S_LINK_UP 1

#define RX_QUEUE 0
#define TX_QUEUE 1
#define ETH_FRAME_MTU 1500
#define STATS_PERIOD_NS 5000000000ULL
#define WATCHDOG_PERIOD_NS 100000000ULL /* 100 ms */
#define TX_TIMEOUT_TICKS 20               /* 2 s without a completion, kicks included: reset */

/* struct virtio_net_hdr (5.1.6); num_buffers exists with MRG_RXBUF or VERSION_1. */
struct virtio_net_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
} __attribute__((packed));

struct tx_slot {
    struct virtio_net_hdr hdr;
    void *token;
};

struct virtio_net {
    struct virtio_device vdev;
    uint8_t mac[6];
    bool link_up;
    uint16_t mtu;
    unsigned hdr_len;
    bool mergeable;
    bool header_apart;  /* no ANY_LAYOUT (legacy): the header needs its own descriptor */
    bool busy_poll;     /* irq=poll: never sleep, never take interrupts */
    struct napi napi;
    struct virtio_net_stack stack;
    bool has_stack;
    /* Receive buffers: twice the ring, so the stack may hold a ringful while the ring stays full. */
    uint8_t *rx_memory;
    struct rx_pool rx_pool;
    /* Transmit header slots, one per ring entry. */
    struct tx_slot *tx_slot_mem;
    struct tx_slots tx_slots;
    bool tx_wants_interrupt; /* the ring filled up: a completion must wake the poll */
    struct timer stats_timer;
    struct timer watchdog;
    bool watchdog_armed;
    uint64_t watchdog_completed; /* tx completions seen at the last watchdog tick */
    unsigned tx_stalled_ticks;   /* watchdog ticks in a row that saw no completion */
    bool tx_timed_out;           /* the poll must reset the device */
    volatile bool config_pending; /* a configuration interrupt came: the poll reads status and link */
    bool failed;                 /* recovery failed: the device is FAILED and the NIC stays down */
    bool fault_bad_used_pending; /* faults=on: plant a bad used entry once transmit is idle */
    struct virtio_net_stats stats;
};

static struct virtio_net *nics[VIRTIO_NET_MAX_DEVICES];
static int nic_count;

int virtio_net_count(void) { return nic_count; }
struct virtio_net *virtio_net_get(int index) { return index >= 0 && index < nic_count ? nics[index] : NULL; }
const uint8_t *virtio_net_mac(const struct virtio_net *nic) { return nic->mac; }
const char *virtio_net_name(const struct virtio_net *nic) { return nic->vdev.name; }
bool virtio_net_link_up(const struct virtio_net *nic) { return nic->link_up; }
uint16_t virtio_net_mtu(const struct virtio_net *nic) { return nic->mtu; }
const struct virtio_net_stats *virtio_net_stats(const struct virtio_net *nic) { return &nic->stats; }
const struct virtio_device *virtio_net_device(const struct virtio_net *nic) { return &nic->vdev; }
uint16_t virtio_net_rx_buffer_count(const struct virtio_net *nic) { return nic->rx_pool.count; }
uint16_t virtio_net_rx_buffers_held(const struct virtio_net *nic) { return nic->rx_pool.held; }

bool virtio_net_tx_csum_offload(const struct virtio_net *nic)
{
    return virtio_has_feature(&nic->vdev, VIRTIO_NET_F_CSUM);
}

static struct virtqueue *rxq(struct virtio_net *nic) { return nic->vdev.vqs[RX_QUEUE]; }
static struct virtqueue *txq(struct virtio_net *nic) { return nic->vdev.vqs[TX_QUEUE]; }
static uint8_t *rx_buffer(struct virtio_net *nic, uint16_t id) { return nic->rx_memory + (size_t)id * VIRTIO_NET_RX_BUFFER_SIZE; }

/* Buffer ids travel through the ring as tokens; +1 keeps them non-NULL. */
static void *rx_token(uint16_t id) { return (void *)(uintptr_t)(id + 1u); }
static uint16_t rx_token_id(void *token) { return (uint16_t)((uintptr_t)token - 1u); }

/* ---- receive ---- */

static int rx_post(struct virtio_net *nic, uint16_t id)
{
    uint8_t *buf = rx_buffer(nic, id);
    struct vq_sg sg[2] = { { (uint64_t)(uintptr_t)buf, VIRTIO_NET_RX_BUFFER_SIZE } };
    unsigned n = 1;
    if (nic->header_apart) {
        sg[0].len = nic->hdr_len;
        sg[1] = (struct vq_sg){ (uint64_t)(uintptr_t)(buf + nic->hdr_len), VIRTIO_NET_RX_BUFFER_SIZE - nic->hdr_len };
        n = 2;
    }
    return virtqueue_add(rxq(nic), sg, 0, n, rx_token(id));
}

/* Posts free buffers until the ring or the pool runs out; kicks once. */
static void rx_refill(struct virtio_net *nic)
{
    unsigned posted = 0;
    unsigned per_buffer = nic->header_apart ? 2 : 1;
    while (virtqueue_free_count(rxq(nic)) >= per_buffer) {
        int id = rx_pool_take(&nic->rx_pool);
        if (id < 0) {
            nic->stats.rx_refill_empty++; /* retried on the next poll, which a release schedules */
            break;
        }
        if (rx_post(nic, (uint16_t)id) < 0) {
            rx_pool_untake(&nic->rx_pool, (uint16_t)id);
            break;
        }
        posted++;
    }
    if (posted)
        virtqueue_kick(rxq(nic));
}

void virtio_net_rx_release(struct virtio_net *nic, uint16_t id)
{
    if (rx_pool_release(&nic->rx_pool, id) < 0) {
        log_error("virtio-net: %s: release of receive buffer %u that the stack does not hold", nic->vdev.name, id);
        return;
    }
    if (rx_should_refill(virtqueue_free_count(rxq(nic)), virtqueue_size(rxq(nic))))
        napi_schedule(&nic->napi);
}

/* Takes a completed buffer off the ring; false when none (or the queue broke). */
static bool rx_take(struct virtio_net *nic, uint16_t *id, uint32_t *len)
{
    void *token = virtqueue_get_buf(rxq(nic), len);
    if (!token)
        return false;
    *id = rx_token_id(token);
    /* The virtqueue checked the id is a chain in flight; the pool agrees or something is deeply wrong. */
    if (rx_pool_receive(&nic->rx_pool, *id) < 0) {
        log_error("virtio-net: %s: device returned receive buffer %u that was not posted", nic->vdev.name, *id);
        return false;
    }
    return true;
}

/* Finishes a partial checksum (NEEDS_CSUM): lwIP has no way to take one. */
static bool rx_complete_checksum(struct virtio_net_rx_frame *f, uint32_t start, uint32_t offset)
{
    uint32_t total = 0;
    for (unsigned i = 0; i < f->count; i++)
        total += f->bufs[i].len;
    if (start + offset + 2 > total)
        return false;
    struct inet_csum c;
    inet_csum_init(&c);
    uint32_t pos = 0;
    for (unsigned i = 0; i < f->count; i++) {
        uint32_t b_start = pos, b_end = pos + f->bufs[i].len;
        if (b_end > start) {
            uint32_t from = start > b_start ? start - b_start : 0;
            inet_csum_add(&c, f->bufs[i].data + from, f->bufs[i].len - from);
        }
        pos = b_end;
    }
    uint16_t sum = inet_csum_result(&c);
    uint8_t bytes[2] = { (uint8_t)(sum >> 8), (uint8_t)sum };
    /* The field may straddle two buffers: write it byte by byte. */
    for (int k = 0; k < 2; k++) {
        uint32_t at = start + offset + (uint32_t)k;
        for (unsigned i = 0; i < f->count; i++) {
            if (at < f->bufs[i].len) {
                f->bufs[i].data[at] = bytes[k];
                break;
            }
            at -= f->bufs[i].len;
        }
    }
    return true;
}

static void rx_drop(struct virtio_net *nic, const struct virtio_net_rx_frame *f)
{
    for (unsigned i = 0; i < f->count; i++)
        virtio_net_rx_release(nic, f->bufs[i].id);
}

/* Receives one frame (or drops a malformed one); false when the ring held nothing. */
static bool rx_one(struct virtio_net *nic)
{
    uint16_t id;
    uint32_t len;
    if (!rx_take(nic, &id, &len))
        return false;
    struct virtio_net_rx_frame frame = { .count = 1 };
    uint8_t *buf = rx_buffer(nic, id);
    frame.bufs[0] = (struct virtio_net_rx_buffer_ref){ id, buf + nic->hdr_len, len - nic->hdr_len };
    if (len < nic->hdr_len) {
        frame.bufs[0].len = 0;
        nic->stats.rx_drop_bad_header++;
        rx_drop(nic, &frame);
        return true;
    }
    struct virtio_net_hdr hdr;
    memcpy(&hdr, buf, nic->hdr_len);
    unsigned buffers = nic->mergeable ? hdr.num_buffers : 1;
    if (buffers == 0 || buffers > VIRTIO_NET_MAX_RX_MERGE) {
        nic->stats.rx_drop_bad_header++;
        rx_drop(nic, &frame);
        /* Its other buffers follow in the ring: drop them too, or each would be
         * read as a frame of its own, payload taken for a header. */
        for (unsigned k = 1; k < buffers && rx_take(nic, &id, &len); k++)
            virtio_net_rx_release(nic, id);
        return true;
    }
    while (frame.count < buffers) {
        if (!rx_take(nic, &id, &len)) {
            nic->stats.rx_drop_incomplete++;
            rx_drop(nic, &frame);
            return true;
        }
        frame.bufs[frame.count++] = (struct virtio_net_rx_buffer_ref){ id, rx_buffer(nic, id), len };
    }
    frame.data_valid = hdr.flags & VIRTIO_NET_HDR_F_DATA_VALID;
    if (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        if (!rx_complete_checksum(&frame, hdr.csum_start, hdr.csum_offset)) {
            nic->stats.rx_drop_bad_header++;
            rx_drop(nic, &frame);
            return true;
        }
        nic->stats.rx_csum_completed++;
        frame.data_valid = true;
    }
    uint32_t bytes = 0;
    for (unsigned i = 0; i < frame.count; i++)
        bytes += frame.bufs[i].len;
    nic->stats.rx_packets++;
    nic->stats.rx_bytes += bytes;
    if (!nic->has_stack) {
        nic->stats.rx_drop_no_stack++;
        rx_drop(nic, &frame);
        return true;
    }
    nic->stack.receive(nic->stack.ctx, &frame);
    return true;
}

/* ---- the transmit watchdog ----
 * QEMU 7.2 under TCG with one vCPU drops the guest's memory barriers (fixed
 * upstream in 8.1: "tcg: Do not elide memory barriers for !CF_PARALLEL in
 * system mode"), so the event-index handshake can lose a notification: the
 * device goes idle with frames waiting and no later frame ever crosses its
 * stale avail_event. While frames are in flight, a tick every 100 ms that saw
 * no completion sends a notification (always allowed) and polls; with nothing
 * in flight the watchdog stops, so an idle guest stays tickless. */

static void watchdog_tick(struct timer *t, void *arg);

static void watchdog_arm(struct virtio_net *nic)
{
    if (nic->watchdog_armed || nic->busy_poll)
        return;
    nic->watchdog_armed = true;
    nic->watchdog_completed = nic->stats.tx_completed;
    timer_after(&nic->watchdog, WATCHDOG_PERIOD_NS, watchdog_tick, nic);
}

static void watchdog_tick(struct timer *t, void *arg)
{
    struct virtio_net *nic = arg;
    (void)t;
    nic->watchdog_armed = false;
    if (nic->tx_slots.in_use == 0) {
        nic->tx_stalled_ticks = 0;
        return;
    }
    if (nic->stats.tx_completed == nic->watchdog_completed && !virtqueue_has_used(txq(nic))) {
        nic->stats.tx_watchdog_kicks++;
        virtqueue_notify(txq(nic));
        if (++nic->tx_stalled_ticks >= TX_TIMEOUT_TICKS)
            nic->tx_timed_out = true; /* a device that stopped (e.g. a legacy one after an error) */
    } else {
        nic->tx_stalled_ticks = 0;
    }
    napi_schedule(&nic->napi); /* reap what completed, and look at the receive ring too */
    watchdog_arm(nic);
}

/* ---- transmit ---- */

static void tx_clean(struct virtio_net *nic)
{
    uint32_t len;
    struct tx_slot *slot;
    while ((slot = virtqueue_get_buf(txq(nic), &len)) != NULL) {
        void *token = slot->token;
        slot->token = NULL;
        tx_slots_put(&nic->tx_slots, (uint16_t)(slot - nic->tx_slot_mem));
        nic->stats.tx_completed++;
        if (nic->has_stack)
            nic->stack.tx_done(nic->stack.ctx, token);
    }
}

int virtio_net_xmit(struct virtio_net *nic, const struct vq_sg *frags, unsigned count, void *token,
                    const struct virtio_net_tx_csum *csum)
{
    if (count == 0 || count > VIRTIO_NET_MAX_TX_FRAGS || !token)
        return -EINVAL;
    if (nic->failed)
        return -EIO;
    if (virtqueue_is_broken(txq(nic))) {
        napi_schedule(&nic->napi); /* the poll resets the device */
        return -EIO;
    }
    uint16_t index = tx_slots_get(&nic->tx_slots);
    if (index == TX_SLOT_NONE) {
        tx_clean(nic);
        index = tx_slots_get(&nic->tx_slots);
    }
    if (index == TX_SLOT_NONE)
        goto ring_full;
    struct tx_slot *slot = &nic->tx_slot_mem[index];
    memset(&slot->hdr, 0, sizeof(slot->hdr));
    if (csum) {
        slot->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        slot->hdr.csum_start = csum->start;
        slot->hdr.csum_offset = csum->offset;
    }
    struct vq_sg sg[VIRTIO_NET_MAX_TX_FRAGS + 1];
    sg[0] = (struct vq_sg){ (uint64_t)(uintptr_t)&slot->hdr, nic->hdr_len };
    uint32_t bytes = 0;
    for (unsigned i = 0; i < count; i++) {
        sg[1 + i] = frags[i];
        bytes += frags[i].len;
    }
    int rc = virtqueue_add(txq(nic), sg, count + 1, 0, slot);
    if (rc == -ENOSPC) {
        tx_clean(nic);
        rc = virtqueue_add(txq(nic), sg, count + 1, 0, slot);
    }
    if (rc < 0) {
        tx_slots_put(&nic->tx_slots, index);
        if (rc == -ENOSPC)
            goto ring_full;
        return rc;
    }
    slot->token = token;
    virtqueue_kick(txq(nic));
    watchdog_arm(nic);
    nic->stats.tx_packets++;
    nic->stats.tx_bytes += bytes;
    return 0;

ring_full:
    nic->stats.tx_ring_full++;
    /* Kick even though the event index says the device is still busy with the
     * ring: QEMU 7.2 can stop after a burst of 256 packets that it sent while
     * its backend was congested, with the event index behind our avail index,
     * and then waits for a kick no event-index driver would send (fixed in
     * QEMU 8.0: "virtio-net: fix lost wake-up in tx_complete"). A spurious
     * notification is always allowed (virtio 1.2, 2.7.13). */
    virtqueue_notify(txq(nic));
    nic->stats.tx_forced_kicks++;
    /* Ask for a completion interrupt so the poll cleans the ring soon. */
    if (!nic->busy_poll && !nic->tx_wants_interrupt) {
        nic->tx_wants_interrupt = true;
        if (!virtqueue_enable_cb(txq(nic)))
            napi_schedule(&nic->napi);
    }
    return -ENOSPC;
}

/* ---- recovery: NEEDS_RESET, broken queues, transmit timeout ----
 * After Linux's virtnet_freeze/virtnet_restore: reset the device, take back
 * every buffer it held (frames in flight are dropped: TCP retransmits them),
 * re-create the queues in their old memory, refill and set DRIVER_OK again.
 * Receive buffers the stack holds stay held and come back as it frees them.
 * Runs in the poll, never in an interrupt handler. */

static void update_link(struct virtio_net *nic);

static void reclaim_buffers(struct virtio_net *nic)
{
    void *token;
    while ((token = virtqueue_detach_unused(txq(nic))) != NULL) {
        struct tx_slot *slot = token;
        void *frame = slot->token;
        slot->token = NULL;
        tx_slots_put(&nic->tx_slots, (uint16_t)(slot - nic->tx_slot_mem));
        if (!frame)
            continue; /* a chain planted by fault injection */
        nic->stats.tx_dropped_by_reset++;
        if (nic->has_stack)
            nic->stack.tx_done(nic->stack.ctx, frame);
    }
    while ((token = virtqueue_detach_unused(rxq(nic))) != NULL)
        rx_pool_untake(&nic->rx_pool, rx_token_id(token));
}

static void recover(struct virtio_net *nic, const char *why)
{
    struct virtio_device *v = &nic->vdev;
    uint64_t start = clock_now_ns();
    uint64_t dropped_before = nic->stats.tx_dropped_by_reset;
    log_warn("virtio-net: %s: %s: resetting the device", v->name, why);
    /* The interrupt handlers touch the queues' callback state: keep them out until the rings are new. */
    irq_disable();
    int rc = virtio_reset(v);
    if (rc == 0) {
        reclaim_buffers(nic);
        rc = virtio_restore(v);
    }
    if (rc < 0) {
        irq_enable();
        if (rc == -ETIMEDOUT)
            virtio_fail(v, "the device did not finish its reset");
        nic->failed = true;
        log_error("virtio-net: %s: recovery failed (error %d); the interface stays down", v->name, rc);
        if (nic->link_up && nic->has_stack && nic->stack.link_changed)
            nic->stack.link_changed(nic->stack.ctx, false);
        nic->link_up = false;
        return;
    }
    nic->tx_wants_interrupt = false;
    nic->tx_timed_out = false;
    nic->tx_stalled_ticks = 0;
    virtqueue_disable_cb(txq(nic));
    if (nic->busy_poll)
        virtqueue_disable_cb(rxq(nic));
    rx_refill(nic);
    virtio_driver_ok(v);
    irq_enable();
    nic->stats.device_resets++;
    update_link(nic);
    log_info("virtio-net: %s: reset done in %llu us, %u receive buffers posted, %llu frames in flight dropped",
             v->name, (unsigned long long)((clock_now_ns() - start) / 1000), nic->rx_pool.posted,
             (unsigned long long)(nic->stats.tx_dropped_by_reset - dropped_before));
}

/* Resets the device when a queue broke or transmit timed out; true if it did. */
static bool recover_if_needed(struct virtio_net *nic)
{
    if (virtqueue_is_broken(rxq(nic)) || virtqueue_is_broken(txq(nic))) {
        nic->stats.queues_broken++;
        recover(nic, virtqueue_is_broken(rxq(nic)) ? "receive queue broken" : "transmit queue broken");
        return true;
    }
    if (nic->tx_timed_out) {
        nic->stats.tx_timeouts++;
        recover(nic, "transmit timed out (no completion for 2 s)");
        return true;
    }
    return false;
}

static void handle_config_change(struct virtio_net *nic)
{
    if (virtio_needs_reset(&nic->vdev)) {
        nic->stats.needs_reset++;
        recover(nic, "device set NEEDS_RESET");
        return;
    }
    update_link(nic);
}

/* ---- fault injection (faults=on only; tests the recovery above) ---- */

/* Adds a one-buffer transmit chain over a free slot's header that carries no
 * frame (token NULL): device-readable if out, else device-writable. No kick. */
static int add_fault_chain(struct virtio_net *nic, bool out)
{
    uint16_t index = tx_slots_get(&nic->tx_slots);
    if (index == TX_SLOT_NONE)
        return -ENOSPC;
    struct tx_slot *slot = &nic->tx_slot_mem[index];
    slot->token = NULL;
    struct vq_sg sg = { (uint64_t)(uintptr_t)&slot->hdr, nic->hdr_len };
    int rc = virtqueue_add(txq(nic), &sg, out ? 1 : 0, out ? 0 : 1, slot);
    if (rc < 0)
        tx_slots_put(&nic->tx_slots, index);
    return rc;
}

/* A transmit chain with no device-readable buffer: QEMU's virtio-net calls
 * virtio_error() ("header not in first element"), which sets NEEDS_RESET and
 * raises a configuration interrupt on a VERSION_1 device, and silently stops
 * a legacy one (the transmit timeout finds that). */
static int inject_device_error(struct virtio_net *nic)
{
    int rc = add_fault_chain(nic, false);
    if (rc < 0)
        return rc;
    virtqueue_notify(txq(nic));
    watchdog_arm(nic);
    return 0;
}

/* What a buggy device would write: a used entry naming an id that does not
 * exist. Planted only while nothing else is in flight on the transmit
 * queue, behind a chain the device is never told about, so the device has no
 * reason to touch this ring meanwhile; the next tx_clean finds the entry. */
static void plant_bad_used_entry(struct virtio_net *nic)
{
    nic->fault_bad_used_pending = false;
    if (add_fault_chain(nic, true) < 0) {
        log_error("virtio-net: %s: fault injection: no room for the chain", nic->vdev.name);
        return;
    }
    virtqueue_plant_used(txq(nic), virtqueue_size(txq(nic)) + 7u, 0);
    tx_clean(nic);
}

int virtio_net_inject_fault(struct virtio_net *nic, enum virtio_net_fault fault)
{
    switch (fault) {
    case VIRTIO_NET_FAULT_DEVICE_ERROR:
        log_warn("virtio-net: %s: fault injection: a transmit chain the device must reject", nic->vdev.name);
        return inject_device_error(nic);
    case VIRTIO_NET_FAULT_BAD_USED_ID:
        log_warn("virtio-net: %s: fault injection: a used entry with an out-of-range id", nic->vdev.name);
        nic->fault_bad_used_pending = true;
        napi_schedule(&nic->napi);
        return 0;
    }
    return -EINVAL;
}

/* ---- interrupts and the poll ---- */

static void rx_interrupt(struct virtqueue *vq)
{
    struct virtio_net *nic = vq->priv;
    nic->stats.rx_interrupts++;
    virtqueue_disable_cb(vq);
    napi_schedule(&nic->napi);
}

static void tx_interrupt(struct virtqueue *vq)
{
    struct virtio_net *nic = vq->priv;
    nic->stats.tx_interrupts++;
    virtqueue_disable_cb(vq);
    napi_schedule(&nic->napi);
}

static int virtio_net_poll(struct napi *napi, int budget)
{
    struct virtio_net *nic = napi->priv;
    nic->stats.polls++;
    if (nic->failed) {
        napi_complete(napi);
        return 0;
    }
    if (nic->config_pending) {
        nic->config_pending = false;
        handle_config_change(nic);
    }
    tx_clean(nic);
    int done = 0;
    while (done < budget && rx_one(nic))
        done++;
    if (nic->fault_bad_used_pending && nic->tx_slots.in_use == 0)
        plant_bad_used_entry(nic);
    if (recover_if_needed(nic))
        return done; /* stays scheduled: the next run receives on the fresh rings */
    if (rx_should_refill(virtqueue_free_count(rxq(nic)), virtqueue_size(rxq(nic))))
        rx_refill(nic);
    if (nic->busy_poll)
        return done; /* stays scheduled: the main loop never sleeps */
    if (done >= budget) {
        nic->stats.budget_exhausted++;
        return done; /* more waiting: stay scheduled, let timers and other polls run first */
    }
    napi_complete(napi);
    /* Re-enable, then look again: a frame that arrived in between raised no
     * interrupt (callbacks were off) and would otherwise wait for the next one. */
    uint16_t last = virtqueue_enable_cb_prepare(rxq(nic));
    if (virtqueue_poll(rxq(nic), last)) {
        virtqueue_disable_cb(rxq(nic));
        napi_schedule(napi);
    }
    if (nic->tx_wants_interrupt) {
        if (nic->tx_slots.in_use < nic->tx_slots.count && virtqueue_free_count(txq(nic)) > 0) {
            nic->tx_wants_interrupt = false;
            virtqueue_disable_cb(txq(nic));
        } else if (!virtqueue_enable_cb(txq(nic))) {
            virtqueue_disable_cb(txq(nic));
            napi_schedule(napi);
        }
    }
    return done;
}

/* ---- configuration ---- */

static void read_link(struct virtio_net *nic)
{
    uint16_t status = VIRTIO_NET_S_LINK_UP; /* without STATUS the link is assumed up (5.1.4.2) */
    if (virtio_has_feature(&nic->vdev, VIRTIO_NET_F_STATUS))
        virtio_config_read(&nic->vdev, VIRTIO_NET_CONFIG_STATUS, &status, sizeof(status));
    nic->link_up = status & VIRTIO_NET_S_LINK_UP;
}

/* In interrupt context: only note it; the poll reads the device. */
static void config_changed(struct virtio_device *vdev)
{
    struct virtio_net *nic = vdev->priv;
    nic->config_pending = true;
    napi_schedule(&nic->napi);
}

static void update_link(struct virtio_net *nic)
{
    bool was_up = nic->link_up;
    read_link(nic);
    if (was_up == nic->link_up)
        return;
    log_info("virtio-net: %s: link %s", nic->vdev.name, nic->link_up ? "up" : "down");
    if (nic->has_stack && nic->stack.link_changed)
        nic->stack.link_changed(nic->stack.ctx, nic->link_up);
}

void virtio_net_attach_stack(struct virtio_net *nic, const struct virtio_net_stack *stack)
{
    nic->stack = *stack;
    nic->has_stack = true;
}

static void log_stats(struct timer *t, void *arg)
{
    struct virtio_net *nic = arg;
    const struct virtio_net_stats *s = &nic->stats;
    log_debug("virtio-net: %s: rx %llu pkts %llu B %llu irqs, tx %llu pkts %llu B %llu irqs, polls %llu "
              "(budget out %llu), drops hdr %llu incomplete %llu, refill empty %llu, tx ring full %llu (forced kicks %llu)",
              nic->vdev.name, (unsigned long long)s->rx_packets, (unsigned long long)s->rx_bytes,
              (unsigned long long)s->rx_interrupts, (unsigned long long)s->tx_packets,
              (unsigned long long)s->tx_bytes, (unsigned long long)s->tx_interrupts, (unsigned long long)s->polls,
              (unsigned long long)s->budget_exhausted, (unsigned long long)s->rx_drop_bad_header,
              (unsigned long long)s->rx_drop_incomplete, (unsigned long long)s->rx_refill_empty,
              (unsigned long long)s->tx_ring_full, (unsigned long long)s->tx_forced_kicks);
    timer_after(t, STATS_PERIOD_NS, log_stats, nic);
}

static int setup_buffers(struct virtio_net *nic)
{
    uint16_t rx_count = (uint16_t)(2 * virtqueue_size(rxq(nic)));
    uint16_t tx_count = virtqueue_size(txq(nic));
    nic->rx_memory = dma_alloc((size_t)rx_count * VIRTIO_NET_RX_BUFFER_SIZE);
    uint8_t *rx_state = kzalloc(rx_count);
    uint16_t *rx_free = kzalloc(sizeof(uint16_t) * rx_count);
    nic->tx_slot_mem = kzalloc(sizeof(struct tx_slot) * tx_count);
    uint16_t *tx_next = kzalloc(sizeof(uint16_t) * tx_count);
    if (!nic->rx_memory || !rx_state || !rx_free || !nic->tx_slot_mem || !tx_next)
        return -ENOMEM;
    rx_pool_init(&nic->rx_pool, rx_count, rx_state, rx_free);
    tx_slots_init(&nic->tx_slots, tx_count, tx_next);
    return 0;
}

static int probe_one(struct pci_device *pci, const struct kernel_options *opts)
{
    struct virtio_net *nic = kzalloc(sizeof(*nic));
    if (!nic)
        return -ENOMEM;
    if (virtio_pci_attach(pci, &nic->vdev) < 0)
        goto fail;
    nic->vdev.priv = nic;
    nic->vdev.config_changed = config_changed;
    uint64_t wanted = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_CSUM |
                      VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_MTU | VIRTIO_F_ANY_LAYOUT;
    if (opts->virtio_indirect)
        wanted |= VIRTIO_F_RING_INDIRECT_DESC;
    if (opts->virtio_event_idx)
        wanted |= VIRTIO_F_RING_EVENT_IDX;
    if (opts->virtio_packed)
        wanted |= VIRTIO_F_RING_PACKED;
    if (virtio_negotiate(&nic->vdev, wanted) < 0)
        goto fail;
    struct virtio_device *v = &nic->vdev;
    bool version_1 = virtio_has_feature(v, VIRTIO_F_VERSION_1);
    nic->mergeable = virtio_has_feature(v, VIRTIO_NET_F_MRG_RXBUF);
    nic->hdr_len = virtio_net_header_len(version_1, nic->mergeable);
    nic->header_apart = !version_1 && !virtio_has_feature(v, VIRTIO_F_ANY_LAYOUT);
    nic->busy_poll = opts->irq_mode == IRQ_MODE_POLL;
    if (virtio_has_feature(v, VIRTIO_NET_F_MAC))
        virtio_config_read(v, VIRTIO_NET_CONFIG_MAC, nic->mac, sizeof(nic->mac));
    nic->mtu = ETH_FRAME_MTU;
    if (virtio_has_feature(v, VIRTIO_NET_F_MTU)) {
        uint16_t device_mtu;
        virtio_config_read(v, VIRTIO_NET_CONFIG_MTU, &device_mtu, sizeof(device_mtu));
        if (device_mtu < ETH_FRAME_MTU)
            nic->mtu = device_mtu; /* larger MTUs would need bigger receive buffers */
    }
    static const char *const names[] = { "rx", "tx" };
    static void (*const callbacks[])(struct virtqueue *) = { rx_interrupt, tx_interrupt };
    nic->vdev.priv = nic;
    if (virtio_find_vqs(v, 2, names, callbacks, opts->irq_mode) < 0)
        goto fail;
    rxq(nic)->priv = nic;
    txq(nic)->priv = nic;
    if (setup_buffers(nic) < 0) {
        virtio_fail(v, "no memory for packet buffers");
        goto fail;
    }
    napi_init(&nic->napi, virtio_net_poll, nic, (int)opts->budget);
    virtqueue_disable_cb(txq(nic)); /* completions are collected by the poll */
    if (nic->busy_poll) {
        virtqueue_disable_cb(rxq(nic));
        napi_schedule(&nic->napi);
    }
    rx_refill(nic);
    read_link(nic);
    virtio_driver_ok(v);
    log_info("virtio-net: %s: mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, header %u bytes%s, %u receive buffers, "
             "link %s, budget %u%s",
             v->name, nic->mac[0], nic->mac[1], nic->mac[2], nic->mac[3], nic->mac[4], nic->mac[5], nic->mtu,
             nic->hdr_len, nic->mergeable ? " (mergeable)" : "", nic->rx_pool.count, nic->link_up ? "up" : "down",
             opts->budget, nic->busy_poll ? ", busy polling" : "");
    if (opts->log == LOG_VERBOSITY_DEBUG)
        timer_after(&nic->stats_timer, STATS_PERIOD_NS, log_stats, nic);
    nics[nic_count++] = nic;
    return 0;
fail:
    /* The device stays FAILED; its memory is not reclaimed (it may still hold ring addresses). */
    return -ENODEV;
}

int virtio_net_probe_all(const struct kernel_options *opts)
{
    for (struct pci_device *d = pci_next_device(NULL); d && nic_count < VIRTIO_NET_MAX_DEVICES; d = pci_next_device(d))
        if (d->vendor_id == VIRTIO_VENDOR && (d->device_id == VIRTIO_NET_TRANSITIONAL || d->device_id == VIRTIO_NET_MODERN))
            probe_one(d, opts);
    return nic_count;
}
