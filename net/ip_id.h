/*
 * The identification of packets sent: IPv4's in every header (RFC 791,
 * RFC 6864), IPv6's in the fragment header of a packet the guest
 * fragments itself (RFC 8200 4.5, RFC 7739).
 *
 * lwIP numbers each from one counter, one a packet. Two things were wrong
 * with that here. A large TCP segment that the device cuts (TSO,
 * net/tcp_large_send.h) leaves as several IPv4 packets whose
 * identifications count up from its own, as Linux's TSO does; the next
 * packet took the one after it, so a download put the same identification
 * on different packets to one host within microseconds. The guest never
 * sets DF (it does no IPv4 path MTU discovery), so a router on a
 * smaller-MTU path fragments them, and the receiver may join fragments of
 * two packets into one: most fail their checksums and are lost again, and
 * one in 65,536 of those does not. And one counter for every destination
 * tells anyone who reads two packets how many the guest sent to others in
 * between (nmap's idle scan uses such a host to scan a third; RFC 7739
 * lists what a predictable IPv6 one allows).
 *
 * Now, as Linux's ip_idents and ipv6_select_ident: a counter per bucket of
 * destinations, a packet taking as many identifications as packets it
 * becomes, and each destination's numbers offset by a keyed hash
 * (SipHash-2-4) of its addresses, so another host sees neither the bucket
 * nor the offset. Pure logic, unit-tested; net/lwip_hooks.c gives it to
 * lwIP (LWIP_HOOK_IP4_ID and LWIP_HOOK_IP6_FRAG_ID, from
 * scripts/lwip-ip4-id-hook.patch and scripts/lwip-ipv6-frag-id-hook.patch).
 */
#ifndef NET_IP_ID_H
#define NET_IP_ID_H

#include <stddef.h>
#include <stdint.h>

#include "lib/siphash.h"

#define IP_ID_BUCKETS 2048 /* Linux's IP_IDENTS_SZ */

struct ip_ids {
    uint8_t key[SIPHASH_KEY_BYTES];
    uint32_t next[IP_ID_BUCKETS];
};

/* The first of `count` consecutive identifications (IPv4 keeps the low 16
 * bits) for a packet to `flow`, `len` bytes that name where it goes (IPv4:
 * the destination and the protocol; IPv6: both addresses); they become that
 * flow's. */
uint32_t ip_id_take(struct ip_ids *ids, const uint8_t *flow, size_t len, uint32_t count);

#endif
