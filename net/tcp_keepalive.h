/*
 * Keepalive for accepted connections: lwIP probes only pcbs with
 * SOF_KEEPALIVE set, and its default would wait two hours. A peer that
 * vanished (powered off, unplugged, its traffic dropped) from an idle
 * connection answers nothing, so without this its pcb stays ours forever
 * (an idle echo session). Any segment from the peer restarts the idle
 * time, so a live peer is never cut; and a connection with data in flight
 * is left to the retransmission and persist timers
 * (scripts/lwip-tcp-keepalive-idle.patch) and to the services' minute
 * (net/tcp_service.h).
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
