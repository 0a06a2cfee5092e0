/*
 * drivers/virtio/net_buffers.c: the receive pool's state machine over
 * 100,000 simulated frames (none lost, none handed out twice), bad
 * transitions refused, the transmit slot free list, the refill policy and
 * the header size by feature set.
 */
#include <stdlib.h>

#include "drivers/virtio/net_buffers.h"
#include "tests/unit/check.h"

#define POOL 512
#define RING 256

TEST(net_header_len_by_features)
{
    CHECK_EQ(virtio_net_header_len(false, false), 10); /* legacy, no mergeable buffers */
    CHECK_EQ(virtio_net_header_len(false, true), 12);  /* legacy with MRG_RXBUF: num_buffers */
    CHECK_EQ(virtio_net_header_len(true, false), 12);  /* VERSION_1 always has num_buffers */
    CHECK_EQ(virtio_net_header_len(true, true), 12);
}

TEST(net_refill_only_when_more_than_half_empty)
{
    CHECK(!rx_should_refill(0, RING));
    CHECK(!rx_should_refill(RING / 2, RING));
    CHECK(rx_should_refill(RING / 2 + 1, RING));
    CHECK(rx_should_refill(RING, RING));
    CHECK(!rx_should_refill(1, 2));
    CHECK(rx_should_refill(2, 2));
}

TEST(net_rx_pool_starts_free_and_refuses_bad_transitions)
{
    uint8_t state[8];
    uint16_t ids[8];
    struct rx_pool pool;
    rx_pool_init(&pool, 8, state, ids);
    CHECK_EQ(pool.free_top, 8);
    CHECK_EQ(rx_pool_receive(&pool, 0), -1); /* never posted */
    CHECK_EQ(rx_pool_release(&pool, 0), -1); /* never held */
    int id = rx_pool_take(&pool);
    CHECK_EQ(id, 0);
    CHECK_EQ(rx_pool_release(&pool, (uint16_t)id), -1); /* posted, not held */
    CHECK_EQ(rx_pool_receive(&pool, (uint16_t)id), 0);
    CHECK_EQ(rx_pool_receive(&pool, (uint16_t)id), -1); /* returned twice by the device */
    CHECK_EQ(rx_pool_release(&pool, (uint16_t)id), 0);
    CHECK_EQ(rx_pool_release(&pool, (uint16_t)id), -1); /* released twice by the stack */
    CHECK_EQ(rx_pool_receive(&pool, 8), -1);            /* out of range */
    CHECK_EQ(rx_pool_release(&pool, 500), -1);
    for (int i = 0; i < 8; i++)
        CHECK(rx_pool_take(&pool) >= 0);
    CHECK_EQ(rx_pool_take(&pool), -1); /* exhausted */
    rx_pool_untake(&pool, 3);
    CHECK_EQ(rx_pool_take(&pool), 3);
}

/* A simulated device and stack: the ring holds up to RING buffers, the
 * device completes them in order, the stack keeps a random number for a
 * while (like lwIP's out-of-order queue) and releases them in random order. */
