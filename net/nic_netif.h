/*
 * One lwIP netif per virtio-net NIC: received frames enter lwIP as pbufs
 * over the driver's own buffers (no copy), and lwIP's frames leave as
 * scatter-gather lists over its pbufs (no copy), each pbuf held by a
 * reference until the device is done with it.
 */
#ifndef NET_NIC_NETIF_H
#define NET_NIC_NETIF_H

#include <stdint.h>

#include "drivers/virtio/virtio_net.h"
#include "lwip/netif.h"

struct nic_netif_stats {
    uint64_t rx_input_errors;    /* lwIP's input refused the frame: freed here */
    uint64_t rx_drop_oversize;   /* frames longer than the MTU allows: dropped before lwIP */
    uint64_t rx_copied;          /* frames copied to the heap because the stack held most receive buffers */
    uint64_t rx_drop_no_memory;  /* ... and no heap for the copy: dropped */
    uint64_t tx_linearized;      /* pbuf chains longer than the driver takes, copied into one */
    uint64_t tx_no_memory;       /* ... and the copy could not be had */
    uint64_t tx_ring_full;       /* the driver refused for lack of room: ERR_MEM to lwIP */
    uint64_t tx_csum_offloaded;
    uint64_t tx_csum_unparsed;   /* TCP frames whose headers were not in the first pbuf */
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

#endif
