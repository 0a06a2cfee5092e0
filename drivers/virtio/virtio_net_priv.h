/*
 * What the files of the virtio-net driver share, and nothing outside it
 * includes: the device state and the calls between its jobs.
 *   virtio_net.c           lifecycle: probe, configuration and link, recovery, the transmit watchdog
 *   virtio_net_datapath.c  receive, the receive interrupt and the NAPI poll
 *   virtio_net_tx.c        transmit: offloads, batched notifications, the transmit poll and interrupt
 *   virtio_net_faults.c    fault injection for the recovery tests (faults=on)
 *   virtio_net_stats.c     accessors, and the periodic statistics line (log=debug)
 */
#ifndef DRIVERS_VIRTIO_VIRTIO_NET_PRIV_H
#define DRIVERS_VIRTIO_VIRTIO_NET_PRIV_H

#include "arch/x86_64/timer.h"
#include "drivers/virtio/net_buffers.h"
#include "drivers/virtio/virtio_net.h"
#include "lib/napi.h"

#define RX_QUEUE 0
#define TX_QUEUE 1
#define CTRL_QUEUE 2  /* with one queue pair (no VIRTIO_NET_F_MQ, 5.1.2) */

/* struct virtio_net_hdr (5.1.6); num_buffers exists with MRG_RXBUF or VERSION_1. */
struct virtio_net_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
} __attribute__((packed));

/* One control command's device-visible memory (5.1.6.5): the class and
 * command, the data, and the device's ack. */
struct vn_ctrl_mac_table {
    uint32_t entries;
    uint8_t macs[VIRTIO_NET_MCAST_MAX][6];
} __attribute__((packed));

struct vn_ctrl {
    uint8_t hdr[2];
    uint8_t on_off;
    uint8_t ack;
    struct vn_ctrl_mac_table unicast;   /* only our MAC: entries 1 */
    struct vn_ctrl_mac_table multicast;
};

struct tx_slot {
    struct virtio_net_hdr hdr;
    void *token;
};

struct virtio_net {
    struct virtio_device vdev;
    uint8_t mac[6];
    bool link_up;
    uint16_t mtu;
    uint16_t rx_mtu;          /* what may come in: the device's MTU, also when above mtu (5.1.4.2) */
    uint32_t rx_buffer_size;  /* virtio_net_rx_buffer_bytes: whole frames without MRG_RXBUF */
    unsigned hdr_len;
    bool mergeable;
    bool header_apart;  /* no ANY_LAYOUT (legacy): the header needs its own descriptor */
    bool busy_poll;     /* irq=poll: never sleep, never take interrupts */
    struct napi napi;
    struct virtio_net_stack stack;
    bool has_stack;
    /* Receive buffers: twice the ring, so the stack may hold a ringful while the ring stays full. */
    uint8_t *rx_memory;
    struct rx_pool rx_pool;
    /* Transmit header slots, one per ring entry. */
    struct tx_slot *tx_slot_mem;
    struct tx_slots tx_slots;
    unsigned rx_max_buffers; /* merged buffers the largest negotiated frame takes */
    struct napi tx_napi;     /* reaps completions after a transmit interrupt */
    bool tx_cb_armed;        /* a transmit interrupt is asked for (the ring ran low) */
    bool tx_stopped;         /* xmit refused a frame for a full ring: the stack waits for tx_wake */
    unsigned tx_unkicked;    /* frames queued since the last notification decision */
    struct timer stats_timer;
    struct timer watchdog;
    bool watchdog_armed;
    /* A lost wake-up candidate: received frames waiting, no poll scheduled. The
     * watchdog looks again a little later before calling it one, so that an
     * interrupt still on its way is not taken for a lost one. */
    struct timer watchdog_confirm;
    uint64_t watchdog_rx_interrupts; /* rx_interrupts when the candidate was seen */
    uint64_t watchdog_rx_taken;      /* and the receive completions the driver had taken then */
    bool poll_by_watchdog;           /* the next poll run is the watchdog's rescue */
    uint64_t watchdog_completed; /* tx completions seen at the last watchdog tick */
    unsigned tx_stalled_ticks;   /* watchdog ticks in a row that saw no completion */
    bool tx_timed_out;           /* the poll must reset the device */
    volatile bool config_pending; /* a configuration interrupt came: the poll reads status and link */
    bool failed;                 /* recovery failed: the device is FAILED and the NIC stays down */
    bool faults_enabled;         /* faults=on: virtio_net_inject_fault may act */
    bool fault_bad_used_pending; /* plant a bad used entry once transmit is idle */
    struct vn_ctrl *ctrl;        /* NULL: no control queue, or it failed and is not used again (until a reset) */
    struct vn_ctrl *ctrl_mem;
    uint8_t mcast[VIRTIO_NET_MCAST_MAX][6];
    unsigned mcast_count;
    bool allmulti;               /* more groups than the table holds */
    struct virtio_net_stats stats;
};

static inline struct virtqueue *rxq(struct virtio_net *nic) { return nic->vdev.vqs[RX_QUEUE]; }
static inline struct virtqueue *txq(struct virtio_net *nic) { return nic->vdev.vqs[TX_QUEUE]; }
static inline struct virtqueue *ctrlq(struct virtio_net *nic) { return nic->vdev.vqs[CTRL_QUEUE]; }
static inline uint8_t *rx_buffer(struct virtio_net *nic, uint16_t id) { return nic->rx_memory + (size_t)id * nic->rx_buffer_size; }

/* Buffer ids travel through the ring as tokens; +1 keeps them non-NULL. */
static inline void *rx_token(uint16_t id) { return (void *)(uintptr_t)(id + 1u); }
static inline uint16_t rx_token_id(void *token) { return (uint16_t)((uintptr_t)token - 1u); }

/* virtio_net_datapath.c */
void vn_rx_refill(struct virtio_net *nic);
void vn_rx_interrupt(struct virtqueue *vq);
/* The NAPI poll (lib/napi.h): cleans transmit, receives up to `budget`
 * frames, refills, and re-arms interrupts with the lost-wake-up check. */
int virtio_net_poll(struct napi *napi, int budget);

/* virtio_net_tx.c */
/* Takes back what the device has sent (tx_done for each); how many. Asks for a
 * transmit interrupt if the ring is still low afterwards. */
unsigned vn_tx_clean(struct virtio_net *nic);
/* After a clean: tells a stopped stack to go on once there is room again. Not
 * from inside virtio_net_xmit (the stack would re-enter it). */
void vn_tx_wake_if_room(struct virtio_net *nic);
void vn_tx_interrupt(struct virtqueue *vq);
int vn_tx_poll(struct napi *napi, int budget);

/* virtio_net.c */
void vn_watchdog_arm(struct virtio_net *nic);
/* Resets the device when a queue broke or transmit timed out; true if it did. */
bool vn_recover_if_needed(struct virtio_net *nic);
/* Reads the status after a configuration interrupt: NEEDS_RESET or the link. */
void vn_handle_config_change(struct virtio_net *nic);

/* virtio_net_faults.c: plants a pending bad used entry once transmit is idle. */
void vn_faults_poll(struct virtio_net *nic);

/* virtio_net_ctrl.c: the control queue after DRIVER_OK (again after a
 * reset): the receive filter; and a GUEST_ANNOUNCE request in the status. */
void vn_ctrl_start(struct virtio_net *nic);
void vn_ctrl_announce(struct virtio_net *nic);

/* virtio_net_stats.c */
void vn_stats_start(struct virtio_net *nic);

#endif
