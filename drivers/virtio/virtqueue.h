/*
 * A virtqueue, driver side, in either ring format: split (virtio 1.2, 2.7)
 * or packed (2.8), chosen by VIRTIO_F_RING_PACKED at init. The interface is
 * the same for both, so a driver never asks which it has: adding
 * scatter-gather chains (direct, or through an indirect table), kicking only
 * when the device wants it, taking completed chains in whatever order the
 * device finishes them, and interrupt suppression (with EVENT_IDX when
 * negotiated). Pure logic over memory the caller provides, so the host tests
 * drive it against a simulated device.
 *
 * Defence: what the device writes is trusted for nothing. An id out of
 * range or not a chain in flight, a length beyond what was posted, a split
 * used index running ahead of what is in flight, a packed used descriptor
 * with the wrong wrap bit or with nothing in flight: the queue is marked
 * broken, with one message naming it, and every later call refuses work.
 *
 * virtqueue.c holds what both formats share; vq_split.c and vq_packed.c
 * each hold one ring format (vq_format.h is the contract between them).
 */
#ifndef DRIVERS_VIRTIO_VIRTQUEUE_H
#define DRIVERS_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/virtio/virtio_ring.h"
#include "drivers/virtio/virtio_ring_packed.h"

#define VIRTQUEUE_MAX_SIZE 1024
#define VIRTQUEUE_NAME_MAX 24

struct virtqueue;
struct vq_ops;

enum virtqueue_format { VIRTQUEUE_SPLIT, VIRTQUEUE_PACKED };

/* One buffer of a chain: device address (== kernel pointer here) and length. */
struct vq_sg {
    uint64_t addr;
    uint32_t len;
};

/* What the queue needs from its environment. */
struct virtqueue_env {
    void (*notify)(struct virtqueue *vq, void *ctx);      /* tell the device: new buffers */
    void *(*alloc)(size_t bytes);                         /* indirect tables: device-visible, zeroing not needed */
    void (*free)(void *ptr);
    void (*report)(const char *message);                  /* one line about a broken queue */
    void *ctx;
};

/* A chain in flight, by its key: the head descriptor (split) or the buffer id (packed). */
struct vq_desc_state {
    void *token;              /* NULL: no chain in flight under this key */
    uint16_t descs;           /* ring descriptors the chain holds (1 when indirect) */
    uint32_t writable_bytes;  /* the device may report at most this many */
    void *indirect;           /* its indirect table (16-byte entries of the ring's format), or NULL */
};

struct virtqueue_stats {
    uint64_t added;
    uint64_t completed;
    uint64_t kicks;          /* notifications sent */
    uint64_t kicks_skipped;  /* the device said it did not need them */
    uint64_t full;           /* add() found no room */
    uint64_t indirect;       /* chains sent through an indirect table */
};

/* What only the split format keeps. */
struct vq_split {
    struct vring vring;
    uint16_t avail_idx;      /* next avail index to publish (our copy) */
    uint16_t last_used_idx;
};

/* What only the packed format keeps: the two sides' positions in the ring. */
struct vq_packed {
    struct vring_packed vring;
    uint16_t next_avail;     /* the next descriptor we fill */
    bool avail_wrap;         /* Driver Ring Wrap Counter (2.8.1) */
    uint16_t last_used;      /* where the device writes its next used descriptor */
    bool used_wrap;          /* the device's wrap counter there, as we follow it */
    uint32_t added_descs;    /* descriptors published since the last kick decision */
};

struct virtqueue {
    char name[VIRTQUEUE_NAME_MAX];
    uint16_t index;
    uint16_t num;            /* queue size: ring descriptors */
    enum virtqueue_format format;
    const struct vq_ops *ops;
    void *ring;           /* the ring memory given at init */
    struct virtqueue_env env;
    bool event_idx;       /* VIRTIO_F_RING_EVENT_IDX negotiated */
    bool indirect;        /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
    bool broken;
    bool callbacks_disabled;
    uint16_t num_free;    /* ring descriptors no chain holds */
    uint16_t num_added;   /* published since the last kick decision */
    uint16_t chains_in_flight;
    /* A free list through links[], ending in 0xFFFF. Split: of descriptors,
     * and links[] is also each chain's own linkage (our shadow of desc.next,
     * which the device could overwrite). Packed: of buffer ids. */
    uint16_t free_head;
    uint16_t *links;
    struct vq_desc_state *state;     /* by chain key (see struct vq_desc_state) */
    struct virtqueue_stats stats;
    union {
        struct vq_split split;
        struct vq_packed packed;
    };
    void (*callback)(struct virtqueue *vq); /* the driver's "buffers used" handler */
    void *priv;                             /* the driver's context */
};

/* The ring format `features` (negotiated VIRTIO_F_* bits) ask for. */
enum virtqueue_format virtqueue_format_of(uint64_t features);

