/*
 * The netif's transmit side (its linkoutput): lwIP's frames go to the driver
 * as scatter-gather lists over their pbufs, each held by a reference until
 * the device is done with it, with the TCP checksum offloaded.
 *
 * - Batches: frames are queued without a notification; nic_tx_flush, at the
 *   end of every main-loop pass, tells the device once (xmit_more).
 * - Large segments (HOST_TSO4/6): one lwIP built larger than its connection's
 *   MSS (net/tcp_large_send.h) leaves for the device to cut at that MSS.
 * - Runs: a TCP data frame of at most the MSS waits, open, for the next
 *   one; consecutive segments of one connection that the device can cut back
 *   into exactly the segments lwIP built (net/tcp_gso.h) leave as one frame
 *   of up to 64 KiB. Any other frame, or the flush, sends the open run first,
 *   so frames leave in the order lwIP sent them.
 * - A full ring stops the queue: frames wait in a backlog, in order, until
 *   the driver's tx_wake; only a full backlog refuses (ERR_MEM).
 */
#ifndef NET_NIC_TX_H
#define NET_NIC_TX_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio/virtio_net.h"
#include "lwip/err.h"
#include "lwip/pbuf.h"

struct netif;

/* Frames waiting for room while the ring is full: a ringful and more. */
#define NIC_TX_BACKLOG 512
/* Runs one netif may have open or in flight at once (more: frames go alone). */
#define NIC_TX_RUNS 64

struct nic_tx_stats {
    uint64_t linearized;      /* pbuf chains copied into one buffer (too many pieces, or split TCP headers) */
    uint64_t no_memory;       /* ... and the copy could not be had */
    uint64_t csum_offloaded;  /* frames whose TCP checksum the device computes */
    uint64_t csum_unparsed;   /* TCP frames dropped: their checksum could be neither offloaded nor left to lwIP */
    uint64_t gso_frames;      /* runs sent as one large segment */
    uint64_t gso_segments;    /* lwIP segments in them */
    uint64_t backlogged;      /* frames that waited for room in the backlog */
    uint64_t backlog_full;    /* frames refused: ring and backlog full (ERR_MEM to lwIP) */
    uint64_t dropped;         /* frames the driver refused for another reason */
};

struct tx_run;

struct nic_tx {
    struct virtio_net *nic;
    struct netif *netif;        /* the lwIP netif this is the transmit side of */
    bool csum_offload;          /* CSUM: lwIP leaves TCP checksums to us */
    bool tso[2];                /* HOST_TSO4, HOST_TSO6 */
    struct tx_run *runs;        /* NIC_TX_RUNS of them, or NULL without TSO */
    struct tx_run *free_runs;
    struct tx_run *open;        /* the run frames may still join */
    void *backlog[NIC_TX_BACKLOG]; /* tokens (pbuf or run), oldest first */
    unsigned backlog_head, backlog_count;
    bool kick_due;              /* frames queued since the last kick */
    struct nic_tx_stats stats;
};

/* Returns 0 or -1 (no memory for the runs: the netif then sends frames one by one). */
int nic_tx_init(struct nic_tx *tx, struct virtio_net *nic, struct netif *netif);
/* netif->linkoutput's work. */
err_t nic_tx_output(struct nic_tx *tx, struct pbuf *p);
/* The end of a batch: the open run goes out, and the device hears of it all once. */
void nic_tx_flush(struct nic_tx *tx);
/* The driver's callbacks: a frame is done; room is back after a stop. */
void nic_tx_done(struct nic_tx *tx, void *token);
void nic_tx_wake(struct nic_tx *tx);

#endif
