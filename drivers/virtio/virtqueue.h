/*
 * A split virtqueue, driver side (virtio 1.2, 2.7): the descriptor free list,
 * adding scatter-gather chains (direct, or through an indirect table),
 * kicking only when the device wants it, consuming the used ring, and
 * interrupt suppression. Pure logic over memory the caller provides, so the
 * host tests drive it against a simulated device.
 *
 * Defence: the used ring is written by the device and trusted for nothing.
 * An id out of range, an id that is not a chain in flight, a length beyond
 * what was posted, or a used index that runs ahead of what is in flight
 * marks the queue broken: one message, and every later call refuses work.
 */
#ifndef DRIVERS_VIRTIO_VIRTQUEUE_H
#define DRIVERS_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/virtio/virtio_ring.h"

#define VIRTQUEUE_MAX_SIZE 1024
#define VIRTQUEUE_NAME_MAX 24

struct virtqueue;

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

struct vq_desc_state {
    void *token;              /* NULL: this descriptor is not the head of a chain in flight */
    uint16_t descs;           /* ring descriptors the chain holds (1 when indirect) */
    uint32_t writable_bytes;  /* the device may report at most this many */
    struct vring_desc *indirect;
};

struct virtqueue_stats {
    uint64_t added;
    uint64_t completed;
    uint64_t kicks;          /* notifications sent */
    uint64_t kicks_skipped;  /* the device said it did not need them */
    uint64_t full;           /* add() found no room */
    uint64_t indirect;       /* chains sent through an indirect table */
};

struct virtqueue {
    char name[VIRTQUEUE_NAME_MAX];
    uint16_t index;
    struct vring vring;
    struct virtqueue_env env;
    bool event_idx;       /* VIRTIO_F_RING_EVENT_IDX negotiated */
    bool indirect;        /* VIRTIO_F_RING_INDIRECT_DESC negotiated */
    bool broken;
    bool callbacks_disabled;
    uint16_t free_head;
    uint16_t num_free;
    uint16_t avail_idx;   /* next avail index to publish (our copy) */
    uint16_t num_added;   /* published since the last kick decision */
    uint16_t last_used_idx;
    uint16_t chains_in_flight;
    uint16_t *next_shadow;           /* our own copy of each descriptor's free/chain link */
    struct vq_desc_state *state;
    struct virtqueue_stats stats;
    void (*callback)(struct virtqueue *vq); /* the driver's "buffers used" handler */
    void *priv;                             /* the driver's context */
};

/* Bytes of ring memory for `num` entries (alignment VRING_LEGACY_ALIGN). */
uint64_t virtqueue_ring_bytes(uint16_t num);

/* Sets up a queue of `num` entries (a power of two up to VIRTQUEUE_MAX_SIZE)
 * over zeroed, VRING_LEGACY_ALIGN-aligned ring memory. Bookkeeping comes from
 * env->alloc. Returns 0 or -EINVAL / -ENOMEM. */
int virtqueue_init(struct virtqueue *vq, const char *name, uint16_t index, uint16_t num, void *ring,
                   bool event_idx, bool indirect, const struct virtqueue_env *env);
void virtqueue_destroy(struct virtqueue *vq);

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

/* Re-enables interrupts and returns the used index seen so far; pass it to
 * virtqueue_poll to learn whether completions slipped in meanwhile. */
uint16_t virtqueue_enable_cb_prepare(struct virtqueue *vq);
bool virtqueue_poll(struct virtqueue *vq, uint16_t last_used);

/* enable_cb_prepare + poll: false if completions are already waiting. */
bool virtqueue_enable_cb(struct virtqueue *vq);

/* Re-enables interrupts, but with EVENT_IDX asks for one only once about
 * three quarters of the chains now in flight are done (Linux's
 * virtqueue_enable_cb_delayed: one interrupt reaps many). False if that many
 * are already done (then nothing will interrupt: the caller reaps now). */
bool virtqueue_enable_cb_delayed(struct virtqueue *vq);

/* True if the used ring holds completions not yet taken. */
bool virtqueue_has_used(const struct virtqueue *vq);

/* Takes back a buffer the device never used (after a reset); NULL when none left. */
void *virtqueue_detach_unused(struct virtqueue *vq);

/* After a device reset, once every buffer is detached: the queue as new
 * (ring memory zeroed, indices at 0, no longer broken), in the same memory,
 * so the device can be given it again (virtio 1.2, 2.1.2: NEEDS_RESET).
 * Statistics are kept. Returns 0, or -EBUSY while chains are in flight. */
int virtqueue_reset(struct virtqueue *vq);

unsigned virtqueue_free_count(const struct virtqueue *vq);
bool virtqueue_is_broken(const struct virtqueue *vq);

/* Prints the whole state through `print` (printf-like), for debugging. */
void virtqueue_dump(const struct virtqueue *vq, void (*print)(const char *fmt, ...));

#endif
