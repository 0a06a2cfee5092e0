#include "net/syn_cookie.h"

#define TICK_SHIFT 27
#define TICK_MASK 0x1Fu
#define MSS_SHIFT 24
#define MSS_MASK 0x7u
#define HASH_MASK 0x00FFFFFFu

/* Ascending. 536: the IPv4 default (RFC 9293 3.7.1); 1220: IPv6's minimum
 * MTU less 60; 1440 and 1460: IPv6 and IPv4 over Ethernet; the rest cover
 * PPPoE and tunnels. A peer gets the largest one its MSS allows. */
static const uint16_t mss_table[SYN_COOKIE_MSS_COUNT] = { 536, 1220, 1300, 1360, 1400, 1420, 1440, 1460 };

unsigned syn_cookie_mss_index(uint16_t mss)
{
    unsigned i = SYN_COOKIE_MSS_COUNT - 1;
    while (i > 0 && mss_table[i] > mss)
        i--;
    return i;
}

uint16_t syn_cookie_mss(unsigned index) { return mss_table[index & MSS_MASK]; }

/* Appends `bytes` bytes of v, most significant first; returns the next free byte. */
static uint8_t *put_be(uint8_t *p, uint32_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        *p++ = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    return p;
}

static uint32_t cookie_hash(const uint8_t key[SIPHASH_KEY_BYTES], const struct tcp_flow *f,
                            uint32_t client_isn, uint32_t tick, unsigned mss_index)
{
    uint8_t in[TCP_FLOW_BYTES + 4 + 4 + 1];
    uint8_t *p = tcp_flow_put(in, f);
    p = put_be(p, client_isn, 4);
    p = put_be(p, tick, 4);
    *p = (uint8_t)mss_index;
    return (uint32_t)siphash24(key, in, sizeof(in)) & HASH_MASK;
}

uint32_t syn_cookie_make(const uint8_t key[SIPHASH_KEY_BYTES], const struct tcp_flow *flow,
                         uint32_t client_isn, uint32_t tick, unsigned mss_index)
{
    mss_index &= MSS_MASK;
    return (tick & TICK_MASK) << TICK_SHIFT | mss_index << MSS_SHIFT |
           cookie_hash(key, flow, client_isn, tick, mss_index);
}

bool syn_cookie_check(const uint8_t key[SIPHASH_KEY_BYTES], const struct tcp_flow *flow,
                      uint32_t client_isn, uint32_t cookie, uint32_t now, unsigned *mss_index)
{
    /* The tick it was made at: the latest one not after `now` with its low 5 bits. */
    uint32_t age = (now - (cookie >> TICK_SHIFT)) & TICK_MASK;
    if (age > SYN_COOKIE_MAX_AGE)
        return false;
    unsigned mss = (cookie >> MSS_SHIFT) & MSS_MASK;
    if (cookie_hash(key, flow, client_isn, now - age, mss) != (cookie & HASH_MASK))
        return false;
    *mss_index = mss;
    return true;
}
