#include "drivers/virtio/net_buffers.h"

void rx_pool_init(struct rx_pool *pool, uint16_t count, uint8_t *state, uint16_t *free_ids)
{
    *pool = (struct rx_pool){ .count = count, .state = state, .free_ids = free_ids };
    for (uint16_t i = 0; i < count; i++) {
        state[i] = RX_FREE;
        free_ids[pool->free_top++] = (uint16_t)(count - 1 - i); /* id 0 comes out first */
    }
}

int rx_pool_take(struct rx_pool *pool)
{
    if (pool->free_top == 0)
        return -1;
    uint16_t id = pool->free_ids[--pool->free_top];
    pool->state[id] = RX_POSTED;
    pool->posted++;
    return id;
}

void rx_pool_untake(struct rx_pool *pool, uint16_t id)
{
    if (id < pool->count && pool->state[id] == RX_POSTED) {
        pool->state[id] = RX_FREE;
        pool->posted--;
        pool->free_ids[pool->free_top++] = id;
    }
}

int rx_pool_receive(struct rx_pool *pool, uint16_t id)
{
    if (id >= pool->count || pool->state[id] != RX_POSTED)
        return -1;
    pool->state[id] = RX_HELD;
    pool->posted--;
    pool->held++;
    return 0;
}

int rx_pool_release(struct rx_pool *pool, uint16_t id)
{
    if (id >= pool->count || pool->state[id] != RX_HELD)
        return -1;
    pool->state[id] = RX_FREE;
    pool->held--;
    pool->free_ids[pool->free_top++] = id;
    return 0;
}

void tx_slots_init(struct tx_slots *slots, uint16_t count, uint16_t *next)
{
    *slots = (struct tx_slots){ .count = count, .free_head = count ? 0 : TX_SLOT_NONE, .next = next };
    for (uint16_t i = 0; i < count; i++)
        next[i] = (uint16_t)(i + 1 < count ? i + 1 : TX_SLOT_NONE);
}

uint16_t tx_slots_get(struct tx_slots *slots)
{
    uint16_t i = slots->free_head;
    if (i != TX_SLOT_NONE) {
        slots->free_head = slots->next[i];
        slots->next[i] = TX_SLOT_BUSY;
        slots->in_use++;
    }
    return i;
}

int tx_slots_put(struct tx_slots *slots, uint16_t index)
{
    if (index >= slots->count || slots->next[index] != TX_SLOT_BUSY)
        return -1;
    slots->next[index] = slots->free_head;
    slots->free_head = index;
    slots->in_use--;
    return 0;
}

uint16_t rx_pool_size_for(uint16_t ring, uint64_t free_bytes, uint32_t buffer_bytes)
{
    uint64_t want = 2u * (uint64_t)ring;
    uint64_t affordable = buffer_bytes ? free_bytes / 8 / buffer_bytes : 0;
    uint64_t n = want < affordable ? want : affordable;
    uint64_t floor = ring < RX_POOL_MIN ? ring : RX_POOL_MIN;
    if (n < floor)
        n = floor;
    return (uint16_t)(n > UINT16_MAX ? UINT16_MAX : n);
}
