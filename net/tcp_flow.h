/*
 * A connection's addresses and ports as the keyed hashes take them that
 * make its SYN cookies (net/syn_cookie.h) and its initial sequence number
 * (net/tcp_isn.h), and the secret keys of those hashes.
 */
#ifndef NET_TCP_FLOW_H
#define NET_TCP_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/siphash.h"

/* One connection as the server sees it. IPv4 addresses fill the first 4
 * bytes of the 16 and leave the rest zero; `ipv6` tells the two apart. */
struct tcp_flow {
    bool ipv6;
    uint8_t remote[16], local[16];
    uint16_t remote_port, local_port;
};

#define TCP_FLOW_BYTES (1 + 16 + 16 + 2 + 2)

/* Writes the flow in a fixed layout (so equal flows hash equally whatever
 * the struct's padding); returns the byte after it. */
static inline uint8_t *tcp_flow_put(uint8_t *p, const struct tcp_flow *f)
{
    *p++ = f->ipv6;
    for (int i = 0; i < 16; i++)
        *p++ = f->remote[i];
    for (int i = 0; i < 16; i++)
        *p++ = f->local[i];
    *p++ = (uint8_t)(f->remote_port >> 8);
    *p++ = (uint8_t)f->remote_port;
    *p++ = (uint8_t)(f->local_port >> 8);
    *p++ = (uint8_t)f->local_port;
    return p;
}

/* The flow of lwIP addresses (ip_addr_t) and ports in host order. */
struct ip_addr;
void tcp_flow_of(struct tcp_flow *f, const struct ip_addr *local, uint16_t local_port, const struct ip_addr *remote,
                 uint16_t remote_port);

/* A new key, from net_random32 (seeded at boot from RDRAND when the CPU
 * has it, and the TSC) and the clock's nanoseconds at that moment, which
 * an attacker who watched the stack's other random numbers still does not
 * know. */
void tcp_flow_key_make(uint8_t key[SIPHASH_KEY_BYTES]);

#endif
