/*
 * The host stand-in for the kernel services that the receive path's real
 * code (drivers/virtio/virtio_net.c, net/nic_netif.c, net/net.c, the
 * services and lwIP) calls: heap, fake clock, kernel timers, NAPI, logging,
 * the PCI/virtio transport (one simulated virtio-net function), and lwIP's
 * platform hooks (net/lwip_port.c's job in the kernel).
 */
#ifndef TESTS_FUZZ_RX_PATH_ENV_H
#define TESTS_FUZZ_RX_PATH_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio/virtqueue.h"

#define ENV_RING_SIZE 256 /* QEMU's default queue size */

/* The device side, called by the environment. */
struct env_device_ops {
    void (*queue_notified)(struct virtqueue *vq); /* the driver kicked `vq` */
};

void env_set_device(const struct env_device_ops *ops, uint64_t features, const uint8_t mac[6]);

/* The queues virtio_find_vqs made (index 0 rx, 1 tx). */
struct virtqueue *env_queue(unsigned index);

/* lwIP's random numbers start over from a fixed seed. */
void env_reset_random(void);

/* The fake clock. */
uint64_t env_now_ns(void);
/* Moves the clock forward and runs due kernel timers and main-loop hooks
 * (lwIP's timeouts), then the scheduled polls. */
void env_advance(uint64_t ns);
/* Runs the scheduled polls until none is left (bounded). */
void env_run_polls(void);

#endif
