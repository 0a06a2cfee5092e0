#include "net/ip4_id.h"

uint16_t ip4_id_take(struct ip4_ids *ids, const uint8_t dst[4], uint8_t proto, uint16_t count)
{
    const uint8_t in[5] = { dst[0], dst[1], dst[2], dst[3], proto };
    uint64_t h = siphash24(ids->key, in, sizeof(in));
    uint16_t *next = &ids->next[(h >> 16) % IP4_ID_BUCKETS];
    uint16_t id = (uint16_t)(h + *next);
    *next = (uint16_t)(*next + count);
    return id;
}
