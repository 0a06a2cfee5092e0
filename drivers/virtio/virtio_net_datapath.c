/*
 * The virtio-net receive path: buffers posted, frames taken off the used ring
 * (merged over as many buffers as the largest negotiated frame needs, their
 * GSO fields checked) and handed to the stack without a copy, and the poll
 * the interrupt handlers schedule (Linux's virtnet_poll). Transmit is
 * virtio_net_tx.c.
 */
#include "drivers/virtio/virtio_net_priv.h"

#include "drivers/virtio/net_offload.h"
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

/* Drops a frame, counting why; true (a frame was taken off the ring). */
static bool rx_reject(struct virtio_net *nic, const struct virtio_net_rx_frame *f, uint64_t *counter)
{
    (*counter)++;
    rx_drop(nic, f);
    return true;
}

/* A device fills every merged buffer but the last (virtio 1.2, 5.1.6.4): a
 * short one in between means the lengths it reported are not the frame's. */
static bool rx_buffers_full(const struct virtio_net *nic, const struct virtio_net_rx_frame *f)
{
    for (unsigned i = 0; i + 1 < f->count; i++)
        if (f->bufs[i].len + (i == 0 ? nic->hdr_len : 0) != nic->rx_buffer_size)
            return false;
    return true;
}

/* Checks the header's GSO fields against the frame; false if it was dropped. */
static bool rx_check_gso(struct virtio_net *nic, struct virtio_net_rx_frame *f, const struct virtio_net_hdr *hdr,
                         uint32_t bytes)
{
    struct virtio_net_rx_hdr h = { hdr->flags, hdr->gso_type, hdr->hdr_len, hdr->gso_size, hdr->csum_start,
                                   hdr->csum_offset };
    enum virtio_net_gso_verdict v = virtio_net_rx_gso_check(&h, f->bufs[0].data, f->bufs[0].len, bytes,
                                                            nic->vdev.features);
    if (v == VIRTIO_NET_GSO_BAD_TYPE || v == VIRTIO_NET_GSO_BAD_SIZE) {
        rx_reject(nic, f, v == VIRTIO_NET_GSO_BAD_TYPE ? &nic->stats.rx_drop_gso_type : &nic->stats.rx_drop_gso_size);
        return false;
    }
    if (v == VIRTIO_NET_GSO_OK) {
        f->gso_type = hdr->gso_type;
        f->gso_size = hdr->gso_size;
        nic->stats.rx_gso++;
    }
    return true;
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
        return rx_reject(nic, &frame, &nic->stats.rx_drop_bad_header);
    }
    struct virtio_net_hdr hdr;
    memcpy(&hdr, buf, nic->hdr_len);
    unsigned buffers = nic->mergeable ? hdr.num_buffers : 1;
    /* No frame the negotiated features allow needs more buffers than this. */
    if (buffers == 0 || buffers > nic->rx_max_buffers) {
        rx_reject(nic, &frame, &nic->stats.rx_drop_bad_header);
        /* Its other buffers follow in the ring: drop them too, or each would be
         * read as a frame of its own, payload taken for a header. */
        for (unsigned k = 1; k < buffers && rx_take(nic, &id, &len); k++)
            virtio_net_rx_release(nic, id);
        return true;
    }
    while (frame.count < buffers) {
        if (!rx_take(nic, &id, &len))
            return rx_reject(nic, &frame, &nic->stats.rx_drop_incomplete);
        frame.bufs[frame.count++] = (struct virtio_net_rx_buffer_ref){ id, rx_buffer(nic, id), len };
    }
    if (!rx_buffers_full(nic, &frame))
        return rx_reject(nic, &frame, &nic->stats.rx_drop_bad_header);
    uint32_t bytes = 0;
    for (unsigned i = 0; i < frame.count; i++)
        bytes += frame.bufs[i].len;
    if (!rx_check_gso(nic, &frame, &hdr, bytes))
        return true;
    frame.data_valid = hdr.flags & VIRTIO_NET_HDR_F_DATA_VALID;
    if (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        /* The device validated the data and left the pseudo-header sum in the
         * checksum field (5.1.6.4.1). A large segment's field is the TCP one
         * (rx_check_gso made sure) and lwIP skips it for a valid frame: summing
         * 64 KiB to fill it in would buy nothing. Others get it completed, so
         * that every checksum lwIP might still read is whole. */
        if (frame.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
            if (!rx_complete_checksum(&frame, hdr.csum_start, hdr.csum_offset))
                return rx_reject(nic, &frame, &nic->stats.rx_drop_bad_header);
            nic->stats.rx_csum_completed++;
        }
        frame.data_valid = true;
    }
    nic->stats.rx_packets++;
    nic->stats.rx_bytes += bytes;
    if (!nic->has_stack)
        return rx_reject(nic, &frame, &nic->stats.rx_drop_no_stack);
    nic->stack.receive(nic->stack.ctx, &frame);
    return true;
}

/* ---- interrupts and the poll ---- */

void vn_rx_interrupt(struct virtqueue *vq)
{
    struct virtio_net *nic = vq->priv;
    nic->stats.rx_interrupts++;
    virtqueue_disable_cb(vq);
    napi_schedule(&nic->napi);
}

int virtio_net_poll(struct napi *napi, int budget)
{
    struct virtio_net *nic = napi->priv;
    nic->stats.polls++;
    bool rescue = nic->poll_by_watchdog; /* the watchdog found frames no interrupt announced */
    nic->poll_by_watchdog = false;
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
    if (rescue && done) {
        nic->stats.watchdog_rx_polls++;
        nic->stats.watchdog_rx_frames += (uint64_t)done;
    }
    if (nic->fault_bad_used_pending)
        vn_faults_poll(nic);
    if (vn_recover_if_needed(nic))
        return done; /* stays scheduled: the next run receives on the fresh rings */
    if (rx_should_refill(virtqueue_free_count(rxq(nic)), virtqueue_size(rxq(nic))))
        vn_rx_refill(nic);
    vn_tx_wake_if_room(nic);
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
    return done;
}

