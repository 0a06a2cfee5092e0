/*
 * Initial sequence numbers (RFC 9293 section 3.4.1, RFC 6528): ISN = M + F,
 * M a clock ticking every 4 microseconds and F a keyed hash (SipHash-2-4)
 * of the connection's addresses and ports.
 *
 * The clock keeps the ISNs of one 4-tuple moving forward, 250,000 a second,
 * so that a new incarnation's sequence space lies past the old one's (RFC
 * 9293's MUST-8); the hash makes them unpredictable from outside, so that
 * no one off the path can guess the number a SYN-ACK carries and complete a
 * connection from an address not theirs, or aim a reset or data at a
 * connection (RFC 6528 section 2). lwIP's own ISN (tcp_next_iss) adds its
 * tick count to a counter at every connection: the next one is predictable
 * from the last, and a 4-tuple's may fall back inside the old sequence
 * space after a few thousand connections on a long-running guest.
 *
 * Pure arithmetic, unit-tested; net/lwip_hooks.c gives it to lwIP
 * (LWIP_HOOK_TCP_ISN).
 */
#ifndef NET_TCP_ISN_H
#define NET_TCP_ISN_H

#include <stdint.h>

#include "lib/siphash.h"
#include "net/tcp_flow.h"

#define TCP_ISN_TICK_SHIFT 12 /* 4096 ns: RFC 9293's 4 us clock */

/* What a SYN-ACK for `flow` at time `now_ns` carries. */
uint32_t tcp_isn_make(const uint8_t key[SIPHASH_KEY_BYTES], const struct tcp_flow *flow, uint64_t now_ns);

/* The ISN of a connection a SYN reopens from TIME_WAIT
 * (net/tcp_timewait_reuse.h): `isn` if it lies beyond everything the old
 * connection sent (its snd_nxt) with an unscaled window to spare, else
 * that, as Linux gives such a connection tw_snd_nxt + 65535 + 2. The clock
 * alone does not see to it: the old connection may have sent more than
 * 250,000 bytes a second since its own ISN. */
#define TCP_ISN_REOPEN_GAP (65535u + 2u)
uint32_t tcp_isn_after(uint32_t isn, uint32_t old_snd_nxt);

#endif
