/*
 * SYN cookies (RFC 4987 section 3.6): the initial sequence number of a
 * SYN-ACK that carries, instead of a half-open connection's state, what the
 * server needs to open the connection when the client's ACK returns, and
 * that only the server can make. Bits, as RFC 4987 describes (after D. J.
 * Bernstein):
 *
 *   31..27  t mod 32: a counter that ticks every SYN_COOKIE_PERIOD_MS
 *   26..24  the MSS, as an index into an 8-entry table
 *   23..0   a keyed hash (SipHash-2-4) of the connection's addresses and
 *           ports, the client's initial sequence number, t and the MSS index
 *
 * The ACK proves the cookie by acknowledging cookie + 1; a cookie is good
 * while t is now or one tick before (64 to 128 s), and forging one for a
 * given client means guessing 24 bits. Options other than the MSS (window
 * scale, timestamps, SACK) are not kept: the cookie's SYN-ACK offers none.
 *
 * Pure arithmetic, unit-tested; net/tcp_listen_cookies.c uses it.
 */
#ifndef NET_SYN_COOKIE_H
#define NET_SYN_COOKIE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/siphash.h"
#include "net/tcp_flow.h"

#define SYN_COOKIE_PERIOD_MS 64000u /* RFC 4987 3.6: t advances every 64 s */
#define SYN_COOKIE_MAX_AGE 1u       /* a cookie of the previous tick is still good */
#define SYN_COOKIE_MSS_COUNT 8u     /* 3 bits */

/* The tick a time in milliseconds falls into: of the kernel's 64-bit clock,
 * not lwIP's sys_now, whose 32-bit wrap would make the tick jump back and
 * refuse the cookies of the minute before it. */
static inline uint32_t syn_cookie_tick(uint64_t now_ms) { return (uint32_t)(now_ms / SYN_COOKIE_PERIOD_MS); }

/* The index of the largest table MSS not above `mss` (index 0, 536, when
 * `mss` is smaller still, or when the SYN gave no MSS: RFC 9293 3.7.1). */
unsigned syn_cookie_mss_index(uint16_t mss);
uint16_t syn_cookie_mss(unsigned index);

uint32_t syn_cookie_make(const uint8_t key[SIPHASH_KEY_BYTES], const struct tcp_flow *flow,
                         uint32_t client_isn, uint32_t tick, unsigned mss_index);

/* True if `cookie` is one syn_cookie_make gave this flow and client ISN at
 * tick `now` or SYN_COOKIE_MAX_AGE ticks before; then *mss_index is set. */
bool syn_cookie_check(const uint8_t key[SIPHASH_KEY_BYTES], const struct tcp_flow *flow,
                      uint32_t client_isn, uint32_t cookie, uint32_t now, unsigned *mss_index);

#endif
