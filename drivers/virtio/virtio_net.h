/*
 * The virtio-net driver (virtio 1.2, 5.1). It knows nothing of the network
 * stack: received frames go up through `struct virtio_net_stack` as lists of
 * buffers the stack hands back with virtio_net_rx_release (zero copy), and
 * frames to send come down as scatter-gather lists with an opaque token the
 * driver returns through tx_done once the device has read them.
 *
 * Interrupts only disable the queue's callbacks and schedule the NIC's poll
 * (lib/napi.h); the poll cleans the transmit ring, receives up to its budget,
 * refills, and re-enables interrupts with the lost-wake-up check.
 */
#ifndef DRIVERS_VIRTIO_VIRTIO_NET_H
#define DRIVERS_VIRTIO_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio/virtio.h"
#include "drivers/virtio/virtio_config.h"
#include "drivers/virtio/virtio_net_mtu.h"

/* Feature bits (virtio 1.2, 5.1.3). */
#define VIRTIO_NET_F_CSUM (1ULL << 0)
#define VIRTIO_NET_F_GUEST_CSUM (1ULL << 1)
#define VIRTIO_NET_F_MTU (1ULL << 3)
#define VIRTIO_NET_F_MAC (1ULL << 5)
#define VIRTIO_NET_F_MRG_RXBUF (1ULL << 15)
#define VIRTIO_NET_F_STATUS (1ULL << 16)
#define VIRTIO_NET_F_CTRL_VQ (1ULL << 17)
#define VIRTIO_NET_F_CTRL_RX (1ULL << 18)
#define VIRTIO_NET_F_GUEST_ANNOUNCE (1ULL << 21)
#define VIRTIO_F_ANY_LAYOUT (1ULL << 27)

/* struct virtio_net_hdr flags (5.1.6). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2

#define VIRTIO_NET_MAX_DEVICES 4
#define VIRTIO_NET_MAX_RX_MERGE 16  /* buffers one received frame may span */
#define VIRTIO_NET_MAX_TX_FRAGS 32  /* scatter-gather entries of one frame */

struct virtio_net;

struct virtio_net_rx_buffer_ref {
    uint16_t id;   /* hand back with virtio_net_rx_release */
    uint8_t *data; /* frame bytes (the virtio header already skipped) */
    uint32_t len;
};

struct virtio_net_rx_frame {
    unsigned count;
    struct virtio_net_rx_buffer_ref bufs[VIRTIO_NET_MAX_RX_MERGE];
    bool data_valid; /* the device checked the checksums (GUEST_CSUM) */
};

/* Checksum offload for one frame: the device sums from `start` to the end
 * and stores the result at start + offset (the field holds the pseudo-header sum). */
struct virtio_net_tx_csum {
    uint16_t start;
    uint16_t offset;
};

/* The network stack's side, given to virtio_net_attach_stack. */
struct virtio_net_stack {
    /* A frame arrived; the stack now owns every buffer in it until it releases each. */
    void (*receive)(void *ctx, const struct virtio_net_rx_frame *frame);
    /* The device is done with a frame passed to virtio_net_xmit. */
    void (*tx_done)(void *ctx, void *token);
    void (*link_changed)(void *ctx, bool up);
    void *ctx;
    /* The device asks the stack to announce its addresses (GUEST_ANNOUNCE,
     * after a migration): a gratuitous ARP and an unsolicited neighbour
     * advertisement for each address. The driver acknowledges afterwards. */
    void (*announce)(void *ctx);
};

