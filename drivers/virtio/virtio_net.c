/*
 * The virtio-net device's lifecycle: probe (features, queues, buffers,
 * DRIVER_OK), configuration changes and the link, recovery by reset, and the
 * transmit watchdog that finds a stalled device.
 */
#include "drivers/virtio/virtio_net_priv.h"

#include "arch/x86_64/cpu.h"
#include "arch/x86_64/random.h"
#include "drivers/virtio/net_offload.h"
#include "drivers/virtio/virtio_mmio.h"
#include "lib/errno.h"
#include "lib/kheap.h"
#include "lib/log.h"
#include "lib/phys_mem.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_NET_TRANSITIONAL 0x1000
#define VIRTIO_NET_MODERN 0x1041

/* struct virtio_net_config (virtio 1.2, 5.1.4). */
#define VIRTIO_NET_CONFIG_MAC 0
#define VIRTIO_NET_CONFIG_STATUS 6
#define VIRTIO_NET_CONFIG_MTU 10
#define VIRTIO_NET_S_LINK_UP 1

#define WATCHDOG_PERIOD_NS 100000000ULL /* 100 ms */
#define TX_TIMEOUT_TICKS 20               /* 2 s without a completion, kicks included: reset */
/* How long received frames must wait, no poll scheduled and no interrupt
 * counted, before the watchdog calls it a lost wake-up: far longer than an
 * interrupt takes to arrive, even from a QEMU thread the host preempted. */
#define WATCHDOG_CONFIRM_NS 20000000ULL /* 20 ms */

static struct virtio_net *nics[VIRTIO_NET_MAX_DEVICES];
static int nic_count;

int virtio_net_count(void) { return nic_count; }
struct virtio_net *virtio_net_get(int index) { return index >= 0 && index < nic_count ? nics[index] : NULL; }
const uint8_t *virtio_net_mac(const struct virtio_net *nic) { return nic->mac; }
const char *virtio_net_name(const struct virtio_net *nic) { return nic->vdev.name; }
bool virtio_net_link_up(const struct virtio_net *nic) { return nic->link_up; }
uint16_t virtio_net_mtu(const struct virtio_net *nic) { return nic->mtu; }
uint16_t virtio_net_rx_mtu(const struct virtio_net *nic) { return nic->rx_mtu; }
const struct virtio_device *virtio_net_device(const struct virtio_net *nic) { return &nic->vdev; }

bool virtio_net_tx_csum_offload(const struct virtio_net *nic)
{
    return virtio_has_feature(&nic->vdev, VIRTIO_NET_F_CSUM);
}


/* ---- the transmit watchdog ----
 * QEMU 7.2 under TCG with one vCPU drops the guest's memory barriers (fixed
 * upstream in 8.1: "tcg: Do not elide memory barriers for !CF_PARALLEL in
 * system mode"), so the event-index handshake can lose a notification: the
 * device goes idle with frames waiting and no later frame ever crosses its
 * stale avail_event. While frames are in flight, a tick every 100 ms that saw
 * no completion sends a notification (always allowed); each tick also reaps
 * what completed when no poll is coming to (a sender with nothing coming
 * back). With nothing in flight the watchdog stops, so an idle guest stays
 * tickless.
 *
 * It also notices received frames that wait with no poll scheduled. That is
 * normal for the moment an interrupt is on its way; if it is still so
 * WATCHDOG_CONFIRM_NS later, with no receive interrupt meanwhile, the
 * interrupt was lost (a driver that re-enables callbacks without looking at
 * the ring again loses it for good with EVENT_IDX): the watchdog starts the
 * poll and counts it in watchdog_rx_polls, which a correct driver keeps at 0. */

static void watchdog_tick(struct timer *t, void *arg);

void vn_watchdog_arm(struct virtio_net *nic)
{
    if (nic->watchdog_armed || nic->busy_poll)
        return;
    nic->watchdog_armed = true;
    nic->watchdog_completed = nic->stats.tx_completed;
    timer_after(&nic->watchdog, WATCHDOG_PERIOD_NS, watchdog_tick, nic);
}

/* The poll the watchdog starts, as an interrupt handler would start it. */
static void watchdog_schedule_poll(struct virtio_net *nic)
{
    if (nic->napi.scheduled)
        return;
    nic->stats.watchdog_polls++;
    virtqueue_disable_cb(rxq(nic));
    napi_schedule(&nic->napi);
}

