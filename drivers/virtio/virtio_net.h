/*
 * The virtio-net driver (virtio 1.2, 5.1). It knows nothing of the network
 * stack: received frames go up through `struct virtio_net_stack` as lists of
 * buffers the stack hands back with virtio_net_rx_release (zero copy), and
 * frames to send come down as scatter-gather lists with an opaque token the
 * driver returns through tx_done once the device has read them.
 *
 * Interrupts only disable the queue's callbacks and schedule the NIC's poll
 * (lib/napi.h); the poll cleans the transmit ring, receives up to its budget,
 * refills, and re-enables interrupts with the lost-wake-up check. Transmit
 * has a poll of its own, scheduled by a transmit interrupt the driver asks for
 * only when the ring runs low.
 *
 * Segmentation offloads (virtio 1.2, 5.1.6.2 and 5.1.6.4): with GUEST_TSO4/6
 * a received frame may be a TCP segment of up to 64 KiB over many merged
 * buffers (its gso_type and gso_size say so, checked against the frame);
 * with HOST_TSO4/6 the stack may hand down one such segment with its
 * segment size, for the device to cut.
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
#define VIRTIO_NET_F_GUEST_TSO4 (1ULL << 7)  /* requires GUEST_CSUM */
#define VIRTIO_NET_F_GUEST_TSO6 (1ULL << 8)  /* requires GUEST_CSUM */
#define VIRTIO_NET_F_GUEST_ECN (1ULL << 9)   /* requires GUEST_TSO4 or GUEST_TSO6 */
#define VIRTIO_NET_F_HOST_TSO4 (1ULL << 11)  /* requires CSUM */
#define VIRTIO_NET_F_HOST_TSO6 (1ULL << 12)  /* requires CSUM */
#define VIRTIO_NET_F_MRG_RXBUF (1ULL << 15)
#define VIRTIO_NET_F_STATUS (1ULL << 16)
#define VIRTIO_NET_F_CTRL_VQ (1ULL << 17)
#define VIRTIO_NET_F_CTRL_RX (1ULL << 18)
#define VIRTIO_NET_F_GUEST_ANNOUNCE (1ULL << 21)
#define VIRTIO_F_ANY_LAYOUT (1ULL << 27)

/* struct virtio_net_hdr flags and gso_type values (5.1.6). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80  /* with a TCP type: the segments carry ECN (GUEST_ECN/HOST_ECN) */

#define VIRTIO_NET_MAX_DEVICES 8
#define VIRTIO_NET_HDR_MAX 12        /* struct virtio_net_hdr with num_buffers */
/* The largest frame any negotiated features allow: a TCP segment with GSO,
 * Ethernet and a VLAN tag, IPv6's fixed header and the largest payload
 * length its 16-bit field can say (IPv4's total length is smaller still). */
#define VIRTIO_NET_MAX_GSO_FRAME (VIRTIO_NET_ETH_OVERHEAD + 40 + 65535)
/* Buffers one received frame may span with MRG_RXBUF: the largest frame and
 * its header in full buffers (a device fills every buffer but the last,
 * 5.1.6.4). The driver's limit for a device is smaller unless it negotiated
 * GSO (a 9000-byte MTU takes 5). */
#define VIRTIO_NET_MAX_RX_MERGE \
    ((VIRTIO_NET_HDR_MAX + VIRTIO_NET_MAX_GSO_FRAME + VIRTIO_NET_RX_BUFFER_SIZE - 1) / VIRTIO_NET_RX_BUFFER_SIZE)
/* Scatter-gather entries of one frame: a 64 KiB segment built from some 45
 * smaller ones, each in up to three pieces, plus its header. */
#define VIRTIO_NET_MAX_TX_FRAGS 160

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
    uint8_t gso_type;  /* VIRTIO_NET_HDR_GSO_*: a TCP segment larger than the MTU allows (checked) */
    uint16_t gso_size; /* ... and the segment size it was sent with */
};

/* Offloads for one frame to send.
 * Checksum (needs CSUM): the device sums from csum_start to the end and stores
 * the result at csum_start + csum_offset (the field holds the pseudo-header sum).
 * Segmentation (gso_type not NONE; needs HOST_TSO4/6 and the checksum too): the
 * frame is one TCP segment of up to 64 KiB whose first hdr_len bytes are its
 * Ethernet, IP and TCP headers; the device sends it as segments of gso_size
 * payload bytes each, the headers adjusted per segment (5.1.6.2). */
struct virtio_net_tx_offload {
    bool csum;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint8_t gso_type;
    uint16_t gso_size;
    uint16_t hdr_len;
};

