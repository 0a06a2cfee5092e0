#include "net/ip_id.h"

uint32_t ip_id_take(struct ip_ids *ids, const uint8_t *flow, size_t len, uint32_t count)
{
    uint64_t h = siphash24(ids->key, flow, len);
    uint32_t *next = &ids->next[(h >> 32) % IP_ID_BUCKETS];
    uint32_t id = (uint32_t)h + *next;
    *next += count;
    return id;
}
