/*
 * The virtio-net data path: receive (buffers posted, frames taken off the
 * used ring and handed to the stack without a copy), transmit, and the poll
 * the interrupt handlers schedule (Linux's virtnet_poll).
 */
#include "drivers/virtio/virtio_net_priv.h"

#include "lib/errno.h"
#include "lib/inet_csum.h"
#include "lib/log.h"
#include "lib/string.h"

/* ---- receive ---- */

static int rx_post(struct virtio_net *nic, uint16_t id)
{
    uint8_t *buf = rx_buffer(nic, id);
    struct vq_sg sg[2] = { { (uint64_t)(uintptr_t)buf, nic->rx_buffer_size } };
    unsigned n = 1;
    if (nic->header_apart) {
        sg[0].len = nic->hdr_len;
        sg[1] = (struct vq_sg){ (uint64_t)(uintptr_t)(buf + nic->hdr_len), nic->rx_buffer_size - nic->hdr_len };
        n = 2;
    }
    return virtqueue_add(rxq(nic), sg, 0, n, rx_token(id));
}

/* Posts free buffers until the ring or the pool runs out; kicks once. */
void vn_rx_refill(struct virtio_net *nic)
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

/* ---- transmit ---- */

void vn_tx_clean(struct virtio_net *nic)
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
        vn_tx_clean(nic);
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
        vn_tx_clean(nic);
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
    vn_watchdog_arm(nic);
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

/* ---- interrupts and the poll ---- */

void vn_rx_interrupt(struct virtqueue *vq)
{
    struct virtio_net *nic = vq->priv;
    nic->stats.rx_interrupts++;
    virtqueue_disable_cb(vq);
    napi_schedule(&nic->napi);
}

void vn_tx_interrupt(struct virtqueue *vq)
{
    struct virtio_net *nic = vq->priv;
    nic->stats.tx_interrupts++;
    virtqueue_disable_cb(vq);
    napi_schedule(&nic->napi);
}

int virtio_net_poll(struct napi *napi, int budget)
{
    struct virtio_net *nic = napi->priv;
    nic->stats.polls++;
    if (nic->failed) {
        napi_complete(napi);
        return 0;
    }
    if (nic->config_pending) {
        nic->config_pending = false;
        vn_handle_config_change(nic);
    }
    vn_tx_clean(nic);
    int done = 0;
    while (done < budget && rx_one(nic))
        done++;
    if (nic->fault_bad_used_pending)
        vn_faults_poll(nic);
    if (vn_recover_if_needed(nic))
        return done; /* stays scheduled: the next run receives on the fresh rings */
    if (rx_should_refill(virtqueue_free_count(rxq(nic)), virtqueue_size(rxq(nic))))
        vn_rx_refill(nic);
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

