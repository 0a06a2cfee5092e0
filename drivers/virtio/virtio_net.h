/* The virtio-net driver (virtio 1.2, 5.1). */
#ifndef DRIVERS_VIRTIO_VIRTIO_NET_H
#define DRIVERS_VIRTIO_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/cmdline.h"
#include "drivers/virtio/virtio.h"

/* Feature bits (virtio 1.2, 5.1.3). */
#define VIRTIO_NET_F_CSUM (1ULL << 0)
#define VIRTIO_NET_F_GUEST_CSUM (1ULL << 1)
#define VIRTIO_NET_F_MTU (1ULL << 3)
#define VIRTIO_NET_F_MAC (1ULL << 5)
#define VIRTIO_NET_F_MRG_RXBUF (1ULL << 15)
#define VIRTIO_NET_F_STATUS (1ULL << 16)

#define VIRTIO_NET_S_LINK_UP 1

#define VIRTIO_NET_MAX_DEVICES 4
#define VIRTIO_NET_RX_QUEUE 0
#define VIRTIO_NET_TX_QUEUE 1

struct virtio_net {
    struct virtio_device vdev;
    uint8_t mac[6];
    bool link_up;
};

/* Finds every virtio-net function and brings it to DRIVER_OK; returns how many. */
int virtio_net_probe_all(const struct kernel_options *opts);

#endif
