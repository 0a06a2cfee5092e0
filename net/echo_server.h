/* Echo (RFC 862) on TCP and UDP port 7, IPv4 and IPv6. */
#ifndef NET_ECHO_SERVER_H
#define NET_ECHO_SERVER_H

#include <stdint.h>

#define ECHO_PORT 7

struct echo_server_stats {
    uint64_t tcp_connections;
    uint64_t tcp_refused;     /* aborted for lack of memory */
    uint64_t tcp_reclaimed;   /* idle sessions lwIP took for a new client (the PCB pool empty) */
    uint64_t tcp_timeouts;    /* sessions given up: the peer took nothing for a minute (tcp_service.h) */
    uint64_t tcp_bytes;
    uint64_t tcp_coalesced;   /* pending data copied off the receive buffers */
    uint64_t udp_datagrams;
    uint64_t udp_errors;
    uint64_t udp_refused;     /* from a small service's port or to a broadcast/multicast: not answered */
};

int echo_server_start(void);
const struct echo_server_stats *echo_server_stats(void);

#endif
