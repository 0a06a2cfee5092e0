/*
 * virtio-net transmit: frames go into the ring as scatter-gather chains
 * behind a per-slot virtio header that carries their offloads (checksum, and
 * segmentation with HOST_TSO4/6), without a notification: the stack ends a
 * batch with virtio_net_tx_kick, so a poll that sends many frames notifies
 * once (Linux's xmit_more).
 *
 * Completions are reaped by whichever poll runs next (the receive poll
 * cleans transmit first). A sender with nothing coming back would leave them
 * in the ring, so when the ring runs low the driver asks for a transmit
 * interrupt after about three quarters of the frames in flight (Linux's
 * virtqueue_enable_cb_delayed), which schedules the transmit poll. When the
 * ring is full, xmit refuses (-ENOSPC) and the stack holds its frames until
 * a poll finds room again and calls tx_wake (Linux's netif_stop_queue /
 * netif_wake_queue).
 */
#include "drivers/virtio/virtio_net_priv.h"

#include "lib/errno.h"
#include "lib/string.h"

/* Ask for a transmit interrupt once half the slots or half the descriptors
 * are in flight (a frame without an indirect table takes a descriptor per
 * piece): well before the ring is full, so completions are reaped while
 * frames still flow. */
static bool tx_ring_low(struct virtio_net *nic)
{
    unsigned half = nic->tx_slots.count / 2;
    return nic->tx_slots.in_use >= half || virtqueue_free_count(txq(nic)) <= half;
}

/* Room to go on after a stop: a quarter of the slots and of the descriptors
 * (a frame without an indirect table takes a descriptor per piece). */
static bool tx_has_room(struct virtio_net *nic)
{
    unsigned quarter = nic->tx_slots.count / 4;
    return (unsigned)(nic->tx_slots.count - nic->tx_slots.in_use) >= quarter &&
           virtqueue_free_count(txq(nic)) >= quarter;
}

/* Asks for the delayed transmit interrupt (again, with `again`: for the frames
 * in flight now); if its moment has already passed, the transmit poll runs
 * instead. */
static void tx_arm_interrupt(struct virtio_net *nic, bool again)
{
    if (nic->busy_poll || (nic->tx_cb_armed && !again))
        return;
    nic->tx_cb_armed = true;
    if (!virtqueue_enable_cb_delayed(txq(nic))) {
        virtqueue_disable_cb(txq(nic));
        nic->tx_cb_armed = false;
        napi_schedule(&nic->tx_napi);
    }
}

unsigned vn_tx_clean(struct virtio_net *nic)
{
    /* With callbacks on, every get_buf would move the event index to the next
     * completion: off while reaping, then asked for again if still low. */
    if (nic->tx_cb_armed) {
        virtqueue_disable_cb(txq(nic));
        nic->tx_cb_armed = false;
    }
    unsigned reaped = 0;
    uint32_t len;
    struct tx_slot *slot;
    while ((slot = virtqueue_get_buf(txq(nic), &len)) != NULL) {
        void *token = slot->token;
        slot->token = NULL;
        tx_slots_put(&nic->tx_slots, (uint16_t)(slot - nic->tx_slot_mem));
        nic->stats.tx_completed++;
        reaped++;
        if (nic->has_stack && token)
            nic->stack.tx_done(nic->stack.ctx, token);
    }
    if (tx_ring_low(nic))
        tx_arm_interrupt(nic, false);
    return reaped;
}

void vn_tx_wake_if_room(struct virtio_net *nic)
{
    if (!nic->tx_stopped || !tx_has_room(nic))
        return;
    nic->tx_stopped = false;
    nic->stats.tx_wakes++;
    if (nic->has_stack && nic->stack.tx_wake)
        nic->stack.tx_wake(nic->stack.ctx);
}

bool virtio_net_tx_tso(const struct virtio_net *nic, bool ipv6)
{
    return virtio_has_feature(&nic->vdev, ipv6 ? VIRTIO_NET_F_HOST_TSO6 : VIRTIO_NET_F_HOST_TSO4);
}

