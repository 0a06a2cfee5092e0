#include "net/nic_tx.h"

#include "lib/errno.h"
#include "lib/kheap.h"
#include "lib/string.h"
#include "lwip/stats.h"
#include "net/tcp_csum_offload.h"
#include "net/tcp_gso.h"
#include "net/tcp_large_send.h"

/* Segments in one run: 64 KiB of 1460-byte segments is 45. */
#define RUN_MAX_SEGS 48

/* Consecutive TCP segments that will leave as one frame (net/tcp_gso.h). */
struct tx_run {
    struct tx_run *next_free;
    struct tcp_gso_seg first, last;
    uint8_t header[TCP_GSO_HEADER_MAX]; /* the first segment's headers, rewritten for the whole run */
    struct pbuf *segs[RUN_MAX_SEGS];    /* each held by a reference */
    unsigned count;
    unsigned pieces;                    /* scatter-gather entries the payloads take */
    uint32_t payload;
    struct virtio_net_tx_offload offload;
};

/* ---- tokens: what the driver gives back through tx_done ---- */

static bool is_run(const struct nic_tx *tx, const void *token)
{
    return tx->runs && (const struct tx_run *)token >= tx->runs && (const struct tx_run *)token < tx->runs + NIC_TX_RUNS;
}

static void run_release(struct nic_tx *tx, struct tx_run *run)
{
    for (unsigned i = 0; i < run->count; i++)
        pbuf_free(run->segs[i]);
    run->count = 0;
    run->next_free = tx->free_runs;
    tx->free_runs = run;
}

static void token_release(struct nic_tx *tx, void *token)
{
    if (is_run(tx, token))
        run_release(tx, token);
    else
        pbuf_free(token);
}

void nic_tx_done(struct nic_tx *tx, void *token)
{
    token_release(tx, token);
}

/* ---- scatter-gather ---- */

/* The pieces of a chain from byte `skip` on; at most `room` (0 if more). With
 * sg NULL, only counts. */
static unsigned chain_pieces(struct pbuf *p, uint32_t skip, struct vq_sg *sg, unsigned room)
{
    unsigned count = 0;
    for (struct pbuf *q = p; q; q = q->next) {
        if (skip >= q->len) {
            skip -= q->len;
            continue;
        }
        if (count == room)
            return 0;
        if (sg)
            sg[count] = (struct vq_sg){ (uint64_t)(uintptr_t)q->payload + skip, q->len - skip };
        count++;
        skip = 0;
    }
    return count;
}

/* ---- handing a token to the driver ---- */

/* Hands one frame to the driver; 0, -ENOSPC (ring full), or another error. */
static int xmit_token(struct nic_tx *tx, void *token)
{
    struct vq_sg sg[VIRTIO_NET_MAX_TX_FRAGS];
    unsigned count;
    struct virtio_net_tx_offload off = { 0 };
    const struct virtio_net_tx_offload *offload = NULL;
    if (is_run(tx, token)) {
        struct tx_run *run = token;
        sg[0] = (struct vq_sg){ (uint64_t)(uintptr_t)run->header, run->first.hdr_len };
        count = 1;
        for (unsigned i = 0; i < run->count; i++)
            count += chain_pieces(run->segs[i], run->first.hdr_len, sg + count, VIRTIO_NET_MAX_TX_FRAGS - count);
        offload = &run->offload;
    } else {
        struct pbuf *p = token;
        count = chain_pieces(p, 0, sg, VIRTIO_NET_MAX_TX_FRAGS);
        /* Idempotent: the pseudo-header sum from the frame's own headers. */
        if (tx->csum_offload &&
            tcp_csum_offload_prepare(p->payload, p->len, &off.csum_start, &off.csum_offset) == TCP_CSUM_OFFLOAD) {
            off.csum = true;
            offload = &off;
        }
    }
    int rc = virtio_net_xmit(tx->nic, sg, count, token, offload);
    if (rc == 0) {
        tx->kick_due = true;
        if (offload && offload->csum)
            tx->stats.csum_offloaded++;
    }
    return rc;
}

