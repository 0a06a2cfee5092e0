/*
 * virtio-net's buffer bookkeeping, kept apart from the device so the host
 * tests can run it through hundreds of thousands of frames:
 *  - the receive pool: every buffer is FREE, POSTED (in the ring) or HELD
 *    (the stack has it), and moves only FREE -> POSTED -> HELD -> FREE;
 *  - the transmit header slots: one per frame in flight;
 *  - the refill policy and the header size.
 */
#ifndef DRIVERS_VIRTIO_NET_BUFFERS_H
#define DRIVERS_VIRTIO_NET_BUFFERS_H

#include <stdbool.h>
#include <stdint.h>

enum rx_buffer_state { RX_FREE, RX_POSTED, RX_HELD };

struct rx_pool {
    uint16_t count;
    uint8_t *state;      /* enum rx_buffer_state per id */
    uint16_t *free_ids;  /* stack of FREE ids */
    uint16_t free_top;
    uint16_t posted, held;
};

/* state and free_ids hold `count` entries each; every buffer starts FREE. */
void rx_pool_init(struct rx_pool *pool, uint16_t count, uint8_t *state, uint16_t *free_ids);

/* How many receive buffers of `buffer_bytes` to have for a ring of `ring`
 * entries: twice the ring (the stack may hold a ringful while the ring stays
 * full), fewer when that would take more than an eighth of `free_bytes`
 * (small machines), never fewer than RX_POOL_MIN or more than the ring
 * needs. */
#define RX_POOL_MIN 64
uint16_t rx_pool_size_for(uint16_t ring, uint64_t free_bytes, uint32_t buffer_bytes);

/* A FREE buffer to post (now POSTED), or -1 when none is free. */
int rx_pool_take(struct rx_pool *pool);
/* POSTED -> FREE: posting failed, or a device reset gave the buffer back unused. */
void rx_pool_untake(struct rx_pool *pool, uint16_t id);
/* The device returned `id`: POSTED -> HELD. -1 if it was not posted (a device bug). */
int rx_pool_receive(struct rx_pool *pool, uint16_t id);
/* The stack is done: HELD -> FREE. -1 if it did not hold it (a stack bug). */
int rx_pool_release(struct rx_pool *pool, uint16_t id);

/* Refill when more than half the ring is empty: posting in batches costs
 * fewer notifications, and half a ring still absorbs a burst. */
static inline bool rx_should_refill(unsigned ring_free, unsigned ring_size)
{
    return ring_free > ring_size / 2;
}

/* struct virtio_net_hdr is 12 bytes with num_buffers (MRG_RXBUF or VERSION_1), else 10 (virtio 1.2, 5.1.6). */
static inline unsigned virtio_net_header_len(bool version_1, bool mergeable)
{
    return version_1 || mergeable ? 12 : 10;
}

#define TX_SLOT_NONE 0xFFFF
#define TX_SLOT_BUSY 0xFFFE /* in next[]: the slot is handed out */

/* Free list of transmit slot indices. */
struct tx_slots {
    uint16_t count;
    uint16_t free_head;
    uint16_t in_use;
    uint16_t *next; /* per slot: the next free slot */
};

void tx_slots_init(struct tx_slots *slots, uint16_t count, uint16_t *next);
/* A free slot index, or TX_SLOT_NONE. */
uint16_t tx_slots_get(struct tx_slots *slots);
/* Returns 0, or -1 for an index that is not handed out (nothing changes). */
int tx_slots_put(struct tx_slots *slots, uint16_t index);

#endif
