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

/* What the stack saw of the last frame it was handed. */
struct vnenv_frame {
    unsigned count;        /* buffers */
    uint32_t bytes;
    uint8_t gso_type;
    uint16_t gso_size;
    bool data_valid;
    uint8_t head[64];      /* its first bytes */
};

struct vnenv {
    struct virtio_net *nic;
    struct sim rx, tx;
    unsigned long frames_received;    /* handed to the stack */
    unsigned long interrupts_delivered;
    struct vnenv_frame last;          /* the last frame handed to the stack */
    unsigned long tx_done;            /* frames the driver gave back */
    unsigned long tx_wakes;           /* tx_wake calls */
    /* Called once inside the driver's next virtqueue_enable_cb_prepare on the
     * receive queue, after it ran: the moment a frame can land unseen. */
    void (*after_enable_prepare)(struct vnenv *e);
};

#define VNENV_BUDGET 8

/* The device (VERSION_1, MRG_RXBUF, EVENT_IDX and packed rings as asked, the
 * checksum and segmentation offloads both ways; poll budget VNENV_BUDGET),
 * idle, with the counters above at zero. */
struct vnenv *vnenv_get(bool event_idx, bool packed);

/* Device config space as the env serves it (virtio 1.2, 5.1.4): mac, status, pairs, mtu. */
#define VNENV_CONFIG_SIZE 12
/* Probes one more device offering `features` (VERSION_1 always) with that
 * config; NULL if the driver refused it. The driver keeps at most
 * VIRTIO_NET_MAX_DEVICES, four of them vnenv_get's. */
struct vnenv *vnenv_probe(uint64_t features, const uint8_t config[VNENV_CONFIG_SIZE]);

/* The device writes `bytes` (virtio header and frame) into as many receive
 * buffers as `lens` has entries, lens[i] bytes into the i-th (reported as
 * written), publishes them and interrupts if it decides to; returns whether it did. */
bool vnenv_receive_raw(struct vnenv *e, const uint8_t *bytes, const uint32_t *lens, unsigned nbufs);

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

/* Leaves the device as the tests expect to find it: no poll pending and the
 * receive ring full (the driver refills only once half of it is empty, so
 * the device delivers enough frames to get it there). */
void vnenv_settle(struct vnenv *e);

/* Moves the clock forward and runs the kernel timers that came due. */
void vnenv_advance(uint64_t ns);

/* The device sends `count` of the oldest transmit chains it took, and
 * interrupts if it decides to; returns how many interrupts it delivered. */
unsigned vnenv_transmit(struct vnenv *e, unsigned count);

#endif