/* Sends a frame, or queues it behind the ones already waiting for room. */
static err_t send_token(struct nic_tx *tx, void *token)
{
    if (tx->backlog_count == 0) {
        int rc = xmit_token(tx, token);
        if (rc == 0)
            return ERR_OK;
        if (rc != -ENOSPC) {
            tx->stats.dropped++;
            LINK_STATS_INC(link.drop);
            token_release(tx, token);
            return ERR_IF;
        }
    }
    if (tx->backlog_count == NIC_TX_BACKLOG) {
        tx->stats.backlog_full++;
        LINK_STATS_INC(link.drop);
        token_release(tx, token);
        return ERR_MEM; /* TCP keeps the segment and sends it again */
    }
    tx->backlog[(tx->backlog_head + tx->backlog_count++) % NIC_TX_BACKLOG] = token;
    tx->stats.backlogged++;
    return ERR_OK;
}

void nic_tx_wake(struct nic_tx *tx)
{
    while (tx->backlog_count) {
        void *token = tx->backlog[tx->backlog_head];
        int rc = xmit_token(tx, token);
        if (rc == -ENOSPC)
            break; /* stopped again: the next wake goes on from here */
        tx->backlog_head = (tx->backlog_head + 1) % NIC_TX_BACKLOG;
        tx->backlog_count--;
        if (rc < 0) {
            tx->stats.dropped++;
            token_release(tx, token);
        }
    }
    if (tx->kick_due) {
        tx->kick_due = false;
        virtio_net_tx_kick(tx->nic);
    }
}

/* ---- runs ---- */

/* A free run holding `p` as its first segment (its payload in `pieces`
 * scatter-gather entries); NULL if none is free. */
static struct tx_run *run_start(struct nic_tx *tx, struct pbuf *p, const struct tcp_gso_seg *seg, unsigned pieces)
{
    struct tx_run *run = tx->free_runs;
    if (!run)
        return NULL;
    tx->free_runs = run->next_free;
    run->first = run->last = *seg;
    run->segs[0] = p;
    run->count = 1;
    run->pieces = pieces;
    run->payload = seg->payload;
    memcpy(run->header, p->payload, seg->hdr_len);
    return run;
}

/* Sends a run as one large segment, for the device to cut every `gso_size`
 * bytes into `segments`. */
static err_t run_send(struct nic_tx *tx, struct tx_run *run, uint16_t gso_size, unsigned segments)
{
    tcp_gso_finish(run->header, &run->first, &run->last, run->payload, gso_size, &run->offload);
    tx->stats.gso_frames++;
    tx->stats.gso_segments += segments;
    return send_token(tx, run);
}

/* Sends the open run: one segment as it is, several as one large segment. */
static void run_close(struct nic_tx *tx)
{
    struct tx_run *run = tx->open;
    if (!run)
        return;
    tx->open = NULL;
    if (run->count == 1) {
        struct pbuf *p = run->segs[0];
        run->count = 0;
        run_release(tx, run);
        send_token(tx, p);
        return;
    }
    run_send(tx, run, run->first.payload, run->count);
}

/* Takes a TCP segment into the open run or a new one; false if it is not one
 * a run can hold (the caller sends it alone). */
static bool run_add(struct nic_tx *tx, struct pbuf *p, const struct tcp_gso_seg *seg)
{
    unsigned pieces = chain_pieces(p, seg->hdr_len, NULL, VIRTIO_NET_MAX_TX_FRAGS);
    struct tx_run *run = tx->open;
    if (run && !(run->count < RUN_MAX_SEGS && pieces && run->pieces + pieces < VIRTIO_NET_MAX_TX_FRAGS &&
                 tcp_gso_can_follow(run->header, &run->first, &run->last, p->payload, seg, run->payload))) {
        run_close(tx);
        run = NULL;
    }
    if (run) {
        run->segs[run->count++] = p;
        run->pieces += pieces;
        run->payload += seg->payload;
        run->last = *seg;
    } else {
        if (!pieces || !(run = run_start(tx, p, seg, pieces)))
            return false;
        tx->open = run;
    }
    if (!tcp_gso_run_open(&run->first, &run->last, run->payload) || run->count == RUN_MAX_SEGS)
        run_close(tx);
    return true;
}

/* Sends one segment larger than its connection's MSS (lwIP's own large
 * segments, net/tcp_large_send.h) for the device to cut at `mss`; takes p.
 * Without a free run or memory it cannot go out as it is: TCP sends it again. */
