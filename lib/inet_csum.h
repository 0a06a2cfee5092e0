/*
 * The Internet checksum (RFC 1071): a one's-complement sum of 16-bit
 * big-endian words, computed piecewise over buffers that need not split at
 * even offsets. Pure logic, unit-tested.
 */
#ifndef LIB_INET_CSUM_H
#define LIB_INET_CSUM_H

#include <stddef.h>
#include <stdint.h>

struct inet_csum {
    uint64_t sum;  /* unfolded: no overflow for any buffer under 2^48 bytes */
    size_t offset; /* bytes summed so far: odd means the next byte is a low byte */
};

static inline void inet_csum_init(struct inet_csum *c)
{
    c->sum = 0;
    c->offset = 0;
}

void inet_csum_add(struct inet_csum *c, const void *data, size_t len);

/* Folds to 16 bits (host order), without complementing. */
uint16_t inet_csum_fold(const struct inet_csum *c);

/* The checksum to store: the complement of the folded sum (host order). */
static inline uint16_t inet_csum_result(const struct inet_csum *c)
{
    return (uint16_t)~inet_csum_fold(c);
}

#endif
