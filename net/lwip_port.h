/* The kernel side of lwIP's platform hooks (net/lwip_port.c) that net_init sets up. */
#ifndef NET_LWIP_PORT_H
#define NET_LWIP_PORT_H

#include <stdint.h>

/* Seeds net_random32 (ports, ISNs, DHCP ids); call before lwip_init. */
void net_random_seed(uint64_t seed);

#endif
