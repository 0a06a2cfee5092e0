#include "lib/inet_csum.h"

void inet_csum_add(struct inet_csum *c, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t i = 0;
    if (len && (c->offset & 1)) {
        c->sum += p[0]; /* completes the low byte of a word begun in the previous piece */
        i = 1;
    }
    for (; i + 1 < len; i += 2)
        c->sum += ((uint32_t)p[i] << 8) | p[i + 1];
    if (i < len)
        c->sum += (uint32_t)p[i] << 8;
    c->offset += len;
}

uint16_t inet_csum_fold(const struct inet_csum *c)
{
    uint64_t s = c->sum;
    while (s >> 16)
        s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t)s;
}