static void watchdog_confirm(struct timer *t, void *arg)
{
    struct virtio_net *nic = arg;
    (void)t;
    if (nic->failed || nic->napi.scheduled || nic->stats.rx_interrupts != nic->watchdog_rx_interrupts ||
        rxq(nic)->stats.completed != nic->watchdog_rx_taken || !virtqueue_has_used(rxq(nic)))
        return; /* a poll ran or is coming: the interrupt was on its way */
    nic->poll_by_watchdog = true;
    watchdog_schedule_poll(nic);
}

static void watchdog_tick(struct timer *t, void *arg)
{
    struct virtio_net *nic = arg;
    (void)t;
    nic->watchdog_armed = false;
    if (nic->failed || nic->tx_slots.in_use == 0) {
        nic->tx_stalled_ticks = 0;
        return;
    }
    if (nic->stats.tx_completed == nic->watchdog_completed && !virtqueue_has_used(txq(nic))) {
        nic->stats.tx_watchdog_kicks++;
        virtqueue_notify(txq(nic));
        if (++nic->tx_stalled_ticks >= TX_TIMEOUT_TICKS) {
            nic->tx_timed_out = true; /* a device that stopped (e.g. a legacy one after an error) */
            watchdog_schedule_poll(nic); /* the poll resets the device */
        }
    } else {
        nic->tx_stalled_ticks = 0;
    }
    /* Reap here what no poll is coming to collect: lwIP will not retransmit a
     * segment whose buffer the driver still holds. */
    if (!nic->napi.scheduled && !nic->tx_napi.scheduled) {
        nic->stats.watchdog_tx_reaped += vn_tx_clean(nic);
        vn_tx_wake_if_room(nic);
    }
    if (!nic->napi.scheduled && virtqueue_has_used(rxq(nic)) && !nic->watchdog_confirm.armed) {
        nic->watchdog_rx_interrupts = nic->stats.rx_interrupts;
        nic->watchdog_rx_taken = rxq(nic)->stats.completed;
        timer_after(&nic->watchdog_confirm, WATCHDOG_CONFIRM_NS, watchdog_confirm, nic);
    }
    vn_watchdog_arm(nic);
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
    /* A control command that got no answer: its buffers are the device's no more. */
    if (nic->vdev.nvqs > CTRL_QUEUE)
        while (virtqueue_detach_unused(ctrlq(nic)) != NULL)
            ;
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
    nic->tx_cb_armed = false;
    nic->tx_unkicked = 0;
    nic->tx_timed_out = false;
    nic->tx_stalled_ticks = 0;
    virtqueue_disable_cb(txq(nic));
    if (nic->busy_poll)
        virtqueue_disable_cb(rxq(nic));
    virtio_driver_ok(v);
    vn_rx_refill(nic); /* its kick after DRIVER_OK (virtio 1.2, 3.1.1) */
    irq_enable();
    vn_ctrl_start(nic); /* the device forgot the receive filter */
    nic->stats.device_resets++;
    vn_tx_wake_if_room(nic); /* every frame in flight came back: a stopped stack may go on */
    update_link(nic);
    log_info("virtio-net: %s: reset done in %llu us, %u receive buffers posted, %llu frames in flight dropped",
             v->name, (unsigned long long)((clock_now_ns() - start) / 1000), nic->rx_pool.posted,
             (unsigned long long)(nic->stats.tx_dropped_by_reset - dropped_before));
}

/* Resets the device when a queue broke or transmit timed out; true if it did. */
bool vn_recover_if_needed(struct virtio_net *nic)
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

