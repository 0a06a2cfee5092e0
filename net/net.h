/*
 * The network stack: lwIP over every virtio-net NIC, addresses from the
 * command line (static) or DHCP (with a fallback), IPv6 link-local and
 * SLAAC, and lwIP's timeouts driven by the kernel's timers. Prints the
 * READY line (DESIGN.md) once the first interface has its address.
 */
#ifndef NET_NET_H
#define NET_NET_H

#include "boot/cmdline.h"

/* Returns the number of interfaces brought up. */
int net_init(const struct kernel_options *opts);

struct nic_netif;
/* The interfaces net_init brought up (for /stats). */
int net_netif_count(void);
struct nic_netif *net_netif(int i);

#endif