static err_t send_large(struct nic_tx *tx, struct pbuf *p, const struct tcp_gso_seg *seg, uint16_t mss)
{
    run_close(tx);
    if (tx->free_runs && !chain_pieces(p, seg->hdr_len, NULL, VIRTIO_NET_MAX_TX_FRAGS - 1)) {
        struct pbuf *flat = pbuf_clone(PBUF_RAW, PBUF_RAM, p); /* its header apart: one piece more */
        pbuf_free(p);
        p = flat;
        tx->stats.linearized++;
    }
    struct tx_run *run = p ? run_start(tx, p, seg, 0) : NULL; /* never extended: no piece count needed */
    if (!run) {
        tx->stats.dropped++;
        LINK_STATS_INC(link.drop);
        if (p)
            pbuf_free(p);
        return ERR_MEM;
    }
    return run_send(tx, run, mss, (seg->payload + mss - 1u) / mss);
}

/* ---- linkoutput ---- */

/* A frame the driver can take as it is: few enough pieces, and for checksum
 * offload its TCP headers readable in the first piece. */
static bool sendable_as_is(const struct nic_tx *tx, struct pbuf *p)
{
    if (!chain_pieces(p, 0, NULL, VIRTIO_NET_MAX_TX_FRAGS))
        return false;
    struct tcp_frame_layout l;
    return !tx->csum_offload || tcp_frame_parse(p->payload, p->len, &l) != TCP_FRAME_UNPARSED;
}

err_t nic_tx_output(struct nic_tx *tx, struct pbuf *p)
{
    struct pbuf *send = p;
    if (sendable_as_is(tx, p)) {
        pbuf_ref(send); /* held until the device has read it: tx_done frees */
    } else {
        tx->stats.linearized++;
        send = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
        if (!send) {
            tx->stats.no_memory++;
            LINK_STATS_INC(link.memerr);
            return ERR_MEM;
        }
        /* Still unparsed in one piece (a fragment, lengths that do not add up):
         * with checksum generation off for this netif, lwIP left the TCP
         * checksum 0, and the device cannot be told where to compute it. Such a
         * frame would only be dropped by its receiver. */
        if (!sendable_as_is(tx, send)) {
            tx->stats.csum_unparsed++;
            LINK_STATS_INC(link.drop);
            pbuf_free(send);
            return ERR_VAL;
        }
    }
    LINK_STATS_INC(link.xmit);
    struct tcp_gso_seg seg;
    if (tx->runs && send->len >= TCP_FRAME_ETH_HEADER &&
        tcp_gso_segment(send->payload, send->len, send->tot_len, &seg) && tx->tso[seg.l.v6]) {
        uint16_t mss = seg.payload > TCP_LARGE_SEND_MIN_MSS ? tcp_large_send_mss(tx->netif, send->payload, &seg.l) : 0;
        if (mss && seg.payload > mss)
            return send_large(tx, send, &seg, mss);
        if (run_add(tx, send, &seg))
            return ERR_OK;
    }
    run_close(tx);
    return send_token(tx, send);
}

void nic_tx_flush(struct nic_tx *tx)
{
    run_close(tx);
    if (tx->kick_due) {
        tx->kick_due = false;
        virtio_net_tx_kick(tx->nic);
    }
}

/* Once per interface: cold, so built for size in this -O2 file (HOT_SRCS). */
__attribute__((cold)) int nic_tx_init(struct nic_tx *tx, struct virtio_net *nic, struct netif *netif)
{
    *tx = (struct nic_tx){ .nic = nic, .netif = netif, .csum_offload = virtio_net_tx_csum_offload(nic) };
    tx->tso[0] = virtio_net_tx_tso(nic, false);
    tx->tso[1] = virtio_net_tx_tso(nic, true);
    if (!tx->tso[0] && !tx->tso[1])
        return 0;
    tx->runs = kzalloc(sizeof(struct tx_run) * NIC_TX_RUNS);
    if (!tx->runs)
        return -1;
    for (unsigned i = 0; i < NIC_TX_RUNS; i++) {
        tx->runs[i].next_free = tx->free_runs;
        tx->free_runs = &tx->runs[i];
    }
    return 0;
}
