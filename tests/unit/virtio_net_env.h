/*
 * One virtio-net device for the driver's real code (drivers/virtio/virtio_net*.c
 * with lib/napi.c): the transport and kernel services it calls are stood in
 * for here, and each virtqueue is served by a simulated device
 * (tests/unit/virtio_sim.c) over the same ring memory. Interrupts are
 * delivered when the simulated device decides to raise one.
 */
#ifndef TESTS_UNIT_VIRTIO_NET_ENV_H
#define TESTS_UNIT_VIRTIO_NET_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio/virtio_net.h"
#include "tests/unit/virtio_sim.h"

#define VNENV_RING_SIZE 64

struct vnenv {
    struct virtio_net *nic;
    struct sim rx, tx;
    unsigned long frames_received;    /* handed to the stack */
    unsigned long interrupts_delivered;
    /* Called once inside the driver's next virtqueue_enable_cb_prepare on the
     * receive queue, after it ran: the moment a frame can land unseen. */
    void (*after_enable_prepare)(struct vnenv *e);
};

#define VNENV_BUDGET 8

/* The device (VERSION_1, MRG_RXBUF, EVENT_IDX and packed rings as asked;
 * poll budget VNENV_BUDGET), idle, with the counters above at zero. */
struct vnenv *vnenv_get(bool event_idx, bool packed);

/* The device completes `count` receive buffers with one-buffer frames of
 * `len` bytes, publishes them, and raises the interrupt if it decides to.
 * Returns how many interrupts were delivered. */
unsigned vnenv_receive(struct vnenv *e, unsigned count, uint32_t len);
/* The same, but the device does not interrupt (it saw callbacks off). */
void vnenv_receive_silently(struct vnenv *e, unsigned count, uint32_t len);

/* Runs the scheduled polls once, as one main-loop pass does. */
void vnenv_run_polls(struct vnenv *e);

/* Receive buffers completed by the device and not yet taken by the driver. */
unsigned vnenv_rx_unseen(const struct vnenv *e);

#endif