/* Bytes of ring memory for `num` entries in the format `features` ask for,
 * and the alignment the memory needs (4 KiB for split: the legacy layout
 * fixes the used ring there; 16 for packed, 2.8.10.1). */
uint64_t virtqueue_ring_bytes(uint16_t num, uint64_t features);
uint64_t virtqueue_ring_align(uint64_t features);

/* Sets up a queue of `num` entries over zeroed, aligned ring memory, in the
 * format and with the ring features of `features` (VIRTIO_F_RING_PACKED,
 * _EVENT_IDX, _INDIRECT_DESC; other bits ignored). A split queue's size is
 * a power of two; a packed one's any size (2.8.10.1). Both at most
 * VIRTQUEUE_MAX_SIZE. Bookkeeping comes from env->alloc. Returns 0 or
 * -EINVAL / -ENOMEM. */
int virtqueue_init(struct virtqueue *vq, const char *name, uint16_t index, uint16_t num, void *ring,
                   uint64_t features, const struct virtqueue_env *env);
void virtqueue_destroy(struct virtqueue *vq);

/* Where the transport tells the device the rings are (virtio 1.2, 4.1.4.3:
 * queue_desc, queue_driver, queue_device): split descriptor table, available
 * and used ring; packed descriptor ring, driver and device event areas. */
uint64_t virtqueue_desc_addr(const struct virtqueue *vq);
uint64_t virtqueue_driver_addr(const struct virtqueue *vq);
uint64_t virtqueue_device_addr(const struct virtqueue *vq);
uint16_t virtqueue_size(const struct virtqueue *vq);

/* Posts a chain: out_count device-readable buffers, then in_count
 * device-writable ones; `token` (non-NULL) comes back from get_buf.
 * Returns 0, -ENOSPC (full), -EINVAL or -EIO (broken). */
int virtqueue_add(struct virtqueue *vq, const struct vq_sg *sg, unsigned out_count, unsigned in_count, void *token);

/* Decides whether the device needs a notification for what was added, and
 * resets the count; then virtqueue_notify sends it. virtqueue_kick does both. */
bool virtqueue_kick_prepare(struct virtqueue *vq);
void virtqueue_notify(struct virtqueue *vq);
bool virtqueue_kick(struct virtqueue *vq);

/* The next completed chain's token and the bytes written, or NULL. */
void *virtqueue_get_buf(struct virtqueue *vq, uint32_t *len);

/* Asks the device not to interrupt (best effort: one may still be in flight). */
void virtqueue_disable_cb(struct virtqueue *vq);

/* Re-enables interrupts and returns an opaque mark of the position reached
 * (split: the used index; packed: offset and wrap counter); pass it to
 * virtqueue_poll to learn whether completions slipped in meanwhile. */
uint16_t virtqueue_enable_cb_prepare(struct virtqueue *vq);
bool virtqueue_poll(struct virtqueue *vq, uint16_t last_used);

/* enable_cb_prepare + poll: false if completions are already waiting. */
bool virtqueue_enable_cb(struct virtqueue *vq);

/* Re-enables interrupts, but with EVENT_IDX asks for one only once about
 * three quarters of what is now in flight is done (Linux's
 * virtqueue_enable_cb_delayed: one interrupt reaps many). False if that
 * many may already be done (then nothing may interrupt: the caller reaps
 * now; a packed ring says so whenever a completion waits). */
bool virtqueue_enable_cb_delayed(struct virtqueue *vq);

/* True if get_buf has something to say: a completion, or a lie it will break on. */
bool virtqueue_has_used(const struct virtqueue *vq);

/* Takes back a buffer the device never used (after a reset); NULL when none left. */
void *virtqueue_detach_unused(struct virtqueue *vq);

/* After a device reset, once every buffer is detached: the queue as new
 * (ring memory zeroed, indices and wrap counters as at init, no longer
 * broken), in the same memory, so the device can be given it again (virtio
 * 1.2, 2.1.2: NEEDS_RESET). Statistics are kept. Returns 0, or -EBUSY while
 * chains are in flight. */
int virtqueue_reset(struct virtqueue *vq);

unsigned virtqueue_free_count(const struct virtqueue *vq);
bool virtqueue_is_broken(const struct virtqueue *vq);
const char *virtqueue_format_name(const struct virtqueue *vq);

/* Fault injection (faults=on, and tests): writes what a buggy device would,
 * a used entry naming `id` with `len` bytes, at the position the driver
 * reads next. The caller makes sure the device has no reason to write there
 * meanwhile. */
void virtqueue_plant_used(struct virtqueue *vq, uint32_t id, uint32_t len);

/* Prints the whole state through `print` (printf-like), for debugging. */
void virtqueue_dump(const struct virtqueue *vq, void (*print)(const char *fmt, ...));

#endif
