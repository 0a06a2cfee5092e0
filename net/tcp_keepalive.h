/*
 * Keepalive for accepted connections: lwIP probes only pcbs with
 * SOF_KEEPALIVE set, and its default would wait two hours. A peer that
 * vanished (powered off, unplugged, its traffic dropped) answers nothing,
 * not even retransmissions, so without this its pcb and buffers stay ours
 * for many minutes (retransmission backoff) or forever (an idle echo
 * connection). Any segment from the peer restarts the idle time, so a
 * live peer, even one advertising a zero window, is never cut.
 */
#ifndef NET_TCP_KEEPALIVE_H
#define NET_TCP_KEEPALIVE_H

#include "lwip/tcp.h"

#define TCP_KEEPALIVE_IDLE_MS 10000   /* silence before the first probe */
#define TCP_KEEPALIVE_INTERVAL_MS 2000
#define TCP_KEEPALIVE_PROBES 5         /* unanswered probes: the pcb is aborted ~20 s after the last segment */

static inline void tcp_keepalive_enable(struct tcp_pcb *pcb)
{
    ip_set_option(pcb, SOF_KEEPALIVE);
    pcb->keep_idle = TCP_KEEPALIVE_IDLE_MS;
    pcb->keep_intvl = TCP_KEEPALIVE_INTERVAL_MS;
    pcb->keep_cnt = TCP_KEEPALIVE_PROBES;
}

#endif
