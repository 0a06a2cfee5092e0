/*
 * The MTU virtio-net runs at and the receive buffers it needs for it
 * (virtio 1.2, 5.1.4.1 and 5.1.6.3.1). Pure logic, unit-tested.
 */
#ifndef DRIVERS_VIRTIO_VIRTIO_NET_MTU_H
#define DRIVERS_VIRTIO_VIRTIO_NET_MTU_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_NET_MTU_DEFAULT 1500   /* Ethernet's, without VIRTIO_NET_F_MTU */
#define VIRTIO_NET_MTU_MIN 68         /* the spec's floor for mtu (5.1.4.1), IPv4's minimum (RFC 791) */
#define VIRTIO_NET_MTU_MAX 9000       /* the largest this driver sends at: jumbo frames */
#define VIRTIO_NET_ETH_OVERHEAD 18    /* Ethernet header 14 and one VLAN tag 4 */
#define VIRTIO_NET_RX_BUFFER_SIZE 2048 /* one receive buffer with MRG_RXBUF, and the least without */
#define VIRTIO_NET_RX_BUFFER_ALIGN 64

enum virtio_net_mtu_verdict {
    VIRTIO_NET_MTU_NOT_OFFERED, /* no VIRTIO_NET_F_MTU: the default */
    VIRTIO_NET_MTU_TAKEN,       /* the device's, as it is */
    VIRTIO_NET_MTU_CAPPED,      /* above what the driver sends at: VIRTIO_NET_MTU_MAX (frames up to the device's still taken) */
    VIRTIO_NET_MTU_REJECTED,    /* below the minimum: the feature is not accepted, the default */
};

/* The MTU to run at, given whether the device offers VIRTIO_NET_F_MTU and
 * its mtu field; the verdict says which case it was. */
enum virtio_net_mtu_verdict virtio_net_mtu_choose(bool offered, uint16_t device_mtu, uint16_t *mtu);

/* Bytes of one receive buffer: with MRG_RXBUF a frame may span buffers;
 * without it each buffer must hold the header and a whole frame. */
uint32_t virtio_net_rx_buffer_bytes(bool mergeable, unsigned hdr_len, uint16_t mtu);

#endif
