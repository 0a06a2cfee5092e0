/*
 * The identification of IPv4 packets sent (RFC 791; RFC 6864; RFC 7739's
 * advice, written for IPv6's fragment identification, holds for IPv4's).
 *
 * lwIP numbers every packet from one counter, one a packet. Two things were
 * wrong with that here. A large TCP segment that the device cuts (TSO,
 * net/tcp_large_send.h) leaves as several packets whose identifications
 * count up from its own, as Linux's TSO does; the next packet took the one
 * after it, so a download put the same identification on different packets
 * to one host within microseconds. The guest never sets DF (it does no
 * IPv4 path MTU discovery), so a router on a smaller-MTU path fragments
 * them, and the receiver may join fragments of two packets into one: most
 * fail their checksums and are lost again, and one in 65,536 of those does
 * not. And one counter for every destination tells anyone who reads two
 * packets how many the guest sent to others in between (nmap's idle scan
 * uses such a host to scan a third).
 *
 * Now, as Linux's ip_idents: a counter per bucket of destinations, a packet
 * taking as many identifications as packets it becomes, and each
 * destination's numbers offset by a keyed hash (SipHash-2-4) of the
 * destination and protocol, so another host sees neither the bucket nor
 * the offset. Pure logic, unit-tested; net/lwip_hooks.c gives it to lwIP
 * (LWIP_HOOK_IP4_ID, scripts/lwip-ip4-id-hook.patch).
 */
#ifndef NET_IP4_ID_H
#define NET_IP4_ID_H

#include <stdint.h>

#include "lib/siphash.h"

#define IP4_ID_BUCKETS 2048 /* Linux's IP_IDENTS_SZ */

struct ip4_ids {
    uint8_t key[SIPHASH_KEY_BYTES];
    uint16_t next[IP4_ID_BUCKETS];
};

/* The first of `count` consecutive identifications for a packet of protocol
 * `proto` to `dst`, which become that destination's. */
uint16_t ip4_id_take(struct ip4_ids *ids, const uint8_t dst[4], uint8_t proto, uint16_t count);

#endif
