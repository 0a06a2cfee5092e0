/*
 * One lwIP netif per virtio-net NIC: received frames enter lwIP as pbufs
 * over the driver's own buffers (no copy; a large TCP segment as one chain
 * of up to 33 of them), and lwIP's frames leave as scatter-gather lists over
 * its pbufs (no copy; net/nic_tx.h), each pbuf held by a reference until the
 * device is done with it.
 */
#ifndef NET_NIC_NETIF_H
#define NET_NIC_NETIF_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio/virtio_net.h"
#include "lwip/netif.h"

struct nic_netif_stats {
    uint64_t rx_input_errors;    /* lwIP's input refused the frame: freed here */
    uint64_t rx_drop_oversize;   /* frames longer than the MTU allows: dropped before lwIP */
    uint64_t rx_copied;          /* frames copied to the heap because the stack held most receive buffers */
    uint64_t rx_drop_no_memory;  /* ... and no heap for the copy: dropped */
};

struct nic_netif;

/* Creates the netif for `nic` and attaches it to the driver. */
struct nic_netif *nic_netif_add(struct virtio_net *nic);

/* The netifs added so far, in order. */
int nic_netif_count(void);
struct nic_netif *nic_netif_get(int i);

struct netif *nic_netif_lwip(struct nic_netif *n);
struct virtio_net *nic_netif_nic(struct nic_netif *n);
const struct nic_netif_stats *nic_netif_stats(const struct nic_netif *n);
struct nic_tx_stats;
const struct nic_tx_stats *nic_netif_tx_stats(const struct nic_netif *n);

/* The MTU `netif`'s device carries (virtio's mtu, or 1500): received frames
 * are held to it. */
uint16_t nic_netif_device_mtu(const struct netif *netif);

/* The MTU the network asks for (DHCP's option 26; the caller keeps it
 * within nic_netif_device_mtu): what lwIP sends, and the MSS it offers, from
 * now on; IPv6 keeps at least its minimum link MTU, 1280. */
void nic_netif_set_link_mtu(struct netif *netif, uint16_t mtu);

/* Whether `netif` is one of these whose device cuts TCP segments larger than
 * the MTU itself (HOST_TSO4/6 for IPv4/IPv6); and whether every one's does. */
bool nic_netif_cuts_tcp(const struct netif *netif, bool v6);
bool nic_netif_all_cut_tcp(bool v6);

/* The end of a main-loop pass: what every netif queued goes out (net/nic_tx.h). */
void nic_netif_flush_all(void);

#endif
