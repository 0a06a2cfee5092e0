/*
 * A simulated virtio device on the far side of a virtqueue, split (virtio
 * 1.2, 2.7) or packed (2.8). It touches only the ring memory, as a real
 * device does, and checks everything the driver writes there the way a
 * careful device would:
 *  - split: it keeps its own last_avail_idx and used index, reads avail->idx
 *    before the ring entry, and walks each chain through NEXT links and
 *    indirect tables (bounds, loops, flag rules);
 *  - packed: it follows the driver with its own wrap counters, takes a chain
 *    only once its head is available, checks every descriptor of it (AVAIL
 *    and USED bits for the lap it lies in, the same buffer id throughout,
 *    INDIRECT rules, only WRITE in an indirect table), and writes used
 *    descriptors in completion order, each moving its position on by the
 *    chain's length, the first of a batch made visible last.
 * It reads the readable buffers and writes into the writable ones, and
 * decides kicks and interrupts the way the spec's notification suppression
 * says (2.7.7, 2.7.10, 2.8.10). Anything the driver does wrong is counted in
 * `errors` and the first one is kept in `error`, so a test only has to check
 * errors == 0.
 *
 * A chain is known by a key: its head descriptor (split) or its buffer id
 * (packed). The evil operations write the ring with no regard for the
 * rules, to test the driver's defences.
 */
#ifndef TESTS_UNIT_VIRTIO_SIM_H
#define TESTS_UNIT_VIRTIO_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/virtio/virtio_ring.h"
#include "drivers/virtio/virtio_ring_packed.h"

/* The most buffers one chain may carry (QEMU's VIRTQUEUE_MAX_SIZE). */
#define SIM_MAX_CHAIN 1024

/* Marks a ring descriptor no chain in flight holds; never a chain's key. */
#define SIM_DESC_FREE 0xFFFF

struct sim_buf {
    uint64_t addr;
    uint32_t len;
    bool writable;
};

/* A chain the device took from the available ring and has not completed. */
struct sim_chain {
    bool in_flight;
    bool indirect;               /* the head descriptor pointed at a table */
    uint64_t table_addr;         /* that table, as the head descriptor gave it */
    uint32_t table_len;
    uint16_t ring_descs;         /* descriptors of the ring it occupies */
    unsigned nbufs;
    struct sim_buf bufs[SIM_MAX_CHAIN];
    uint32_t readable_bytes;
    uint64_t writable_bytes;
    uint32_t read_sum;           /* a sum over the readable bytes: proof they were read */
};

/* A packed completion written by sim_put_used, made visible by sim_flush. */
struct sim_pending {
    uint16_t id;
    uint32_t len;
    uint16_t descs;
    bool wrote;                  /* the chain has writable buffers: WRITE in the used descriptor */
};

struct sim {
    uint16_t num;
    bool packed;                 /* VIRTIO_F_RING_PACKED negotiated */
    bool event_idx;              /* VIRTIO_F_RING_EVENT_IDX negotiated */
    bool indirect;               /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
    bool auto_avail_event;       /* with EVENT_IDX: after taking chains, ask to be kicked for the next */
    /* Split: the device's view of the memory, and its indices. */
    struct vring vr;
    uint16_t last_avail_idx;     /* next available entry to take */
    uint16_t used_idx;           /* next used entry to write (published on flush) */
    uint16_t signalled_used;     /* used index at the last interrupt decision (0 at reset) */
    /* Packed: the device's view, and its two positions with their wrap counters. */
    struct vring_packed pr;
    uint16_t avail_pos;          /* next descriptor to take */
    bool avail_wrap;
    uint16_t used_pos;           /* next used descriptor to write */
    bool used_wrap;
    unsigned long used_descs;    /* descriptors used so far (written or skipped over) */
    unsigned long signalled_descs; /* used_descs at the last interrupt decision */
    struct sim_pending *pending; /* completions written but not yet flushed, oldest first */
    unsigned npending;
    /* Both. */
    struct sim_chain *chains;    /* by key */
    uint16_t *owner;             /* split: ring descriptor -> head of the chain holding it, or SIM_DESC_FREE */
    uint16_t *order;             /* keys in flight, oldest taken first */
    unsigned in_flight;
    unsigned long kicks;         /* notifications received from the driver */
    unsigned long interrupts;    /* interrupts the device would have raised */
    unsigned long taken;         /* chains taken from the available ring */
    unsigned long completed;
    unsigned long errors;        /* protocol violations by the driver */
    char error[200];             /* the first of them */
};

/* Sets the device up over ring memory the driver initialised (num entries),
 * with the ring features `features` (VIRTIO_F_RING_PACKED, _EVENT_IDX,
 * _INDIRECT_DESC). */
void sim_init(struct sim *s, void *ring, uint16_t num, uint64_t features);
void sim_destroy(struct sim *s);

/* The driver's notification: count it and take everything available. */
void sim_kick(struct sim *s);

/* Takes every chain made available since last time (a polling device does
 * this without kicks); returns how many. */
unsigned sim_take_all(struct sim *s);

/* The chain with this key, or NULL if the device holds no such chain. */
const struct sim_chain *sim_chain(const struct sim *s, uint16_t key);

/* The key of the i-th oldest chain in flight, or SIM_DESC_FREE if there
 * are not that many (completing that is then an error, not a crash). */
uint16_t sim_in_flight_head(const struct sim *s, unsigned i);

/* Completes a chain: writes `len` bytes into its writable buffers, then its
 * used entry; nothing is visible to the driver until sim_flush. */
void sim_put_used(struct sim *s, uint16_t key, uint32_t len);

/* Publishes the used entries (split: the used index; packed: the used
 * descriptors' flags, the first last) and decides whether to interrupt
 * (counted); returns that decision. */
bool sim_flush(struct sim *s);

/* sim_put_used + sim_flush. */
bool sim_complete(struct sim *s, uint16_t key, uint32_t len);

/* Without EVENT_IDX: ask the driver not to kick (split VRING_USED_F_NO_NOTIFY,
 * packed RING_EVENT_FLAGS_DISABLE) or to kick again. */
void sim_set_no_notify(struct sim *s, bool no_notify);

/* Split, with EVENT_IDX: "kick me once avail->idx passes this". */
void sim_set_avail_event(struct sim *s, uint16_t avail_event);
uint16_t sim_avail_event(const struct sim *s);

/* Split, with EVENT_IDX: where the driver wants its next interrupt. */
uint16_t sim_used_event(const struct sim *s);

/* Packed: the Device Event Suppression structure, written whole. */
void sim_packed_set_device_event(struct sim *s, uint16_t off_wrap, uint16_t flags);

/* Packed: what the driver's event suppression structure holds. */
struct vring_packed_event sim_packed_driver_event(const struct sim *s);

/* Evil, split: writes a used ring entry (slot taken modulo the size), nothing else. */
void sim_evil_write_used(struct sim *s, uint16_t slot, uint32_t id, uint32_t len);

/* Evil: appends an arbitrary used entry and publishes it, no questions
 * asked. Packed: a used descriptor at the device's position, which moves
 * on by the length of the chain `id` names if the device holds it, else by 1. */
void sim_evil_push_used(struct sim *s, uint32_t id, uint32_t len);

/* Evil, split: sets used->idx (and the device's own copy) to anything. */
void sim_evil_set_used_idx(struct sim *s, uint16_t idx);

/* Evil, packed: writes a whole descriptor (slot taken modulo the size),
 * flags last, nothing else. */
void sim_packed_evil_write(struct sim *s, uint16_t slot, uint16_t id, uint32_t len, uint16_t flags);

#endif