/* The network stack's side, given to virtio_net_attach_stack. */
struct virtio_net_stack {
    /* A frame arrived; the stack now owns every buffer in it until it releases each. */
    void (*receive)(void *ctx, const struct virtio_net_rx_frame *frame);
    /* The device is done with a frame passed to virtio_net_xmit. */
    void (*tx_done)(void *ctx, void *token);
    void (*link_changed)(void *ctx, bool up);
    /* virtio_net_xmit refused a frame for a full ring (-ENOSPC): room has come
     * back. Called from the driver's polls, never from inside virtio_net_xmit. */
    void (*tx_wake)(void *ctx);
    void *ctx;
    /* The device asks the stack to announce its addresses (GUEST_ANNOUNCE,
     * after a migration): a gratuitous ARP and an unsolicited neighbour
     * advertisement for each address. The driver acknowledges afterwards. */
    void (*announce)(void *ctx);
};

struct virtio_net_stats {
    uint64_t rx_packets, rx_bytes, rx_interrupts;
    uint64_t rx_drop_bad_header;     /* shorter than the virtio header, num_buffers out of range, a buffer not full */
    uint64_t rx_drop_gso_type;       /* gso_type not negotiated, or not what the frame is */
    uint64_t rx_drop_gso_size;       /* gso_size 0, or the header's lengths disagree with the frame */
    uint64_t rx_gso;                 /* large TCP segments received (GUEST_TSO4/6) */
    uint64_t rx_drop_incomplete;     /* a merged frame whose buffers were not all there */
    uint64_t rx_drop_no_stack;       /* arrived before a stack was attached */
    uint64_t rx_csum_completed;      /* NEEDS_CSUM frames finished by the driver */
    uint64_t rx_refill_empty;        /* refill found no free buffer (the stack holds them all) */
    uint64_t tx_packets, tx_bytes, tx_interrupts;
    uint64_t tx_gso;                 /* large TCP segments sent for the device to cut (HOST_TSO4/6) */
    uint64_t tx_ring_full;           /* frames refused for lack of room: back-pressure */
    uint64_t tx_stops, tx_wakes;     /* the stack told to hold its frames, and told to go on */
    uint64_t tx_polls;               /* runs of the transmit poll (its interrupt, when the ring ran low) */
    uint64_t tx_forced_kicks;        /* notifications sent because the ring was full (see xmit) */
    uint64_t tx_watchdog_kicks;      /* notifications the watchdog sent after 100 ms without completions */
    uint64_t watchdog_tx_reaped;     /* transmit completions the watchdog collected (nothing else came by) */
    uint64_t watchdog_polls;         /* polls the watchdog started (no interrupt and no other poll would have) */
    uint64_t watchdog_rx_polls;      /* ... that found received frames no interrupt announced: a lost wake-up */
    uint64_t watchdog_rx_frames;     /* ... and those frames */
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
/* The largest frame the device may hand over, as an MTU: its own, which is
 * above virtio_net_mtu when that was capped. */
uint16_t virtio_net_rx_mtu(const struct virtio_net *nic);
bool virtio_net_tx_csum_offload(const struct virtio_net *nic);
/* The device cuts large TCP segments over IPv4 / IPv6 (HOST_TSO4 / HOST_TSO6). */
bool virtio_net_tx_tso(const struct virtio_net *nic, bool ipv6);
const struct virtio_net_stats *virtio_net_stats(const struct virtio_net *nic);
const struct virtio_device *virtio_net_device(const struct virtio_net *nic);
/* Receive buffer ids run from 0 to this count - 1. */
uint16_t virtio_net_rx_buffer_count(const struct virtio_net *nic);
/* Receive buffers the stack holds now (back to 0 once lwIP freed every frame). */
uint16_t virtio_net_rx_buffers_held(const struct virtio_net *nic);

/* Queues a frame (count scatter-gather entries, device-readable) without
 * telling the device: virtio_net_tx_kick does, once for a batch (Linux's
 * xmit_more). Returns 0, -ENOSPC when the ring is full even after cleaning
 * (counted; the stack holds its frames until tx_wake), -EINVAL for an
 * offload the device did not agree to, or -EIO when the queue is broken. */
int virtio_net_xmit(struct virtio_net *nic, const struct vq_sg *frags, unsigned count, void *token,
                    const struct virtio_net_tx_offload *offload);
/* Tells the device about the frames queued since the last kick, if it wants to hear. */
void virtio_net_tx_kick(struct virtio_net *nic);

/* The multicast MAC addresses the stack wants to receive (the groups it
 * joined), for the device's receive filter (CTRL_RX's MAC table; without a
 * control queue the device receives every multicast anyway). At most
 * VIRTIO_NET_MCAST_MAX; more turn all-multicast on. Returns 0 or -errno. */
#define VIRTIO_NET_MCAST_MAX 16
int virtio_net_set_multicast(struct virtio_net *nic, const uint8_t (*macs)[6], unsigned count);

/* The stack is done with a received buffer: it goes back to the ring. */
void virtio_net_rx_release(struct virtio_net *nic, uint16_t id);

#endif