struct virtio_net_stats {
    uint64_t rx_packets, rx_bytes, rx_interrupts;
    uint64_t rx_drop_bad_header;     /* shorter than the virtio header, or num_buffers out of range */
    uint64_t rx_drop_incomplete;     /* a merged frame whose buffers were not all there */
    uint64_t rx_drop_no_stack;       /* arrived before a stack was attached */
    uint64_t rx_csum_completed;      /* NEEDS_CSUM frames finished by the driver */
    uint64_t rx_refill_empty;        /* refill found no free buffer (the stack holds them all) */
    uint64_t tx_packets, tx_bytes, tx_interrupts;
    uint64_t tx_ring_full;           /* frames refused for lack of room: back-pressure */
    uint64_t tx_forced_kicks;        /* notifications sent because the ring was full (see xmit) */
    uint64_t tx_watchdog_kicks;      /* notifications the watchdog sent after 100 ms without completions */
    uint64_t tx_completed;
    uint64_t polls, budget_exhausted;
    uint64_t needs_reset;            /* the device set NEEDS_RESET */
    uint64_t queues_broken;          /* a queue failed the virtqueue's defensive checks */
    uint64_t tx_timeouts;            /* 2 s of frames in flight and no completion */
    uint64_t device_resets;          /* recoveries completed (for any of the three reasons) */
    uint64_t tx_dropped_by_reset;    /* frames in flight when the device was reset */
    uint64_t ctrl_commands;          /* control queue commands the device acknowledged */
    uint64_t ctrl_failures;          /* refused, or no answer in time */
    uint64_t announces;              /* GUEST_ANNOUNCE requests handled */
};

/* What kmain asks of every virtio-net device (from the command line). */
struct virtio_net_config {
    struct virtio_config virtio; /* transport: irq=, indirect=, event_idx= */
    int budget;                  /* frames per poll (budget=) */
    bool log_stats;              /* a statistics line every 5 s (log=debug) */
    bool faults;                 /* faults=on: virtio_net_inject_fault acts (tests only) */
    const struct virtio_mmio_window *mmio; /* virtio-mmio windows to probe besides PCI (ACPI, command line) */
    int mmio_count;
    bool ctrl;                   /* ctrl=: offer CTRL_VQ, CTRL_RX and GUEST_ANNOUNCE */
};

/* Fault injection for the recovery tests (faults=on, else -EPERM): a device error
 * (NEEDS_RESET on a modern device, a silent stop on a legacy one), or a used
 * entry with an out-of-range descriptor id (the queue breaks). Either way the
 * poll resets the device and the stack goes on. Returns 0 or -errno. */
enum virtio_net_fault { VIRTIO_NET_FAULT_DEVICE_ERROR, VIRTIO_NET_FAULT_BAD_USED_ID };
int virtio_net_inject_fault(struct virtio_net *nic, enum virtio_net_fault fault);

/* Finds every virtio-net device (PCI functions, then the virtio-mmio windows
 * whose device id is 1) and brings it to DRIVER_OK; returns how many. */
int virtio_net_probe_all(const struct virtio_net_config *cfg);

int virtio_net_count(void);
struct virtio_net *virtio_net_get(int index);

void virtio_net_attach_stack(struct virtio_net *nic, const struct virtio_net_stack *stack);

const uint8_t *virtio_net_mac(const struct virtio_net *nic);
const char *virtio_net_name(const struct virtio_net *nic);
bool virtio_net_link_up(const struct virtio_net *nic);
uint16_t virtio_net_mtu(const struct virtio_net *nic);
bool virtio_net_tx_csum_offload(const struct virtio_net *nic);
const struct virtio_net_stats *virtio_net_stats(const struct virtio_net *nic);
const struct virtio_device *virtio_net_device(const struct virtio_net *nic);
/* Receive buffer ids run from 0 to this count - 1. */
uint16_t virtio_net_rx_buffer_count(const struct virtio_net *nic);
/* Receive buffers the stack holds now (back to 0 once lwIP freed every frame). */
uint16_t virtio_net_rx_buffers_held(const struct virtio_net *nic);

/* Queues a frame (count scatter-gather entries, device-readable). Returns 0,
 * -ENOSPC when the ring is full even after cleaning (counted; try later), or
 * -EIO when the queue is broken. */
int virtio_net_xmit(struct virtio_net *nic, const struct vq_sg *frags, unsigned count, void *token,
                    const struct virtio_net_tx_csum *csum);

/* The multicast MAC addresses the stack wants to receive (the groups it
 * joined), for the device's receive filter (CTRL_RX's MAC table; without a
 * control queue the device receives every multicast anyway). At most
 * VIRTIO_NET_MCAST_MAX; more turn all-multicast on. Returns 0 or -errno. */
#define VIRTIO_NET_MCAST_MAX 16
int virtio_net_set_multicast(struct virtio_net *nic, const uint8_t (*macs)[6], unsigned count);

/* The stack is done with a received buffer: it goes back to the ring. */
void virtio_net_rx_release(struct virtio_net *nic, uint16_t id);

#endif
