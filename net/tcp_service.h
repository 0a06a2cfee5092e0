/*
 * What the TCP services (HTTP, echo) share: listening on a port, and on each
 * accepted connection a zeroed per-connection struct passed to lwIP as the
 * pcb's arg, keepalive on (net/tcp_keepalive.h), then the service's own
 * callbacks. A connection for which there is no memory is aborted and counted.
 */
#ifndef NET_TCP_SERVICE_H
#define NET_TCP_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "lwip/tcp.h"

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

#endif
