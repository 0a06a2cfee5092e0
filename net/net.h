/*
 * The network stack: lwIP over every virtio-net NIC, addresses from the
 * command line (static) or DHCP (with a fallback), IPv6 link-local and
 * SLAAC, and lwIP's timeouts driven by the kernel's timers. Prints the
 * READY line (DESIGN.md) once the first interface has its address.
 */
#ifndef NET_NET_H
#define NET_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "net/http_date.h"
#include "net/stats_page.h"

/* What kmain asks of the network (from the command line: ip=, gw=, faults=). */
struct net_config {
    bool dhcp;            /* ip=dhcp: else the static address below on the first interface */
    uint32_t ip_addr;     /* host order: 10.0.2.15 is 0x0A00020F */
    uint8_t ip_prefix;
    bool gw_set;
    uint32_t gw_addr;
    bool fault_port;      /* faults=on: net/fault_port.c listens */
    uint64_t random_seed; /* for ports, ISNs and DHCP ids */
    uint64_t memory_free; /* bytes free as lwIP starts: its TCP PCBs are sized from it (net/lwip_pools.h) */
    struct stats_sources stats; /* what /stats reads from outside net/ */
    struct wall_clock wall_clock; /* the RTC's time, for HTTP's Date; zero: none */
    /* The site archive (newc cpio, net/site.h) where the loader put it, or
     * NULL: the built-in pages. It must stay there while served; a refused
     * one goes back through site_release. site_refused_bytes: an archive
     * the caller refused already (too large), for /stats. */
    const void *site;
    size_t site_size;
    void (*site_release)(const void *archive, size_t size);
    uint64_t site_refused_bytes;
};

/* Brings up lwIP over every virtio-net NIC and starts the services;
 * returns the number of interfaces brought up. */
int net_init(const struct net_config *cfg);

/* lwIP's due timeouts, then what every netif queued in this pass goes out
 * (one notification per NIC), then a kernel timer for lwIP's next timeout:
 * the main loop calls this last on every pass. */
void net_run_timeouts(void);

/* Stopping before power-off: the listeners close (a SYN now gets a reset)
 * and the count of open TCP connections is returned; while
 * net_shutdown_draining, some connection still has data its peer has not
 * acknowledged; net_shutdown_finish resets every connection left, so that
 * its client knows at once, and returns how many. */
int net_shutdown_begin(void);
bool net_shutdown_draining(void);
int net_shutdown_finish(void);

#endif
