/*
 * SYN cookies for lwIP's listeners (RFC 4987 section 3.6; the cookie itself
 * is net/syn_cookie.h). lwIP 2.1.3 gives every SYN a PCB in SYN_RCVD for up
 * to 20 s and never evicts one for a new SYN, so a SYN flood from forged
 * addresses fills the PCB pool and refuses every real client for 20 s.
 *
 * Here a listener keeps at most tcp_listen_half_open_max connections half
 * open, as lwIP would; a SYN beyond that, or one whose PCB would be an
 * idle connection's (the pool empty), is answered with a SYN-ACK whose
 * sequence number is a cookie, and nothing is kept. When an ACK reaches the
 * listener (no PCB matched it) while cookies are out and it acknowledges a
 * good cookie, the connection is made then: a PCB in SYN_RCVD as lwIP's
 * tcp_listen_input would have made it, with the MSS the cookie carries,
 * and the ACK is handed back to tcp_input (net/tcp_reinject.h), which
 * completes the handshake and calls the listener's accept function.
 *
 * Runs from LWIP_HOOK_TCP_INPACKET_PCB (net/lwip_hooks.c), which counts the
 * verdicts for /stats.
 */
#ifndef NET_TCP_LISTEN_COOKIES_H
#define NET_TCP_LISTEN_COOKIES_H

#include "lwip/arch.h"
#include "lwip/def.h"
#include "lwip/opt.h"
#include "net/lwip_pools.h"

/* A quarter of the TCP PCB pool per listener (16 of the smallest pool),
 * but not past its backlog, which lwIP enforces itself by dropping the SYN
 * (at most 255: lwIP counts in a byte). A flood at one port leaves the
 * rest to established connections, and real clients beyond it are served
 * through cookies. Not fewer: a cookie's SYN-ACK carries neither window
 * scaling nor SACK, and clients that connect together (`wrk -c 100`) would
 * lose both; Linux's SYN queue takes nginx's backlog of 511 before it sends
 * cookies. */
static inline u16_t tcp_listen_half_open_max(u16_t pool_pcbs, u8_t backlog)
{
    u16_t quarter = LWIP_MAX(pool_pcbs, LWIP_POOLS_TCP_PCBS_MIN) / 4;
    return LWIP_MIN(quarter, backlog);
}

struct tcp_pcb_listen;
struct tcp_hdr;
struct tcp_syn_options;
struct pbuf;

/* Connections that lwIP's tcp_alloc may abort for a new PCB (set below the
 * listeners' priority: the idle ones of HTTP and echo, through
 * tcp_service_set_reclaimable) come (+1) and go (-1). */
void tcp_listen_cookies_reclaimable(int delta);

enum tcp_listen_cookie_verdict {
    TCP_COOKIE_PASS,      /* not for cookies: lwIP's tcp_listen_input handles it */
    TCP_COOKIE_SENT,      /* a SYN past the half-open limit, answered with a cookie */
    TCP_COOKIE_CONNECTED, /* an ACK of a good cookie: the connection was made */
    TCP_COOKIE_BAD,       /* an ACK while cookies are out, of none of them: lwIP resets it */
    TCP_COOKIE_NO_PCB,    /* a good cookie, but no PCB to be had: dropped, the client retransmits */
};

/* The hook's arguments for a segment at a listener; `syn` holds the
 * segment's MSS and timestamp options. TCP_COOKIE_SENT, _CONNECTED and
 * _NO_PCB mean the segment is consumed. */
enum tcp_listen_cookie_verdict tcp_listen_cookies_input(struct tcp_pcb_listen *lpcb, struct tcp_hdr *hdr,
                                                        u16_t optlen, const u8_t *opt2, struct pbuf *p,
                                                        const struct tcp_syn_options *syn);

#endif
