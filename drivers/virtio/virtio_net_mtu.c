/*
 * The MTU and the receive buffer size (see virtio_net_mtu.h).
 */
#include "drivers/virtio/virtio_net_mtu.h"

enum virtio_net_mtu_verdict virtio_net_mtu_choose(bool offered, uint16_t device_mtu, uint16_t *mtu)
{
    *mtu = VIRTIO_NET_MTU_DEFAULT;
    if (!offered)
        return VIRTIO_NET_MTU_NOT_OFFERED;
    /* A device must not offer less (5.1.4.1); IPv4 cannot run on less. */
    if (device_mtu < VIRTIO_NET_MTU_MIN)
        return VIRTIO_NET_MTU_REJECTED;
    /* Sending less than the device allows is always allowed (5.1.4.2). */
    if (device_mtu > VIRTIO_NET_MTU_MAX) {
        *mtu = VIRTIO_NET_MTU_MAX;
        return VIRTIO_NET_MTU_CAPPED;
    }
    *mtu = device_mtu;
    return VIRTIO_NET_MTU_TAKEN;
}

uint32_t virtio_net_rx_buffer_bytes(bool mergeable, unsigned hdr_len, uint16_t mtu)
{
    if (mergeable)
        return VIRTIO_NET_RX_BUFFER_SIZE;
    uint32_t whole = hdr_len + VIRTIO_NET_ETH_OVERHEAD + (uint32_t)mtu;
    whole = (whole + VIRTIO_NET_RX_BUFFER_ALIGN - 1) & ~(uint32_t)(VIRTIO_NET_RX_BUFFER_ALIGN - 1);
    return whole > VIRTIO_NET_RX_BUFFER_SIZE ? whole : VIRTIO_NET_RX_BUFFER_SIZE;
}