/* The virtio header for an offload the device agreed to; false if it did not. */
static bool tx_fill_header(struct virtio_net *nic, struct virtio_net_hdr *hdr, const struct virtio_net_tx_offload *off)
{
    memset(hdr, 0, sizeof(*hdr));
    if (!off)
        return true;
    if (off->csum) {
        if (!virtio_has_feature(&nic->vdev, VIRTIO_NET_F_CSUM))
            return false;
        hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        hdr->csum_start = off->csum_start;
        hdr->csum_offset = off->csum_offset;
    }
    if (off->gso_type == VIRTIO_NET_HDR_GSO_NONE)
        return true;
    /* Segmentation: a TCP type the device took, the checksum with it (the
     * device fills one in per segment), a segment size and the headers. */
    bool v6 = off->gso_type == VIRTIO_NET_HDR_GSO_TCPV6;
    if ((!v6 && off->gso_type != VIRTIO_NET_HDR_GSO_TCPV4) || !virtio_net_tx_tso(nic, v6) || !off->csum ||
        off->gso_size == 0 || off->hdr_len == 0)
        return false;
    hdr->gso_type = off->gso_type;
    hdr->gso_size = off->gso_size;
    hdr->hdr_len = off->hdr_len;
    return true;
}

/* The ring is full: hold the stack back until a poll finds room. */
static int tx_ring_full(struct virtio_net *nic)
{
    nic->stats.tx_ring_full++;
    if (!nic->tx_stopped) {
        nic->tx_stopped = true;
        nic->stats.tx_stops++;
    }
    /* Notify even though the event index says the device is still busy with
     * the ring: QEMU 7.2 can stop after a burst of 256 packets that it sent
     * while its backend was congested, with the event index behind our avail
     * index, and then waits for a notification no event-index driver would
     * send (fixed in QEMU 8.0: "virtio-net: fix lost wake-up in
     * tx_complete"). A spurious notification is always allowed (virtio 1.2,
     * 2.7.13). */
    virtqueue_notify(txq(nic));
    nic->tx_unkicked = 0;
    nic->stats.tx_forced_kicks++;
    /* The completions that make room must wake someone: an interrupt after
     * three quarters of the full ring, later than the one asked for at half. */
    tx_arm_interrupt(nic, true);
    return -ENOSPC;
}

int virtio_net_xmit(struct virtio_net *nic, const struct vq_sg *frags, unsigned count, void *token,
                    const struct virtio_net_tx_offload *offload)
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
        vn_tx_clean(nic);
        index = tx_slots_get(&nic->tx_slots);
    }
    if (index == TX_SLOT_NONE)
        return tx_ring_full(nic);
    struct tx_slot *slot = &nic->tx_slot_mem[index];
    if (!tx_fill_header(nic, &slot->hdr, offload)) {
        tx_slots_put(&nic->tx_slots, index);
        return -EINVAL;
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
        vn_tx_clean(nic);
        rc = virtqueue_add(txq(nic), sg, count + 1, 0, slot);
    }
    if (rc < 0) {
        tx_slots_put(&nic->tx_slots, index);
        return rc == -ENOSPC ? tx_ring_full(nic) : rc;
    }
    slot->token = token;
    nic->tx_unkicked++;
    vn_watchdog_arm(nic);
    nic->stats.tx_packets++;
    nic->stats.tx_bytes += bytes;
    if (slot->hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE)
        nic->stats.tx_gso++;
    if (tx_ring_low(nic))
        tx_arm_interrupt(nic, false);
    return 0;
}

void virtio_net_tx_kick(struct virtio_net *nic)
{
    if (nic->tx_unkicked == 0)
        return; /* without EVENT_IDX the device would be notified of nothing */
    nic->tx_unkicked = 0;
    virtqueue_kick(txq(nic));
}

/* ---- the transmit interrupt and its poll ---- */

void vn_tx_interrupt(struct virtqueue *vq)
{
    struct virtio_net *nic = vq->priv;
    nic->stats.tx_interrupts++;
    virtqueue_disable_cb(vq);
    nic->tx_cb_armed = false;
    napi_schedule(&nic->tx_napi);
}

int vn_tx_poll(struct napi *napi, int budget)
{
    struct virtio_net *nic = napi->priv;
    (void)budget; /* reaping is a few loads per frame: all of it at once */
    nic->stats.tx_polls++;
    napi_complete(napi);
    if (nic->failed)
        return 0;
    if (virtqueue_is_broken(txq(nic))) {
        napi_schedule(&nic->napi); /* the receive poll resets the device */
        return 0;
    }
    /* Re-arms the interrupt if still low: enable_cb_delayed looks again, so a
     * completion between the clean and the re-arm is not lost. */
    int reaped = (int)vn_tx_clean(nic);
    vn_tx_wake_if_room(nic);
    return reaped;
}
