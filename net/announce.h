/*
 * Announcing the guest's addresses after it moved (virtio-net's
 * GUEST_ANNOUNCE, as after a live migration): a gratuitous ARP for the IPv4
 * address and an unsolicited neighbour advertisement (RFC 4861, 7.2.6) for
 * each valid IPv6 address, so switches and neighbours learn where it is now.
 */
#ifndef NET_ANNOUNCE_H
#define NET_ANNOUNCE_H

#include "lwip/netif.h"

/* Sends them on `netif`; returns how many frames went out. */
unsigned net_announce(struct netif *netif);

#endif
