/*
 * What the TCP services (HTTP, echo) share: listening on a port, and on each
 * accepted connection a zeroed per-connection struct passed to lwIP as the
 * pcb's arg, keepalive on (net/tcp_keepalive.h), then the service's own
 * callbacks. A connection for which there is no memory is aborted and counted.
 * Also what both do with their connections: an idle one made reclaimable,
 * one whose peer takes nothing for a minute given up, and a window reopened
 * by more than tcp_recved takes at once.
 */
#ifndef NET_TCP_SERVICE_H
#define NET_TCP_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lwip/tcp.h"

/* tcp_poll's interval for once a second: lwIP polls every other TCP timer tick. */
#define TCP_SERVICE_POLL_1S (1000 / (2 * TCP_TMR_INTERVAL))

/* A peer that has acknowledged nothing for this long while data waits for it
 * (in flight, or held back by its shut window) is taken for gone: nginx's
 * send_timeout. lwIP's retransmission and persist timers ask it meanwhile,
 * and keepalive judges only connections with nothing in flight
 * (scripts/lwip-tcp-keepalive-idle.patch): a link that goes quiet for less
 * than this, a Wi-Fi handover, loses no download. */
#define TCP_SERVICE_SEND_TIMEOUT_NS (60ULL * 1000000000ULL)

/* The peer owes acknowledgements: lwIP holds data for it, sent or not. */
static inline bool tcp_service_owed(const struct tcp_pcb *pcb) { return pcb->unacked || pcb->unsent; }

struct tcp_service {
    const char *name;       /* in error lines: "http", "echo" */
    uint16_t port;
    size_t conn_size;       /* bytes of the service's connection struct */
    /* Sets the connection's callbacks; `conn` is zeroed and already the pcb's arg. */
    void (*accepted)(void *conn, struct tcp_pcb *pcb);
    uint64_t *refused;      /* connections aborted for lack of memory (may be NULL) */
};

/* Listens on svc->port (IPv4 and IPv6); `svc` must outlive the listener.
 * Returns 0, or -1 with a console line. */
int tcp_service_listen(const struct tcp_service *svc);

/* How many bytes one tcp_write may be given now (0: none until an ACK frees
 * room). lwIP refuses a write whole when the pbufs of its segments would
 * overflow the queue (TCP_SND_QUEUELEN counts pbufs, two a segment for data
 * by reference, one for data copied): a 64 KiB write at the MSS of 88 a
 * Linux client may announce is 745 segments and would never fit. Counted
 * from the smallest segments tcp_write may cut. */
u16_t tcp_service_write_room(const struct tcp_pcb *pcb, bool by_reference);

/* tcp_recved for `bytes` that may be more than its u16_t takes at once. */
void tcp_service_recved(struct tcp_pcb *pcb, size_t bytes);

/* An idle connection below the listeners' priority (on), or back at it:
 * when the PCB pool is empty, lwIP's tcp_alloc aborts the longest-idle one
 * below it for a new client (tcp_kill_prio), and the SYN-cookie rule counts
 * them (net/tcp_listen_cookies.h). *reclaimable is the connection's own
 * record of it; pcb NULL: lwIP has already freed the pcb (its err callback),
 * so only the count goes. */
void tcp_service_set_reclaimable(struct tcp_pcb *pcb, bool *reclaimable, bool on);

#endif