TEST(net_rx_pool_recycles_100000_frames_without_loss)
{
    static uint8_t state[POOL];
    static uint16_t ids[POOL];
    static int ring[POOL], held[POOL];
    struct rx_pool pool;
    rx_pool_init(&pool, POOL, state, ids);
    srand(7);
    int ring_head = 0, ring_len = 0, held_len = 0, refused = 0;
    long frames = 0, refills = 0;
    while (frames < 100000) {
        /* Refill as the driver does. */
        if (rx_should_refill((unsigned)(RING - ring_len), RING)) {
            refills++;
            while (ring_len < RING) {
                int id = rx_pool_take(&pool);
                if (id < 0)
                    break;
                ring[(ring_head + ring_len++) % POOL] = id;
            }
        }
        /* The device completes a burst. */
        int burst = rand() % 64;
        for (int i = 0; i < burst && ring_len > 0; i++, frames++) {
            int id = ring[ring_head];
            ring_head = (ring_head + 1) % POOL;
            ring_len--;
            refused += rx_pool_receive(&pool, (uint16_t)id) != 0;
            held[held_len++] = id;
        }
        /* The stack releases some of what it holds, in random order. */
        int release = held_len ? rand() % (held_len + 1) : 0;
        for (int i = 0; i < release; i++) {
            int k = rand() % held_len;
            refused += rx_pool_release(&pool, (uint16_t)held[k]) != 0;
            held[k] = held[--held_len];
        }
        CHECK_EQ(pool.posted, ring_len);
        CHECK_EQ(pool.held, held_len);
        CHECK_EQ(pool.free_top + pool.posted + pool.held, POOL);
        if (pool.free_top + pool.posted + pool.held != POOL)
            break;
    }
    CHECK_EQ(refused, 0);
    CHECK(refills > 100);
    /* Drain: everything comes back. */
    while (held_len)
        CHECK_EQ(rx_pool_release(&pool, (uint16_t)held[--held_len]), 0);
    while (ring_len) {
        CHECK_EQ(rx_pool_receive(&pool, (uint16_t)ring[ring_head]), 0);
        CHECK_EQ(rx_pool_release(&pool, (uint16_t)ring[ring_head]), 0);
        ring_head = (ring_head + 1) % POOL;
        ring_len--;
    }
    CHECK_EQ(pool.free_top, POOL);
    /* Every id exactly once on the free stack. */
    int seen[POOL] = { 0 };
    for (int i = 0; i < POOL; i++)
        seen[ids[i]]++;
    int once = 0;
    for (int i = 0; i < POOL; i++)
        once += seen[i] == 1;
    CHECK_EQ(once, POOL);
}

TEST(net_tx_slots_account_every_completion)
{
    uint16_t next[4];
    struct tx_slots slots;
    tx_slots_init(&slots, 4, next);
    uint16_t got[4];
    for (int i = 0; i < 4; i++) {
        got[i] = tx_slots_get(&slots);
        CHECK(got[i] < 4);
    }
    CHECK_EQ(slots.in_use, 4);
    CHECK_EQ(tx_slots_get(&slots), TX_SLOT_NONE); /* full: back-pressure */
    CHECK_EQ(tx_slots_put(&slots, got[2]), 0);
    CHECK_EQ(tx_slots_put(&slots, got[2]), -1);   /* completed twice */
    CHECK_EQ(tx_slots_put(&slots, 9), -1);        /* not a slot */
    CHECK_EQ(slots.in_use, 3);
    CHECK_EQ(tx_slots_get(&slots), got[2]);
    /* 100,000 frames through completion in random order: the count always adds up. */
    srand(11);
    int outstanding = 4;
    for (long i = 0; i < 100000; i++) {
        if (outstanding && (rand() & 1)) {
            int k = rand() % outstanding;
            CHECK_EQ(tx_slots_put(&slots, got[k]), 0);
            got[k] = got[--outstanding];
        } else {
            uint16_t s = tx_slots_get(&slots);
            if (outstanding < 4)
                CHECK(s != TX_SLOT_NONE);
            if (s != TX_SLOT_NONE)
                got[outstanding++] = s;
        }
        if (slots.in_use != outstanding) {
            CHECK_EQ(slots.in_use, outstanding);
            break;
        }
    }
}

TEST(rx_pool_size_follows_free_memory)
{
    /* Plenty of memory: twice the ring. */
    CHECK_EQ(rx_pool_size_for(256, 256ull << 20, 2048), 512);
    /* -m 8 (about 6 MiB free): an eighth of it, 384 buffers of 2 KiB. */
    CHECK_EQ(rx_pool_size_for(256, 6ull << 20, 2048), 384);
    /* Very little: never below the floor. */
    CHECK_EQ(rx_pool_size_for(256, 64 << 10, 2048), RX_POOL_MIN);
    /* A ring smaller than the floor: the ring is enough. */
    CHECK_EQ(rx_pool_size_for(16, 0, 2048), 16);
    /* Never beyond 16 bits. */
    CHECK_EQ(rx_pool_size_for(32768, ~0ull, 2048), 65535);
}