void vn_handle_config_change(struct virtio_net *nic)
{
    if (virtio_needs_reset(&nic->vdev)) {
        nic->stats.needs_reset++;
        recover(nic, "device set NEEDS_RESET");
        return;
    }
    update_link(nic);
    vn_ctrl_announce(nic);
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

static int setup_buffers(struct virtio_net *nic)
{
    uint16_t rx_count = rx_pool_size_for(virtqueue_size(rxq(nic)), memory_get_stats().free_bytes, nic->rx_buffer_size);
    uint16_t tx_count = virtqueue_size(txq(nic));
    nic->rx_memory = dma_alloc_uninit((size_t)rx_count * nic->rx_buffer_size);
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

/* The device's MAC, or a random locally administered one (said on the console). */
static void read_mac(struct virtio_net *nic)
{
    struct virtio_device *v = &nic->vdev;
    uint8_t device_mac[6] = { 0 };
    bool has_mac = virtio_has_feature(v, VIRTIO_NET_F_MAC);
    if (has_mac)
        virtio_config_read(v, VIRTIO_NET_CONFIG_MAC, device_mac, sizeof(device_mac));
    if (virtio_net_choose_mac(has_mac, device_mac, random_seed(), nic->mac))
        log_warn("virtio-net: %s: %s: using the random locally administered MAC %02x:%02x:%02x:%02x:%02x:%02x",
                 v->name, has_mac ? "the device's MAC is not a unicast address" : "the device gives no MAC",
                 nic->mac[0], nic->mac[1], nic->mac[2], nic->mac[3], nic->mac[4], nic->mac[5]);
}

/* Between reading the offered features and accepting some (virtio 1.2,
 * 3.1.1): the device's MTU, which decides whether VIRTIO_NET_F_MTU can be
 * accepted at all, and the offloads, each only with what it requires. */
static uint64_t vet_features(struct virtio_device *vdev, uint64_t offered, uint64_t wanted)
{
    struct virtio_net *nic = vdev->priv;
    uint16_t device_mtu = 0;
    bool has_mtu = offered & wanted & VIRTIO_NET_F_MTU;
    if (has_mtu)
        virtio_config_read(vdev, VIRTIO_NET_CONFIG_MTU, &device_mtu, sizeof(device_mtu));
    enum virtio_net_mtu_verdict verdict = virtio_net_mtu_choose(has_mtu, device_mtu, &nic->mtu);
    /* Capped, the device still sends frames up to its own MTU, and buffers
     * for one of them are owed it (5.1.4.2). Below 1500, a standard frame is
     * still taken, as Linux's driver does: QEMU's host_mtu does not bound
     * what a tap of MTU 1500 passes on. */
    nic->rx_mtu = verdict == VIRTIO_NET_MTU_CAPPED ? device_mtu
                  : nic->mtu > VIRTIO_NET_MTU_DEFAULT ? nic->mtu : VIRTIO_NET_MTU_DEFAULT;
    switch (verdict) {
    case VIRTIO_NET_MTU_REJECTED:
        log_warn("virtio-net: %s: device MTU %u is below the minimum %u: VIRTIO_NET_F_MTU not accepted, mtu %u",
                 vdev->name, device_mtu, VIRTIO_NET_MTU_MIN, nic->mtu);
        wanted &= ~VIRTIO_NET_F_MTU;
        break;
    case VIRTIO_NET_MTU_CAPPED:
        log_info("virtio-net: %s: device MTU %u is above the %u this driver sends: mtu %u, frames up to %u taken",
                 vdev->name, device_mtu, VIRTIO_NET_MTU_MAX, nic->mtu, device_mtu);
        break;
    default:
        break;
    }
    return virtio_net_features_consistent(offered & wanted) | (wanted & ~offered);
}

/* Brings a device its transport has bound (nic->vdev) to DRIVER_OK. */
static int probe_one(struct virtio_net *nic, const struct virtio_net_config *cfg)
{
    nic->vdev.priv = nic;
    nic->vdev.config_changed = config_changed;
    nic->vdev.vet_features = vet_features;
    nic->mtu = nic->rx_mtu = VIRTIO_NET_MTU_DEFAULT;
    /* Segmentation offloads both ways (5.1.6.2, 5.1.6.4): 64 KiB TCP segments
     * instead of MTU-sized frames. HOST_ECN is not asked for: lwIP sends no ECN. */
    uint64_t wanted = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_CSUM |
                      VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_MTU | VIRTIO_F_ANY_LAYOUT | VIRTIO_NET_F_GUEST_TSO4 |
                      VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_HOST_TSO4 |
                      VIRTIO_NET_F_HOST_TSO6;
    if (cfg->virtio.indirect)
        wanted |= VIRTIO_F_RING_INDIRECT_DESC;
    if (cfg->virtio.event_idx)
        wanted |= VIRTIO_F_RING_EVENT_IDX;
    if (cfg->virtio.packed)
        wanted |= VIRTIO_F_RING_PACKED;
    if (cfg->ctrl)
        wanted |= VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_CTRL_RX | VIRTIO_NET_F_GUEST_ANNOUNCE;
    if (virtio_negotiate(&nic->vdev, wanted) < 0)
        goto fail;
    struct virtio_device *v = &nic->vdev;
    bool version_1 = virtio_has_feature(v, VIRTIO_F_VERSION_1);
    nic->mergeable = virtio_has_feature(v, VIRTIO_NET_F_MRG_RXBUF);
    nic->hdr_len = virtio_net_header_len(version_1, nic->mergeable);
    nic->header_apart = !version_1 && !virtio_has_feature(v, VIRTIO_F_ANY_LAYOUT);
    nic->busy_poll = cfg->virtio.irq_mode == IRQ_MODE_POLL;
    nic->faults_enabled = cfg->faults;
    read_mac(nic);
    nic->rx_buffer_size = virtio_net_rx_buffer_bytes(nic->mergeable, nic->hdr_len, nic->rx_mtu);
    nic->rx_max_buffers = nic->mergeable ? virtio_net_rx_buffers_for(virtio_net_rx_max_frame(v->features, nic->rx_mtu),
                                                                     nic->hdr_len, nic->rx_buffer_size)
                                         : 1;
    /* The control queue is polled for its answers: no callback, no interrupt vector. */
    static const char *const names[] = { "rx", "tx", "ctrl" };
    static void (*const callbacks[])(struct virtqueue *) = { vn_rx_interrupt, vn_tx_interrupt, NULL };
    nic->vdev.priv = nic;
    unsigned nvqs = virtio_has_feature(v, VIRTIO_NET_F_CTRL_VQ) ? 3 : 2;
    if (virtio_find_vqs(v, nvqs, names, callbacks, cfg->virtio.irq_mode) < 0)
        goto fail;
    rxq(nic)->priv = nic;
    txq(nic)->priv = nic;
    if (setup_buffers(nic) < 0) {
        virtio_fail(v, "no memory for packet buffers");
        goto fail;
    }
    napi_init(&nic->napi, virtio_net_poll, nic, cfg->budget);
    napi_init(&nic->tx_napi, vn_tx_poll, nic, cfg->budget);
    virtqueue_disable_cb(txq(nic)); /* completions are collected by the polls; an interrupt only when the ring runs low */
    if (nic->busy_poll) {
        virtqueue_disable_cb(rxq(nic));
        napi_schedule(&nic->napi);
    }
    read_link(nic);
    virtio_driver_ok(v);
    vn_rx_refill(nic); /* no notification before DRIVER_OK (virtio 1.2, 3.1.1) */
    vn_ctrl_start(nic);
    log_info("virtio-net: %s: mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, header %u bytes%s, %u receive buffers (%u KiB), "
             "link %s, budget %u%s%s%s",
             v->name, nic->mac[0], nic->mac[1], nic->mac[2], nic->mac[3], nic->mac[4], nic->mac[5], nic->mtu,
             nic->hdr_len, nic->mergeable ? " (mergeable)" : "", nic->rx_pool.count,
             (unsigned)((uint64_t)nic->rx_pool.count * nic->rx_buffer_size / 1024), nic->link_up ? "up" : "down",
             cfg->budget, nic->busy_poll ? ", busy polling" : "",
             virtio_has_feature(v, VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6) ? ", large segments in" : "",
             virtio_has_feature(v, VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6) ? ", large segments out" : "");
    if (cfg->log_stats)
        vn_stats_start(nic);
    nics[nic_count++] = nic;
    return 0;
fail:
    /* The device stays FAILED; its memory is not reclaimed (it may still hold ring addresses). */
    return -ENODEV;
}

/* After the transport's attach: a bound device is probed; a refused one was asked nothing yet. */
static void probe_if_bound(struct virtio_net *nic, int attached, const struct virtio_net_config *cfg)
{
    if (attached < 0)
        kfree(nic);
    else
        probe_one(nic, cfg);
}

/* A bare `-nic user` gives an e1000e on QEMU's q35 (an e1000 on pc): say why it serves nothing. */
static void note_other_network_controller(const struct pci_device *d)
{
    char name[8];
    log_warn("virtio-net: %s %04x:%04x is a network controller without a driver here (only virtio-net is driven: "
             "QEMU's -device virtio-net-pci)",
             pci_device_name(d, name), d->vendor_id, d->device_id);
}

int virtio_net_probe_all(const struct virtio_net_config *cfg)
{
    struct virtio_net *nic;
    for (struct pci_device *d = pci_next_device(NULL); d && nic_count < VIRTIO_NET_MAX_DEVICES; d = pci_next_device(d)) {
        bool virtio_net =
            d->vendor_id == VIRTIO_VENDOR && (d->device_id == VIRTIO_NET_TRANSITIONAL || d->device_id == VIRTIO_NET_MODERN);
        if (!virtio_net && d->class_code == PCI_CLASS_NETWORK)
            note_other_network_controller(d);
        else if (virtio_net && (nic = kzalloc(sizeof(*nic))) != NULL)
            probe_if_bound(nic, virtio_pci_attach(d, &nic->vdev), cfg);
    }
    for (int i = 0; i < cfg->mmio_count && nic_count < VIRTIO_NET_MAX_DEVICES; i++)
        if ((nic = kzalloc(sizeof(*nic))) != NULL)
            probe_if_bound(nic, virtio_mmio_attach(&cfg->mmio[i], VIRTIO_ID_NET, &nic->vdev), cfg);
    return nic_count;
}
